#!/bin/bash
# Store issue, bad input: a chunk at the wrong offset, a row count that differs between parties,
# Store issue, bad input: a chunk at the wrong offset, a row count that differs between parties,
# seed chunks of a bad size or of a row and a half, an unknown table, a schema mismatch. Each is
# refused naming the cause, the transaction is aborted on every party, and no row becomes visible
# anywhere; a forged vote in a client commit, or in the commit a last chunk carries, is refused; an
# upload whose client goes away is dropped by its party after the deadline its vote would promise.
. "$(dirname "$0")/lib.sh"
cluster_init 3 "$(pick_port 2)"
for i in 0 1 2; do start_party $i; done
wait_leader
TC="mpc-testclient -c $CLIENT"
$TC append t1 --create --rows 10 --cols 2 --count 2 >"$T/good.jsonl" || fail "good appends: $(cat "$T/good.jsonl")"
rows() { mpcstore-tool -c "$T/party$1/mpcd.conf" describe t1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["rows"])'; }
check_rows() { for i in 0 1 2; do [ "$(rows $i)" = 20 ] || fail "$1: party $i shows $(rows $i) rows, want 20"; done; }
# expect_abort OUTPUT TEXT: the txn is aborted on every party with TEXT in its reason
expect_abort() {
	local id reason i
	id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["txn"])' "$1")
	for i in 0 1 2; do
		reason=$(mpcstore-tool -c "$T/party$i/mpcd.conf" txns --all --json | python3 -c '
import json,sys
t=[t for t in json.load(sys.stdin)["txns"] if t["id"]==sys.argv[1]]
print(t[0]["state"]+": "+t[0].get("reason","") if t else "missing")' "$id")
		case "$reason" in aborted:*"$2"*) ;; *) fail "party $i: txn $id is '$reason', want aborted with '$2'";; esac
	done
}
out=$($TC bad-offset t1 --rows 5 --cols 2) || fail "bad-offset was not aborted: $out"
echo "$out" | grep -q "expects offset 0" || fail "bad-offset error does not name the expected offset: $out"
expect_abort "$out" "chunk at offset 8 but this party expects offset 0"
check_rows "after a chunk at the wrong offset"
out=$($TC bad-rows t1 --rows 5 --cols 2) || fail "bad-rows was not aborted: $out"
expect_abort "$out" "row count mismatch"
check_rows "after a row count mismatch"
out=$($TC bad-seed t1 --rows 5 --cols 2) || fail "short seed chunk accepted: $out"
echo "$out" | grep -q "seed chunk of 40 bytes: must be 48" || fail "short seed chunk error: $out"
check_rows "after a short seed chunk"
out=$($TC bad-seed-rows t1 --rows 5 --cols 2) || fail "seed chunk of a row and a half was not aborted: $out"
expect_abort "$out" "not whole rows of 2 columns"
check_rows "after a seed chunk of a row and a half"
out=$($TC unknown-table nosuch) || fail "unknown table accepted: $out"
echo "$out" | grep -q "unknown table 'nosuch'" || fail "unknown table error: $out"
out=$($TC append t1 --rows 5 --cols 3 2>&1) && fail "schema mismatch accepted: $out"
echo "$out" | grep -q "schema mismatch" || fail "schema mismatch error: $out"
check_rows "after a schema mismatch"
log "internal proposals need the pair's MAC"
api0=$(sed -n 's/^api_port = //p' "$T/cluster.conf" | head -n1)
tid=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["txn"])' "$(head -n1 "$T/good.jsonl")")
body='{"op":"abort","txn":"'"$tid"'","reason":"forged"}'
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data "$body" "http://127.0.0.1:$api0/v1/internal/propose")
[ "$code" = 403 ] || fail "internal propose without a MAC answered $code, want 403"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Mpc-Party: 1" -H "X-Mpc-Mac: $(printf '%064d' 0)" -X POST --data "$body" "http://127.0.0.1:$api0/v1/internal/propose")
[ "$code" = 403 ] || fail "internal propose with a forged MAC answered $code, want 403"
check_rows "after forged internal proposals"
log "binary commit records (store/entry_bin.h) reach the leader as bytes; a cut one is refused"
python3 - "$T" <<'PY'
import struct, sys
T = sys.argv[1]
txn = b"0123456789abcdef0123456789abcdee"
rec = bytes([0xB2, 1, 0, len(txn)]) + txn + bytes([0])  # commit of an unknown txn, no begin, no votes
open(T + "/commit.bin", "wb").write(rec)
open(T + "/cut.bin", "wb").write(rec[:-5])
PY
mpc-signreq propose -p "$T/party1/mpcd.conf" "@$T/commit.bin" >"$T/p.out" 2>&1 || fail "propose binary: $(cat "$T/p.out")"
grep -q '"outcome":-4}' "$T/p.out" || fail "binary commit of an unknown txn: $(cat "$T/p.out"), want outcome -4 (ENOENT)"
mpc-signreq propose -p "$T/party1/mpcd.conf" "@$T/cut.bin" >"$T/p.out" 2>&1 || fail "propose cut binary: $(cat "$T/p.out")"
grep -q '"outcome":-2}' "$T/p.out" || fail "cut binary commit: $(cat "$T/p.out"), want outcome -2 (EINVAL)"
idx=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["index"])' "$T/p.out")
for i in 0 1 2; do
	t=0
	until grep -q "entry $idx (#0 of 1) refused: commit record byte .*runs past the record.s end" "$T/party$i.log"; do
		sleep 0.2; t=$((t + 1)); [ $t -gt 50 ] && fail "party $i did not log the refusal of entry $idx"
	done
done
check_rows "after binary commit records"
log "/metrics (Prometheus text)"
m=$(curl -s "http://127.0.0.1:$api0/metrics") || fail "GET /metrics"
echo "$m" | grep -q '^mpcstore_rows{party="0"} 20$' || fail "/metrics does not show 20 rows: $(echo "$m" | grep rows)"
echo "$m" | grep -q '^mpcstore_raft_has_leader{party="0"} 1$' || fail "/metrics shows no leader"
echo "$m" | grep -q '^# TYPE mpcstore_txns_finished_total counter$' || fail "/metrics lacks TYPE lines"
mpcstore-tool -c "$T/party0/mpcd.conf" txns --json | grep -q '"state": "pending"' && fail "open transactions left behind"
log "a vote the client relabelled as another party's is refused; the true votes commit"
out=$($TC forged-vote t2 --create --rows 5 --cols 2) || fail "forged-vote: $out"
echo "$out" | grep -q "a vote's signature is not its party's" || fail "forged vote error: $out"
for i in 0 1 2; do
	r=$(mpcstore-tool -c "$T/party$i/mpcd.conf" describe t2 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["rows"])')
	[ "$r" = 5 ] || fail "party $i shows $r rows in t2 after the forged and the true votes, want 5"
done
log "a leader's last chunk carrying the commit (?commit=LEN): a bad tail and a relabelled vote are refused"
out=$($TC chunk-commit t3 --create --rows 5 --cols 2) || fail "chunk-commit: $out"
echo "$out" | grep -q "bytes are not {" || fail "bad commit tail error: $out"
echo "$out" | grep -q "a vote's signature is not its party's" || fail "forged carried vote error: $out"
for i in 0 1 2; do
	r=$(mpcstore-tool -c "$T/party$i/mpcd.conf" describe t3 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["rows"])')
	[ "$r" = 5 ] || fail "party $i shows $r rows in t3 after the refused and the true commit, want 5"
done
log "an upload whose client goes away: listed by its party until its deadline, then dropped (idle: a tick)"
tid=$($TC orphan-upload t3 --rows 2 --cols 2) || fail "orphan-upload: $tid"
mpc-signreq call -c "$CLIENT" 1 GET "/v1/txns/$tid" >"$T/o.json" 2>&1 || fail "GET orphan: $(cat "$T/o.json")"
grep -q '"state":"uploading"' "$T/o.json" && grep -q '"received":32' "$T/o.json" \
	|| fail "party 1 does not show the upload: $(cat "$T/o.json")"
mpcstore-tool -c "$T/party1/mpcd.conf" txns | grep -q "$tid.*uploading" || fail "mpcstore-tool txns misses $tid"
mpc-signreq call -c "$CLIENT" 0 GET "/v1/txns/$tid" >"$T/o.json" 2>&1 && fail "party 0 knows an upload it never got"
t=0
while mpc-signreq call -c "$CLIENT" 1 GET "/v1/txns/$tid" >"$T/o.json" 2>&1; do
	sleep 0.5; t=$((t + 1)); [ $t -gt 20 ] && fail "upload of $tid still kept 10 s after its 1 s deadline"
done
grep -q "unknown transaction" "$T/o.json" || fail "orphan after its deadline: $(cat "$T/o.json")"
grep -q "txn $tid: upload dropped: no commit applied before its deadline" "$T/party1.log" \
	|| fail "party 1 did not log the drop"
wait_verify
log "offline tool on a stopped party's data dir"
kill "$(party_pid 1)"; wait "$(party_pid 1)" 2>/dev/null
mpcstore-tool --data-dir "$T/party1/data" describe t1 | grep -q "rows:     20" || fail "offline describe"
mpcstore-tool --data-dir "$T/party1/data" verify | grep -q digest || fail "offline verify"
echo "PASS store_badinput"
