#!/bin/bash
# mpcput on a real 3-party cluster: a CSV with integers and decimals becomes a table whose shares
# sum to the plaintext on every column; a second file grows it; stdin works; every bad input
# (header mismatch, non-numeric value, empty file, header-only file, ragged row, a party down)
# exits non-zero naming the cause and leaves the row count unchanged on every party.
. "$(dirname "$0")/lib.sh"
cluster_init 3 "$(pick_port 4)"
for i in 0 1 2; do start_party $i; done
wait_leader
PUT="mpcput -c $CLIENT"

# expect_rows TABLE N WHAT: every party shows N rows (waits for a lagging party, 10 s)
expect_rows() {
	local i t
	for i in 0 1 2; do
		for t in $(seq 50); do [ "$(rows_on $i "$1")" = "$2" ] && break; sleep 0.2; done
		[ "$(rows_on $i "$1")" = "$2" ] || fail "$3: party $i shows $(rows_on $i "$1") rows of $1, want $2"
	done
}
# expect_fail WHAT TEXT ARGS...: mpcput ARGS exits 1 with TEXT on stderr and t1 keeps $ROWS rows
expect_fail() {
	local what=$1 text=$2 rc; shift 2
	$PUT "$@" >"$T/out" 2>"$T/err"; rc=$?
	[ $rc = 1 ] || fail "$what: exit $rc, want 1 ($(cat "$T/err"))"
	grep -qF -- "$text" "$T/err" || fail "$what: error '$(cat "$T/err")' does not say '$text'"
	wait_verify
	expect_rows t1 "$ROWS" "after $what"
}

log "new table from a CSV with integers, decimals, negatives and quoted fields"
cat >"$T/a.csv" <<'EOF'
id,amount,delta
1,10.5,-3
2,"-0.25",7
"3",1234.75,"-1000000"
-4,0.01,0
5,"-99.99",42
EOF
$PUT --json t1 "$T/a.csv" >"$T/a.json" || fail "mpcput a.csv: $(cat "$T/a.json")"
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["state"]=="committed" and j["rows"]==5 and j["table"]=="t1" and len(j["txn"])==32 and j["bytes"]>0, j' "$T/a.json" \
	|| fail "--json output: $(cat "$T/a.json")"
expect_rows t1 5 "first append"
mpcstore-tool -c "$T/party0/mpcd.conf" describe t1 --json | python3 -c '
import json,sys; c={c["name"]:c for c in json.load(sys.stdin)["columns"]}
assert c["id"]["type"]=="int64" and c["delta"]["type"]=="int64", c
assert c["amount"]["type"]=="fixed" and c["amount"]["frac"]>=7, c' || fail "inferred column types"
wait_verify
check_sums t1 "$T/a.csv"

log "a second file grows the table (integers in the fixed column are fine), CRLF line ends"
printf 'id,amount,delta\r\n6,7,8\r\n-7,"-1.5",9\r\n8,0.125,-10\r\n' >"$T/b.csv"
$PUT -q t1 "$T/b.csv" >"$T/out" 2>&1 || fail "mpcput b.csv: $(cat "$T/out")"
expect_rows t1 8 "second append"
wait_verify
check_sums t1 "$T/a.csv" "$T/b.csv"

log "stdin input"
printf 'id,amount,delta\n9,1.5,1\n10,2.5,2\n' >"$T/c.csv"
$PUT t1 - <"$T/c.csv" >"$T/out" 2>&1 || fail "mpcput from stdin: $(cat "$T/out")"
grep -q "Appended 2 rows to t1" "$T/out" || fail "summary line: $(cat "$T/out")"
expect_rows t1 10 "append from stdin"
wait_verify
check_sums t1 "$T/a.csv" "$T/b.csv" "$T/c.csv"
ROWS=10

log "bad input: nothing appended, the error names the cause"
printf 'id,amount,other\n1,2,3\n' >"$T/bad_header.csv"
expect_fail "header mismatch" "other" t1 "$T/bad_header.csv"
printf 'id,amount,delta\n1,2,3\n4,abc,6\n' >"$T/bad_value.csv"
expect_fail "non-numeric value" "bad_value.csv:3:2 (amount)" t1 "$T/bad_value.csv"
: >"$T/empty.csv"
expect_fail "empty file (existing table)" "empty.csv" t1 "$T/empty.csv"
$PUT t_new "$T/empty.csv" 2>"$T/err" && fail "empty file created a table"
grep -q "empty.csv" "$T/err" || fail "empty file (new table): $(cat "$T/err")"
printf 'id,amount,delta\n' >"$T/header_only.csv"
expect_fail "header-only file" "header_only.csv" t1 "$T/header_only.csv"
printf 'id,amount,delta\n1,2,3\n4,5\n' >"$T/ragged.csv"
expect_fail "ragged row" "ragged.csv:3" t1 "$T/ragged.csv"
printf 'id,amount,delta\n1,2,3\n4,5.5,6.5\n' >"$T/dec_in_int.csv"
expect_fail "decimal in an int64 column" "dec_in_int.csv:3:3 (delta)" t1 "$T/dec_in_int.csv"
printf 'id\n1\n' >"$T/other.csv"
expect_fail "unknown table with --no-create" "does not exist" --no-create t_nosuch "$T/other.csv"
rc=0; $PUT >/dev/null 2>&1 || rc=$?
[ $rc = 2 ] || fail "usage error exits $rc, want 2"
$PUT --help | grep -q "Exit status" || fail "--help"
$PUT --version | grep -q "mpcput" || fail "--version"
for i in 0 1 2; do [ "$(rows_on $i t_new)" = none ] || fail "party $i has a table t_new"; done
mpcstore-tool -c "$T/party0/mpcd.conf" txns --json | grep -q '"state": "pending"' && fail "open transactions left behind"

log "a larger file in many chunks (the upload pipeline) and a bad value at its end"
python3 -c '
import random
random.seed(7)
print("id,amount,delta")
for i in range(200000): print("%d,%d.%02d,%d" % (i, random.randint(-10**5, 10**5), random.randint(0, 99), random.randint(-9, 9)))
' >"$T/big.csv"
$PUT -q t1 "$T/big.csv" >"$T/out" 2>&1 || fail "mpcput big.csv: $(cat "$T/out")"
ROWS=200010
expect_rows t1 $ROWS "large append"
wait_verify
check_sums t1 "$T/a.csv" "$T/b.csv" "$T/c.csv" "$T/big.csv"
{ cat "$T/big.csv"; echo "1,2,x"; } >"$T/big_bad.csv"
expect_fail "non-numeric value after many chunks" "big_bad.csv:200002:3 (delta)" t1 "$T/big_bad.csv"

log "a party down before the upload: the error names it, nothing appended"
kill9_party 2
$PUT t1 "$T/b.csv" >"$T/out" 2>"$T/err" && fail "append with party 2 down succeeded"
grep -q "party 2" "$T/err" || fail "error does not name the unreachable party: $(cat "$T/err")"
grep -q "unreachable" "$T/err" || fail "error does not say unreachable: $(cat "$T/err")"
for i in 0 1; do [ "$(rows_on $i t1)" = $ROWS ] || fail "party $i shows $(rows_on $i t1) rows after the failed append"; done
start_party 2
wait_leader
wait_verify
expect_rows t1 $ROWS "after the failed append with party 2 down"
mpcstore-tool -c "$T/party0/mpcd.conf" txns --json | grep -q '"state": "pending"' && fail "open transactions left behind"
echo "PASS mpcput"
