#!/bin/bash
# Fault-injection suite (make check-faults): 3 parties, each in its own network namespace behind a
# bridge, clients in a namespace of their own. While concurrent appends (mpcput) and jobs (mpcsub)
# run, the suite partitions a follower and the leader, drops packets (nft), throttles links (tc
# tbf), kills parties with SIGKILL at random moments (uploads, prepares, commits, engine rounds,
# snapshots every 64 entries), and jumps one party's wall clock. Afterwards it heals everything and
# checks: every acknowledged append is present exactly once on every party and no append is
# partially visible; every job COMPLETED with the plaintext result or FAILED with a reason; catalog
# digests equal; no triple index handed out twice; no staging data left; the shares of the appended
# column add up to the plaintext of the committed appends. Prints a summary line "FAULTS {json}".
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/netns.sh"
netns_supported || { echo "SKIP: the fault suite needs root, ip netns, nft and tc"; exit 77; }
ROUNDS=${FAULT_ROUNDS:-1}
FT=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1

netns_setup 3
cluster_init 3 7100
netns_hosts
sed -i 's/^txn_timeout_ms = .*/txn_timeout_ms = 4000/' "$T/cluster.conf"
for i in 0 1 2; do printf '\n[raft]\nsnapshot_threshold = 64\nsnapshot_trailing = 16\n' >>"$T/party$i/mpcd.conf"; done
ENV_ALL="MPC_SCHED_LEASE_MS=8000"
# party 2's wall clock can jump (libfaketime reads the offset from a file at every call);
# its monotonic clock stays true, as with an NTP step
CLOCK=""
if [ -f "$FT" ]; then
	echo "+0" >"$T/clock2"
	CLOCK="LD_PRELOAD=$FT FAKETIME_TIMESTAMP_FILE=$T/clock2 FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1"
	# an ASan build wants its runtime first; libfaketime only wraps clock calls
	ldd "$B/mpcd" 2>/dev/null | grep -q libasan \
		&& CLOCK="$CLOCK ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
fi
start_p() { # start_p I: starts party I with its environment
	if [ "$1" = 2 ] && [ -n "$CLOCK" ]; then
		# shellcheck disable=SC2086
		start_party_ns 2 $ENV_ALL $CLOCK
	else
		start_party_ns "$1" $ENV_ALL
	fi
}
for i in 0 1 2; do start_p $i; done
wait_leader_ns
export MPC_CONFIG=$CLIENT
mkdir -p "$T/w"

log "loading the job table (500 rows) and creating the append table"
python3 - "$T" <<'PY'
import random, sys
T = sys.argv[1]; random.seed(11)
with open(T + "/base.csv", "w") as f:
    f.write("v\n"); f.writelines("%d\n" % random.randint(-1000000, 1000000) for _ in range(500))
open(T + "/ingest0.csv", "w").write("k,v\n0,0\n")
PY
in_client mpcput -q base "$T/base.csv" || fail "mpcput base"
in_client mpcput -q ingest "$T/ingest0.csv" || fail "mpcput ingest"
cat >"$T/job.mpc" <<'JOB'
x = load base.v
s = sum(x)
n = count(x)
m = mean(x)
reveal s, n, m to public
JOB

# appender K: small appends until $T/stop; one JSON line per attempt in $T/w/appends.jsonl
appender() {
	local k=$1 seq=0 f rc
	while [ ! -f "$T/stop" ]; do
		seq=$((seq + 1)); f="$T/w/a${k}_$seq.csv"
		python3 -c 'import random,sys; r=random.Random(sys.argv[2]); n=r.randint(5,40)
open(sys.argv[1],"w").write("k,v\n"+"".join("%d,%d\n"%(i,r.randint(-10**9,10**9)) for i in range(n)))' "$f" "$k.$seq"
		in_client timeout 90 mpcput -q --json --timeout 40 ingest "$f" >"$f.out" 2>"$f.err"
		rc=$?
		echo "{\"file\": \"$f\", \"rc\": $rc}" >>"$T/w/appends$k.jsonl"
	done
}
# submitter: statistics jobs until $T/stop
submitter() {
	local seq=0 rc
	while [ ! -f "$T/stop" ]; do
		seq=$((seq + 1))
		in_client timeout 150 mpcsub --parsable --wait "$T/job.mpc" >"$T/w/job$seq.out" 2>"$T/w/job$seq.err"
		rc=$?
		echo "{\"n\": $seq, \"rc\": $rc}" >>"$T/w/jobs.jsonl"
		sleep 0.5
	done
}
appender 1 & W1=$!
appender 2 & W2=$!
submitter & W3=$!

FAULTS="$T/faults.log"
fault() { echo "$(date +%H:%M:%S.%N | cut -c1-12) $*" >>"$FAULTS"; log "fault: $*"; }
kill_restart() { # kill_restart I PAUSE
	fault "kill -9 party $1 ($2 s down)"
	kill9_party "$1"; sleep "$2"; start_p "$1"
}
rnd_party() { echo $((RANDOM % 3)); }
rnd_pause() { echo "0.$((RANDOM % 9 + 1))"; }

sleep 2
for round in $(seq 1 "$ROUNDS"); do
	log "round $round of $ROUNDS"
	f=$(( ($(leader || echo 0) + 1) % 3 ))
	fault "partition follower $f (6 s)"; link_down $f; sleep 6; link_up $f; sleep 2
	l=$(leader); l=${l:-0}
	fault "partition leader $l (7 s)"; link_down "$l"; sleep 7; link_up "$l"; sleep 3
	p=$(rnd_party)
	fault "drop 25% of packets of party $p (8 s)"; drop_start "$p" 25; sleep 8; drop_stop "$p"; sleep 1
	l=$(leader); l=${l:-0}
	fault "throttle leader $l to 1 mbit/s (8 s)"; throttle_start "$l" 1mbit; sleep 8; throttle_stop "$l"; sleep 1
	for _ in 1 2 3; do sleep "$(rnd_pause)"; kill_restart "$(rnd_party)" "1.$((RANDOM % 5))"; sleep 2; done
	if [ -n "$CLOCK" ]; then
		fault "party 2's wall clock jumps +40 s (6 s), then back"
		echo "+40" >"$T/clock2"; sleep 6; echo "+0" >"$T/clock2"; sleep 2
	fi
	l=$(leader); l=${l:-0}
	kill_restart "$l" 2; sleep 3
	# a second partition of a follower combined with a kill of the other follower: no quorum
	l=$(leader); l=${l:-0}; a=$(((l + 1) % 3)); b=$(((l + 2) % 3))
	fault "partition party $a and kill party $b: no quorum (5 s)"
	link_down $a; kill9_party $b; sleep 5; link_up $a; start_p $b; sleep 3
done
touch "$T/stop"
log "faults done; waiting for the workload to stop"
wait $W1 $W2 $W3

log "healing: links up, no drops, no throttles, true clocks, every party running"
for i in 0 1 2; do link_up $i; drop_stop $i; throttle_stop $i; done
[ -n "$CLOCK" ] && echo "+0" >"$T/clock2"
for i in 0 1 2; do party_alive $i || start_p $i; done
wait_leader_ns

log "waiting for open transactions to end and active jobs to finish"
t=0
# open: pending in the log, or uploads a party keeps until their deadline (every party's own)
open_txns() { for i in 0 1 2; do in_client mpcstore-tool -c "$T/party$i/mpcd.conf" txns --json 2>/dev/null \
	| python3 -c 'import json,sys; sys.exit(1 if json.load(sys.stdin)["txns"] else 0)' || return 0; done; return 1; }
while open_txns; do
	sleep 1; t=$((t + 1)); [ $t -gt 90 ] && fail "transactions still open 90 s after healing"
done
t=0
until [ "$(in_client mpcstat --json -t PENDING,RUNNING,COMPLETING 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["jobs"]))')" = 0 ]; do
	sleep 1; t=$((t + 1)); [ $t -gt 180 ] && fail "jobs still active 180 s after healing: $(in_client mpcstat)"
done
t=0
until in_client mpcstore-tool -c "$T/party0/mpcd.conf" verify --all >"$T/verify.out" 2>&1; do
	sleep 1; t=$((t + 1)); [ $t -gt 90 ] && fail "catalog digests differ 90 s after healing: $(cat "$T/verify.out")"
done

log "checking appends, jobs and triple ranges"
for i in 0 1 2; do
	in_client mpcstore-tool -c "$T/party$i/mpcd.conf" txns --all --json >"$T/txns$i.json" || fail "txns on party $i"
	in_client mpcstore-tool -c "$T/party$i/mpcd.conf" describe ingest --json >"$T/ingest$i.json" || fail "describe on party $i"
	in_client mpcstore-tool -c "$T/party$i/mpcd.conf" --json fuel >"$T/fuel$i.json" || fail "fuel on party $i"
done
in_client mpcstat --json -t all >"$T/jobs.json" || fail "mpcstat"
for j in $(python3 -c 'import json,sys; print(" ".join(str(j["id"]) for j in json.load(open(sys.argv[1]))["jobs"] if j["state"] == "COMPLETED"))' "$T/jobs.json"); do
	in_client mpcresult "$j" --format json >"$T/w/result$j.json" 2>&1 || fail "mpcresult $j: $(cat "$T/w/result$j.json")"
done
for i in 0 1 2; do
	for tid in $(python3 -c 'import json,sys; print(" ".join(t["id"] for t in json.load(open(sys.argv[1]))["txns"]))' "$T/txns$i.json"); do
		in_client mpc-signreq call -c "$CLIENT" $i GET "/v1/txns/$tid" >>"$T/local$i.jsonl" \
			|| fail "GET /v1/txns/$tid on party $i"
		echo >>"$T/local$i.jsonl"
	done
done
python3 - "$T" <<'PY' || fail "consistency check"
import glob, json, os, re, statistics, sys
T = sys.argv[1]
errors = []
# --- appends: the client's view
attempts = []
for path in sorted(glob.glob(T + "/w/appends*.jsonl")):
    attempts += [json.loads(l) for l in open(path)]
by_txn = {}
acked = 0
for a in attempts:
    f = a["file"]
    rows = [l.split(",") for l in open(f).read().splitlines()[1:]]
    a["rows"], a["sum"] = len(rows), sum(int(r[1]) for r in rows)
    out = open(f + ".out").read().strip() if os.path.exists(f + ".out") else ""
    err = open(f + ".err").read() if os.path.exists(f + ".err") else ""
    txn = None
    if out:
        try:
            txn = json.loads(out.splitlines()[-1]).get("txn")
        except ValueError:
            pass
    if txn is None:
        m = re.search(r"txn ([0-9a-f]{32})", err)
        txn = m.group(1) if m else None
    a["txn"] = txn
    if a["rc"] == 0:
        acked += 1
        if not txn:
            errors.append("acknowledged append %s has no txn id" % f)
    if txn:
        by_txn[txn] = a
# --- appends: every party's view
txns = [{t["id"]: t for t in json.load(open("%s/txns%d.json" % (T, i)))["txns"] if t["table"] == "ingest"}
        for i in range(3)]
tables = [json.load(open("%s/ingest%d.json" % (T, i))) for i in range(3)]
segs = [t.get("segment_list") or t.get("segments_list") or [] for t in tables]
if not all(isinstance(s, list) and s for s in segs):
    errors.append("describe --json gives no segment list: %s" % list(tables[0].keys()))
for i in range(3):
    if txns[i].keys() != txns[0].keys():
        errors.append("party %d knows other txns than party 0" % i)
    seg_txns = [s["txn"] for s in segs[i]]
    dup = {t for t in seg_txns if seg_txns.count(t) > 1}
    if dup:
        errors.append("party %d: txns in more than one segment: %s" % (i, sorted(dup)[:3]))
    for s in segs[i]:
        a = by_txn.get(s["txn"])
        if a is not None and s["rows"] != a["rows"]:
            errors.append("party %d: segment of txn %s has %d rows, the file %d (partial)" % (i, s["txn"], s["rows"], a["rows"]))
    for tid, t in txns[i].items():
        if t["state"] not in ("committed", "aborted"):
            errors.append("party %d: txn %s still %s" % (i, tid, t["state"]))
        if (t["state"] == "committed") != (tid in seg_txns):
            errors.append("party %d: txn %s is %s but %s any segment" % (i, tid, t["state"], "in" if tid in seg_txns else "not in"))
    if [s["txn"] for s in segs[i]] != [s["txn"] for s in segs[0]]:
        errors.append("party %d's segments differ from party 0's" % i)
    for l in open("%s/local%d.jsonl" % (T, i)).read().split("\n"):
        if l.strip():
            r = json.loads(l)
            if "local" not in r:
                errors.append("party %d: no local staging record in %s" % (i, l[:100]))
            elif r["local"].get("received", 0):
                errors.append("party %d still stages %s bytes of txn %s" % (i, r["local"]["received"], r.get("id")))
for a in attempts:
    if a["rc"] == 0 and a["txn"] and txns[0].get(a["txn"], {}).get("state") != "committed":
        errors.append("acknowledged append %s (txn %s) is %s" % (a["file"], a["txn"], txns[0].get(a["txn"], {}).get("state")))
committed = [t for t in segs[0] if t["txn"] in by_txn]
unknown = [t["txn"] for t in segs[0] if t["txn"] not in by_txn]
if len(unknown) > 1:  # the first segment is ingest0.csv, loaded before the faults
    errors.append("segments of txns no client started: %s" % unknown[1:4])
json.dump({"sum": sum(by_txn[s["txn"]]["sum"] for s in committed)}, open(T + "/want.json", "w"))
# --- jobs
base = [int(l) for l in open(T + "/base.csv").read().splitlines()[1:]]
want = {"s": sum(base), "n": len(base), "m": statistics.mean(base)}
jobs = json.load(open(T + "/jobs.json"))["jobs"]
done = failed = 0
for j in jobs:
    if j["state"] == "COMPLETED":
        done += 1
        got = json.load(open("%s/w/result%d.json" % (T, j["id"])))
        if got.get("s") != want["s"] or got.get("n") != want["n"] or abs(got.get("m", 0) - want["m"]) > 1e-3 * abs(want["m"]) + 1e-3:
            errors.append("job %d COMPLETED with wrong results %s (want %s)" % (j["id"], got, want))
    elif j["state"] == "FAILED":
        failed += 1
        if not (j.get("reason") or j.get("error")):
            errors.append("job %d FAILED without a reason" % j["id"])
    else:
        errors.append("job %d ended %s" % (j["id"], j["state"]))
# --- triple ranges
for i in range(3):
    g = json.load(open("%s/fuel%d.json" % (T, i)))["generators"][0]
    rs = sorted((int(r["t0"]), int(r["n"]), r["session"]) for r in g["ranges"])
    for (a, n, s), (b, _, s2) in zip(rs, rs[1:]):
        if a + n > b:
            errors.append("party %d: triple ranges of sessions %s and %s overlap" % (i, s, s2))
faults = [l.split(" ", 1)[1] for l in open(T + "/faults.log").read().splitlines()]
summary = {"faults": len(faults), "appends": len(attempts), "appends_acked": acked,
           "appends_failed": len(attempts) - acked,
           "txns_committed": sum(1 for t in txns[0].values() if t["state"] == "committed"),
           "txns_aborted": sum(1 for t in txns[0].values() if t["state"] == "aborted"),
           "jobs": len(jobs), "jobs_completed": done, "jobs_failed": failed,
           "errors": len(errors)}
print("FAULTS " + json.dumps(summary))
if acked < 10: errors.append("only %d appends acknowledged: the workload did too little" % acked)
if done < 2: errors.append("only %d jobs completed: the workload did too little" % done)
if errors:
    print("\n".join(errors[:30])); sys.exit(1)
PY
log "stopping the cluster; the shares of ingest.v against the plaintext"
for i in 0 1 2; do kill "$(party_pid $i)"; done
for i in 0 1 2; do wait "$(party_pid $i)" 2>/dev/null; done
for i in 0 1 2; do
	mpcstore-tool -c "$T/party$i/mpcd.conf" dump ingest --column v >"$T/dump$i.txt" || fail "dump on party $i"
done
python3 - "$T" <<'PY' || fail "shares do not add up to the plaintext"
import json, sys
T = sys.argv[1]; M = 1 << 64
want = json.load(open(T + "/want.json"))["sum"] % M
shares = [[int(x) for x in open("%s/dump%d.txt" % (T, i))] for i in range(3)]
if len(set(map(len, shares))) != 1:
    print("parties hold different numbers of shares: %s" % [len(s) for s in shares]); sys.exit(1)
got = sum(map(sum, shares)) % M
print("ingest.v: %d shares per party, sum of shares %d, plaintext %d" % (len(shares[0]), got, want))
sys.exit(0 if got == want else 1)
PY
log "faults injected:"; sed 's/^/  /' "$FAULTS"
grep -c "raft snapshot taken" "$T"/party*.log | sed 's/^/  snapshots: /'
echo "PASS faults"
