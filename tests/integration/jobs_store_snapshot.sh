#!/bin/bash
# store TABLE.COLUMN = EXPR and a party that catches up from a raft snapshot: party 2 reports every
# task of a storing job and is killed (MPC_FAULT=store_commit:1, SIGKILL) when the commit that
# completes the job applies on it; parties 0 and 1 complete the job and compact their logs past it
# (snapshot threshold 64); restarted, party 2 restores a snapshot and writes its rows of the stored
# segments from its staging column family: its dump has the rows, the three parties' shares add up
# to the plaintext, a second job loading the stored columns gives the plaintext answer, and
# verify --all agrees. Then party 1 is killed (MPC_FAULT=store_staged:1) between writing its kept
# record and proposing its task_done; restarted, it reports and the job stores its rows everywhere.
. "$(dirname "$0")/lib.sh"
# hand-started clusters of this worktree use 14000..15999; a cluster takes BASE..BASE+22
BASE=$((14000 + ($$ % 80) * 24))
cluster_init 3 "$BASE"
for i in 0 1 2; do printf '\n[raft]\nsnapshot_threshold = 64\nsnapshot_trailing = 16\n' >>"$T/party$i/mpcd.conf"; done
ENVS="MPC_SCHED_LEASE_MS=6000"
start_party 0 $ENVS
start_party 1 $ENVS
start_party 2 $ENVS MPC_FAULT=store_commit:1
wait_leader
export MPC_CONFIG=$CLIENT

python3 - "$T" <<'PY'
import random, sys
random.seed(11)
with open("%s/pay.csv" % sys.argv[1], "w") as f:
    f.write("amount,hours\n")
    for _ in range(30):
        f.write("%d,%.2f\n" % (random.randint(-50000, 900000), random.randint(-4000, 9000) / 100))
PY
mpcput pay "$T/pay.csv" >"$T/put.log" 2>&1 || fail "mpcput: $(cat "$T/put.log")"
python3 - "$T" >"$T/want.py" <<'PY'
import csv, sys
rows = [(int(r["amount"]), float(r["hours"])) for r in csv.DictReader(open("%s/pay.csv" % sys.argv[1]))]
print("A = %r" % [a for a, _ in rows])
print("H = %r" % [h for _, h in rows])
PY

job_state() {
	mpcstat -j "$1" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["jobs"][0]["state"])' 2>/dev/null
}

cat >"$T/store.mpc" <<'JOB'
a = load pay.amount
h = load pay.hours
store keep.a = a * 3 + 1
store keep.h = h - a
store tot.s = sum(a)
JOB
log "a store job; party 2 dies when the commit that completes it applies there"
jid=$(mpcsub --parsable "$T/store.mpc") || fail "submit store.mpc"
for t in $(seq 600); do
	st=$(job_state "$jid")
	case $st in COMPLETED|FAILED|CANCELLED|TIMEOUT) party_alive 2 || break;; esac
	sleep 0.1
done
[ "$st" = COMPLETED ] || fail "job $jid: $st $(mpcstat -l -j "$jid")"
party_alive 2 && fail "party 2 survived MPC_FAULT=store_commit:1"
grep -q "MPC_FAULT: killing this process at store_commit" "$T/party2.log" || fail "party 2 died elsewhere"
kill9_party 2
for i in 0 1; do
	[ "$(shape $i keep)" = "30 1" ] && [ "$(shape $i tot)" = "1 1" ] \
		|| fail "party $i: keep $(shape $i keep), tot $(shape $i tot)"
done

log "parties 0 and 1 grow the log past a snapshot (80 aborts of txns the log does not know)"
snaps_before=$(grep -c "raft snapshot taken" "$T/party0.log")
for k in $(seq 80); do
	# an abort of an unknown txn is recorded (a refused begin no longer makes an entry)
	mpc-signreq call -c "$CLIENT" $((k % 2)) POST "/v1/txns/$(printf '%032x' $((k + 4096)))/abort" \
		'{"reason":"grow the log"}' >>"$T/grow.jsonl" 2>&1
done
grep -q '"state":"aborted"' "$T/grow.jsonl" || fail "aborts: $(tail -n 2 "$T/grow.jsonl")"
[ "$(grep -c "raft snapshot taken" "$T/party0.log")" -gt "$snaps_before" ] \
	|| fail "party 0 took no raft snapshot after the job (threshold 64)"

log "restarting party 2: it must catch up from a snapshot and settle its rows from staging"
start_party 2 $ENVS
wait_leader
for t in $(seq 150); do
	grep -q "restored snapshot at index" "$T/party2.log" && break; sleep 0.2
done
grep -q "restored snapshot at index" "$T/party2.log" || fail "party 2 did not restore a snapshot"
grep -q "job $jid: this party's 30 rows of keep (segment 0) settled from its staging" "$T/party2.log" \
	|| fail "party 2 did not settle keep from its staging"
grep -q "job $jid: this party's 1 rows of tot (segment 0) settled from its staging" "$T/party2.log" \
	|| fail "party 2 did not settle tot from its staging"
wait_verify
[ "$(shape 2 keep)" = "30 1" ] && [ "$(shape 2 tot)" = "1 1" ] \
	|| fail "party 2: keep $(shape 2 keep), tot $(shape 2 tot)"

log "party 2's dump has the rows; the three parties' shares add up to the plaintext"
python3 - "$(joined keep a 0)" "$(joined keep h 16)" "$(joined tot s 0)" <<PY \
	|| fail "joined shares differ from the plaintext"
import sys
$(cat "$T/want.py")
ka, kh, ts = (eval(s) for s in sys.argv[1:])
ok = ka == [3 * a + 1 for a in A] and len(kh) == len(A)
ok &= all(abs(g - (h - a)) < 1e-4 for g, (a, h) in zip(kh, zip(A, H)))
ok &= ts == [sum(A)]
if not ok: print(ka[:5], kh[:5], ts, sum(A)); sys.exit(1)
PY

log "a second job loads the stored columns: the plaintext answer"
cat >"$T/load.mpc" <<'JOB'
x = load keep.a
y = load keep.h
t = load tot.s
s = sum(x)
m = mean(y)
reveal s, m, x, t to public
JOB
mpcsub --parsable --wait "$T/load.mpc" >"$T/l.out" 2>"$T/l.err" || fail "load job: $(cat "$T/l.err") $(cat "$T/l.out")"
mpcresult "$(head -n1 "$T/l.out")" --format json >"$T/l.json" 2>"$T/l.err" || fail "mpcresult: $(cat "$T/l.err")"
python3 - "$T/l.json" <<PY || fail "results of the load job: $(cat "$T/l.json")"
import json, sys
$(cat "$T/want.py")
got = json.load(open(sys.argv[1]))
want_m = sum(h - a for a, h in zip(A, H)) / len(A)
ok = got["s"] == sum(3 * a + 1 for a in A) and got["x"] == [3 * a + 1 for a in A]
ok &= abs(got["m"] - want_m) < 1e-3 and got["t"] in (sum(A), [sum(A)])
if not ok: print("want s", sum(3 * a + 1 for a in A), "m", want_m, "t", sum(A))
sys.exit(0 if ok else 1)
PY
wait_verify

log "a restart settles nothing twice"
kill9_party 2
start_party 2 $ENVS
wait_leader
wait_verify
[ "$(shape 2 keep)" = "30 1" ] || fail "party 2 after a restart: keep $(shape 2 keep)"
[ "$(grep -c "rows of keep (segment 0) settled from its staging" "$T/party2.log")" = 1 ] \
	|| fail "party 2 settled keep more than once"
python3 - "$(joined keep a 0)" <<PY || fail "keep.a after the restart"
import sys
$(cat "$T/want.py")
sys.exit(0 if eval(sys.argv[1]) == [3 * a + 1 for a in A] else 1)
PY
log "party 1 dies between its kept record and its task_done; restarted, it reports and the job stores"
kill9_party 1
start_party 1 $ENVS MPC_FAULT=store_staged:1
wait_leader
jid2=$(mpcsub --parsable "$T/store.mpc") || fail "submit store.mpc again"
for t in $(seq 300); do party_alive 1 || break; sleep 0.1; done
party_alive 1 && fail "party 1 survived MPC_FAULT=store_staged:1"
grep -q "MPC_FAULT: killing this process at store_staged" "$T/party1.log" || fail "party 1 died elsewhere"
kill9_party 1
start_party 1 $ENVS
for t in $(seq 900); do
	st=$(job_state "$jid2")
	case $st in COMPLETED|FAILED|CANCELLED|TIMEOUT) break;; esac; sleep 0.1
done
[ "$st" = COMPLETED ] || fail "job $jid2 after the crash: $st $(mpcstat -l -j "$jid2")"
for i in 0 1 2; do
	for t in $(seq 100); do [ "$(shape $i keep)" = "60 2" ] && break; sleep 0.2; done
	[ "$(shape $i keep)" = "60 2" ] && [ "$(shape $i tot)" = "2 2" ] \
		|| fail "party $i: keep $(shape $i keep), tot $(shape $i tot)"
done
python3 - "$(joined keep a 0)" "$(joined tot s 0)" <<PY || fail "keep.a, tot.s after the crash"
import sys
$(cat "$T/want.py")
sys.exit(0 if eval(sys.argv[1]) == [3 * a + 1 for a in A] * 2 and eval(sys.argv[2]) == [sum(A)] * 2 else 1)
PY
wait_verify
echo "PASS jobs_store_snapshot"
