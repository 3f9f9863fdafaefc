#!/bin/bash
# Every installed program (bin_PROGRAMS and sbin_PROGRAMS of the built Makefile, so a program added
# later is covered without editing this file) follows the tool conventions of DESIGN.md §9:
#   --help      exits 0 and prints a text naming the program and "Usage" on stdout;
#   --version   exits 0 and prints the package version of configure.ac on stdout;
#   an unknown option exits non-zero with a message on stderr that names it;
#   a man page man/NAME.1 or man/NAME.8 exists, is listed for installation in a *.mk file or
#   Makefile.am, and renders without warnings (man --warnings; skipped when man is missing).
# Prints one line per program and check, then every failure again; exits 1 if any check failed.
set -u
B=${top_builddir:-$(cd "$(dirname "$0")/../.." && pwd)}
S=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
T=$(mktemp -d /tmp/mpcstore-help.XXXXXX)
trap 'rm -rf "$T"' EXIT

VERSION=$(sed -n 's/^AC_INIT(\[[^]]*\], *\[\([^]]*\)\].*/\1/p' "$S/configure.ac")
[ -n "$VERSION" ] || { echo "FAIL: no version in AC_INIT of $S/configure.ac"; exit 1; }

# A make of its own (not a sub-make of make check, which would print "Entering directory");
# the list is the last line, because a Makefile that regenerates itself first echoes commands.
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory -C "$B" \
	print-installed-programs >"$T/make.out" 2>"$T/make.err" ||
	{ echo "FAIL: make print-installed-programs: $(cat "$T/make.err")"; exit 1; }
PROGRAMS=$(grep -v '^make\(\[[0-9]*\]\)\{0,1\}: ' "$T/make.out" | tail -n 1)
[ -n "$PROGRAMS" ] || { echo "FAIL: make print-installed-programs listed no program"; exit 1; }
for prog in $PROGRAMS; do
	case $prog in
	*[!A-Za-z0-9_.-]* | .*) echo "FAIL: make print-installed-programs printed '$PROGRAMS'"; exit 1 ;;
	esac
done

HAVE_MAN=yes
command -v man >/dev/null 2>&1 || { HAVE_MAN=; echo "SKIP: man is not installed; man pages are not rendered"; }

FAILED=""
bad() { FAILED="$FAILED
FAIL: $1: $2"; echo "  FAIL: $2"; }
ok() { echo "  ok: $1"; }

# run NAME ARGS...: runs the built program with a 10 s limit, stdin closed; sets RC; output in $T
run() {
	local p=$1; shift
	timeout 10 "$B/$p" "$@" </dev/null >"$T/out" 2>"$T/err"
	RC=$?
}

for prog in $PROGRAMS; do
	p=${prog%"${EXEEXT:-}"}
	echo "$p:"
	if [ ! -x "$B/$prog" ]; then
		bad "$p" "not built ($B/$prog missing)"
		continue
	fi

	run "$prog" --help
	if [ $RC -ne 0 ]; then
		bad "$p" "--help exits $RC, want 0"
	elif ! grep -q "Usage" "$T/out"; then
		bad "$p" "--help prints no 'Usage' on stdout"
	elif ! grep -qF "$p" "$T/out"; then
		bad "$p" "--help does not name '$p' on stdout"
	else
		ok "--help"
	fi

	run "$prog" --version
	if [ $RC -ne 0 ]; then
		bad "$p" "--version exits $RC, want 0"
	elif ! grep -qF "$VERSION" "$T/out"; then
		bad "$p" "--version prints '$(head -n 1 "$T/out")' on stdout, not the version $VERSION"
	else
		ok "--version: $(head -n 1 "$T/out")"
	fi

	run "$prog" --no-such-option-xyz
	if [ $RC -eq 0 ]; then
		bad "$p" "an unknown option exits 0"
	elif [ $RC -eq 124 ]; then
		bad "$p" "an unknown option did not end within 10 s"
	elif [ ! -s "$T/err" ]; then
		bad "$p" "an unknown option exits $RC but prints nothing on stderr"
	elif ! grep -q "no-such-option-xyz" "$T/err"; then
		bad "$p" "an unknown option exits $RC, but stderr does not name the option: $(head -n 1 "$T/err")"
	else
		ok "unknown option: exit $RC, $(head -n 1 "$T/err")"
	fi

	man=""
	for f in "$S/man/$p.1" "$S/man/$p.8"; do [ -f "$f" ] && man=$f && break; done
	if [ -z "$man" ]; then
		bad "$p" "no man page man/$p.1 or man/$p.8"
		continue
	fi
	# Installed only if some makefile fragment lists it (dist_man_MANS or man_MANS).
	if ! cat "$S/Makefile.am" "$S"/*/*.mk 2>/dev/null | grep -v '^[[:space:]]*#' |
		grep -q "man/${p}\.[18]\([^0-9A-Za-z_.-]\|$\)"; then
		bad "$p" "${man#"$S/"} is not listed in dist_man_MANS (make install would not install it)"
	else
		ok "${man#"$S/"} listed for installation"
	fi
	if [ -n "$HAVE_MAN" ]; then
		MANPAGER=cat MANWIDTH=80 LC_ALL=C.UTF-8 timeout 20 man --warnings -l "$man" \
			</dev/null >/dev/null 2>"$T/man.err"
		RC=$?
		if [ $RC -ne 0 ]; then
			bad "$p" "man --warnings -l ${man#"$S/"} exits $RC: $(head -n 3 "$T/man.err")"
		elif [ -s "$T/man.err" ]; then
			bad "$p" "${man#"$S/"} renders with warnings: $(head -n 3 "$T/man.err")"
		else
			ok "${man#"$S/"} renders"
		fi
	fi
done

if [ -n "$FAILED" ]; then
	echo
	echo "Programs that break the tool conventions (DESIGN.md §9):$FAILED"
	exit 1
fi
echo "all $(echo $PROGRAMS | wc -w) programs pass"
