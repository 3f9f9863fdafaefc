#!/bin/bash
# Engine end to end on a real 3-party cluster: every operation's opened result equals the plaintext
# (random vectors, negatives, fixed point at the documented bounds), a forged peer cannot join,
# overlapping triple ranges are refused, and sessions survive kill -9 of a party at a random round
# with a correct result and no triple index used twice.
. "$(dirname "$0")/lib.sh"
TRIALS=${ENGINE_RESUME_TRIALS:-20}
BASE=$(pick_port 3)
cluster_init 3 "$BASE"
for i in 0 1 2; do start_party $i; done
eng() { mpc-engine -c "$CLIENT" "$@"; }

# the mesh connects once every party is up
for t in $(seq 100); do
	n=$(grep -l "mesh: connected to party" "$T"/party*.log 2>/dev/null | wc -l)
	[ "$n" -eq 3 ] && break; sleep 0.1
done

log "every operation against plaintext"
for s in 1 2 3; do
	eng all --n 2000 --seed $s >"$T/all$s.json" || fail "all (seed $s): $(cat "$T/all$s.json")"
done
for op in mul dot square sumsq fmul trunc sum; do
	eng $op --n 100000 --seed 7 --chunk 16384 >"$T/$op.json" || fail "$op: $(cat "$T/$op.json")"
done
eng mul --n 1 --seed 8 >/dev/null || fail "mul of 1 element"
eng mul --n 300000 --seeded --seed 9 >"$T/big.json" || fail "seeded mul: $(cat "$T/big.json")"

log "a fresh session goes online without the SYNC round; a late party and fuel_ready still work"
eng mul --n 5000 --seed 10 >"$T/fresh.json" || fail "fresh mul: $(cat "$T/fresh.json")"
grep -q '"resyncs":0' "$T/fresh.json" || fail "a fresh session synchronised: $(cat "$T/fresh.json")"
eng mul --n 5000 --seed 11 --stagger 400 >"$T/late.json" || fail "mul with late parties: $(cat "$T/late.json")"
grep -q '"resyncs":0' "$T/late.json" || fail "late parties: $(cat "$T/late.json")"
eng mul --n 5000 --seed 12 --fuel-ready >"$T/ready.json" || fail "fuel-ready mul: $(cat "$T/ready.json")"
grep -q '"resyncs":1' "$T/ready.json" || fail "fuel_ready without its SYNC barrier: $(cat "$T/ready.json")"

log "forged peer"
for p in 1 2; do
	eng forge --party $p >"$T/forge$p.json" || fail "forged peer accepted by party $p"
	grep -q '"refused"' "$T/forge$p.json" || fail "forge: $(cat "$T/forge$p.json")"
done
sleep 0.3
grep -q "refused peer 127.0.0.1" "$T/party1.log" || fail "party 1 did not log the forged peer"

log "overlapping triple range is refused"
eng mul --n 10 --seed 1 --t0 5 >"$T/overlap.json" 2>"$T/overlap.err" && fail "overlapping range accepted"
grep -q "overlaps" "$T/overlap.err" || fail "overlap: $(cat "$T/overlap.err")"

log "a table input (the scheduler's tasks read their segment so) is refused over the API"
mpc-signreq call -c "$CLIENT" 0 POST /v1/engine/sessions \
	'{"id": 777, "t0": "1", "n": "1", "inputs": [{"name": "x", "n": 1, "table": "t", "column": "v", "segment": 0, "revision": 0}], "ops": [["open", "o", "x"]]}' \
	>"$T/tin.out" 2>"$T/tin.err" && fail "table input accepted over the API: $(cat "$T/tin.out")"
grep -q "session input 0: table inputs are for the scheduler" "$T/tin.err" || fail "table input: $(cat "$T/tin.err")"

log "resume after kill -9 at a random round ($TRIALS trials)"
for t in $(seq "$TRIALS"); do
	victim=$((RANDOM % 3))
	eng chain --n 5000 --seed $((100 + t)) --checkpoint 2 --delay 40 >"$T/resume$t.json" 2>"$T/resume$t.err" &
	drv=$!
	sleep "0.$((RANDOM % 40 + 5))"
	kill9_party $victim
	sleep 0.2
	start_party $victim
	wait $drv || fail "trial $t (party $victim killed): $(cat "$T/resume$t.json" "$T/resume$t.err")"
	grep -q '"ok":true' "$T/resume$t.json" || fail "trial $t: $(cat "$T/resume$t.json")"
done

log "no triple index used twice"
for i in 0 1 2; do
	# a party killed by the last trial may still be restarting: ask until it answers (60 s)
	for _ in $(seq 120); do
		mpcstore-tool -c "$T/party$i/mpcd.conf" --json fuel >"$T/fuel$i.json" 2>"$T/fuel$i.err" && break
		sleep 0.5
	done
	python3 - "$T/fuel$i.json" <<'PY' || fail "fuel records of party $i"
import json, sys
j = json.load(open(sys.argv[1]))
g = j["generators"][0]
rs = sorted((int(r["t0"]), int(r["n"]), int(r["used"]), r["session"]) for r in g["ranges"])
for (a, n, u, s), (b, *_rest) in zip(rs, rs[1:]):
    assert a + n <= b, f"ranges overlap: {a}+{n} > {b}"
for a, n, u, s in rs:
    assert u == n or (n == 1 and u == 0), f"session {s} used {u} of its {n} triple indices"
assert int(g["high_water_mark"]) == max(a + n for a, n, u, s in rs)
PY
done
log "ok"
