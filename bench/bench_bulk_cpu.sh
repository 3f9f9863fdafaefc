#!/bin/bash
# CPU and MB/s per party of one large append (issue 2): a fresh 3-party cluster, bench_store's
# 100k-row append (warm-up: table created) then its 1M x 4-column append; the utime+stime of
# each mpcd (from /proc/PID/stat) and the bytes each made the kernel write (write_bytes of
# /proc/PID/io: files, WAL, SSTs, flushes and compactions it caused) during the 1M append
# only. Usage: bench_bulk_cpu.sh BUILD_DIR BASE_PORT. Prints one JSON line.
set -u
B=$1 PORT=$2
T=$(mktemp -d /tmp/mpcstore-bulkcpu.XXXXXX)
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; sleep 0.5; for p in $PIDS; do kill -9 $p 2>/dev/null; done; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
. "$(dirname "$0")/cluster.sh"
bench_cluster bench_bulk_cpu
ticks() { local p; for p in $PIDS; do awk '{printf "%d ", $14 + $15}' /proc/$p/stat; done; }
wbytes() { local p; for p in $PIDS; do awk '/^write_bytes/ {printf "%d ", $2}' /proc/$p/io; done; }
t0="" t1="" w0="" w1="" mbps="" ccpu=""
while read -r line; do
	case "$line" in
	*'"rows":100000,'*) t0=$(ticks); w0=$(wbytes) ;;
	*'"rows":1000000,'*) t1=$(ticks); w1=$(wbytes); mbps=$(echo "$line" | sed 's/.*"mb_per_s":\([0-9.]*\).*/\1/')
		ccpu=$(echo "$line" | sed -n 's/.*"client_cpu_s":\([0-9.]*\).*/\1/p') ;;
	esac
done < <("$B/bench_store" "$T/client/client.conf" 1 0.05)
[ -n "$t1" ] || { echo "bench_bulk_cpu: no 1M append" >&2; exit 1; }
python3 -c '
import os
hz = os.sysconf("SC_CLK_TCK"); a = [int(x) for x in "'"$t0"'".split()]; b = [int(x) for x in "'"$t1"'".split()]
d = [(y - x) / hz for x, y in zip(a, b)]
w = [(int(y) - int(x)) / 1e6 for x, y in zip("'"$w0"'".split(), "'"$w1"'".split())]
print("{\"mb_per_s_per_party\": %s, \"party_cpu_s\": [%s], \"parties_cpu_s\": %.2f, \"client_cpu_s\": %s, \"party_write_mb\": [%s], \"load\": %s}" % ("'"$mbps"'", ", ".join("%.2f" % x for x in d), sum(d), "'"${ccpu:-null}"'", ", ".join("%.1f" % x for x in w), open("/proc/loadavg").read().split()[0]))'
