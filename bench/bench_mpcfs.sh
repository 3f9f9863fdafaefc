#!/bin/bash
# Benchmark of mpcfs (issue 5): `cp FILE.csv MOUNT/inbox/T/` until close returns (the rows are
# committed and applied on every party), next to mpcput of the same file and cp to local disk, on
# its own local 3-party cluster (base port 23500). Per size one JSON line each:
# {"bench":"fs.cp_inbox"|"fs.mpcput"|"fs.cp_local","rows":..,"bytes":..,"seconds":..,"mb_per_s":..,
#  "rows_per_s":..} and fs.cp_inbox also "vs_mpcput" (its time / mpcput's; target <= 1.5).
# Sizes: 10^5 rows and BENCH_FS_ROWS (default 3*10^6, about a minute here on 2 cores; 10^7, a
# 217 MB file, takes about 3 minutes: BENCH_FS_ROWS=10000000); 3 interleaved runs each, medians. Needs /dev/fuse and root (skipped with a note otherwise).
# Usage: bench_mpcfs.sh BUILDDIR. Never part of make check.
set -u
B=${1:-$(pwd)}
[ -e /dev/fuse ] && [ "$(id -u)" = 0 ] || { echo '{"bench":"fs.cp_inbox","skipped":"no /dev/fuse or not root"}'; exit 0; }
T=$(mktemp -d /tmp/mpcstore-bench-fs.XXXXXX)
PIDS=""
FSPID=""
trap 'mountpoint -q "$T/mnt" && fusermount3 -u "$T/mnt"; [ -n "$FSPID" ] && kill $FSPID 2>/dev/null; for p in $PIDS; do kill $p 2>/dev/null; done; sleep 0.5; for p in $PIDS; do kill -9 $p 2>/dev/null; done; rm -rf "$T"' EXIT
"$B/mpcstore-tool" cluster init --parties 3 --dir "$T/c" --base-port 23500 >/dev/null || exit 1
for i in 0 1 2; do "$B/mpcd" -c "$T/c/party$i/mpcd.conf" -l warn >>"$T/party$i.log" 2>&1 & PIDS="$PIDS $!"; done
for t in $(seq 60); do "$B/mpcstore-tool" -c "$T/c/party0/mpcd.conf" raft --json 2>/dev/null | grep -q '"leader": "party' && break; sleep 0.5; done
CONF="$T/c/client/client.conf"
mkdir "$T/mnt"
"$B/mpcfs" -c "$CONF" "$T/mnt" -f >"$T/mpcfs.log" 2>&1 &
FSPID=$!
for t in $(seq 100); do mountpoint -q "$T/mnt" && break; sleep 0.1; done
mountpoint -q "$T/mnt" || { echo "mpcfs did not mount: $(cat "$T/mpcfs.log")" >&2; exit 1; }
now() { date +%s.%N; }
# line NAME ROWS BYTES "SECONDS..." [MPCPUT_SECONDS]: the JSON line of the median run; sets MED
line() {
	MED=$(python3 -c 'import statistics, sys; print(statistics.median(map(float, sys.argv[1].split())))' "$4")
	python3 -c '
import json, sys
name, rows, size, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
j = {"bench": name, "rows": rows, "bytes": size, "seconds": round(secs, 3),
     "mb_per_s": round(size / 1e6 / secs, 1), "rows_per_s": round(rows / secs),
     "runs": len(sys.argv[5].split())}
if len(sys.argv) > 6: j["vs_mpcput"] = round(secs / float(sys.argv[6]), 2)
print(json.dumps(j))' "$1" "$2" "$3" "$MED" "$4" ${5:+"$5"}
}
# timed CMD...: appends the seconds CMD took to TIMES (exits on failure)
timed() {
	local t0 t1
	t0=$(now); "$@" || { echo "failed: $*; $(tail -n 3 "$T/mpcfs.log")" >&2; exit 1; }; t1=$(now)
	TIMES="$TIMES $(python3 -c 'import sys; print(float(sys.argv[2]) - float(sys.argv[1]))' "$t0" "$t1")"
}
TABLE=bench_fs
for rows in 100000 "${BENCH_FS_ROWS:-3000000}"; do
	python3 -c '
import random, sys
random.seed(1)
w = sys.stdout.write
w("id,amount,delta\n")
for s in range(0, int(sys.argv[1]), 100000):
    w("".join("%d,%d.%02d,%d\n" % (i, random.randint(-10**6, 10**6), random.randint(0, 99), random.randint(-99, 99)) for i in range(s, min(s + 100000, int(sys.argv[1])))))
' "$rows" >"$T/bench.csv"
	size=$(stat -c %s "$T/bench.csv")
	# the table exists (created by a first mpcput) before any measured run
	[ -d "$T/mnt/tables/$TABLE" ] || "$B/mpcput" -c "$CONF" -q "$TABLE" "$T/bench.csv" >/dev/null || exit 1
	sync
	local_cp() { cp "$T/bench.csv" "$T/local.csv" && sync -f "$T/local.csv"; }
	L="" P="" F=""
	# 3 runs each, interleaved (the machine's load varies) and in alternating order (an append
	# leaves RocksDB flushes and compactions behind that slow the next one); a sync before
	# each run; the medians are reported
	put_run() { sync; TIMES=""; timed "$B/mpcput" -c "$CONF" -q "$TABLE" "$T/bench.csv"; P="$P$TIMES"; }
	fs_run() { sync; TIMES=""; timed cp "$T/bench.csv" "$T/mnt/inbox/$TABLE/bench.csv"; F="$F$TIMES"; }
	for r in 1 2 3; do
		sync; TIMES=""; timed local_cp; L="$L$TIMES"; rm -f "$T/local.csv"
		if [ $r = 2 ]; then fs_run; put_run; else put_run; fs_run; fi
	done
	line fs.cp_local "$rows" "$size" "$L"
	line fs.mpcput "$rows" "$size" "$P"
	line fs.cp_inbox "$rows" "$size" "$F" "$MED"
done
