#!/bin/bash
# Scheduler end to end on a real 3-party cluster: mpcput a CSV, the statistics job equals the
# plaintext (int and fixed-point columns, negatives); cov, corr and var of a large int column
# (two-pass, centered) equal Python's statistics module; program errors exit 1 with FILE:LINE:COL and
# queue nothing; kill -9 of a party during a job: the lease expires, a retry with a fresh triple
# range completes correctly and no triple range is handed out twice; mpccancel -> CANCELLED;
# the long poll GET /v1/jobs/ID?wait_ms=N answers at a state change (a cancel), after N ms with the
# current state, and at once for a final job.
. "$(dirname "$0")/lib.sh"
# below the ranges of pick_port (20000..): ports under 32768 that differ per run
BASE=$((17000 + ($$ % 100) * 30))
cluster_init 3 "$BASE"
# short leases and slow engine operations so that a kill lands inside a running job
ENVS="MPC_SCHED_LEASE_MS=${JOBS_LEASE_MS:-6000}"
for i in 0 1 2; do start_party $i $ENVS; done
wait_leader
export MPC_CONFIG=$CLIENT

python3 - "$T/pay.csv" <<'PY'
import random, sys
random.seed(7)
with open(sys.argv[1], "w") as f:
    f.write("amount,hours,big\n")
    for i in range(3000):
        f.write("%d,%.2f,%d\n" % (random.randint(-50000, 250000), random.uniform(-5, 80),
                                  random.randint(4000000, 6000000)))
PY
mpcput pay "$T/pay.csv" >"$T/put.log" 2>&1 || fail "mpcput: $(cat "$T/put.log")"
cat >"$T/stats.mpc" <<'JOB'
x = load pay.amount
h = load pay.hours
n = count(x)
s = sum(x)
m = mean(x)
v = var(x)
mh = mean(h)
d = dot(x, h)
sd = stddev(h)
reveal n, s, m, v, mh, d, sd to public
JOB
check() { # check RESULT.json: the statistics equal the plaintext
	python3 - "$T/pay.csv" "$1" <<'PY'
import csv, json, sys, statistics as st
rows = list(csv.DictReader(open(sys.argv[1])))
x = [int(r["amount"]) for r in rows]; h = [float(r["hours"]) for r in rows]
want = {"n": len(x), "s": sum(x), "m": st.mean(x), "v": st.variance(x), "mh": st.mean(h),
        "d": sum(a * b for a, b in zip(x, h)), "sd": st.stdev(h)}
got = json.load(open(sys.argv[2]))
bad = ["%s=%r want %r" % (k, got.get(k), w) for k, w in want.items()
       if got.get(k) is None or abs(got[k] - w) > 1e-3 * max(1, abs(w))]
if got.get("n") != 3000 or got.get("s") != sum(x): bad.append("n/s not exact integers")
if bad: print("wrong results: " + "; ".join(bad)); sys.exit(1)
PY
}

log "statistics job equals plaintext"
mpcsub --parsable --wait "$T/stats.mpc" >"$T/sub.out" 2>"$T/sub.err" || fail "mpcsub --wait: $(cat "$T/sub.err")"
id=$(head -n1 "$T/sub.out")
mpcresult "$id" --format json >"$T/res.json" 2>"$T/res.err" || fail "mpcresult: $(cat "$T/res.err")"
check "$T/res.json" || fail "results of job $id: $(cat "$T/res.json")"
mpcresult "$id" >"$T/res.csv" || fail "mpcresult csv"
grep -q '^n,3000$' "$T/res.csv" || fail "csv: $(cat "$T/res.csv")"
mpcstat >"$T/stat.out" || fail "mpcstat"
grep -q "COMPLETED" "$T/stat.out" || fail "mpcstat: $(cat "$T/stat.out")"

log "cov, corr, var of a large int column equal Python's statistics"
# cov(amount, hours) wrapped around 2^64 with the one-pass formula (mean(x)·Σy at 32 bits),
# and so did var(big) (mean·Σx at 16 bits); both are centered now (docs/job-language.md)
cat >"$T/cov.mpc" <<'JOB'
x = load pay.amount
h = load pay.hours
b = load pay.big
c = cov(x, h)
k = corr(x, h)
vb = var(b)
pb = pvar(b)
reveal c, k, vb, pb to public
JOB
mpcsub --parsable --wait "$T/cov.mpc" >"$T/cov.out" 2>"$T/cov.err" || fail "mpcsub cov: $(cat "$T/cov.err")"
id=$(head -n1 "$T/cov.out")
mpcresult "$id" --format json >"$T/cov.json" 2>"$T/cov.err" || fail "mpcresult cov: $(cat "$T/cov.err")"
python3 - "$T/pay.csv" "$T/cov.json" <<'PY' || fail "cov job $id: $(cat "$T/cov.json")"
import csv, json, sys, statistics as st
rows = list(csv.DictReader(open(sys.argv[1])))
x = [int(r["amount"]) for r in rows]; h = [float(r["hours"]) for r in rows]
b = [int(r["big"]) for r in rows]
want = {"c": st.covariance(x, h), "k": st.correlation(x, h), "vb": st.variance(b),
        "pb": st.pvariance(b)}
got = json.load(open(sys.argv[2]))
bad = ["%s=%r want %r" % (k, got.get(k), w) for k, w in want.items()
       if got.get(k) is None or abs(got[k] - w) > 1e-6 * max(1, abs(w))]
if bad: print("wrong results: " + "; ".join(bad)); sys.exit(1)
PY

log "a table of 3 segments: one MAP task per segment and stage, results as one table"
python3 - "$T" <<'PY'
import random, sys
random.seed(11)
for part, n in (("a", 700), ("b", 1), ("c", 1300)):
    with open("%s/seg_%s.csv" % (sys.argv[1], part), "w") as f:
        f.write("v,w\n")
        for i in range(n):
            f.write("%d,%.2f\n" % (random.randint(-1000, 90000), random.uniform(0, 40)))
PY
for part in a b c; do
	mpcput seg "$T/seg_$part.csv" >"$T/put.log" 2>&1 || fail "mpcput seg $part: $(cat "$T/put.log")"
done
cat >"$T/seg.mpc" <<'JOB'
v = load seg.v
w = load seg.w
n = count(v)
s = sum(v)
m = mean(w)
d = dot(v, w)
c = cov(v, w)
vv = var(v)
reveal n, s, m, d, c, vv to public
JOB
mpcsub --parsable --wait "$T/seg.mpc" >"$T/seg.out" 2>"$T/seg.err" || fail "mpcsub seg: $(cat "$T/seg.err")"
id=$(head -n1 "$T/seg.out")
mpcresult "$id" --format json >"$T/seg.json" || fail "mpcresult seg"
mpcstat -j "$id" --json >"$T/segjob.json" || fail "mpcstat seg"
python3 - "$T" "$T/seg.json" "$T/segjob.json" <<'PY' || fail "segments job $id: $(cat "$T/seg.json")"
import csv, json, sys, statistics as st
rows = [r for p in "abc" for r in csv.DictReader(open("%s/seg_%s.csv" % (sys.argv[1], p)))]
v = [int(r["v"]) for r in rows]; w = [float(r["w"]) for r in rows]
want = {"n": len(v), "s": sum(v), "m": st.mean(w), "d": sum(a * b for a, b in zip(v, w)),
        "c": st.covariance(v, w), "vv": st.variance(v)}
got = json.load(open(sys.argv[2]))
bad = ["%s=%r want %r" % (k, got.get(k), x) for k, x in want.items()
       if got.get(k) is None or abs(got[k] - x) > 1e-6 * max(1, abs(x))]
if got.get("s") != sum(v): bad.append("sum not exact")
tasks = json.load(open(sys.argv[3]))["jobs"][0]["tasks"]
maps = [t for t in tasks if t["kind"] == "map"]
# two stages (means, then centered products), each one MAP per segment and a COMBINE
if len(maps) != 6 or len(tasks) != 8 or sorted(t["rows"] for t in maps) != [1, 1, 700, 700, 1300, 1300]:
    bad.append("tasks: %r" % [(t["kind"], t.get("segment"), t.get("rows")) for t in tasks])
if any(t["state"] != "COMMITTED" or t["attempts"] != 1 for t in tasks):
    bad.append("not all committed at attempt 1: %r" % tasks)
if bad: print("; ".join(bad)); sys.exit(1)
PY

log "program errors: exit 1, FILE:LINE:COL, nothing queued"
njobs() { mpcstat --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["jobs"]))'; }
before=$(njobs)
printf 'x = load pay.amount\ny = (x +\nreveal y to public\n' >"$T/bad.mpc"
mpcsub "$T/bad.mpc" >"$T/bad.out" 2>"$T/bad.err"; rc=$?
[ $rc -eq 1 ] || fail "syntax error: exit $rc, want 1 ($(cat "$T/bad.err"))"
grep -q "bad.mpc:2:" "$T/bad.err" || fail "syntax error without FILE:LINE:COL: $(cat "$T/bad.err")"
printf 'x = load nope.amount\ns = sum(x)\nreveal s to public\n' >"$T/nope.mpc"
mpcsub "$T/nope.mpc" 2>"$T/nope.err"; rc=$?
[ $rc -eq 1 ] || fail "unknown table: exit $rc"
grep -q "nope.mpc:1:.*unknown table 'nope'" "$T/nope.err" || fail "unknown table: $(cat "$T/nope.err")"
printf 'x = load pay.amount\nc = cov(x, load other.v)\nreveal c to public\n' >"$T/cov2.mpc"
mpcsub "$T/cov2.mpc" 2>"$T/cov2.err"; rc=$?
[ $rc -eq 1 ] || fail "cov of an unknown table: exit $rc"
grep -q "cov2.mpc:2:17: unknown table 'other'" "$T/cov2.err" || fail "cov2: $(cat "$T/cov2.err")"
[ "$(njobs)" = "$before" ] || fail "a job was queued for a bad program"

log "kill -9 of a party during a MAP task: only that task retries, with a fresh triple range"
for i in 0 1 2; do kill "$(party_pid $i)"; done
sleep 1
for i in 0 1 2; do start_party $i $ENVS MPC_SCHED_DELAY_MS=150; done
wait_leader
id2=$(mpcsub --parsable "$T/stats.mpc") || fail "submit for the kill test"
# kill a party while a MAP task of the second stage runs (its first stage committed)
leased_map() {
	mpcstat -j "$id2" --json | python3 -c '
import json, sys
ts = json.load(sys.stdin)["jobs"][0].get("tasks", [])
print(any(t["kind"] == "map" and t["stage"] == 1 and t["state"] == "LEASED" for t in ts))'
}
for t in $(seq 300); do
	[ "$(leased_map)" = True ] && break; sleep 0.1
done
[ "$(leased_map)" = True ] || fail "no MAP task of job $id2 running: $(mpcstat -l -j "$id2")"
victim=2
kill9_party $victim
sleep 9   # longer than the lease: the leader expires it (and grants no lease while a party is down)
# a job submitted now waits for the party (PENDING, reason Parties)
id4=$(mpcsub --parsable "$T/stats.mpc") || fail "submit while a party is down"
for t in $(seq 50); do
	mpcstat -j "$id4" >"$T/stat4.out"; grep -q "PENDING .*Parties" "$T/stat4.out" && break; sleep 0.1
done
grep -q "PENDING .*Parties" "$T/stat4.out" || fail "job $id4 while a party is down: $(cat "$T/stat4.out")"
log "long poll: GET /v1/jobs/ID?wait_ms=N"
state_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["state"])' "$1"; }
# no change: answers after wait_ms with the current state
t0=$(date +%s%N)
mpc-signreq call -c "$CLIENT" 0 GET "/v1/jobs/$id4?wait_ms=1500" >"$T/lp1.json" 2>&1 || fail "long poll: $(cat "$T/lp1.json")"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$(state_of "$T/lp1.json")" = PENDING ] || fail "long poll timeout: $(cat "$T/lp1.json")"
[ $ms -ge 1400 ] || fail "long poll answered after $ms ms, before its wait_ms=1500"
mpc-signreq call -c "$CLIENT" 0 GET "/v1/jobs/$id4?wait_ms=soon" >"$T/lp.err" 2>&1 && fail "wait_ms=soon accepted"
grep -q "wait_ms must be" "$T/lp.err" || fail "bad wait_ms: $(cat "$T/lp.err")"
# a state change (the cancel) wakes the waiter long before its wait_ms
t0=$(date +%s%N)
mpc-signreq call -c "$CLIENT" 0 GET "/v1/jobs/$id4?wait_ms=60000&since=PENDING" >"$T/lp2.json" 2>&1 &
lp=$!
sleep 0.5
mpccancel "$id4" || fail "mpccancel $id4"
wait $lp || fail "long poll: $(cat "$T/lp2.json")"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$(state_of "$T/lp2.json")" = CANCELLED ] || fail "long poll after the cancel: $(cat "$T/lp2.json")"
[ $ms -lt 30000 ] || fail "the cancel woke the long poll only after $ms ms"
# a final job answers at once
t0=$(date +%s%N)
mpc-signreq call -c "$CLIENT" 0 GET "/v1/jobs/$id4?wait_ms=60000" >"$T/lp3.json" 2>&1 || fail "long poll: $(cat "$T/lp3.json")"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ $ms -lt 30000 ] && [ "$(state_of "$T/lp3.json")" = CANCELLED ] || fail "long poll of a final job: $ms ms $(cat "$T/lp3.json")"
mpc-signreq call -c "$CLIENT" 0 GET "/v1/jobs/$id4?wait_ms=60000&until=soon" >"$T/lp.err" 2>&1 && fail "until=soon accepted"
grep -q "until must be" "$T/lp.err" || fail "bad until: $(cat "$T/lp.err")"
# until=final: no answer on the way (PENDING, RUNNING, COMPLETING), only the final state
mpc-signreq call -c "$CLIENT" 0 GET "/v1/jobs/$id2?wait_ms=60000&until=final" >"$T/lp4.json" 2>&1 &
lp=$!
start_party $victim $ENVS MPC_SCHED_DELAY_MS=150
wait $lp || fail "long poll until=final: $(cat "$T/lp4.json")"
case $(state_of "$T/lp4.json") in COMPLETED|FAILED|CANCELLED|TIMEOUT) ;; *) fail "until=final answered $(cat "$T/lp4.json")";; esac
mpcsub --help >/dev/null
for t in $(seq 600); do
	st=$(mpcstat -j "$id2" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["jobs"][0]["state"])')
	case $st in COMPLETED|FAILED|CANCELLED|TIMEOUT) break;; esac; sleep 0.1
done
mpcstat -l -j "$id2" >"$T/long.out"
[ "$st" = COMPLETED ] || fail "job $id2 after the kill: $st $(cat "$T/long.out")"
grep -q "Attempt=2" "$T/long.out" || fail "no retry after the lease expired: $(cat "$T/long.out")"
grep -q "lease expired" "$T/long.out" || fail "attempt 1 not expired: $(cat "$T/long.out")"
mpcstat -j "$id2" --json | python3 -c '
import json, sys
ts = json.load(sys.stdin)["jobs"][0]["tasks"]
again = [t for t in ts if t["attempts"] != 1]
ok = len(again) == 1 and again[0]["kind"] == "map" and again[0]["stage"] == 1 and again[0]["attempts"] == 2
sys.exit(0 if ok and all(t["state"] == "COMMITTED" for t in ts) else 1)' \
	|| fail "not exactly the killed MAP task retried: $(cat "$T/long.out")"
mpcresult "$id2" --format json >"$T/res2.json" || fail "mpcresult $id2"
check "$T/res2.json" || fail "results after the kill: $(cat "$T/res2.json")"
for i in 0 1 2; do
	mpcstore-tool -c "$T/party$i/mpcd.conf" --json fuel >"$T/fuel$i.json" 2>&1
	python3 - "$T/fuel$i.json" <<'PY' || fail "triple ranges of party $i overlap: $(cat "$T/fuel$i.json")"
import json, sys
j = json.load(open(sys.argv[1]))
rs = []
def walk(o):
    if isinstance(o, dict):
        if "t0" in o and "n" in o and "session" in o: rs.append((int(o["t0"]), int(o["n"])))
        for v in o.values(): walk(v)
    elif isinstance(o, list):
        for v in o: walk(v)
walk(j)
rs.sort()
if len(rs) < 2: print("fewer than 2 ranges", rs); sys.exit(1)
for (a, n), (b, _) in zip(rs, rs[1:]):
    if a + n > b: print("overlap", rs); sys.exit(1)
PY
done

log "mpccancel -> CANCELLED"
id3=$(mpcsub --parsable "$T/stats.mpc") || fail "submit for cancel"
sleep 0.5
mpccancel "$id3" || fail "mpccancel $id3"
mpcstat -j "$id3" | grep -q CANCELLED || fail "job $id3 not CANCELLED: $(mpcstat -l -j "$id3")"
mpcresult "$id3" >/dev/null 2>&1 && fail "a cancelled job has results"
mpccancel "$id3" 2>/dev/null && fail "cancel of a cancelled job succeeded"
log "ok"
