#!/bin/bash
# Raft traffic is authenticated and encrypted (store/transport.c): a 3-party cluster elects a
# leader and commits appends over the channels; peers with an unknown key, or a party's key
# claiming another party's id, are refused (logged with their address) and make no party apply
# anything; a capture of the raft ports (tcpdump, when available) holds no plaintext of the log.
. "$(dirname "$0")/lib.sh"
# below the ranges of pick_port, jobs_e2e.sh and mpcfs.sh (14000..): under 32768, differing per run
BASE=$((11000 + ($$ % 100) * 30))
cluster_init 3 "$BASE"
port_of() { sed -n "s/^$1 = //p" "$T/cluster.conf" | sed -n "$(($2 + 1))p"; }
R0=$(port_of raft_port 0); R1=$(port_of raft_port 1); R2=$(port_of raft_port 2); A0=$(port_of api_port 0)
MARK="plainmark$$"

CAP=""
if command -v tcpdump >/dev/null && [ "$(id -u)" = 0 ]; then
	tcpdump -i lo -U -s 0 -w "$T/all.pcap" "tcp port $R0 or tcp port $R1 or tcp port $R2 or tcp port $A0" \
		>"$T/tcpdump.log" 2>&1 &
	CAP=$!; PIDS="$PIDS $CAP"
	for t in $(seq 50); do grep -q "listening on" "$T/tcpdump.log" && break; sleep 0.1; done
else
	echo "SKIP: capture of the raft ports (tcpdump missing or not root); the other checks run"
fi

for i in 0 1 2; do start_party $i; done
wait_leader
log "appends commit over the encrypted transport"
mpc-testclient -c "$CLIENT" append "$MARK" --create --rows 50 --cols 2 --count 3 >"$T/append.jsonl" \
	|| fail "appends: $(cat "$T/append.jsonl")"
rows() { mpcstore-tool -c "$T/party$1/mpcd.conf" describe "$MARK" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["rows"])'; }
for i in 0 1 2; do
	for t in $(seq 50); do [ "$(rows $i)" = 150 ] && break; sleep 0.2; done
	[ "$(rows $i)" = 150 ] || fail "party $i shows $(rows $i) rows of $MARK, want 150"
done
wait_verify

log "impostors on party 0's raft port are refused"
applied() { mpcstore-tool -c "$T/party$1/mpcd.conf" raft --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["fsm_applied_index"])'; }
before="$(applied 0) $(applied 1) $(applied 2)"
out=$(mpc-raft-impostor "$T/cluster.conf" "127.0.0.1:$R0" 1) || fail "unknown key claiming party 1 was not refused: $out"
out=$(mpc-raft-impostor "$T/cluster.conf" "127.0.0.1:$R0" 1 "$T/party2/mpcd.conf") \
	|| fail "party 2's key claiming party 1 was not refused: $out"
out=$(mpc-raft-impostor "$T/cluster.conf" "127.0.0.1:$R0" 2 "$T/party1/mpcd.conf") \
	|| fail "party 1's key claiming party 2 was not refused: $out"
n=$(grep -c "raft transport: refused peer 127.0.0.1:[0-9]*: key of claimed party" "$T/party0.log")
[ "$n" -ge 3 ] || fail "party 0 logged $n refusals with the peer address, want 3"
tstat() { mpcstore-tool -c "$T/party$1/mpcd.conf" raft --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["transport"][sys.argv[1]])' "$2"; }
for t in $(seq 20); do [ "$(tstat 0 peers_refused)" = 3 ] && break; sleep 0.2; done
[ "$(tstat 0 peers_refused)" = 3 ] || fail "party 0 counts $(tstat 0 peers_refused) refused raft peers, want 3"
for i in 0 1 2; do [ "$(tstat $i frames_rejected)" = 0 ] || fail "party $i rejected raft frames"; done
sleep 1
after="$(applied 0) $(applied 1) $(applied 2)"
[ "$before" = "$after" ] || fail "applied indexes moved while only impostors talked: $before -> $after"
mpc-testclient -c "$CLIENT" append "$MARK" --rows 10 --cols 2 >>"$T/append.jsonl" \
	|| fail "append after the impostors: $(tail -n1 "$T/append.jsonl")"
wait_verify

if [ -n "$CAP" ]; then
	log "no plaintext on the raft ports"
	sleep 0.5
	kill -INT "$CAP"; wait "$CAP" 2>/dev/null
	tcpdump -r "$T/all.pcap" -w "$T/raft.pcap" "tcp port $R0 or tcp port $R1 or tcp port $R2" 2>/dev/null
	tcpdump -r "$T/all.pcap" -w "$T/api.pcap" "tcp port $A0" 2>/dev/null
	size=$(stat -c %s "$T/raft.pcap")
	[ "$size" -gt 20000 ] || fail "only $size bytes of raft traffic captured"
	# control: the table name crosses the (plain HTTP) API port, so the capture would show it
	grep -qa "$MARK" "$T/api.pcap" || fail "control failed: $MARK not seen on the API port"
	grep -qa "$MARK" "$T/raft.pcap" && fail "table name $MARK in clear on a raft port"
	grep -qa '"op"' "$T/raft.pcap" && fail "raft log entries in clear on a raft port"
	log "captured $size bytes of raft traffic, none of it plaintext"
fi
echo "PASS raft_secure"
