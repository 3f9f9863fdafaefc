# Network namespaces for the fault-injection suite (sourced after tests/integration/lib.sh).
# Each party runs in a namespace of its own, linked by a veth pair to a bridge that lives in a
# namespace of its own; clients run in a client namespace. Nothing is addressed from the host
# namespace (DESIGN.md §11). Everything created here is deleted by netns_cleanup (EXIT trap).
NSP="mpcf$$"                 # namespace prefix: unique per test run
NET="10.$((100 + $$ % 100)).$(((($$ / 100) % 250) + 1))"
NSBR="${NSP}br"
NSC="${NSP}c"
NS_CREATED=""

netns_cleanup() {
	local ns
	cleanup # lib.sh: ends the processes we started (by PID), removes $T unless KEEP
	for ns in $NS_CREATED; do ip netns del "$ns" 2>/dev/null; done
}
trap netns_cleanup EXIT

netns_supported() {
	[ "$(id -u)" = 0 ] || return 1
	ip netns add "${NSP}probe" 2>/dev/null || return 1
	ip netns del "${NSP}probe"
	command -v nft >/dev/null && command -v tc >/dev/null
}

# netns_add NAME IP: namespace NAME with eth0 = IP/24 on the bridge, lo up
netns_add() {
	local ns=$1 ip=$2 port="${1#$NSP}" # bridge port: p0, p1, ... c
	ip netns add "$ns" || fail "ip netns add $ns"
	NS_CREATED="$ns $NS_CREATED"
	ip -n "$ns" link add eth0 type veth peer name "$port" netns "$NSBR" || fail "veth for $ns"
	ip -n "$NSBR" link set "$port" master br0 up
	ip -n "$ns" addr add "$ip/24" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" link set lo up
}

# netns_setup N: the bridge, party namespaces ${NSP}p0.. (IP $NET.(i+1)) and the client namespace
netns_setup() {
	local i
	ip netns add "$NSBR" || fail "ip netns add $NSBR"
	NS_CREATED="$NSBR"
	ip -n "$NSBR" link add br0 type bridge
	ip -n "$NSBR" link set br0 up
	ip -n "$NSBR" link set lo up
	for i in $(seq 0 $(($1 - 1))); do netns_add "${NSP}p$i" "$NET.$((i + 1))"; done
	netns_add "$NSC" "$NET.100"
}

party_ip() { echo "$NET.$(($1 + 1))"; }
# in_client CMD...: runs CMD in the client namespace
in_client() { ip netns exec "$NSC" "$@"; }

# the host of party i in the cluster file becomes its namespace's address
netns_hosts() {
	python3 - "$T/cluster.conf" "$NET" <<'PY'
import re, sys
path, net = sys.argv[1], sys.argv[2]
out, party = [], None
for line in open(path).read().splitlines():
    m = re.match(r"\[party\.(\d+)\]", line)
    if m: party = int(m.group(1))
    elif line.startswith("["): party = None
    if party is not None and line.startswith("host ="):
        line = "host = %s.%d" % (net, party + 1)
    out.append(line)
open(path, "w").write("\n".join(out) + "\n")
PY
}

# start_party_ns I [ENV=VAL...]: party I in its namespace (ip netns exec and env exec: $! is mpcd)
start_party_ns() {
	local i=$1; shift
	ip netns exec "${NSP}p$i" env "$@" mpcd -c "$T/party$i/mpcd.conf" >>"$T/party$i.log" 2>&1 &
	echo $! >"$T/party$i.pid"
	PIDS="$PIDS $!"
}

# leader: the index of the party a reachable party names as leader (empty if none)
leader() {
	local i
	for i in $(seq 0 $((NPARTIES - 1))); do
		in_client timeout 3 mpcstore-tool -c "$T/party$i/mpcd.conf" raft --json 2>/dev/null |
			python3 -c 'import json,sys; l=json.load(sys.stdin).get("leader") or ""; print(l[5:] if l.startswith("party") else "")' 2>/dev/null |
			grep -E '^[0-9]+$' && return 0
	done
	return 0
}

wait_leader_ns() {
	local t=0 i
	for i in $(seq 0 $((NPARTIES - 1))); do
		until in_client timeout 3 mpcstore-tool -c "$T/party$i/mpcd.conf" raft --json 2>/dev/null | grep -q '"leader": "party'; do
			sleep 0.3; t=$((t + 1)); [ $t -gt 200 ] && fail "party $i sees no raft leader within 60 s"
		done
	done
}

# faults on party i's link (the bridge port p$i and the party's eth0)
link_down() { ip -n "$NSBR" link set "p$1" down; }
link_up() { ip -n "$NSBR" link set "p$1" up; }
drop_start() { # drop_start I PERCENT: random loss in both directions (nft numgen)
	ip netns exec "${NSP}p$1" nft -f - <<EOF
table inet mpcfault {
	chain in { type filter hook input priority 0; iifname "eth0" numgen random mod 100 < $2 drop; }
	chain out { type filter hook output priority 0; oifname "eth0" numgen random mod 100 < $2 drop; }
}
EOF
}
drop_stop() { ip netns exec "${NSP}p$1" nft delete table inet mpcfault 2>/dev/null; true; }
throttle_start() { # throttle_start I RATE: token bucket both ways
	ip netns exec "${NSP}p$1" tc qdisc add dev eth0 root tbf rate "$2" burst 32kbit latency 300ms
	ip netns exec "$NSBR" tc qdisc add dev "p$1" root tbf rate "$2" burst 32kbit latency 300ms
}
throttle_stop() {
	ip netns exec "${NSP}p$1" tc qdisc del dev eth0 root 2>/dev/null
	ip netns exec "$NSBR" tc qdisc del dev "p$1" root 2>/dev/null
	true
}
