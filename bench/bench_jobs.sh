#!/bin/bash
# Benchmark of scheduler jobs: the statistics job of tests/integration/jobs_e2e.sh (3000 rows, one
# segment) and a job over ROWS rows appended in SEGS transactions (SEGS segments: one MAP task per
# segment and stage). Prints JSON lines:
# {"bench":"sched.trivial",...}: bench_jobs (bench/bench_jobs.c), trivial jobs (sum of 3 rows) one
#   client after another (latency p50/p99) and from 16 clients at once (jobs/s);
# {"bench":"sched.meanvar","rows":..,"seconds":..,"with_upload_seconds":..,"ok":..}: mean and
#   variance over ROWS stored rows, submit to revealed result (mpcsub --wait, then mpcresult),
#   and the same including the mpcput of the rows;
# {"bench":"sched.job","rows":..,"segments":..,"tasks":..,"max_tasks":..,"seconds":..,"ok":true}
# seconds is the wall time of mpcsub --wait (submit to COMPLETED); ok: results equal Python's
# statistics (1e-6 relative). Usage: bench_jobs.sh BUILDDIR [ROWS [SEGS]]; starts its own cluster
# (base port $BENCH_JOBS_PORT, default 23500; MPC_SCHED_MAX_TASKS from the environment). Part of make
# bench (bench/run.sh). BENCH_JOBS_TRIVIAL_ONLY=1 stops after the trivial jobs. After each trivial
# run: {"bench":"sched.trivial.cpu","threads":..,"mpcd_cpu_ms_per_job":..} (utime+stime of the
# three mpcd from /proc/PID/stat over the run, divided by the jobs; raft_entries_per_job: the Raft
# log's growth over the run, divided by the jobs).
set -u
B=${1:-$(pwd)}
ROWS=${2:-1000000}
SEGS=${3:-4}
T=$(mktemp -d /tmp/mpcstore-bench-jobs.XXXXXX)
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; sleep 0.5; for p in $PIDS; do kill -9 $p 2>/dev/null; done; rm -rf "$T"' EXIT
"$B/mpcstore-tool" cluster init --parties 3 --dir "$T/c" --base-port "${BENCH_JOBS_PORT:-23500}" >/dev/null || exit 1
for i in 0 1 2; do "$B/mpcd" -c "$T/c/party$i/mpcd.conf" -l warn >>"$T/party$i.log" 2>&1 & PIDS="$PIDS $!"; done
for t in $(seq 60); do "$B/mpcstore-tool" -c "$T/c/party0/mpcd.conf" raft --json 2>/dev/null | grep -q '"leader": "party' && break; sleep 0.5; done
export MPC_CONFIG="$T/c/client/client.conf"
gen() { # gen FILE N SEED: amount (int), hours (2-decimal fixed)
	python3 -c '
import random, sys
random.seed(int(sys.argv[3]))
with open(sys.argv[1], "w") as f:
    f.write("amount,hours\n")
    f.write("".join("%d,%.2f\n" % (random.randint(-50000, 250000), random.uniform(-5, 80)) for i in range(int(sys.argv[2]))))
' "$@"
}
cat >"$T/job.mpc" <<'JOB'
x = load TABLE.amount
h = load TABLE.hours
n = count(x)
s = sum(x)
m = mean(x)
v = var(x)
mh = mean(h)
d = dot(x, h)
c = cov(x, h)
reveal n, s, m, v, mh, d, c to public
JOB
run() { # run TABLE ROWS SEGS: one JSON line
	sed "s/TABLE/$1/g" "$T/job.mpc" >"$T/$1.mpc"
	local t0 t1 id
	t0=$(date +%s.%N)
	"$B/mpcsub" --parsable --wait "$T/$1.mpc" >"$T/sub.out" 2>"$T/sub.err" || { cat "$T/sub.err" >&2; return 1; }
	t1=$(date +%s.%N)
	id=$(head -n1 "$T/sub.out")
	"$B/mpcresult" "$id" --format json >"$T/res.json"
	"$B/mpcstat" -j "$id" --json >"$T/job.json"
	python3 - "$T/res.json" "$T/job.json" "$T"/"$1"_*.csv <<PY
import csv, json, sys, statistics as st
rows = [r for f in sys.argv[3:] for r in csv.DictReader(open(f))]
x = [int(r["amount"]) for r in rows]; h = [float(r["hours"]) for r in rows]
want = {"n": len(x), "s": sum(x), "m": st.mean(x), "v": st.variance(x), "mh": st.mean(h),
        "d": sum(a * b for a, b in zip(x, h)), "c": st.covariance(x, h)}
got = json.load(open(sys.argv[1]))
ok = all(got.get(k) is not None and abs(got[k] - w) <= 1e-6 * max(1, abs(w)) for k, w in want.items())
tasks = json.load(open(sys.argv[2]))["jobs"][0]["tasks"]
print(json.dumps({"bench": "sched.job", "rows": $2, "segments": $3, "tasks": len(tasks),
                  "max_tasks": int("${MPC_SCHED_MAX_TASKS:-16}"), "seconds": round($t1 - $t0, 3), "ok": ok}))
PY
}
printf 'v\n1\n2\n3\n' >"$T/tiny.csv"
"$B/mpcput" -q tiny "$T/tiny.csv" >/dev/null || exit 1
cpu_ticks() { # utime+stime of the mpcd processes, in clock ticks
	local t=0 p
	for p in $PIDS; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
	echo $t
}
raft_index() { # the Raft log's last index on party 0
	"$B/mpcstore-tool" -c "$T/c/party0/mpcd.conf" --json raft 2>/dev/null |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["last_index"])' 2>/dev/null || echo 0
}
trivial() { # trivial JOBS THREADS
	local c0 c1 i0 i1
	i0=$(raft_index)
	c0=$(cpu_ticks)
	"$B/bench_jobs" "$MPC_CONFIG" tiny "$1" "$2"
	c1=$(cpu_ticks)
	i1=$(raft_index)
	# bench_jobs runs one warm-up job first: JOBS + 1 jobs
	printf '{"bench":"sched.trivial.cpu","threads":%d,"jobs":%d,"mpcd_cpu_ms_per_job":%s,"raft_entries_per_job":%s}\n' \
		"$2" "$1" "$(awk -v c="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" -v n="$(($1 + 1))" 'BEGIN { printf "%.2f", c * 1000 / hz / n }')" \
		"$(awk -v d="$((i1 - i0))" -v n="$(($1 + 1))" 'BEGIN { printf "%.2f", d / n }')"
}
trivial "${BENCH_JOBS_SEQ:-200}" 1
trivial "${BENCH_JOBS_PAR:-1000}" "${BENCH_JOBS_THREADS:-16}"
[ "${BENCH_JOBS_TRIVIAL_ONLY:-0}" = 1 ] && exit 0
# mean and variance over ROWS rows in one segment: upload excluded and included
python3 -c '
import random, sys
random.seed(3)
sys.stdout.write("v\n" + "".join("%d\n" % random.randint(-10**6, 10**6) for i in range(int(sys.argv[1]))))
' "$ROWS" >"$T/mv.csv"
printf 'x = load mv.v\nm = mean(x)\nv = var(x)\nreveal m, v to public\n' >"$T/mv.mpc"
t0=$(date +%s.%N)
"$B/mpcput" -q mv "$T/mv.csv" >/dev/null || exit 1
t1=$(date +%s.%N)
id=$("$B/mpcsub" --parsable --wait "$T/mv.mpc" | head -n1) && "$B/mpcresult" "$id" --format json >"$T/mv.json" || exit 1
t2=$(date +%s.%N)
python3 - "$T/mv.csv" "$T/mv.json" "$ROWS" "$t0" "$t1" "$t2" <<'PY'
import json, sys, statistics as st
x = [int(l) for l in open(sys.argv[1]).read().split()[1:]]
got = json.load(open(sys.argv[2]))
ok = abs(got["m"] - st.mean(x)) <= 1e-6 * max(1, abs(st.mean(x))) and abs(got["v"] - st.variance(x)) <= 1e-6 * st.variance(x)
t0, t1, t2 = map(float, sys.argv[4:7])
print(json.dumps({"bench": "sched.meanvar", "rows": int(sys.argv[3]), "seconds": round(t2 - t1, 3),
                  "with_upload_seconds": round(t2 - t0, 3), "ok": ok}))
PY
gen "$T/small_0.csv" 3000 7
"$B/mpcput" -q small "$T/small_0.csv" >/dev/null || exit 1
run small 3000 1
per=$((ROWS / SEGS))
for s in $(seq 0 $((SEGS - 1))); do
	gen "$T/big_$s.csv" "$per" $((100 + s))
	"$B/mpcput" -q big "$T/big_$s.csv" >/dev/null || exit 1
done
run big $((per * SEGS)) "$SEGS"
