#!/bin/bash
# Access control on a real 3-party cluster (issue 7, DESIGN.md §6): every client request is signed;
# a client cannot read another client's job or results, append without the right, replay a
# captured request, use a key not in the cluster file or a timestamp outside the replay window; a
# party's API refuses another party's admin; a job_submit or begin entry with a forged client
# signature proposed through the party MAC route is refused by every party's apply; config files
# with secret keys are refused when group- or world-readable.
. "$(dirname "$0")/lib.sh"
# below the ranges of pick_port (20000..) and of mpcfs.sh/jobs_e2e.sh (14000..20000)
BASE=$((11000 + ($$ % 100) * 30))
mpcstore-tool cluster init --parties 3 --dir "$T" --base-port "$BASE" \
	--client alice=create,append:ta,submit,output --client bob=submit,output \
	--client carol=read >"$T/init.log" 2>&1 || fail "cluster init: $(cat "$T/init.log")"
NPARTIES=3
ADMIN=$T/client/client.conf
ALICE=$T/client/alice.conf
BOB=$T/client/bob.conf
CAROL=$T/client/carol.conf
for i in 0 1 2; do start_party $i; done
wait_leader
api() { echo "http://127.0.0.1:$((BASE + 10 * $1 + 1))"; }
# expect_http CODE TEXT FILE: the saved answer FILE (curl -w code on its last line) has CODE and TEXT
expect_http() {
	[ "$(tail -n1 "$3")" = "$1" ] && grep -qF -- "$2" "$3" \
		|| fail "expected HTTP $1 with '$2', got: $(cat "$3")"
}
# scurl OUT [mpc-signreq headers args...] -- CURL_ARGS...: a signed request with curl
scurl() {
	local out=$1 a=() ; shift
	while [ "$1" != "--" ]; do a+=("$1"); shift; done; shift
	mpc-signreq headers "${a[@]}" >"$T/h.cfg" || fail "mpc-signreq headers ${a[*]}"
	curl -s -K "$T/h.cfg" -w '\n%{http_code}' "$@" >"$out"
}

log "appends need the append right of the table"
printf 'x\n1\n2\n3\n4\n' >"$T/ta.csv"
mpcput -c "$ALICE" --quiet ta "$T/ta.csv" >"$T/put.out" 2>&1 || fail "alice mpcput: $(cat "$T/put.out")"
mpcput -c "$BOB" --quiet ta "$T/ta.csv" >"$T/put.out" 2>&1 && fail "bob appended to ta"
grep -q "client 'bob' lacks the 'append:ta'" "$T/put.out" || fail "bob's mpcput: $(cat "$T/put.out")"
# the begin travels with the chunks (docs/rest-api.md): there is no begin request
mpc-signreq call -c "$BOB" 1 POST /v1/txns '{"table":"ta"}' >"$T/b.out" 2>&1 && fail "bob began a txn"
grep -q "there is no begin request any more" "$T/b.out" || fail "POST /v1/txns: $(cat "$T/b.out")"
mpc-testclient -c "$BOB" unknown-table ta >"$T/b.out" 2>&1 || fail "bob opened a txn on ta: $(cat "$T/b.out")"
grep -q "client 'bob' may not append to table 'ta'" "$T/b.out" || fail "bob's begin: $(cat "$T/b.out")"
mpc-testclient -c "$ALICE" forged-begin ta >"$T/b.out" 2>&1 || fail "alice's begin in bob's name: $(cat "$T/b.out")"

log "jobs and results only for their client (or the read right)"
printf 'x = load ta.x\ns = sum(x)\nreveal s to public\n' >"$T/sum.mpc"
mpcsub -c "$ALICE" --parsable --wait "$T/sum.mpc" >"$T/sub.out" 2>"$T/sub.err" \
	|| fail "alice mpcsub: $(cat "$T/sub.err")"
id=$(head -n1 "$T/sub.out")
mpcresult -c "$ALICE" "$id" | grep -q '^s,10$' || fail "alice's result"
mpcresult -c "$BOB" "$id" >"$T/r.out" 2>&1 && fail "bob read alice's results"
grep -q "client 'bob' may not read this job's results: it belongs to client 'alice'" "$T/r.out" \
	|| fail "bob's mpcresult: $(cat "$T/r.out")"
mpcstat -c "$BOB" -j "$id" >"$T/s.out" 2>&1 && fail "bob saw alice's job"
grep -q "belongs to client 'alice'" "$T/s.out" || fail "bob's mpcstat -j: $(cat "$T/s.out")"
mpcstat -c "$BOB" --json >"$T/s.out" 2>&1 || fail "bob's mpcstat: $(cat "$T/s.out")"
grep -q '"alice"' "$T/s.out" && fail "bob's job list shows alice's job: $(cat "$T/s.out")"
mpcstat -c "$BOB" -u alice >"$T/s.out" 2>&1 && fail "bob listed alice's jobs"
grep -q "lacks the 'read' right" "$T/s.out" || fail "bob's mpcstat -u alice: $(cat "$T/s.out")"
mpcresult -c "$CAROL" "$id" | grep -q '^s,10$' || fail "carol (read) cannot read public results"
mpcsub -c "$CAROL" "$T/sum.mpc" >"$T/c.out" 2>&1 && fail "carol submitted without the right"
grep -q "client 'carol' lacks the 'submit' right" "$T/c.out" || fail "carol's mpcsub: $(cat "$T/c.out")"
mpccancel -c "$BOB" "$id" >"$T/c.out" 2>&1 && fail "bob cancelled alice's job"

log "a captured request cannot be replayed"
scurl "$T/r1" -c "$ALICE" GET "/v1/jobs/$id" -- "$(api 0)/v1/jobs/$id"
cp "$T/h.cfg" "$T/captured.cfg"
expect_http 200 '"client":"alice"' "$T/r1"
curl -s -K "$T/captured.cfg" -w '\n%{http_code}' "$(api 0)/v1/jobs/$id" >"$T/r2"
expect_http 401 "replayed request: client 'alice' nonce" "$T/r2"
# a signed submit replayed to another party makes no second job (its nonce is the job's req)
body='{"program":"x = load ta.x\nt = sum(x)\nreveal t to public\n","name":"once"}'
scurl "$T/r1" -c "$ALICE" POST /v1/jobs "$body" -- --data-binary "$body" "$(api 1)/v1/jobs"
expect_http 200 '"name":"once"' "$T/r1"
curl -s -K "$T/h.cfg" -w '\n%{http_code}' --data-binary "$body" "$(api 1)/v1/jobs" >"$T/r2"
expect_http 401 "replayed request" "$T/r2"
curl -s -K "$T/h.cfg" -w '\n%{http_code}' --data-binary "$body" "$(api 2)/v1/jobs" >"$T/r3"
n=$(mpcstat -c "$ALICE" -t all --json | python3 -c 'import json,sys; print(sum(j["name"] == "once" for j in json.load(sys.stdin)["jobs"]))')
[ "$n" = 1 ] || fail "a replayed submit made $n jobs named once"
# a tampered body does not match the signature
curl -s -K "$T/h.cfg" -w '\n%{http_code}' --data-binary "${body/sum/mean}" "$(api 0)/v1/jobs" >"$T/r3"
expect_http 401 "bad signature for client 'alice'" "$T/r3"

log "unsigned, unknown keys and stale timestamps are refused"
curl -s -w '\n%{http_code}' "$(api 0)/v1/tables" >"$T/r1"
expect_http 401 "unsigned request GET /v1/tables" "$T/r1"
scurl "$T/r1" -c "$ALICE" --fresh-key POST /v1/jobs "$body" -- --data-binary "$body" "$(api 0)/v1/jobs"
expect_http 401 "bad signature for client 'alice'" "$T/r1"
scurl "$T/r1" -c "$ALICE" --as mallory --fresh-key GET /v1/jobs -- "$(api 0)/v1/jobs"
expect_http 401 "unknown client 'mallory'" "$T/r1"
scurl "$T/r1" -c "$ALICE" --time-offset-ms -120000 GET /v1/jobs -- "$(api 0)/v1/jobs"
expect_http 401 "outside the replay window of +-60 s" "$T/r1"
scurl "$T/r1" -c "$ALICE" --time-offset-ms 90000 GET /v1/jobs -- "$(api 2)/v1/jobs"
expect_http 401 "outside the replay window" "$T/r1"
scurl "$T/r1" -c "$ALICE" --time-offset-ms -20000 GET /v1/jobs -- "$(api 2)/v1/jobs"
expect_http 200 '"jobs"' "$T/r1"
curl -s -w '\n%{http_code}' "$(api 0)/v1/health" >"$T/r1"
expect_http 200 '"ok":true' "$T/r1"

log "a party's API refuses another party's admin calls"
mpcstore-tool -c "$T/party1/mpcd.conf" tables >"$T/t.out" 2>&1 || fail "party 1 admin: $(cat "$T/t.out")"
grep -q "^ta " "$T/t.out" || fail "party 1 admin tables: $(cat "$T/t.out")"
scurl "$T/r1" -p "$T/party1/mpcd.conf" GET /v1/raft -- "$(api 0)/v1/raft"
expect_http 403 "party 0's API refuses another party's admin calls" "$T/r1"
scurl "$T/r1" -p "$T/party1/mpcd.conf" GET /v1/raft -- "$(api 1)/v1/raft"
expect_http 200 '"party":1' "$T/r1"
scurl "$T/r1" -p "$T/party1/mpcd.conf" POST /v1/jobs "$body" -- --data-binary "$body" "$(api 1)/v1/jobs"
expect_http 403 "may only read (GET)" "$T/r1"

log "a forged client signature in a raw log entry is refused by every party's apply"
req=$(printf '%032x' $$)
zero=$(printf '%0128d' 0 | xxd -r -p | base64 -w0)
python3 - "$req" "$zero" >"$T/forged.json" <<'PY'
import json, sys
req, sig = sys.argv[1], sys.argv[2]
body = json.dumps({"program": "x = load ta.x\ns = sum(x)\nreveal s to public\n", "name": "forged"})
print(json.dumps({"op": "job_submit", "req": req, "client": "alice", "time_ms": 1,
                  "name": "forged", "program": "x = load ta.x\ns = sum(x)\nreveal s to public\n",
                  "auth": {"client": "alice", "method": "POST", "path": "/v1/jobs",
                           "time_ms": 1, "nonce": req, "sig": sig, "body": body}}))
PY
mpc-signreq propose -p "$T/party2/mpcd.conf" "$(cat "$T/forged.json")" >"$T/p.out" 2>&1 \
	|| fail "propose: $(cat "$T/p.out")"
txn=$(printf '%032x' $(($$ + 1)))
mpc-signreq propose -p "$T/party0/mpcd.conf" \
	"{\"op\":\"begin\",\"txn\":\"$txn\",\"table\":\"ta\",\"client\":\"alice\",\"create\":false}" \
	>"$T/p.out" 2>&1 || fail "propose begin: $(cat "$T/p.out")"
for i in 0 1 2; do
	t=0
	until mpc-signreq call -c "$ADMIN" $i GET "/v1/jobs?state=FAILED" >"$T/j$i.json" 2>&1 \
		&& grep -q '"name":"forged"' "$T/j$i.json"; do
		sleep 0.5; t=$((t + 1)); [ $t -gt 40 ] && fail "party $i: no forged job: $(cat "$T/j$i.json")"
	done
	python3 - "$T/j$i.json" <<'PY' || fail "party $i: forged job not FAILED BadSignature: $(cat "$T/j$i.json")"
import json, sys
jobs = [j for j in json.load(open(sys.argv[1]))["jobs"] if j["name"] == "forged"]
assert len(jobs) == 1 and jobs[0]["state"] == "FAILED" and jobs[0]["reason"] == "BadSignature", jobs
PY
	mpc-signreq call -c "$ADMIN" $i GET "/v1/txns/$txn?wait=10000" >"$T/x$i.json" 2>&1 \
		|| fail "party $i: txn $txn: $(cat "$T/x$i.json")"
	grep -q '"state":"aborted"' "$T/x$i.json" && grep -q 'BadSignature: no client signature' "$T/x$i.json" \
		|| fail "party $i: forged begin not refused: $(cat "$T/x$i.json")"
done
wait_verify

log "secret config files must not be group- or world-readable"
chmod 640 "$ALICE"
mpcstat -c "$ALICE" >"$T/m.out" 2>&1 && fail "a group-readable client.conf was accepted"
grep -q "$ALICE: holds secret keys but is readable by group or others (mode 640)" "$T/m.out" \
	|| fail "client.conf 0640: $(cat "$T/m.out")"
chmod 600 "$ALICE"
cp "$T/party2/mpcd.conf" "$T/party2/copy.conf"
chmod 604 "$T/party2/copy.conf"
mpcd -c "$T/party2/copy.conf" >"$T/m.out" 2>&1 && fail "mpcd accepted a world-readable mpcd.conf"
grep -q "copy.conf: holds secret keys but is readable by group or others (mode 604)" "$T/m.out" \
	|| fail "mpcd.conf 0604: $(cat "$T/m.out")"
mpcstore-tool -c "$T/party2/copy.conf" raft >"$T/m.out" 2>&1 && fail "mpcstore-tool accepted mode 604"
grep -q "(mode 604)" "$T/m.out" || fail "mpcstore-tool mode 604: $(cat "$T/m.out")"
log ok
