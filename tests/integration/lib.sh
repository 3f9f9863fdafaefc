# Helpers for integration tests: a local cluster of real mpcd processes in a temp dir.
# Every process a test starts is recorded by PID and ended by cleanup (also on failure).
set -u
B=${top_builddir:-$(cd "$(dirname "$0")/../.." && pwd)}
PATH="$B:$PATH"
T=$(mktemp -d /tmp/mpcstore-it.XXXXXX)
PIDS=""

log() { echo "[$(date +%H:%M:%S)] $*"; }
fail() { echo "FAIL: $*"; for f in "$T"/party*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 15 "$f"; }; done; exit 1; }

cleanup() {
	local p
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	sleep 0.5
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

# cluster_init N BASEPORT: keys and configs in $T
cluster_init() {
	mpcstore-tool cluster init --parties "$1" --dir "$T" --base-port "$2" >"$T/init.log" 2>&1 \
		|| fail "cluster init: $(cat "$T/init.log")"
	NPARTIES=$1
	CLIENT="$T/client/client.conf"
}

# start_party I [ENV=VAL...]: starts party I in the background, records its pid
start_party() {
	local i=$1; shift
	env "$@" mpcd -c "$T/party$i/mpcd.conf" >>"$T/party$i.log" 2>&1 &
	echo $! >"$T/party$i.pid"
	PIDS="$PIDS $!"
}

party_pid() { cat "$T/party$1.pid"; }
party_alive() { kill -0 "$(party_pid "$1")" 2>/dev/null; }
kill9_party() { kill -9 "$(party_pid "$1")" 2>/dev/null; wait "$(party_pid "$1")" 2>/dev/null; true; }

# wait_leader: until party 0..N-1 report a leader (30 s)
wait_leader() {
	local t=0 i
	for i in $(seq 0 $((NPARTIES - 1))); do
		until mpcstore-tool -c "$T/party$i/mpcd.conf" raft --json 2>/dev/null | grep -q '"leader": "party'; do
			sleep 0.2; t=$((t + 1)); [ $t -gt 150 ] && fail "party $i sees no raft leader within 30 s"
		done
	done
}

# wait_verify: until verify --all agrees (60 s)
wait_verify() {
	local t=0
	until mpcstore-tool -c "$T/party0/mpcd.conf" verify --all >"$T/verify.out" 2>&1; do
		sleep 1; t=$((t + 1)); [ $t -gt 60 ] && fail "verify --all did not agree: $(cat "$T/verify.out")"
	done
}

# pick_port RANGE: a base port below 32768 (the ephemeral range) that differs per run;
# each test passes its own RANGE (0..4) so tests running in parallel never share ports; a cluster
# uses BASE..BASE+22, and range 4 ends at 32497.
pick_port() { echo $((20000 + ${1:-0} * 2500 + ($$ % 100) * 25)); }
# add_client NAME RIGHTS: a second client (fresh keys) in $T/cluster.conf with RIGHTS (a rights
# list as in cluster.conf) and its config $T/client-NAME/client.conf; before the parties start.
add_client() {
	local k="$T/keys.$1"
	mpcstore-tool cluster init --parties 1 --dir "$k" --base-port 30000 >/dev/null 2>&1 \
		|| fail "keys for client $1"
	{ echo; echo "[client.$1]"; sed -n '/^\[client.admin\]/,$p' "$k/cluster.conf" | grep -E '^(sign|box)_pk ='
	  echo "rights = $2"; } >>"$T/cluster.conf"
	mkdir -p -m 700 "$T/client-$1"
	sed -e "s/^name = admin/name = $1/" -e "s#^cluster = .*#cluster = $T/cluster.conf#" \
		"$k/client/client.conf" >"$T/client-$1/client.conf"
	chmod 600 "$T/client-$1/client.conf"
	rm -rf "$k"
}
# shape I T: table T described by party I: "rows segments" (or "none")
shape() {
	mpcstore-tool -c "$T/party$1/mpcd.conf" --json describe "$2" 2>/dev/null | python3 -c '
import json, sys
try: t = json.load(sys.stdin)
except Exception: print("none"); sys.exit(0)
print(t["rows"], t["segments"])'
}
# the plaintext of T.C: the three parties' shares (mpcstore-tool dump) added mod 2^64, decoded
joined() {
	for i in 0 1 2; do
		mpcstore-tool -c "$T/party$i/mpcd.conf" dump "$1" --column "$2" >"$T/dump$i" 2>&1 \
			|| fail "dump $1.$2 on party $i: $(cat "$T/dump$i")"
	done
	python3 - "$T" "$3" <<'PY'
import sys
d, frac = sys.argv[1], int(sys.argv[2])
cols = [[int(l) for l in open("%s/dump%d" % (d, i)) if l.strip()] for i in range(3)]
assert len(set(map(len, cols))) == 1, "parties hold %s rows" % [len(c) for c in cols]
out = []
for xs in zip(*cols):
    v = sum(xs) % 2**64
    if v >= 2**63: v -= 2**64
    out.append(v / 2**frac if frac else v)
print(repr(out))
PY
}
# rows_on I TABLE: the row count of TABLE on party I ("none": no such table)
rows_on() { mpcstore-tool -c "$T/party$1/mpcd.conf" describe "$2" --json 2>/dev/null |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["rows"])' 2>/dev/null || echo none; }
# check_sums TABLE CSV...: per column, the shares of all parties sum (mod 2^64) to the plaintext
# of the CSV files, each value encoded as the column's ring element (fixed: round(x * 2^f)).
check_sums() {
	local table=$1 c i; shift
	mpcstore-tool -c "$T/party0/mpcd.conf" describe "$table" --json >"$T/desc.json" || fail "describe $table"
	for c in $(python3 -c 'import json,sys; print(" ".join(c["name"] for c in json.load(open(sys.argv[1]))["columns"]))' "$T/desc.json"); do
		for i in 0 1 2; do
			mpcstore-tool -c "$T/party$i/mpcd.conf" dump "$table" --column "$c" --json >"$T/dump$i.json" \
				|| fail "dump $table.$c on party $i"
		done
		python3 - "$T/desc.json" "$c" "$T"/dump0.json "$T"/dump1.json "$T"/dump2.json "$@" <<'PY' || fail "shares of $table.$c do not sum to the plaintext"
import csv, json, sys
from decimal import Decimal, ROUND_HALF_UP
desc, col, dumps, files = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3:6], sys.argv[6:]
spec = [c for c in desc["columns"] if c["name"] == col][0]
f = spec["frac"] if spec["type"] == "fixed" else 0
want = 0
for path in files:
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            want += int((Decimal(row[col]) * (1 << f)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
shares = [json.load(open(d))["shares"] for d in dumps]
n = len(shares[0])
assert all(len(s) == n for s in shares), "parties hold different share counts"
assert n == desc["rows"], "%d shares for %d rows" % (n, desc["rows"])
got = sum(int(v) for s in shares for v in s) % 2**64
assert got == want % 2**64, "column %s: shares sum to %d, plaintext encodes to %d" % (col, got, want % 2**64)
PY
	done
}
