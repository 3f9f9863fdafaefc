#!/bin/bash
# Scheduler policy on a real 3-party cluster (docs/scheduler.md, "Queues, limits and reasons"):
# queues from cluster.conf (weights, max_running), [scheduler] max_tasks and max_fuel_in_flight;
# an unknown queue is refused at submit and queues nothing; at no moment does a queue run more
# than its max_running or the cluster more than max_tasks tasks; a higher priority starts first;
# a job waits with reason Resources, or Fuel when the triples in flight leave too few for it
# (mpcstat shows both); a job with --time 1 on a slowed engine ends TIMEOUT (TimeLimit) with its
# running attempts aborted and no results.
. "$(dirname "$0")/lib.sh"
# below the ranges of pick_port (20000..) and of the other tests (11000..20000): under 32768,
# differing per run
BASE=$((8000 + ($$ % 100) * 30))
cluster_init 3 "$BASE"
cat >>"$T/cluster.conf" <<'CONF'

[queue.default]
weight = 1

[queue.big]
weight = 3
max_running = 1
max_priority = 5

[scheduler]
max_tasks = 2
max_fuel_in_flight = 150
CONF
# slowed engine operations: a task runs long enough to be seen waiting and running
DELAY=${POLICY_DELAY_MS:-250}
for i in 0 1 2; do start_party $i MPC_SCHED_DELAY_MS=$DELAY; done
wait_leader
export MPC_CONFIG=$CLIENT

# table t: 3 segments of 100 rows (3 MAP tasks per stage; dot needs 100 triples per MAP)
for part in 1 2 3; do
	{ echo "x"; seq $((part * 100 - 99)) $((part * 100)); } >"$T/t$part.csv"
	mpcput t "$T/t$part.csv" >"$T/put.log" 2>&1 || fail "mpcput t $part: $(cat "$T/put.log")"
done
printf 'x = load t.x\ns = sum(x)\nreveal s to public\n' >"$T/sum.mpc"
printf 'x = load t.x\nd = dot(x, x)\nreveal d to public\n' >"$T/dot.mpc"
SUM=45150
DOT=9045050
njobs() { mpcstat --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["jobs"]))'; }
state_of() { mpcstat -j "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["jobs"][0]["state"])'; }
wait_final() { # wait_final ID...: until every job is final (120 s)
	local id st t
	for id in "$@"; do
		for t in $(seq 1200); do
			st=$(state_of "$id")
			case $st in COMPLETED|FAILED|CANCELLED|TIMEOUT) break;; esac; sleep 0.1
		done
		case $st in COMPLETED|FAILED|CANCELLED|TIMEOUT) ;; *) fail "job $id not final: $st";; esac
	done
}
result_of() { mpcresult "$1" --format json | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"; }

log "unknown queue: refused at submit, nothing queued"
before=$(njobs)
mpcsub -q nope "$T/sum.mpc" >"$T/q.out" 2>"$T/q.err"; rc=$?
[ $rc -eq 1 ] || fail "unknown queue: exit $rc, want 1 ($(cat "$T/q.err"))"
grep -q "unknown queue 'nope' (known: default, big)" "$T/q.err" || fail "unknown queue: $(cat "$T/q.err")"
[ "$(njobs)" = "$before" ] || fail "a job was queued for an unknown queue"

log "queues: max_running and max_tasks hold, priority first, reasons Resources"
# sample every job's running tasks per queue while the jobs run (mpcstat --json)
sampler() {
	while :; do mpcstat --json 2>/dev/null | python3 -c '
import json, sys
run = {}
for j in json.load(sys.stdin)["jobs"]:
    n = sum(1 for t in j.get("tasks", []) if t["state"] in ("LEASED", "PREPARED"))
    run[j["queue"]] = run.get(j["queue"], 0) + n
    if j["state"] == "PENDING": print("reason", j["id"], j["reason"])
print("run", run.get("big", 0), run.get("default", 0))'; sleep 0.2; done
}
sampler >"$T/samples" 2>/dev/null &
SAMPLER=$!
PIDS="$PIDS $SAMPLER"
b1=$(mpcsub --parsable -q big "$T/sum.mpc") || fail "submit b1"
b2=$(mpcsub --parsable -q big "$T/sum.mpc") || fail "submit b2"
b3=$(mpcsub --parsable -q big --priority 9 "$T/sum.mpc") || fail "submit b3"
d1=$(mpcsub --parsable "$T/sum.mpc") || fail "submit d1"
d2=$(mpcsub --parsable "$T/sum.mpc") || fail "submit d2"
wait_final "$b1" "$b2" "$b3" "$d1" "$d2"
kill "$SAMPLER"; wait "$SAMPLER" 2>/dev/null
for id in "$b1" "$b2" "$b3" "$d1" "$d2"; do
	[ "$(state_of "$id")" = COMPLETED ] || fail "job $id: $(mpcstat -l -j "$id")"
	[ "$(result_of "$id" s)" = $SUM ] || fail "job $id: sum $(result_of "$id" s)"
done
python3 - "$T/samples" <<'PY' || fail "samples: $(sort "$T/samples" | uniq -c)"
import sys
runs = [tuple(map(int, l.split()[1:])) for l in open(sys.argv[1]) if l.startswith("run ")]
bad = [r for r in runs if r[0] > 1 or r[0] + r[1] > 2]
if bad: print("over a limit (big max_running 1, max_tasks 2):", bad[:5]); sys.exit(1)
if not any(r[0] == 1 and r[1] == 1 for r in runs): print("never both queues at once"); sys.exit(1)
if len(runs) < 5: print("too few samples"); sys.exit(1)
PY
grep -q "^reason .* Resources$" "$T/samples" || fail "no job waited with reason Resources: $(sort -u "$T/samples")"
mpcstat -j "$b3" --json >"$T/b3.json"
python3 - "$b2" "$b3" <<'PY' || fail "priority: $(mpcstat -l -j "$b2"; mpcstat -l -j "$b3")"
import json, subprocess, sys
def job(i): return json.loads(subprocess.check_output(["mpcstat", "-j", i, "--json"]))["jobs"][0]
b2, b3 = job(sys.argv[1]), job(sys.argv[2])
if b3["priority"] != 5: print("max_priority 5 of queue big not applied:", b3["priority"]); sys.exit(1)
if not b3["start_ms"] < b2["start_ms"]: print("b3 (priority 5) did not start before b2"); sys.exit(1)
PY

log "fuel: a job waits with reason Fuel while the triples in flight leave too few"
e1=$(mpcsub --parsable "$T/dot.mpc") || fail "submit e1"
e2=$(mpcsub --parsable -q big "$T/dot.mpc") || fail "submit e2"
seen=""
for t in $(seq 300); do
	mpcstat -j "$e2" >"$T/e2.out"
	grep -q "PENDING .*Fuel" "$T/e2.out" && { seen=1; break; }
	[ "$(state_of "$e2")" = PENDING ] || break
	sleep 0.1
done
[ -n "$seen" ] || fail "job $e2 never PENDING with reason Fuel: $(cat "$T/e2.out")"
wait_final "$e1" "$e2"
for id in "$e1" "$e2"; do
	[ "$(state_of "$id")" = COMPLETED ] || fail "job $id: $(mpcstat -l -j "$id")"
	[ "$(result_of "$id" d)" = $DOT ] || fail "job $id: dot $(result_of "$id" d)"
done

log "--time 1 on a slowed engine: TIMEOUT with reason TimeLimit, attempts aborted, no results"
mpcsub --time 0 "$T/dot.mpc" 2>"$T/t0.err"; rc=$?
[ $rc -eq 2 ] || fail "--time 0: exit $rc"
grep -q -- "--time needs SECONDS" "$T/t0.err" || fail "--time 0: $(cat "$T/t0.err")"
tj=$(mpcsub --parsable --time 1 "$T/dot.mpc") || fail "submit --time 1"
wait_final "$tj"
mpcstat -l -j "$tj" >"$T/tj.out"
[ "$(state_of "$tj")" = TIMEOUT ] || fail "job $tj: $(cat "$T/tj.out")"
mpcstat -j "$tj" | grep -q "TIMEOUT .*TimeLimit" || fail "job $tj: $(mpcstat -j "$tj")"
grep -q "job time limit" "$T/tj.out" || fail "no attempt aborted by the time limit: $(cat "$T/tj.out")"
mpcresult "$tj" >/dev/null 2>&1 && fail "job $tj has results"
mpcstat -j "$tj" --json | python3 -c '
import json, sys
j = json.load(sys.stdin)["jobs"][0]
sys.exit(0 if j["time_limit_s"] == 1 and j["end_ms"] - j["start_ms"] >= 1000 else 1)' \
	|| fail "job $tj: $(mpcstat -j "$tj" --json)"
log "OK"
