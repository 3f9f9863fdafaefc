#!/bin/bash
# make bench: runs every benchmark; each prints JSON lines on stdout. Never part of make check.
set -u
B=${1:-$(pwd)}
"$B/bench_engine"
"$B/bench_csv"
"$B/bench_transport" # raft transport: small-message round trips, encrypted vs plain TCP
# store benchmarks need a running local cluster
T=$(mktemp -d /tmp/mpcstore-bench.XXXXXX)
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; sleep 0.5; for p in $PIDS; do kill -9 $p 2>/dev/null; done; rm -rf "$T"' EXIT
"$B/mpcstore-tool" cluster init --parties 3 --dir "$T" --base-port 23100 >/dev/null
for i in 0 1 2; do "$B/mpcd" -c "$T/party$i/mpcd.conf" -l warn >>"$T/party$i.log" 2>&1 & PIDS="$PIDS $!"; done
for t in $(seq 60); do "$B/mpcstore-tool" -c "$T/party0/mpcd.conf" raft --json 2>/dev/null | grep -q '"leader": "party' && break; sleep 0.5; done
"$B/bench_store" "$T/client/client.conf" "${BENCH_CLIENTS:-16}" "${BENCH_SECONDS:-5}"
# small appends again with 64 clients: more appends share each Raft entry and WAL sync
"$B/bench_store" "$T/client/client.conf" 64 "${BENCH_SECONDS:-5}" small
bash "$(dirname "$0")/bench_mpcput.sh" "$B" "$T/client/client.conf" 1000000
# mpcfs (issue 5): cp into the inbox next to mpcput and a local cp, on its own cluster
bash "$(dirname "$0")/bench_mpcfs.sh" "$B"
# scheduler (issue 4): trivial jobs/s and latency, mean+variance over 10^6 rows, on its own cluster
bash "$(dirname "$0")/bench_jobs.sh" "$B" 1000000 4
# engine (issue 3): online multiplications/s on a fresh cluster of 3 local parties (the store
# benchmarks above leave RocksDB background work that would land in these timings), one warm-up
# run, then 3 runs per configuration; JSON lines from mpc-engine (op0_per_s = the operation).
# sleep 1: a session's final checkpoint is flushed by RocksDB in the background.
for p in $PIDS; do kill $p 2>/dev/null; done; sleep 1; PIDS=""
sync # write back what the store benchmarks left dirty, so the kernel does not do it mid-run
E=$(mktemp -d /tmp/mpcstore-bench-engine.XXXXXX)
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; sleep 0.5; for p in $PIDS; do kill -9 $p 2>/dev/null; done; rm -rf "$T" "$E"' EXIT
"$B/mpcstore-tool" cluster init --parties 3 --dir "$E" --base-port 23200 >/dev/null
for i in 0 1 2; do "$B/mpcd" -c "$E/party$i/mpcd.conf" -l warn >>"$E/party$i.log" 2>&1 & PIDS="$PIDS $!"; done
for t in $(seq 60); do "$B/mpcstore-tool" -c "$E/party0/mpcd.conf" raft --json 2>/dev/null | grep -q '"leader": "party' && break; sleep 0.5; done
"$B/mpc-engine" -c "$E/client/client.conf" mul --n 100000 --seeded --seed 99 >/dev/null # warm-up
seed=1
for n in 10000 100000 1000000 10000000; do
	runs=3; [ $n = 10000000 ] && runs=1
	for r in $(seq $runs); do
		sleep 1; "$B/mpc-engine" -c "$E/client/client.conf" mul --n $n --seeded --fuel-ready --seed $seed --timeout 600
		sleep 1; "$B/mpc-engine" -c "$E/client/client.conf" mul --n $n --seeded --seed $((seed + 1)) --timeout 600
		seed=$((seed + 2))
	done
done
sleep 1; "$B/mpc-engine" -c "$E/client/client.conf" trunc --n 1000000 --seeded --seed $seed
sleep 1; "$B/mpc-engine" -c "$E/client/client.conf" dot --n 1000000 --seeded --seed $((seed + 1))
