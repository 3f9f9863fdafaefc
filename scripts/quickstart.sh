#!/bin/bash
# The main job for now: install, build, start a local 3-party cluster, append secret-shared data in
# Raft-committed transactions, kill -9 a party mid-way, check that every party agrees, compute a
# dot product on secret-shared vectors with the Beaver engine, and check that the parties' shares
# add up to the plaintext, which no single party holds.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
B=$PWD
D=${MPC_DEMO_DIR:-$B/demo}
PORT=${MPC_DEMO_PORT:-7100}
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	sleep 0.5
	for p in $PIDS; do kill -9 "$p" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM
say() { printf '\n== %s\n' "$*"; }
start() { "$B/mpcd" -c "$D/party$1/mpcd.conf" >>"$D/party$1.log" 2>&1 & echo $! >"$D/party$1.pid"; PIDS="$PIDS $!"; }
# every party answers on its API and sees a raft leader
wait_leader() {
	for i in 0 1 2; do
		for t in $(seq 61); do
			"$B/mpcstore-tool" -c "$D/party$i/mpcd.conf" raft --json 2>/dev/null | grep -q '"leader": "party' && break
			[ "$t" = 61 ] && { echo "party $i sees no raft leader after 30 s; see $D/party$i.log" >&2; exit 1; }
			sleep 0.5
		done
	done
}

rm -rf "$D"
say "cluster of 3 parties on 127.0.0.1 in $D"
"$B/mpcstore-tool" cluster init --parties 3 --dir "$D" --base-port "$PORT"
for i in 0 1 2; do start $i; done
wait_leader
"$B/mpcstore-tool" -c "$D/party0/mpcd.conf" raft

say "appending 5 transactions of 1000 rows (secret-shared on the client, sealed to each party)"
"$B/mpc-testclient" -c "$D/client/client.conf" append payroll --create --rows 1000 --cols 2 --count 5 --seed 42 >"$D/appends.jsonl"
say "kill -9 party 1, append 3 more transactions with 2 of 3 parties up (they must abort), restart it"
kill -9 "$(cat "$D/party1.pid")"
"$B/mpc-testclient" -c "$D/client/client.conf" append payroll --rows 1000 --cols 2 --count 3 --seed 43 >>"$D/appends.jsonl" || true
start 1
wait_leader
"$B/mpc-testclient" -c "$D/client/client.conf" append payroll --rows 1000 --cols 2 --count 2 --seed 44 >>"$D/appends.jsonl"
python3 -c 'import json,sys; [print("  txn %s %s%s" % (a["txn"] or "-", a["state"], (": " + a["error"][:90]) if a["error"] else "")) for a in map(json.loads, open(sys.argv[1]))]' "$D/appends.jsonl"

say "the catalog, as party 2 sees it"
"$B/mpcstore-tool" -c "$D/party2/mpcd.conf" tables
say "catalog digests of all parties"
for t in $(seq 20); do "$B/mpcstore-tool" -c "$D/party0/mpcd.conf" verify --all >"$D/verify.out" 2>&1 && break; sleep 1; done
cat "$D/verify.out"
grep -q "all 3 parties agree" "$D/verify.out"

say "computing on secrets: a Beaver dot product of 100,000 secret-shared pairs on the 3 parties"
"$B/mpc-engine" -c "$D/client/client.conf" dot --n 100000 --seed 7 >"$D/engine.json"
python3 - "$D/engine.json" <<'PY2'
import json, sys
r = json.load(open(sys.argv[1]))
print("  opened result %s the plaintext dot product; %.1f ms online, %.0f bytes per element on the wire"
      % ("equals" if r["ok"] else "DIFFERS FROM", r["online_ms"], r["bytes_per_elem"]))
sys.exit(0 if r["ok"] and r["bad"] == 0 else 1)
PY2
"$B/mpcstore-tool" -c "$D/party0/mpcd.conf" fuel

say "stopping the parties; adding up their shares of column c0"
cleanup; PIDS=""
for i in 0 1 2; do "$B/mpcstore-tool" -c "$D/party$i/mpcd.conf" dump payroll --column c0 >"$D/shares$i.txt"; done
python3 - "$D" <<'PY'
import json, sys
D = sys.argv[1]; M = 1 << 64
appends = [json.loads(l) for l in open(D + "/appends.jsonl")]
want = sum(int(a["sums"][0]) for a in appends if a["state"] == "committed") % M
shares = [[int(x) for x in open("%s/shares%d.txt" % (D, i))] for i in range(3)]
got = sum(map(sum, shares)) % M
signed = lambda v: v - M if v >= M // 2 else v
print("  rows per party: %s" % [len(s) for s in shares])
print("  party 0's shares alone sum to %d (random)" % signed(sum(shares[0]) % M))
print("  all parties' shares sum to    %d" % signed(got))
print("  plaintext sum on the client:  %d" % signed(want))
if got != want or len(set(map(len, shares))) != 1:
    print("MISMATCH"); sys.exit(1)
print("OK: the committed appends are on every party, and only together do the shares give the plaintext")
PY
