#!/bin/bash
# make fuzz: runs each libFuzzer harness for FUZZ_SECONDS from its seeds and regression inputs; prints exec/s.
# Usage: run.sh BUILDDIR SRCDIR HARNESS... (FUZZ_SECONDS, FUZZ_LDFLAGS from make)
set -uo pipefail
b=$1 s=$2
shift 2
secs=${FUZZ_SECONDS:-60}
if [ -z "${FUZZ_LDFLAGS:-}" ]; then
	echo "make fuzz needs a libFuzzer build: CC=clang ./configure --enable-fuzz" >&2
	echo "(apt-get install clang libclang-rt-14-dev); make check already replays the corpora" >&2
	exit 2
fi
work=$b/fuzz-work
mkdir -p "$work"
failed=""
for h in "$@"; do
	name=${h#fuzz_}
	# New inputs go to fuzz-work/NAME (kept between runs, not in git); the seeds are read only.
	mkdir -p "$work/$name" "$work/artifacts"
	dirs=("$work/$name" "$s/fuzz/corpus/$name")
	[ -d "$s/fuzz/regress/$name" ] && dirs+=("$s/fuzz/regress/$name")
	log=$work/$name.log
	echo "::: $h: ${secs}s"
	# The regression inputs exactly as they are (some exceed -max_len, which truncates them)...
	rc=0
	if [ -d "$s/fuzz/regress/$name" ]; then
		"$b/$h" -runs=0 "$s/fuzz/regress/$name" >"$log" 2>&1 </dev/null || rc=$?
	fi
	# ...then fuzzing. -max_len: else the largest input sets it and every mutation gets that
	# long; -rss_limit_mb: RocksDB's caches; -timeout: a single input over 10 s is a hang.
	[ $rc -eq 0 ] && (cd "$work" && "$b/$h" -max_total_time="$secs" -print_final_stats=1 \
		-max_len="${FUZZ_MAX_LEN:-4096}" -timeout=10 -rss_limit_mb=4096 \
		-artifact_prefix="$work/artifacts/$name-" "${dirs[@]}") >>"$log" 2>&1 </dev/null
	rc=$((rc ? rc : $?))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
	printf '{"harness":"%s","seconds":%s,"execs":%s,"exec_per_sec":%s,"%s":%s,"rc":%d}\n' \
		"$name" "$secs" "${execs:-0}" "${rate:-0}" "${cov%%:*}" "${cov##* }" "$rc"
	if [ $rc -ne 0 ]; then
		failed="$failed $name"
		grep -E -A 30 'ERROR: |runtime error|==ERROR' "$log" | head -n 60
		ls "$work/artifacts/$name-"* 2>/dev/null
	fi
done
if [ -n "$failed" ]; then
	echo "fuzz: crashes in:$failed (inputs in $work/artifacts; fix, then add them to fuzz/regress/NAME/)"
	exit 1
fi
echo "fuzz: no crashes"
