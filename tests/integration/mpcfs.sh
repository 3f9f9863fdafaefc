#!/bin/bash
# mpcfs on a real 3-party cluster and a real mount: mkdir makes a new table's inbox; cp and a shell
# redirect into inbox/TABLE/ append the file at close (shares sum to the plaintext on every
# party); a malformed or empty file fails at close, names the cause in .errors/FILE and leaves
# every party's row count unchanged; tables/TABLE/schema.json passes ls, stat, cat, find.
[ -e /dev/fuse ] || { echo "SKIP: no /dev/fuse"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: mounting needs root here"; exit 77; }
command -v fusermount3 >/dev/null || { echo "SKIP: no fusermount3"; exit 77; }
. "$(dirname "$0")/lib.sh"
# pick_port's ranges (20000 + 3000 * RANGE) would pass 32768 for a 7th test: ports below those of
# the jobs test (17000..19999), differing per run; the cluster uses BASE..BASE+22.
BASE=$((14000 + ($$ % 100) * 30))
[ $((BASE + 30)) -lt 32768 ] || fail "base port $BASE is in the ephemeral range"
cluster_init 3 "$BASE"
for i in 0 1 2; do start_party $i; done
wait_leader

M="$T/mnt"
mkdir -p "$M"
MPCFS_PID=""
# Unmount first (the daemon exits on unmount), then lib.sh's cleanup ends the parties.
umount_all() {
	if mountpoint -q "$M" 2>/dev/null; then fusermount3 -u "$M" 2>/dev/null || fusermount3 -uz "$M"; fi
	[ -n "$MPCFS_PID" ] && kill "$MPCFS_PID" 2>/dev/null
	cleanup
}
trap umount_all EXIT
# Foreground in the background: the test knows the daemon's pid (and ends only that process).
mpcfs -c "$CLIENT" "$M" -f -o default_permissions >"$T/mpcfs.log" 2>&1 &
MPCFS_PID=$!
for t in $(seq 50); do mountpoint -q "$M" && break; sleep 0.1; done
mountpoint -q "$M" || fail "mpcfs did not mount: $(cat "$T/mpcfs.log")"

# expect_rows TABLE N WHAT: every party shows N rows right away (close waits for every party)
expect_rows() {
	local i
	for i in 0 1 2; do
		[ "$(rows_on $i "$1")" = "$2" ] || fail "$3: party $i shows $(rows_on $i "$1") rows of $1, want $2"
	done
}
# expect_refused WHAT FILE TEXT ERRNO_TEXT: cp FILE into inbox/t1 fails at close with ERRNO_TEXT,
# .errors/NAME says TEXT, the file left the inbox and t1 keeps $ROWS rows on every party
expect_refused() {
	local what=$1 file=$2 text=$3 errtext=$4 name
	name=$(basename "$file")
	cp "$file" "$M/inbox/t1/$name" 2>"$T/cp.err" && fail "$what: cp succeeded"
	grep -q "failed to close" "$T/cp.err" || fail "$what: cp did not fail at close: $(cat "$T/cp.err")"
	grep -q "$errtext" "$T/cp.err" || fail "$what: close error '$(cat "$T/cp.err")', want '$errtext'"
	[ -f "$M/inbox/t1/.errors/$name" ] || fail "$what: no .errors/$name"
	grep -qF -- "$text" "$M/inbox/t1/.errors/$name" || fail "$what: .errors/$name says '$(cat "$M/inbox/t1/.errors/$name")', want '$text'"
	[ -e "$M/inbox/t1/$name" ] && fail "$what: the refused file is still in the inbox"
	expect_rows t1 "$ROWS" "after $what"
}

log "layout, --help, --version"
[ -d "$M/inbox" ] && [ -d "$M/tables" ] || fail "no inbox/ or tables/ in the mount: $(ls -la "$M")"
mpcfs --help | grep -q "inbox/TABLE" || fail "--help"
mpcfs --version | grep -q "mpcfs (mpcstore)" || fail "--version"

log "mkdir of a new table's inbox; a bad name is refused"
mkdir "$M/inbox/t1" || fail "mkdir inbox/t1"
[ -d "$M/inbox/t1" ] || fail "inbox/t1 is not a directory"
ls "$M/inbox" | grep -qx t1 || fail "ls inbox does not list t1: $(ls "$M/inbox")"
mkdir "$M/inbox/9bad-name" 2>/dev/null && fail "mkdir of an invalid table name succeeded"
mkdir "$M/tables/x" 2>/dev/null && fail "mkdir under tables/ succeeded"

log "cp of a good CSV (integers, decimals, quoted fields): committed on every party, shares sum"
cat >"$T/a.csv" <<'EOF'
id,amount
1,10.5
2,"-0.25"
3,1234.75
-4,0.01
EOF
cp "$T/a.csv" "$M/inbox/t1/a.csv" || fail "cp a.csv: $(tail -n 3 "$T/mpcfs.log")"
expect_rows t1 4 "cp a.csv"
[ -e "$M/inbox/t1/a.csv" ] && fail "a.csv still in the inbox after its commit"
[ "$(stat -c %U "$M/inbox/t1")" = "$(id -un)" ] || fail "inbox/t1 is not owned by its creator"
check_sums t1 "$T/a.csv"

log "shell redirect"
printf 'id,amount\n5,1.5\n6,-2\n' >"$M/inbox/t1/b.csv" || fail "printf > inbox/t1/b.csv"
printf 'id,amount\n5,1.5\n6,-2\n' >"$T/b.csv"
expect_rows t1 6 "shell redirect"
check_sums t1 "$T/a.csv" "$T/b.csv"

log "rename within the inbox before close (temp file, then its final name)"
python3 - "$M/inbox/t1" <<'PY' || fail "write + rename before close"
import os, sys
d = sys.argv[1]
fd = os.open(os.path.join(d, ".c.csv.tmp"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
os.write(fd, b"id,amount\n7,0.5\n")
os.rename(os.path.join(d, ".c.csv.tmp"), os.path.join(d, "c.csv"))
os.close(fd)
PY
expect_rows t1 7 "rename before close"
ROWS=7

log "bad input: close fails, .errors names the cause, nothing appended on any party"
printf 'id,amount\n8,1\n9,abc\n10,2\n' >"$T/bad_value.csv"
expect_refused "non-numeric value" "$T/bad_value.csv" "inbox/t1/bad_value.csv:3:2 (amount)" "Invalid argument"
: >"$T/empty.csv"
expect_refused "empty file" "$T/empty.csv" "empty.csv" "Invalid argument"
printf 'id,amount\n' >"$T/header_only.csv"
expect_refused "header-only file" "$T/header_only.csv" "header_only.csv" "Invalid argument"
printf 'id,other\n1,2\n' >"$T/bad_header.csv"
expect_refused "header differing from the table" "$T/bad_header.csv" "other" "Invalid argument"
printf 'id,amount\n1,2\n3\n' >"$T/ragged.csv"
expect_refused "ragged row" "$T/ragged.csv" "ragged.csv:3" "Invalid argument"
printf 'id,amount\n1,2\n2,99999999999999999999999.5\n' >"$T/out_of_range.csv"
expect_refused "value out of the fixed range" "$T/out_of_range.csv" "out_of_range.csv:3:2 (amount)" "Invalid argument"
python3 -c 'import sys; sys.stdout.write("id,amount\n1,2\n3," + "4" * (1 << 20) + "\n")' >"$T/long_line.csv"
expect_refused "line over 1 MiB" "$T/long_line.csv" "line longer than" "Invalid argument"
ls -a "$M/inbox/t1/.errors" | grep -qx bad_value.csv || fail "ls .errors does not list bad_value.csv"
rm "$M/inbox/t1/.errors/bad_value.csv" || fail "rm of a failure report"
[ -e "$M/inbox/t1/.errors/bad_value.csv" ] && fail "the failure report is still there after rm"
grep -q "bad_value.csv:3:2" "$T/mpcfs.log" || fail "the failure is not logged: $(cat "$T/mpcfs.log")"
mpcstore-tool -c "$T/party0/mpcd.conf" txns --json | grep -q '"state": "pending"' && fail "open transactions left behind"
mkdir "$M/inbox/t_empty" || fail "mkdir inbox/t_empty"
cp "$T/empty.csv" "$M/inbox/t_empty/x.csv" 2>/dev/null && fail "an empty file created a table"
for i in 0 1 2; do [ "$(rows_on $i t_empty)" = none ] || fail "party $i has a table t_empty"; done

log "rsync: its temp file (.NAME.XXXXXX) is committed by the rename to NAME"
printf 'id,amount\n11,3.5\n12,4\n' >"$T/d.csv"
rsync "$T/d.csv" "$M/inbox/t1/" 2>"$T/e" || fail "rsync: $(cat "$T/e"); $(tail -n 3 "$T/mpcfs.log")"
ROWS=$((ROWS + 2))
expect_rows t1 "$ROWS" "rsync"
[ -z "$(ls -A "$M/inbox/t1" | grep -v '^.errors$')" ] || fail "left in the inbox after rsync: $(ls -A "$M/inbox/t1")"
log "a closed dot file stays uncommitted until its rename; mv from another file system"
printf 'id,amount\n13,1\n' >"$M/inbox/t1/.e.csv.tmp" || fail "write .e.csv.tmp"
expect_rows t1 "$ROWS" "a closed dot file"
ls -A "$M/inbox/t1" | grep -qx .e.csv.tmp || fail "the closed dot file left the inbox: $(ls -A "$M/inbox/t1")"
mv "$M/inbox/t1/.e.csv.tmp" "$M/inbox/t1/e.csv" || fail "rename .e.csv.tmp -> e.csv"
ROWS=$((ROWS + 1))
expect_rows t1 "$ROWS" "rename of a dot file"
printf 'id,amount\n14,2\n15,3\n' >"$T/f.csv"
mv "$T/f.csv" "$M/inbox/t1/" || fail "mv f.csv into the inbox: $(tail -n 3 "$T/mpcfs.log")"
ROWS=$((ROWS + 2))
expect_rows t1 "$ROWS" "mv"
[ -e "$T/f.csv" ] && fail "mv left its source"
printf 'id,amount\n16,x\n' >"$M/inbox/t1/.g.csv" || fail "write .g.csv"
mv "$M/inbox/t1/.g.csv" "$M/inbox/t1/g.csv" 2>"$T/e" && fail "the rename of a bad dot file succeeded"
grep -q "Input/output error" "$T/e" || fail "rename of a bad dot file: '$(cat "$T/e")', want EIO"
grep -q "g.csv:2:2" "$M/inbox/t1/.errors/g.csv" || fail ".errors/g.csv: $(cat "$M/inbox/t1/.errors/g.csv")"
expect_rows t1 "$ROWS" "rename of a bad dot file"
ls -A "$M/inbox/t1" | grep -qx .g.csv || fail "a failed rename did not leave .g.csv where it was"
rm "$M/inbox/t1/.g.csv" || fail "rm .g.csv"

log "fsync commits what was written (or fails with the commit's error); close then returns 0"
python3 - "$M/inbox/t1" "$T" <<'PY' || fail "fsync"
import errno, os, sys
d, t = sys.argv[1], sys.argv[2]
fd = os.open(os.path.join(d, "h.csv"), os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"id,amount\n17,0.5\n18,1.5\n")
os.fsync(fd)
open(os.path.join(t, "synced"), "w").close()
assert not os.path.exists(os.path.join(d, "h.csv")), "h.csv still in the inbox after fsync"
try:
    os.write(fd, b"19,1\n")
    raise SystemExit("a write after the fsync commit succeeded")
except OSError as e:
    assert e.errno == errno.EIO, e
os.close(fd)
fd = os.open(os.path.join(d, "i.csv"), os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"id,amount\n20,zz\n")
try:
    os.fsync(fd)
    raise SystemExit("fsync of a bad file succeeded")
except OSError as e:
    assert e.errno == errno.EINVAL, e
try:
    os.close(fd)
    raise SystemExit("close after a failed fsync succeeded")
except OSError as e:
    assert e.errno == errno.EINVAL, e
PY
ROWS=$((ROWS + 2))
expect_rows t1 "$ROWS" "fsync"

log "tables/: ls, stat, cat, find of schema.json (read-only)"
ls "$M/tables" | grep -qx t1 || fail "ls tables: $(ls "$M/tables")"
ls -l "$M/tables/t1" | grep -q "schema.json" || fail "ls -l tables/t1"
S="$M/tables/t1/schema.json"
[ "$(stat -c %s "$S")" = "$(cat "$S" | wc -c)" ] || fail "stat size $(stat -c %s "$S") != read size"
python3 - "$S" "$ROWS" <<'PY' || fail "schema.json: $(cat "$S")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["table"] == "t1" and s["rows"] == int(sys.argv[2]) and s["version"] == 7, s
c = {c["name"]: c for c in s["columns"]}
assert c["id"]["type"] == "int64" and c["amount"]["type"] == "fixed", c
PY
find "$M" -name schema.json | grep -q "tables/t1/schema.json" || fail "find does not see schema.json"
( echo x >>"$S" ) 2>/dev/null && fail "schema.json is writable"
rm "$S" 2>/dev/null && fail "schema.json could be removed"
[ -e "$M/tables/nosuch/schema.json" ] && fail "schema.json of an unknown table"

log "kill -9 of a party during a commit: close fails or succeeds, never a partial table"
python3 - "$T/big.csv" 300000 <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("id,amount\n")
    f.writelines("%d,%d.25\n" % (i, i % 1000) for i in range(int(sys.argv[2])))
PY
cp "$T/big.csv" "$M/inbox/t1/big1.csv" 2>"$T/cp_kill.err" &
CP=$!
for t in $(seq 200); do grep -q "inbox/t1/big1.csv: committing" "$T/mpcfs.log" && break; sleep 0.02; done
kill9_party 2
if wait $CP; then ROWS=$((ROWS + 300000)); log "(the commit succeeded)"; else log "(the commit failed: $(cat "$T/cp_kill.err"))"; fi
start_party 2
wait_leader
wait_verify
expect_rows t1 "$ROWS" "kill -9 during a commit"

log "unmount"
fusermount3 -u "$M" || fail "fusermount3 -u"
for t in $(seq 150); do kill -0 "$MPCFS_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$MPCFS_PID" 2>/dev/null; then
	# what it waits for: each thread's innermost frames
	gdb -batch -p "$MPCFS_PID" -ex "thread apply all bt 6" >"$T/stacks" 2>&1
	# and who else holds the mount: a process of another mount namespace keeps the connection
	ns=$(readlink "/proc/$MPCFS_PID/ns/mnt")
	for p in /proc/[0-9]*; do
		pns=$(readlink "$p/ns/mnt") && [ -n "$ns" ] && [ "$pns" != "$ns" ] &&
			grep -qF " $M " "$p/mountinfo" 2>/dev/null &&
			echo "a copy of the mount in the mount namespace of pid ${p#/proc/}: $(tr '\0' ' ' <"$p/cmdline")"
	done 2>/dev/null | head -n 3 >>"$T/stacks"
	fail "mpcfs still runs 15 s after the unmount: $(tail -n 8 "$T/mpcfs.log")
$(grep -E '^(Thread|#[0-5] |a copy)' "$T/stacks" | cut -c1-160)"
fi
wait "$MPCFS_PID" || fail "mpcfs exited with an error after the unmount"
MPCFS_PID=""

# mount_fs ARGS...: mounts $M again (foreground daemon in the background, its pid recorded)
mount_fs() {
	mpcfs -c "$CLIENT" "$M" -f "$@" >>"$T/mpcfs.log" 2>&1 &
	MPCFS_PID=$!
	for t in $(seq 50); do mountpoint -q "$M" && return 0; sleep 0.1; done
	fail "mpcfs did not mount again: $(tail -n 5 "$T/mpcfs.log")"
}
log "unmount (SIGTERM) during a commit waits for it: close returns its result"
mount_fs
# party 2 stopped: the commit cannot finish before the SIGTERM (a fast upload
# of big.csv takes less than the polling below), and continues once it runs
kill -STOP "$(party_pid 2)"
cp "$T/big.csv" "$M/inbox/t1/big2.csv" 2>"$T/cp_term.err" &
CP=$!
for t in $(seq 100); do grep -q "inbox/t1/big2.csv: committing" "$T/mpcfs.log" && break; sleep 0.05; done
kill -TERM "$MPCFS_PID"
for t in $(seq 100); do grep -q "unmount: waiting" "$T/mpcfs.log" && break; sleep 0.05; done
kill -CONT "$(party_pid 2)"
wait $CP || fail "cp during the unmount: $(cat "$T/cp_term.err")"
wait "$MPCFS_PID" # libfuse's status after a signal (not 0): the log tells what happened
MPCFS_PID=""
grep -q "unmount: waiting up to 600 s for 1 pending commit" "$T/mpcfs.log" || fail "the wait is not reported: $(tail -n 5 "$T/mpcfs.log")"
grep -q "unmount: pending commits finished" "$T/mpcfs.log" || fail "the end of the wait is not reported"
ROWS=$((ROWS + 300000))
expect_rows t1 "$ROWS" "commit during the unmount"
mountpoint -q "$M" && fail "still mounted after SIGTERM"

log "unmount timeout: a commit stuck on stopped parties is cut off, reported, nothing appended"
mount_fs --unmount-timeout=1
# a writer that closes its file only once the parties are stopped
python3 - "$M/inbox/t1/a3.csv" "$T/a.csv" "$T/written" "$T/go" 2>"$T/cp_stuck.err" <<'PY' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, open(sys.argv[2], "rb").read())
open(sys.argv[3], "w").close()
while not os.path.exists(sys.argv[4]):
    time.sleep(0.05)
os.close(fd)
PY
CP=$!
for t in $(seq 200); do [ -e "$T/written" ] && break; sleep 0.05; done
for i in 0 1 2; do kill -STOP "$(party_pid $i)"; done
touch "$T/go"
for t in $(seq 100); do grep -q "inbox/t1/a3.csv: committing" "$T/mpcfs.log" && break; sleep 0.05; done
kill -TERM "$MPCFS_PID"
wait "$MPCFS_PID" && fail "mpcfs exited 0 after cutting off a commit"
MPCFS_PID=""
for i in 0 1 2; do kill -CONT "$(party_pid $i)"; done
wait $CP && fail "close succeeded although its commit was cut off"
grep -q "unmount: 1 commit(s) still pending after 1 s" "$T/mpcfs.log" || fail "the timeout is not reported: $(tail -n 5 "$T/mpcfs.log")"
for t in $(seq 50); do mountpoint -q "$M" || break; sleep 0.1; done
wait_leader
sleep 1
expect_rows t1 "$ROWS" "a commit cut off at the unmount"
echo "PASS mpcfs"
