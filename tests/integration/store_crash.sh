#!/bin/bash
# Store issue: 3 real mpcd; appends while parties are SIGKILLed during prepare, during commit and at
# random moments, then restarted. Asserts all-or-nothing on every party, equal catalog digests, no
# staging left, catch-up of restarted parties, and that the shares sum to the plaintext.
. "$(dirname "$0")/lib.sh"
TXNS=${TXNS:-100}
cluster_init 3 "$(pick_port 0)"
sed -i 's/^txn_timeout_ms = .*/txn_timeout_ms = 3000/' "$T/cluster.conf"
for i in 0 1 2; do start_party $i; done
wait_leader
OUT="$T/appends.jsonl"
append() { mpc-testclient -c "$CLIENT" append t1 --create --rows "${ROWS:-40}" --cols 2 --seed "$1" --count "$2" >>"$OUT" 2>>"$T/client.err"; true; }

log "targeted: party 1 killed during its 2nd prepare"
kill9_party 1; start_party 1 MPC_FAULT=prepare:2; wait_leader
append 1 4
party_alive 1 && fail "party 1 survived MPC_FAULT=prepare:2"
start_party 1; wait_leader

log "targeted: party 2 killed while applying its 2nd commit"
kill9_party 2; start_party 2 MPC_FAULT=commit:2; wait_leader
append 2 4
sleep 1
party_alive 2 && fail "party 2 survived MPC_FAULT=commit:2"
start_party 2; wait_leader

log "targeted: party 1 killed after staging its 3rd chunk file (unsynced), restarted; the upload resumes"
# 1 MiB chunks of 2 columns are staged as SST files, synced only at prepare; a party
# gets chunk i in full only when i mod 3 is its number (the others are seed records):
# 10 chunks give party 1 its 3rd file at chunk 7 (whole 1 MiB: not the short last one)
kill9_party 1; start_party 1 MPC_FAULT=chunk_file:3; wait_leader
mpc-testclient -c "$CLIENT" append t1 --create --rows 600000 --cols 2 --seed 3 --count 1 \
	--chunk 1048576 >"$T/resume.json" 2>>"$T/client.err" &
RESUMER=$!
for t in $(seq 100); do party_alive 1 || break; sleep 0.1; done
party_alive 1 && fail "party 1 survived MPC_FAULT=chunk_file:3"
start_party 1
wait $RESUMER
grep -q '"state": *"committed"' "$T/resume.json" ||
	fail "the append did not resume after party 1's restart: $(cat "$T/resume.json") $(tail -3 "$T/client.err")"
cat "$T/resume.json" >>"$OUT"
wait_leader

log "random: $TXNS appends while a random party is killed and restarted"
( # the killer ends by itself when the appends are done
	while [ ! -f "$T/done" ]; do
		sleep "0.$((RANDOM % 8 + 2))"
		v=$((RANDOM % 3)); kill9_party $v; sleep "0.$((RANDOM % 7 + 3))"; start_party $v
		echo "$v $(party_pid $v)" >>"$T/restarts"
	done
) &
KILLER=$!
n=$(wc -l <"$OUT")
seed=100
while [ "$n" -lt $((TXNS + 8)) ]; do append $seed 5; seed=$((seed + 1)); n=$(wc -l <"$OUT"); done
touch "$T/done"; wait $KILLER
# restarted parties were started by the killer subshell: record their pids for cleanup
for i in 0 1 2; do PIDS="$PIDS $(party_pid $i)"; party_alive $i || start_party $i; done
wait_leader
log "waiting for open transactions to finish and digests to agree"
sleep 4
# uploads of txns that never reached the log are kept until their deadline (3 s), then dropped
t=0
for i in 0 1 2; do
	until mpcstore-tool -c "$T/party$i/mpcd.conf" txns --json | python3 -c 'import json,sys; sys.exit(1 if json.load(sys.stdin)["txns"] else 0)'; do
		sleep 0.5; t=$((t + 1)); [ $t -gt 60 ] && fail "party $i still holds uploads 30 s after the appends"
	done
done
wait_verify
for i in 0 1 2; do
	mpcstore-tool -c "$T/party$i/mpcd.conf" txns --all --json >"$T/txns$i.json" || fail "txns on party $i"
	mpcstore-tool -c "$T/party$i/mpcd.conf" describe t1 --json >"$T/t1_$i.json" || fail "describe on party $i"
	# each txn as this party sees it, with its local staging (a signed call per txn)
	for tid in $(python3 -c 'import json,sys; [print(json.loads(l)["txn"]) for l in open(sys.argv[1]) if json.loads(l)["txn"]]' "$T/appends.jsonl"); do
		# a txn that never reached the log (its append failed before the commit) is unknown
		mpc-signreq call -c "$CLIENT" $i GET "/v1/txns/$tid" 2>"$T/get.err" \
			|| { grep -q "unknown transaction" "$T/get.err" && echo "{\"id\":\"$tid\"}"; } \
			|| fail "GET /v1/txns/$tid on party $i: $(cat "$T/get.err")"
	done >"$T/local$i.jsonl"
done
python3 - "$T" <<'PY' || fail "consistency check"
import json, sys
T = sys.argv[1]
appends = [json.loads(l) for l in open(T + "/appends.jsonl")]
txns = [{t["id"]: t for t in json.load(open("%s/txns%d.json" % (T, i)))["txns"]} for i in range(3)]
local = [{t["id"]: t for t in map(json.loads, open("%s/local%d.jsonl" % (T, i)))} for i in range(3)]
errors = []
committed_rows = 0
for a in appends:
    tid = a["txn"]
    if not tid:
        continue  # refused at begin: nothing was created
    # "unknown": the append failed before its commit reached the log (no begin entry)
    states = [txns[i].get(tid, {}).get("state", "unknown") for i in range(3)]
    if len(set(states)) != 1:
        errors.append("txn %s has states %s across parties" % (tid, states))
    elif states[0] not in ("committed", "aborted", "unknown"):
        errors.append("txn %s still %s" % (tid, states[0]))
    elif states[0] == "unknown" and a["state"] == "committed":
        errors.append("client saw %s committed, no party knows it" % tid)
    if a["state"] in ("committed", "aborted") and states[0] != a["state"]:
        errors.append("client saw %s for %s, parties say %s" % (a["state"], tid, states[0]))
    for i in range(3):
        r = local[i][tid]
        if r.get("local", {}).get("received", 0) != 0:
            errors.append("party %d still stages %s bytes of finished txn %s" % (i, r["local"]["received"], tid))
committed = [t for t in txns[0].values() if t["state"] == "committed"]
want_rows = sum(t["rows"] for t in committed)
for i in range(3):
    got = json.load(open("%s/t1_%d.json" % (T, i)))["rows"]
    if got != want_rows:
        errors.append("party %d shows %d rows, committed txns hold %d" % (i, got, want_rows))
n_comm = len(committed); n_ab = sum(1 for t in txns[0].values() if t["state"] == "aborted")
print("transactions: %d client appends, %d committed, %d aborted, %d rows" % (len(appends), n_comm, n_ab, want_rows))
if n_comm < 20:
    errors.append("only %d transactions committed: the test exercised too little" % n_comm)
if errors:
    print("\n".join(errors[:20])); sys.exit(1)
json.dump({"c0": [a for a in appends if a["txn"] and txns[0].get(a["txn"], {}).get("state") == "committed"]}, open(T + "/committed.json", "w"))
PY
log "stopping the cluster; checking shares offline against the plaintext"
for i in 0 1 2; do kill "$(party_pid $i)"; done
for i in 0 1 2; do wait "$(party_pid $i)" 2>/dev/null; done
for i in 0 1 2; do
	mpcstore-tool -c "$T/party$i/mpcd.conf" dump t1 --column c0 >"$T/dump$i.txt" || fail "dump on party $i"
done
python3 - "$T" <<'PY' || fail "shares do not add up to the plaintext"
import json, sys
T = sys.argv[1]
M = 1 << 64
committed = json.load(open(T + "/committed.json"))["c0"]
want = sum(int(a["sums"][0]) for a in committed) % M
shares = [[int(x) for x in open("%s/dump%d.txt" % (T, i))] for i in range(3)]
if len(set(len(s) for s in shares)) != 1:
    print("parties hold different numbers of shares: %s" % [len(s) for s in shares]); sys.exit(1)
got = sum(sum(s) for s in shares) % M
print("column c0: %d shares per party; sum of shares %d, plaintext sum %d" % (len(shares[0]), got, want))
if got != want: sys.exit(1)
# each party alone sees values unrelated to the plaintext (random shares)
if sum(shares[0]) % M == want: print("party 0's shares alone sum to the plaintext"); sys.exit(1)
PY
log "restarts by the killer: $(wc -l <"$T/restarts" 2>/dev/null || echo 0)"
echo "PASS store_crash"
