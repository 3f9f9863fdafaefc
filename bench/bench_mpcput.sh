#!/bin/bash
# Benchmark of mpcput: a generated CSV of ROWS rows (an int64, a 2-decimal fixed and a small int64
# column) appended to a local 3-party cluster in one transaction. Prints one JSON line:
# {"bench":"client.mpcput","rows":..,"bytes":..,"seconds":..,"mb_per_s":..,"rows_per_s":..}
# Usage: bench_mpcput.sh BUILDDIR [CLIENT.CONF [ROWS]]; without CLIENT.CONF it starts its own
# cluster (base port 23400). Never part of make check.
set -u
B=${1:-$(pwd)}
CONF=${2:-}
ROWS=${3:-1000000}
T=$(mktemp -d /tmp/mpcstore-bench-put.XXXXXX)
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; sleep 0.5; for p in $PIDS; do kill -9 $p 2>/dev/null; done; rm -rf "$T"' EXIT
if [ -z "$CONF" ]; then
	"$B/mpcstore-tool" cluster init --parties 3 --dir "$T/c" --base-port 23400 >/dev/null || exit 1
	for i in 0 1 2; do "$B/mpcd" -c "$T/c/party$i/mpcd.conf" -l warn >>"$T/party$i.log" 2>&1 & PIDS="$PIDS $!"; done
	for t in $(seq 60); do "$B/mpcstore-tool" -c "$T/c/party0/mpcd.conf" raft --json 2>/dev/null | grep -q '"leader": "party' && break; sleep 0.5; done
	CONF="$T/c/client/client.conf"
fi
python3 -c '
import random, sys
random.seed(1)
w = sys.stdout.write
w("id,amount,delta\n")
w("".join("%d,%d.%02d,%d\n" % (i, random.randint(-10**6, 10**6), random.randint(0, 99), random.randint(-99, 99)) for i in range(int(sys.argv[1]))))
' "$ROWS" >"$T/bench.csv"
TABLE=bench_put_$$
# first run creates the table (inference), the second appends to it; report the second
"$B/mpcput" -c "$CONF" -q "$TABLE" "$T/bench.csv" >/dev/null || exit 1
"$B/mpcput" -c "$CONF" -q --json "$TABLE" "$T/bench.csv" | python3 -c '
import json, sys
j = json.load(sys.stdin)
assert j["state"] == "committed", j
print(json.dumps({"bench": "client.mpcput", "rows": j["rows"], "bytes": j["bytes"],
                  "seconds": round(j["seconds"], 3),
                  "mb_per_s": round(j["bytes"] / 1e6 / j["seconds"], 1),
                  "rows_per_s": round(j["rows"] / j["seconds"])}))'
