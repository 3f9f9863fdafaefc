#!/bin/bash
# make check: replays every fuzz harness's seed corpus and the regression inputs of fixed crashes.
set -euo pipefail
b=${top_builddir:-.} s=${top_srcdir:-.}
for h in csv lang api frame fsm conf; do
	dirs=("$s/fuzz/corpus/$h")
	[ -d "$s/fuzz/regress/$h" ] && dirs+=("$s/fuzz/regress/$h")
	# -runs=0: a libFuzzer build (--enable-fuzz) only runs the inputs too
	"$b/fuzz_$h" -runs=0 "${dirs[@]}" 2>&1 | tail -n 3
done
