#!/bin/bash
# CPU per committed small append (issue 2): a fresh 3-party cluster, bench_store's small appends
# (16 clients), and the utime+stime of the three mpcd (from /proc/PID/stat) and of the client.
# Usage: bench_append_cpu.sh BUILD_DIR BASE_PORT [CLIENTS] [SECONDS]. Prints one JSON line.
set -u
B=$1 PORT=$2 CLIENTS=${3:-16} SECS=${4:-5}
T=$(mktemp -d /tmp/mpcstore-appendcpu.XXXXXX)
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; sleep 0.5; for p in $PIDS; do kill -9 $p 2>/dev/null; done; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
. "$(dirname "$0")/cluster.sh"
bench_cluster bench_append_cpu
ticks() { local s=0 p; for p in $PIDS; do s=$((s + $(awk '{print $14 + $15}' /proc/$p/stat))); done; echo $s; }
"$B/bench_store" "$T/client/client.conf" 2 1 small >/dev/null # warm-up: table created, connections up
t0=$(ticks)
out=$("$B/bench_store" "$T/client/client.conf" "$CLIENTS" "$SECS" small)
t1=$(ticks)
hz=$(getconf CLK_TCK)
echo "$out" | python3 -c '
import json, sys
j = json.loads(sys.stdin.read()); d = ('$t1' - '$t0') / '$hz'; n = max(j["committed"], 1)
print(json.dumps({"txn_per_s": j["txn_per_s"], "committed": j["committed"], "failed": j["failed"],
  "raft_entries_per_txn": round(j["raft_entries_per_s"] / max(j["txn_per_s"], 1), 2), "daemon_cpu_s": round(d, 2), "client_cpu_s": j["client_cpu_s"],
  "daemon_ms_per_append": round(1000 * d / n, 3), "client_ms_per_append": round(1000 * j["client_cpu_s"] / n, 3),
  "ms_per_append": round(1000 * (d + j["client_cpu_s"]) / n, 3), "load": open("/proc/loadavg").read().split()[0]}))'
