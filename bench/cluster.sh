# Sourced by bench scripts: bench_cluster NAME starts a fresh 3-party cluster of build $B in the
# temp dir $T at base port $PORT, trying 5 base ports 30 apart (ports may be taken by other
# programs' connections), and sets PIDS (the trap of the caller stops them). Exits 1 if none
# started; a failed try names the ports and the first ERROR/FATAL line of the logs.
bench_cluster() {
	local try i t p up=0
	for try in 0 1 2 3 4; do
		P=$((PORT + try * 30)); rm -rf "${T:?}"/*; PIDS=""
		"$B/mpcstore-tool" cluster init --parties 3 --dir "$T" --base-port "$P" >/dev/null
		for i in 0 1 2; do "$B/mpcd" -c "$T/party$i/mpcd.conf" -l warn >>"$T/party$i.log" 2>&1 & PIDS="$PIDS $!"; done
		for t in $(seq 60); do "$B/mpcstore-tool" -c "$T/party0/mpcd.conf" raft --json 2>/dev/null | grep -q '"leader": "party' && break; sleep 0.5; done
		up=1; for p in $PIDS; do kill -0 $p 2>/dev/null || up=0; done
		[ $up = 1 ] && return 0
		echo "$1: ports $P: $(cat "$T"/party*.log | grep -m1 -E 'ERROR|FATAL')" >&2
		for p in $PIDS; do kill $p 2>/dev/null; done; wait 2>/dev/null
	done
	echo "$1: no cluster started (ports $PORT..$P)" >&2
	exit 1
}
