#!/bin/bash
# reveal NAME to CLIENT on a real 3-party cluster: the job of client `bob` (submit only) reveals
# mean, sum and stddev of a column to `admin` and a count to public; mpcresult as admin prints the
# joined values equal to the plaintext, bob gets only the public count, `eve` (no output right)
# as a recipient is a FILE:LINE:COL error at submit, a job revealing only to admin is 403 for bob;
# the plaintext values are nowhere in the parties' data dirs and logs (only sealed boxes).
. "$(dirname "$0")/lib.sh"
# below the ranges of pick_port (20000..) and of the other cluster tests (11000..20000)
BASE=$((8000 + ($$ % 100) * 30))
cluster_init 3 "$BASE"
add_client bob "submit, output"
add_client eve "submit, read"
for i in 0 1 2; do start_party $i; done
wait_leader
export MPC_CONFIG=$CLIENT
BOB="$T/client-bob/client.conf"
EVE="$T/client-eve/client.conf"

# values with many distinct digits, so that a leaked plaintext would be found by grep
python3 - "$T/sal.csv" <<'PY'
import random, sys
random.seed(11)
with open(sys.argv[1], "w") as f:
    f.write("pay,hours\n")
    for i in range(500):
        f.write("%d,%.2f\n" % (random.randint(-90000, 7300000), random.uniform(1, 60)))
PY
mpcput sal "$T/sal.csv" >"$T/put.log" 2>&1 || fail "mpcput: $(cat "$T/put.log")"

cat >"$T/priv.mpc" <<'JOB'
x = load sal.pay
h = load sal.hours
s = sum(x)
m = mean(x)
sd = stddev(h)
n = count(x)
reveal s, m, sd to admin
reveal n to public
JOB
log "bob's job reveals s, m, sd to admin and n to public"
mpcsub -c "$BOB" --parsable --wait "$T/priv.mpc" >"$T/sub.out" 2>"$T/sub.err" \
	|| fail "mpcsub --wait: $(cat "$T/sub.err") $(cat "$T/sub.out")"
id=$(head -n1 "$T/sub.out")
mpcresult "$id" --format json >"$T/res.json" 2>"$T/res.err" || fail "mpcresult admin: $(cat "$T/res.err")"
python3 - "$T/sal.csv" "$T/res.json" <<'PY' || fail "admin's results of job $id: $(cat "$T/res.json")"
import csv, json, sys, statistics as st
rows = list(csv.DictReader(open(sys.argv[1])))
x = [int(r["pay"]) for r in rows]; h = [float(r["hours"]) for r in rows]
got = json.load(open(sys.argv[2]))
want = {"s": sum(x), "m": st.mean(x), "sd": st.stdev(h), "n": len(x)}
bad = ["%s=%r want %r" % (k, got.get(k), w) for k, w in want.items()
       if not isinstance(got.get(k), (int, float)) or abs(got[k] - w) > 1e-6 * max(1, abs(w))]
if got.get("s") != sum(x): bad.append("s not the exact integer")
if bad: print("; ".join(bad)); sys.exit(1)
PY
mpcresult "$id" >"$T/res.csv" || fail "mpcresult csv"
grep -q "^s,$(python3 -c "import csv;print(sum(int(r['pay']) for r in csv.DictReader(open('$T/sal.csv'))))")\$" \
	"$T/res.csv" || fail "csv: $(cat "$T/res.csv")"
mpcresult -c "$BOB" "$id" --format json >"$T/bob.json" 2>"$T/bob.err" || fail "mpcresult bob: $(cat "$T/bob.err")"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d == {"n": 500} else 1)' \
	"$T/bob.json" || fail "bob must see only the public n: $(cat "$T/bob.json")"

log "a recipient without the output right is refused at submit with FILE:LINE:COL"
printf 'x = load sal.pay\nt = sum(x)\nreveal t to eve\n' >"$T/eve.mpc"
mpcsub -c "$EVE" --parsable "$T/eve.mpc" >"$T/eve.out" 2>"$T/eve.err" && fail "eve.mpc accepted"
grep -q "eve.mpc:3:[0-9]*: .*output" "$T/eve.err" || fail "eve.mpc error: $(cat "$T/eve.err")"
printf 'x = load sal.pay\nt = sum(x)\nreveal t to nobody\n' >"$T/nobody.mpc"
mpcsub "$T/nobody.mpc" >"$T/nb.out" 2>"$T/nb.err" && fail "nobody.mpc accepted"
grep -q "nobody.mpc:3:[0-9]*: .*no such client" "$T/nb.err" || fail "nobody.mpc error: $(cat "$T/nb.err")"
mpcstat -t all >"$T/stat.out" 2>&1 || fail "mpcstat: $(cat "$T/stat.out")"
[ "$(grep -c COMPLETED "$T/stat.out")" = 1 ] && [ "$(wc -l <"$T/stat.out")" = 2 ] || fail "a refused job was queued: $(cat "$T/stat.out")"

log "a job revealing only to admin: 403 for bob and eve, results for admin"
printf 'x = load sal.pay\nq = sum(x)\nreveal q to admin\n' >"$T/only.mpc"
mpcsub -c "$BOB" --parsable --wait "$T/only.mpc" >"$T/only.out" 2>"$T/only.err" \
	|| fail "only.mpc: $(cat "$T/only.err")"
oid=$(head -n1 "$T/only.out")
mpcresult -c "$BOB" "$oid" >"$T/o.out" 2>"$T/o.err" && fail "bob fetched admin's result: $(cat "$T/o.out")"
grep -qi "revealed to client 'admin'" "$T/o.err" || fail "bob's error: $(cat "$T/o.err")"
mpcresult -c "$EVE" "$oid" >"$T/o.out" 2>"$T/o.err" && fail "eve fetched admin's result"
mpcresult "$oid" >"$T/o.out" 2>"$T/o.err" || fail "admin: $(cat "$T/o.err")"
grep -q "^q,-\?[0-9]" "$T/o.out" || fail "admin's q: $(cat "$T/o.out")"
# the job record shows whom a value went to, not its parts
mpc-signreq call -c "$CLIENT" 0 GET "/v1/jobs/$oid" >"$T/job.json" 2>"$T/job.err" || fail "GET job: $(cat "$T/job.err")"
grep -q '"to": *"admin"' "$T/job.json" || fail "job record: $(cat "$T/job.json")"
grep -q '"sealed"' "$T/job.json" && fail "the job record shows sealed parts"

log "a vector revealed to admin from a table of two segments (one MAP task each)"
printf 'a,b\n3,1.5\n-4,2.25\n' >"$T/v1.csv"
printf 'a,b\n10,-0.5\n' >"$T/v2.csv"
mpcput vt "$T/v1.csv" >"$T/put.log" 2>&1 && mpcput vt "$T/v2.csv" >>"$T/put.log" 2>&1 \
	|| fail "mpcput vt: $(cat "$T/put.log")"
printf 'a = load vt.a\nb = load vt.b\nw = a * b\nz = a + 7\nreveal w, z to admin\n' >"$T/vec.mpc"
mpcsub --parsable --wait "$T/vec.mpc" >"$T/vec.out" 2>"$T/vec.err" || fail "vec.mpc: $(cat "$T/vec.err")"
vid=$(head -n1 "$T/vec.out")
mpcresult "$vid" --format json >"$T/vec.json" 2>"$T/vec.err" || fail "mpcresult vec: $(cat "$T/vec.err")"
python3 - "$T/vec.json" <<'PY' || fail "vector results of job $vid: $(cat "$T/vec.json")"
import json, sys
got = json.load(open(sys.argv[1]))
w, z = got.get("w"), got.get("z")
ok = z == [10, 3, 17] and isinstance(w, list) and len(w) == 3 and \
     all(abs(g - e) < 1e-3 for g, e in zip(w, [4.5, -9.0, -5.0]))
sys.exit(0 if ok else 1)
PY

log "the plaintext values are in no party's data dir or log"
python3 - "$T/sal.csv" "$T/res.json" >"$T/needles" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
x = [int(r["pay"]) for r in rows]
got = json.load(open(sys.argv[2]))
print(sum(x))                    # s, as the JSON integer a plaintext result would be stored as
print(repr(got["m"])[:12])       # m (a double's leading digits)
print(repr(got["sd"])[:10])      # sd
PY
for p in 0 1 2; do
	while read -r needle; do
		[ ${#needle} -ge 8 ] || fail "needle too short: $needle"
		if grep -rqaF -- "$needle" "$T/party$p" "$T/party$p.log"; then
			fail "party $p stores the plaintext $needle"
		fi
	done <"$T/needles"
done
# control: the same grep finds a value once a job reveals it to public
printf 'x = load sal.pay\nc = sum(x)\nreveal c to public\n' >"$T/pub.mpc"
mpcsub --parsable --wait "$T/pub.mpc" >"$T/pub.out" 2>"$T/pub.err" || fail "pub.mpc: $(cat "$T/pub.err")"
sleep 1
grep -rqaF -- "$(head -n1 "$T/needles")" "$T/party0" "$T/party0.log" \
	|| fail "control: the public sum is not found in party 0's data dir (the grep sees nothing)"
log "OK"
