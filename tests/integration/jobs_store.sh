#!/bin/bash
# store TABLE.COLUMN = EXPR on a real 3-party cluster: a job stores scalars into a new table and
# vectors of a 3-segment table (3 MAP tasks) into another; a second job loads them and reveals
# values equal to the plaintext computation; the three parties' shares (mpcstore-tool dump) add up
# to the plaintext; an int value into a fixed column is scaled; refused stores (fixed into int64,
# no append right, no create right, a column left out) exit 1 with FILE:LINE:COL and change
# nothing; a cancelled store job writes nothing; kill -9 of a party during a store job, then
# restart: the new segment is there exactly once on every party (also after a restart that
# re-applies the log); verify --all agrees.
. "$(dirname "$0")/lib.sh"
# ports under 32768 (the ephemeral range collides), below those of the other cluster tests (8000..)
BASE=$((5000 + ($$ % 100) * 30))
cluster_init 3 "$BASE"
add_client bob "submit, read, output"
add_client carol "submit, read, output, append:*"
ENVS="MPC_SCHED_LEASE_MS=${JOBS_LEASE_MS:-6000}"
for i in 0 1 2; do start_party $i $ENVS; done
wait_leader
export MPC_CONFIG=$CLIENT
BOB="$T/client-bob/client.conf"
CAROL="$T/client-carol/client.conf"

# pay in 3 appends: 3 segments (40, 1 and 25 rows), so 3 MAP tasks contribute to a vector store
python3 - "$T" <<'PY'
import random, sys
random.seed(7)
rows = [(random.randint(-50000, 900000), random.randint(-4000, 9000) / 100) for _ in range(66)]
for name, part in (("p1", rows[:40]), ("p2", rows[40:41]), ("p3", rows[41:])):
    with open("%s/%s.csv" % (sys.argv[1], name), "w") as f:
        f.write("amount,hours\n")
        for a, h in part:
            f.write("%d,%.2f\n" % (a, h))
PY
for p in p1 p2 p3; do
	mpcput pay "$T/$p.csv" >>"$T/put.log" 2>&1 || fail "mpcput $p: $(cat "$T/put.log")"
done
njobs() { mpcstat -t all | tail -n +2 | wc -l; }

cat >"$T/store1.mpc" <<'JOB'
a = load pay.amount
h = load pay.hours
store agg.total = sum(a)
store agg.hsum = sum(h)
store pay2.a = a * 3 + 1
store pay2.h = h - a
JOB
log "a store job: scalars into a new table, vectors of a 3-segment table into another"
mpcsub --parsable --wait "$T/store1.mpc" >"$T/s1.out" 2>"$T/s1.err" || fail "store1: $(cat "$T/s1.err") $(cat "$T/s1.out")"
id1=$(head -n1 "$T/s1.out")
mpcstat -j "$id1" | grep -q COMPLETED || fail "job $id1: $(mpcstat -l -j "$id1")"
ntasks=$(mpcstat -j "$id1" --json | python3 -c 'import json,sys; print(len([t for t in json.load(sys.stdin)["jobs"][0]["tasks"] if t["kind"] == "map"]))')
[ "$ntasks" = 3 ] || fail "job $id1 has $ntasks MAP tasks, not one per segment"
mpcstat -j "$id1" --json | python3 -c '
import json, sys
st = {s["table"]: (s["rows"], s["segment"]) for s in json.load(sys.stdin)["jobs"][0]["stored"]}
sys.exit(0 if st == {"agg": (1, 0), "pay2": (66, 0)} else 1)' || fail "job $id1 stored: $(mpcstat -j "$id1" --json)"
mpcstat -l -j "$id1" | grep -q "^   Stored Table=pay2 Segment=0 Rows=66 Revision=" || fail "mpcstat -l: $(mpcstat -l -j "$id1")"
for i in 0 1 2; do
	[ "$(shape $i agg)" = "1 1" ] || fail "party $i: agg is $(shape $i agg), want 1 row in 1 segment"
	[ "$(shape $i pay2)" = "66 1" ] || fail "party $i: pay2 is $(shape $i pay2), want 66 rows in 1 segment"
done
mpcstore-tool -c "$T/party1/mpcd.conf" describe agg >"$T/desc" 2>&1 || fail "describe agg: $(cat "$T/desc")"
grep -q "total *int64" "$T/desc" && grep -q "hsum *fixed (16" "$T/desc" && grep -q "job-0*$id1-agg" "$T/desc" \
	|| fail "describe agg: $(cat "$T/desc")"
mpcstore-tool -c "$T/party0/mpcd.conf" describe pay2 | grep -q "h *fixed (16" || fail "pay2.h type"
wait_verify

# the plaintext, as Python computes it from the CSV files
python3 - "$T" >"$T/want.py" <<'PY'
import csv, sys
rows = []
for p in ("p1", "p2", "p3"):
    rows += [(int(r["amount"]), float(r["hours"])) for r in csv.DictReader(open("%s/%s.csv" % (sys.argv[1], p)))]
print("A = %r" % [a for a, _ in rows])
print("H = %r" % [h for _, h in rows])
PY
log "the parties' shares of the stored columns add up to the plaintext"
python3 - "$(joined pay2 a 0)" "$(joined pay2 h 16)" "$(joined agg total 0)" "$(joined agg hsum 16)" <<PY \
	|| fail "joined shares differ from the plaintext"
import sys
$(cat "$T/want.py")
a2, h2, tot, hs = (eval(s) for s in sys.argv[1:])
ok = a2 == [3 * a + 1 for a in A]
ok &= all(abs(g - (h - a)) < 1e-4 for g, (a, h) in zip(h2, zip(A, H))) and len(h2) == len(A)
ok &= tot == [sum(A)] and abs(hs[0] - sum(H)) < 1e-3 and len(hs) == 1
if not ok: print(a2[:5], h2[:5], tot, hs, sum(A), sum(H)); sys.exit(1)
PY

log "no party holds the stored sum in the clear (data dir, log)"
needle=$(python3 -c "exec(open('$T/want.py').read()); print(sum(A))")
[ ${#needle} -ge 7 ] || fail "needle too short: $needle"
for p in 0 1 2; do
	grep -rqaF -- "$needle" "$T/party$p" "$T/party$p.log" && fail "party $p holds the plaintext sum $needle"
done

log "a second job loads the stored tables: results equal the plaintext computation"
cat >"$T/load.mpc" <<'JOB'
x = load pay2.a
y = load pay2.h
s = sum(x)
m = mean(y)
t = load agg.total
reveal s, m, x, t to public
JOB
mpcsub --parsable --wait "$T/load.mpc" >"$T/l.out" 2>"$T/l.err" || fail "load job: $(cat "$T/l.err")"
mpcresult "$(head -n1 "$T/l.out")" --format json >"$T/l.json" 2>"$T/l.err" || fail "mpcresult: $(cat "$T/l.err")"
python3 - "$T/l.json" <<PY || fail "results of the load job: $(cat "$T/l.json")"
import json, sys
$(cat "$T/want.py")
got = json.load(open(sys.argv[1]))
want_m = sum(h - a for a, h in zip(A, H)) / len(A)
ok = got["s"] == sum(3 * a + 1 for a in A) and got["x"] == [3 * a + 1 for a in A]
ok &= abs(got["m"] - want_m) < 1e-3 and got["t"] in (sum(A), [sum(A)])  # a 1-row vector
if not ok: print("want s", sum(3 * a + 1 for a in A), "m", want_m, "t", sum(A))
sys.exit(0 if ok else 1)
PY

# control for the grep above: once a job reveals the sum, it is in the job records
found=0
for p in 0 1 2; do grep -rqaF -- "$needle" "$T/party$p" && found=1; done
[ $found = 1 ] || fail "control: the revealed sum $needle is in no data dir (the grep cannot find it)"

log "an int value into a fixed column is scaled; a second row of agg"
printf 'a = load pay.amount\nstore agg.total = sum(a) - 5\nstore agg.hsum = sum(a)\n' >"$T/scale.mpc"
mpcsub --parsable --wait "$T/scale.mpc" >"$T/sc.out" 2>"$T/sc.err" || fail "scale: $(cat "$T/sc.err")"
for i in 0 1 2; do [ "$(shape $i agg)" = "2 2" ] || fail "party $i: agg is $(shape $i agg) after the 2nd store"; done
python3 - "$(joined agg hsum 16)" "$(joined agg total 0)" <<PY || fail "scaled store: $(joined agg hsum 16)"
import sys
$(cat "$T/want.py")
hs, tot = eval(sys.argv[1]), eval(sys.argv[2])
sys.exit(0 if abs(hs[0] - sum(H)) < 1e-3 and hs[1] == sum(A) and tot == [sum(A), sum(A) - 5] else 1)
PY

log "refused stores: FILE:LINE:COL, nothing queued, nothing changed"
before=$(njobs)
printf 'h = load pay.hours\nstore agg.hsum = sum(h)\nstore agg.total = sum(h)\n' >"$T/fix.mpc"
mpcsub "$T/fix.mpc" >/dev/null 2>"$T/fix.err"; rc=$?
[ $rc -eq 1 ] || fail "fixed into int64: exit $rc"
grep -q "fix.mpc:3:[0-9]*: agg.total is an int64 column" "$T/fix.err" || fail "fix.mpc: $(cat "$T/fix.err")"
printf 'a = load pay.amount\nstore agg.total = sum(a)\nstore agg.hsum = sum(a)\n' >"$T/bob.mpc"
mpcsub -c "$BOB" "$T/bob.mpc" >/dev/null 2>"$T/bob.err"; rc=$?
[ $rc -eq 3 ] || fail "bob without the append right: exit $rc (want 3: refused, 403)"
grep -q "bob.mpc:2:[0-9]*: store into table agg: client 'bob' may not append" "$T/bob.err" \
	|| fail "bob.mpc: $(cat "$T/bob.err")"
printf 'a = load pay.amount\nstore fresh.v = sum(a)\n' >"$T/carol.mpc"
mpcsub -c "$CAROL" "$T/carol.mpc" >/dev/null 2>"$T/carol.err"; rc=$?
[ $rc -eq 3 ] || fail "carol without the create right: exit $rc (want 3: refused, 403)"
grep -q "carol.mpc:2:[0-9]*: .*may not create table 'fresh'" "$T/carol.err" || fail "carol.mpc: $(cat "$T/carol.err")"
printf 'a = load pay.amount\nstore agg.total = sum(a)\n' >"$T/part.mpc"
mpcsub "$T/part.mpc" >/dev/null 2>"$T/part.err"; rc=$?
[ $rc -eq 1 ] || fail "a store leaving a column out: exit $rc"
grep -q "part.mpc:2:[0-9]*: .*store every column of table 'agg' (missing: hsum)" "$T/part.err" \
	|| fail "part.mpc: $(cat "$T/part.err")"
[ "$(njobs)" = "$before" ] || fail "a refused store was queued: $(mpcstat -t all)"
# carol may append to an existing table: her store into agg runs
mpcsub -c "$CAROL" --parsable --wait "$T/bob.mpc" >"$T/c.out" 2>"$T/c.err" || fail "carol into agg: $(cat "$T/c.err")"
for i in 0 1 2; do
	[ "$(shape $i agg)" = "3 3" ] || fail "party $i: agg is $(shape $i agg)"
	[ "$(shape $i fresh)" = none ] || fail "party $i: the refused table fresh exists"
done

log "a cancelled store job writes nothing"
for i in 0 1 2; do kill "$(party_pid $i)"; done
sleep 1
for i in 0 1 2; do start_party $i $ENVS MPC_SCHED_DELAY_MS=150; done
wait_leader
printf 'a = load pay.amount\nm = mean(a)\nstore gone.v = a - m\n' >"$T/gone.mpc"
gid=$(mpcsub --parsable "$T/gone.mpc") || fail "submit gone.mpc"
mpccancel "$gid" || fail "mpccancel $gid"
mpcstat -j "$gid" | grep -q CANCELLED || fail "job $gid: $(mpcstat -l -j "$gid")"
for i in 0 1 2; do [ "$(shape $i gone)" = none ] || fail "party $i: a cancelled job created gone"; done

log "examples/store.mpc: a row of pay_summary, a row of pay_raised per row of pay"
ex="$(cd "$(dirname "$0")/../.." && pwd)/examples/store.mpc"
mpcsub --parsable --wait --arg raise=1.03 "$ex" >"$T/ex.out" 2>"$T/ex.err" || fail "$ex: $(cat "$T/ex.err")"
for i in 0 1 2; do
	[ "$(shape $i pay_summary)" = "1 1" ] && [ "$(shape $i pay_raised)" = "66 1" ] \
		|| fail "party $i: pay_summary $(shape $i pay_summary), pay_raised $(shape $i pay_raised)"
done
python3 - "$(joined pay_summary total 0)" "$(joined pay_summary mean_hours 16)" \
	"$(joined pay_raised amount 16)" "$(joined pay_raised hours 16)" <<PY || fail "examples/store.mpc values"
import sys
$(cat "$T/want.py")
tot, mh, ra, rh = (eval(s) for s in sys.argv[1:])
r = round(1.03 * 2**16) / 2**16   # the decimal literal as fixed(16)
ok = tot == [sum(A)] and abs(mh[0] - sum(H) / len(H)) < 1e-3
ok &= len(ra) == len(A) and all(abs(g - a * r) < 1e-3 for g, a in zip(ra, A))
ok &= len(rh) == len(H) and all(abs(g - h) < 1e-4 for g, h in zip(rh, H))
if not ok: print(tot, mh, ra[:3], rh[:3], sum(A), sum(H) / len(H)); sys.exit(1)
PY

log "kill -9 of a party during a store job, restart: the segment appears exactly once everywhere"
kid=$(mpcsub --parsable "$T/store1.mpc") || fail "submit for the kill test"
leased() {
	mpcstat -j "$kid" --json | python3 -c '
import json, sys
ts = json.load(sys.stdin)["jobs"][0].get("tasks", [])
print(any(t["state"] == "LEASED" for t in ts))'
}
for t in $(seq 300); do [ "$(leased)" = True ] && break; sleep 0.1; done
[ "$(leased)" = True ] || fail "no task of job $kid running: $(mpcstat -l -j "$kid")"
kill9_party 2
sleep 8   # longer than the lease: the running attempt expires
start_party 2 $ENVS MPC_SCHED_DELAY_MS=150
for t in $(seq 900); do
	st=$(mpcstat -j "$kid" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["jobs"][0]["state"])')
	case $st in COMPLETED|FAILED|CANCELLED|TIMEOUT) break;; esac; sleep 0.1
done
[ "$st" = COMPLETED ] || fail "job $kid after the kill: $st $(mpcstat -l -j "$kid")"
mpcstat -l -j "$kid" | grep -q "lease expired" || fail "the kill hit no running attempt: $(mpcstat -l -j "$kid")"
check_twice() {
	for i in 0 1 2; do
		for t in $(seq 100); do [ "$(shape $i pay2)" = "132 2" ] && break; sleep 0.2; done
		[ "$(shape $i pay2)" = "132 2" ] || fail "party $i: pay2 is $(shape $i pay2), want 132 rows in 2 segments"
		[ "$(shape $i agg)" = "4 4" ] || fail "party $i: agg is $(shape $i agg), want 4 rows"
	done
	python3 - "$(joined pay2 a 0)" <<PY || fail "pay2.a after the kill"
import sys
$(cat "$T/want.py")
sys.exit(0 if eval(sys.argv[1]) == [3 * a + 1 for a in A] * 2 else 1)
PY
	wait_verify
}
check_twice
log "a restart re-applies the log: still exactly once"
kill9_party 1
start_party 1 $ENVS
wait_leader
check_twice
log "ok"
