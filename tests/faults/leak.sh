#!/bin/bash
# Leak scan (make check-faults): a table of distinctive plaintext values is uploaded and used by a
# job while tcpdump captures every packet on the bridge between the parties' and the client's
# network namespaces; then every party's data dir (RocksDB, Raft log and snapshots, sessions), its
# log, and the capture are searched for the values in every encoding (decimal text, 64-bit little
# and big endian, fixed-point encodings). Nothing may match; only the revealed output may appear.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/netns.sh"
netns_supported || { echo "SKIP: the leak scan needs root, ip netns, nft and tc"; exit 77; }
command -v tcpdump >/dev/null || { echo "SKIP: tcpdump is not installed"; exit 77; }

netns_setup 3
cluster_init 3 7100
netns_hosts
for i in 0 1 2; do start_party_ns $i; done
wait_leader_ns
export MPC_CONFIG=$CLIENT

ip netns exec "$NSBR" tcpdump -i br0 -s 0 -U -w "$T/capture.pcap" >"$T/tcpdump.log" 2>&1 &
TCPDUMP=$!
PIDS="$PIDS $TCPDUMP"
sleep 1

python3 - "$T" <<'PY'
import random, sys
T = sys.argv[1]; r = random.Random(1234)
# distinctive values: 12-14 digit integers, decimals with 4 places
ints = [r.randint(10**11, 10**13) * r.choice([1, -1]) for _ in range(40)]
fixs = ["%d.%04d" % (r.randint(10**6, 10**8), r.randint(1, 9999)) for _ in range(40)]
with open(T + "/secret.csv", "w") as f:
    f.write("a,b\n")
    for a, b in zip(ints, fixs):
        f.write("%d,%s\n" % (a, b))
PY
in_client mpcput -q secret "$T/secret.csv" || fail "mpcput secret"
cat >"$T/job.mpc" <<'JOB'
a = load secret.a
b = load secret.b
s = sum(a)
t = dot(a, b)
reveal s to public
JOB
in_client mpcsub --parsable --wait "$T/job.mpc" >"$T/job.out" 2>&1 || fail "job: $(cat "$T/job.out")"
sleep 2
kill "$TCPDUMP"; wait "$TCPDUMP" 2>/dev/null
for i in 0 1 2; do kill "$(party_pid $i)"; done
for i in 0 1 2; do wait "$(party_pid $i)" 2>/dev/null; done
[ -s "$T/capture.pcap" ] || fail "the capture is empty: $(cat "$T/tcpdump.log")"

python3 - "$T" <<'PY' || fail "plaintext found outside the client"
import glob, os, struct, sys
from decimal import Decimal
T = sys.argv[1]
rows = [l.split(",") for l in open(T + "/secret.csv").read().splitlines()[1:]]
pats = {}
def add(label, v, text):
    for f in (0, 16):  # int column: f = 0; a value used at 16 fractional bits too
        x = v << f
        if -2**63 <= x < 2**63:
            pats[struct.pack("<q", x)] = "%s as little-endian int64 <<%d" % (label, f)
            pats[struct.pack(">q", x)] = "%s as big-endian int64 <<%d" % (label, f)
    pats[text.encode()] = "%s as text" % label
for a, b in rows:
    add("a=" + a, int(a), a)
    enc = int((Decimal(b) * 65536).to_integral_value())
    pats[struct.pack("<q", enc)] = "b=%s fixed-point LE" % b
    pats[struct.pack(">q", enc)] = "b=%s fixed-point BE" % b
    pats[b.encode()] = "b=%s as text" % b
    pats[str(enc).encode()] = "b=%s fixed-point as text" % b
# the scanner must find the values where they are in plaintext: the client's own file
own = open(T + "/secret.csv", "rb").read()
if sum(1 for p in pats if p in own) < 2 * len(rows):
    print("scanner self-check failed: it does not find the values in the client's CSV"); sys.exit(1)
files = [T + "/capture.pcap"] + glob.glob(T + "/party*.log")
for i in range(3):
    for root, _, names in os.walk("%s/party%d" % (T, i)):
        files += [os.path.join(root, n) for n in names]
found = []
scanned = 0
for path in files:
    data = open(path, "rb").read()
    scanned += len(data)
    for p, label in pats.items():
        if p in data:
            found.append("%s: %s" % (os.path.relpath(path, T), label))
print("leak scan: %d files, %.1f MB (capture %.1f MB), %d patterns (%d values), %d found" %
      (len(files), scanned / 1e6, os.path.getsize(T + "/capture.pcap") / 1e6, len(pats),
       2 * len(rows), len(found)))
if found:
    print("\n".join(found[:20])); sys.exit(1)
PY
grep -q "$(python3 -c "import sys; print(sum(int(l.split(',')[0]) for l in open(sys.argv[1]).read().splitlines()[1:]))" "$T/secret.csv")" "$T/job.out" \
	|| fail "the revealed sum is not in the job's output: $(cat "$T/job.out")"
echo "PASS leak"
