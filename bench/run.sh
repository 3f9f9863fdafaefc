#!/bin/bash
# make bench: runs every benchmark; each prints JSON lines on stdout. Never part of make check.
set -u
B=${1:-$(pwd)}
"$B/bench_engine"
"$B/bench_csv"
# store benchmarks need a running local cluster
T=$(mktemp -d /tmp/mpcstore-bench.XXXXXX)
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; sleep 0.5; for p in $PIDS; do kill -9 $p 2>/dev/null; done; rm -rf "$T"' EXIT
"$B/mpcstore-tool" cluster init --parties 3 --dir "$T" --base-port 23100 >/dev/null
for i in 0 1 2; do "$B/mpcd" -c "$T/party$i/mpcd.conf" -l warn >>"$T/party$i.log" 2>&1 & PIDS="$PIDS $!"; done
for t in $(seq 60); do "$B/mpcstore-tool" -c "$T/party0/mpcd.conf" raft --json 2>/dev/null | grep -q '"leader": "party' && break; sleep 0.5; done
"$B/bench_store" "$T/client/client.conf" "${BENCH_CLIENTS:-16}" "${BENCH_SECONDS:-5}"
bash "$(dirname "$0")/bench_mpcput.sh" "$B" "$T/client/client.conf" 1000000
# engine (issue 3): online multiplications/s on the same 3 local parties, JSON lines from mpc-engine
# (sleep 1: the previous session's final checkpoint is flushed by RocksDB in the background;
# without the pause that work lands in the next run's online phase on these 2 cores)
for n in 10000 100000 1000000 10000000; do
	sleep 1; "$B/mpc-engine" -c "$T/client/client.conf" mul --n $n --seeded --fuel-ready --seed 1 --timeout 600
	sleep 1; "$B/mpc-engine" -c "$T/client/client.conf" mul --n $n --seeded --seed 2 --timeout 600
done
"$B/mpc-engine" -c "$T/client/client.conf" trunc --n 1000000 --seeded --seed 3
"$B/mpc-engine" -c "$T/client/client.conf" dot --n 1000000 --seeded --seed 4
