#!/bin/bash
# The main job: install, build, start a local 3-party cluster, mount mpcfs, drop two data providers'
# CSV files into the inbox (secret-shared on this host, appended in one transaction each), run the
# example statistics job with mpcsub --wait, print the revealed results next to the same statistics
# computed in plaintext here, show mpcstat and the catalog, then unmount and stop everything (also
# on Ctrl-C or failure). Exits non-zero if anything disagrees.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
B=$PWD
D=${MPC_DEMO_DIR:-$B/demo}
PORT=${MPC_DEMO_PORT:-7100}
M=$D/mnt
PIDS=""
MOUNTED=""
cleanup() {
	[ -n "$MOUNTED" ] && { fusermount3 -u "$M" 2>/dev/null || umount -l "$M" 2>/dev/null || true; }
	MOUNTED=""
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	sleep 0.5
	for p in $PIDS; do kill -9 "$p" 2>/dev/null || true; done
	PIDS=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM
say() { printf '\n== %s\n' "$*"; }
# every party answers on its API and sees a raft leader
wait_leader() {
	for i in 0 1 2; do
		for t in $(seq 61); do
			"$B/mpcstore-tool" -c "$D/party$i/mpcd.conf" raft --json 2>/dev/null | grep -q '"leader": "party' && break
			[ "$t" = 61 ] && { echo "party $i sees no raft leader after 30 s; see $D/party$i.log" >&2; exit 1; }
			sleep 0.5
		done
	done
}
export MPC_CONFIG="$D/client/client.conf"

[ -d "$M" ] && { fusermount3 -u "$M" 2>/dev/null || true; }
rm -rf "$D"
say "a cluster of 3 parties on 127.0.0.1 in $D"
"$B/mpcstore-tool" cluster init --parties 3 --dir "$D" --base-port "$PORT"
for i in 0 1 2; do
	"$B/mpcd" -c "$D/party$i/mpcd.conf" >>"$D/party$i.log" 2>&1 &
	PIDS="$PIDS $!"
done
wait_leader
"$B/mpcstore-tool" -c "$D/party0/mpcd.conf" raft

mkdir -p "$M"
if [ -e /dev/fuse ] && command -v fusermount3 >/dev/null && "$B/mpcfs" "$M" 2>"$D/mpcfs.log"; then
	MOUNTED=1
	say "mpcfs mounted on $M: two data providers drop their CSV files into inbox/pay/"
	mkdir "$M/inbox/pay"
	cp examples/data/provider_a.csv "$M/inbox/pay/"
	cp examples/data/provider_b.csv "$M/inbox/pay/"
	echo "  committed: $(ls "$M/inbox/pay" | wc -l) files left in the inbox (none is kept in plaintext)"
	cat "$M/tables/pay/schema.json"; echo
else
	say "no FUSE here ($(tail -n1 "$D/mpcfs.log" 2>/dev/null || echo 'no /dev/fuse')): uploading with mpcput instead"
	"$B/mpcput" pay examples/data/provider_a.csv
	"$B/mpcput" pay examples/data/provider_b.csv
fi

say "the statistics job (examples/stats.mpc), run by the 3 parties on secret shares"
sed -n '/^x = /,$p' examples/stats.mpc
"$B/mpcsub" --parsable --wait examples/stats.mpc >"$D/submit.out"
id=$(head -n1 "$D/submit.out")
echo "  job $id completed"
"$B/mpcresult" "$id" --format json >"$D/result.json"

say "revealed results next to the plaintext computed here"
python3 - "$D/result.json" examples/data/provider_a.csv examples/data/provider_b.csv <<'PY'
import csv, json, statistics as st, sys
got = json.load(open(sys.argv[1]))
rows = [r for f in sys.argv[2:] for r in csv.DictReader(open(f))]
x = [int(r["amount"]) for r in rows]; h = [float(r["hours"]) for r in rows]
want = {"n": len(x), "total": sum(x), "m": st.mean(x), "v": st.variance(x), "pv": st.pvariance(x),
        "sd": st.stdev(x), "mh": st.mean(h), "c": st.covariance(x, h), "r": st.correlation(x, h),
        "pay_hours": sum(a * b for a, b in zip(x, h))}
# Fixed point (16 fractional bits) is exact to ~1e-5 per value; a difference of large terms
# (variance, covariance) is compared relative to those terms, not to the small result.
mx, mh = st.mean(x), st.mean(h)
scale = {"v": mx * mx, "pv": mx * mx}
bad = 0
print("  %-10s %22s %22s  %s" % ("NAME", "MPC (revealed)", "PLAINTEXT (here)", "AGREE"))
for k, w in want.items():
    g = got.get(k)
    ok = g is not None and abs(g - w) <= 1e-4 * max(1.0, abs(w), scale.get(k, 0.0))
    bad += not ok
    print("  %-10s %22.6f %22.6f  %s" % (k, g if g is not None else float("nan"), w, "yes" if ok else "NO"))
print("OK: all %d statistics agree" % len(want) if not bad else "MISMATCH in %d statistics" % bad)
sys.exit(1 if bad else 0)
PY

say "mpcstat"
"$B/mpcstat"
say "the catalog, as party 2 sees it, and the parties' catalog digests"
"$B/mpcstore-tool" -c "$D/party2/mpcd.conf" tables
"$B/mpcstore-tool" -c "$D/party0/mpcd.conf" verify --all
say "unmounting and stopping the parties"
cleanup
echo "done"
