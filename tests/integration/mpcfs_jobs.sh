#!/bin/bash
# mpcfs jobs/ and permissions on a real 3-party cluster and real mounts: a program written into
# jobs/new/ is submitted at close (id in jobs/new/.last; a bad one fails at close with
# FILE:LINE:COL in jobs/new/.errors/FILE); jobs/ID/status is mpcstat -l's report and
# jobs/ID/result.csv mpcresult's CSV, its values equal to the plaintext; a client with fewer
# rights sees only what its rights allow and gets EACCES otherwise; mpcfs --party shows the
# party's store read-only (schema, segment shares that sum to the plaintext across the parties,
# txns, fuel, raft); POSIX sanity (ls -l, stat, cat, find) on the read-only parts.
[ -e /dev/fuse ] || { echo "SKIP: no /dev/fuse"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: mounting needs root here"; exit 77; }
command -v fusermount3 >/dev/null || { echo "SKIP: no fusermount3"; exit 77; }
. "$(dirname "$0")/lib.sh"
# below mpcfs.sh's ports (14000..16999): ports under 32768 that differ per run
BASE=$((11000 + ($$ % 100) * 30))
cluster_init 3 "$BASE"
# alice: may append to t1 and submit jobs; no read, create or output right
add_client alice "append:t1, submit"
for i in 0 1 2; do start_party $i; done
wait_leader

MOUNTS=""
MPCFS_PIDS=""
umount_all() {
	local m p
	for m in $MOUNTS; do
		mountpoint -q "$m" 2>/dev/null && { fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m"; }
	done
	for p in $MPCFS_PIDS; do kill "$p" 2>/dev/null; done
	cleanup
}
trap umount_all EXIT
# mount_fs DIR ARGS...: mpcfs in the foreground (in the background: its pid is known)
mount_fs() {
	local d=$1 t; shift
	mkdir -p "$d"
	mpcfs "$@" "$d" -f >"$d.log" 2>&1 &
	MPCFS_PIDS="$MPCFS_PIDS $!"
	MOUNTS="$MOUNTS $d"
	for t in $(seq 100); do mountpoint -q "$d" && return 0; sleep 0.1; done
	fail "mpcfs $* did not mount $d: $(cat "$d.log")"
}
M="$T/mnt"
A="$T/mnt-alice"
P="$T/mnt-party1"
mount_fs "$M" -c "$CLIENT"
mount_fs "$A" -c "$T/client-alice/client.conf"
mount_fs "$P" --party -c "$T/party1/mpcd.conf"
export MPC_CONFIG=$CLIENT
# wait_job STATUS_FILE: until the job has ended (120 s); it must have COMPLETED
wait_job() {
	local t
	for t in $(seq 600); do grep -q "JobState=\(COMPLETED\|FAILED\|CANCELLED\|TIMEOUT\)" "$1" 2>/dev/null && break; sleep 0.2; done
	grep -q "JobState=COMPLETED" "$1" || fail "$1: $(cat "$1")"
}

log "data: admin makes t1 and t2, alice appends to t1"
python3 - "$T" <<'PY'
import random, sys
random.seed(11)
for name, n in (("a", 500), ("b", 300), ("c", 50)):
    with open("%s/%s.csv" % (sys.argv[1], name), "w") as f:
        f.write("v,w\n")
        for i in range(n):
            f.write("%d,%.3f\n" % (random.randint(-10**6, 10**6), random.uniform(-100, 100)))
PY
mkdir "$M/inbox/t1" "$M/inbox/t2" || fail "mkdir inbox/t1 inbox/t2"
cp "$T/a.csv" "$M/inbox/t1/" || fail "cp a.csv (admin): $(tail -n 3 "$M.log")"
cp "$T/c.csv" "$M/inbox/t2/" || fail "cp c.csv (admin): $(tail -n 3 "$M.log")"
cp "$T/b.csv" "$A/inbox/t1/" || fail "cp b.csv (alice): $(tail -n 3 "$A.log")"

log "permissions: alice's listings follow her rights, the rest is EACCES"
[ "$(ls "$A/inbox")" = t1 ] || fail "alice's inbox/ lists '$(ls "$A/inbox" | tr '\n' ' ')', want t1"
[ "$(ls "$A/tables")" = t1 ] || fail "alice's tables/ lists '$(ls "$A/tables" | tr '\n' ' ')', want t1"
[ "$(ls "$M/tables" | tr '\n' ' ')" = "t1 t2 " ] || fail "admin's tables/: $(ls "$M/tables")"
cp "$T/c.csv" "$A/inbox/t2/c.csv" 2>"$T/e" && fail "alice appended to t2"
# the parties do not show alice a table she may neither read nor append to: EACCES or ENOENT
grep -Eq "Permission denied|No such file" "$T/e" || fail "cp into t2 as alice: '$(cat "$T/e")', want EACCES/ENOENT"
mkdir "$A/inbox/t3" 2>"$T/e" && fail "alice made an inbox without the create right"
grep -q "Permission denied" "$T/e" || fail "mkdir as alice: '$(cat "$T/e")', want EACCES"
cat "$A/tables/t2/schema.json" >/dev/null 2>"$T/e" && fail "alice read t2's schema"
grep -Eq "Permission denied|No such file" "$T/e" || fail "cat t2 schema as alice: '$(cat "$T/e")', want EACCES/ENOENT"
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["rows"] == 800' "$A/tables/t1/schema.json" \
	|| fail "alice's tables/t1/schema.json: $(cat "$A/tables/t1/schema.json")"
for i in 0 1 2; do
	r=$(mpcstore-tool -c "$T/party$i/mpcd.conf" describe t2 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["rows"])')
	[ "$r" = 50 ] || fail "party $i: t2 has $r rows after alice's refused cp, want 50"
done

log "jobs/new: a program is submitted at close, its id in jobs/new/.last"
cat >"$T/sum.mpc" <<'JOB'
v = load t1.v
w = load t1.w
n = count(v)
s = sum(v)
m = mean(w)
reveal n, s, m to public
JOB
cp "$T/sum.mpc" "$M/jobs/new/sum.mpc" || fail "cp sum.mpc into jobs/new: $(tail -n 3 "$M.log")"
id=$(cat "$M/jobs/new/.last") || fail "no jobs/new/.last"
[ -n "$id" ] && [ "$id" -gt 0 ] || fail "jobs/new/.last holds '$id'"
[ -e "$M/jobs/new/sum.mpc" ] && fail "sum.mpc still in jobs/new after its submit"
ls "$M/jobs" | grep -qx "$id" || fail "ls jobs/ does not list job $id: $(ls "$M/jobs")"
wait_job "$M/jobs/$id/status"

log "jobs/ID/status is mpcstat -l's report; result.csv is mpcresult's CSV and equals the plaintext"
mpcstat -l -j "$id" >"$T/stat.txt" || fail "mpcstat -l -j $id"
cmp -s "$T/stat.txt" "$M/jobs/$id/status" || fail "status differs from mpcstat -l: $(diff "$T/stat.txt" "$M/jobs/$id/status")"
grep -q "^JobId=$id JobName=sum.mpc Client=admin" "$M/jobs/$id/status" || fail "status: $(cat "$M/jobs/$id/status")"
ls "$M/jobs/$id" | grep -qx result.csv || fail "jobs/$id lists no result.csv: $(ls "$M/jobs/$id")"
mpcresult "$id" >"$T/res.csv" || fail "mpcresult $id"
cmp -s "$T/res.csv" "$M/jobs/$id/result.csv" || fail "result.csv differs from mpcresult: $(diff "$T/res.csv" "$M/jobs/$id/result.csv")"
python3 - "$M/jobs/$id/result.csv" "$T/a.csv" "$T/b.csv" <<'PY' || fail "result.csv: $(cat "$M/jobs/$id/result.csv")"
import csv, sys
got = {r["name"]: float(r["value"]) for r in csv.DictReader(open(sys.argv[1]))}
rows = [r for p in sys.argv[2:] for r in csv.DictReader(open(p))]
v = [int(r["v"]) for r in rows]; w = [float(r["w"]) for r in rows]
assert got["n"] == len(v) == 800, got
assert got["s"] == sum(v), (got["s"], sum(v))
assert abs(got["m"] - sum(w) / len(w)) < 1e-3, (got["m"], sum(w) / len(w))
PY

log "jobs/new: a program error fails at close with FILE:LINE:COL in .errors, nothing queued"
njobs=$(ls "$M/jobs" | grep -c '^[0-9]')
printf 'v = load t1.v\ns = sum(nosuch)\nreveal s to public\n' >"$T/bad.mpc"
cp "$T/bad.mpc" "$M/jobs/new/bad.mpc" 2>"$T/e" && fail "a bad program was accepted"
grep -q "Invalid argument" "$T/e" || fail "cp bad.mpc: '$(cat "$T/e")', want EINVAL at close"
grep -q "^bad.mpc:2:[0-9]*: " "$M/jobs/new/.errors/bad.mpc" || fail "jobs/new/.errors/bad.mpc: $(cat "$M/jobs/new/.errors/bad.mpc")"
[ "$(ls "$M/jobs" | grep -c '^[0-9]')" = "$njobs" ] || fail "a job was queued for a bad program"
[ "$(cat "$M/jobs/new/.last")" = "$id" ] || fail "jobs/new/.last changed after a refused program"

log "alice: her own job's status, no result.csv without the read right, admin's job is EACCES"
printf 'v = load t1.v\nn = count(v)\ns = sum(v)\nreveal n, s to public\n' >"$A/jobs/new/count.mpc" || fail "alice's submit"
aid=$(cat "$A/jobs/new/.last")
[ "$(ls "$A/jobs" | tr '\n' ' ')" = "$aid new " ] || fail "alice's jobs/ lists '$(ls "$A/jobs" | tr '\n' ' ')', want '$aid new'"
wait_job "$A/jobs/$aid/status"
grep -q "Client=alice" "$A/jobs/$aid/status" || fail "alice's status: $(cat "$A/jobs/$aid/status")"
ls "$A/jobs/$aid" | grep -q result.csv && fail "alice's jobs/$aid lists result.csv without the read right"
cat "$A/jobs/$aid/result.csv" >/dev/null 2>"$T/e" && fail "alice read results without the read right"
grep -q "Permission denied" "$T/e" || fail "alice's result.csv: '$(cat "$T/e")', want EACCES"
cat "$A/jobs/$id/status" >/dev/null 2>"$T/e" && fail "alice read admin's job"
grep -q "Permission denied" "$T/e" || fail "alice reads admin's job: '$(cat "$T/e")', want EACCES"
grep -q "^n,800$" "$M/jobs/$aid/result.csv" || fail "admin reads alice's result: $(cat "$M/jobs/$aid/result.csv")"

log "POSIX sanity on the client mount's read-only parts"
S="$M/jobs/$id/status"
[ "$(stat -c %F:%a "$M/jobs/$id")" = "directory:555" ] || fail "stat jobs/$id: $(stat -c %F:%a "$M/jobs/$id")"
[ "$(stat -c %F:%a "$S")" = "regular file:444" ] || fail "stat status: $(stat -c %F:%a "$S")"
[ "$(stat -c %s "$M/jobs/$id/result.csv")" = "$(wc -c <"$M/jobs/$id/result.csv")" ] || fail "result.csv: stat size != read size"
ls -l "$M/jobs/$id" | grep -q "^-r--r--r-- .* status$" || fail "ls -l jobs/$id: $(ls -l "$M/jobs/$id")"
find "$M/jobs" -name result.csv | grep -q "jobs/$id/result.csv" || fail "find does not see jobs/$id/result.csv"
( echo x >>"$S" ) 2>/dev/null && fail "status is writable"
rm "$S" 2>/dev/null && fail "status could be removed"
[ -e "$M/jobs/999999/status" ] && fail "status of an unknown job"

log "mpcfs --party: the party's store read-only, the same data as mpcstore-tool"
[ "$(ls "$P" | tr '\n' ' ')" = "fuel raft tables txns " ] || fail "party mount root: $(ls "$P")"
[ "$(ls "$P/tables" | tr '\n' ' ')" = "t1 t2 " ] || fail "party tables/: $(ls "$P/tables")"
cmp -s "$P/tables/t1/schema.json" "$M/tables/t1/schema.json" || fail "party schema.json differs from the client's"
[ "$(ls "$P/tables/t1/segments" | tr '\n' ' ')" = "0 1 " ] || fail "t1 segments: $(ls "$P/tables/t1/segments")"
[ "$(ls "$P/tables/t1/segments/1" | tr '\n' ' ')" = "v.shares w.shares " ] || fail "segment 1: $(ls "$P/tables/t1/segments/1")"
mpcstore-tool -c "$T/party1/mpcd.conf" dump t1 --column w >"$T/dump_w.txt" || fail "dump t1.w"
cat "$P/tables/t1/segments/0/w.shares" "$P/tables/t1/segments/1/w.shares" | cmp -s - "$T/dump_w.txt" \
	|| fail "the party mount's shares of t1.w differ from mpcstore-tool dump"
[ "$(wc -l <"$P/tables/t1/segments/1/v.shares")" = 300 ] || fail "segment 1 of t1 holds $(wc -l <"$P/tables/t1/segments/1/v.shares") shares, want 300"
mpcstore-tool -c "$T/party1/mpcd.conf" raft --json >"$T/raft.json" || fail "mpcstore-tool raft"
python3 - "$P/raft" "$T/raft.json" "$P/fuel" "$P/txns" <<'PY' || fail "party mount raft/fuel/txns: $(cat "$P/raft")"
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert a["party"] == b["party"] == 1 and a["term"] == b["term"], (a, b)
assert "generators" in json.load(open(sys.argv[3]))
txns = json.load(open(sys.argv[4]))["txns"]
assert sum(1 for t in txns if t["state"] == "committed") >= 3, txns
PY
for f in raft fuel txns tables/t1/schema.json tables/t1/segments/0/v.shares; do
	[ "$(stat -c %s "$P/$f")" = "$(wc -c <"$P/$f")" ] || fail "party $f: stat size $(stat -c %s "$P/$f") != read size"
done
ls -l "$P/tables/t1/segments/0" | grep -q "^-r--r--r-- .* v.shares$" || fail "ls -l segment 0: $(ls -l "$P/tables/t1/segments/0")"
[ "$(find "$P/tables" -name '*.shares' | wc -l)" = 6 ] || fail "find *.shares: $(find "$P/tables" -name '*.shares')"
( echo x >>"$P/raft" ) 2>/dev/null && fail "the party mount is writable"
touch "$P/tables/x" 2>/dev/null && fail "a file was created in the party mount"
[ -e "$P/tables/t1/segments/7" ] && fail "segment 7 of t1 exists"
[ -e "$P/tables/t1/segments/0/nosuch.shares" ] && fail "shares of an unknown column"

log "unmount"
for m in $MOUNTS; do fusermount3 -u "$m" || fail "fusermount3 -u $m"; done
for p in $MPCFS_PIDS; do
	for t in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	wait "$p" || fail "mpcfs ($p) exited with an error after the unmount"
done
MPCFS_PIDS=""
echo "PASS mpcfs_jobs"
