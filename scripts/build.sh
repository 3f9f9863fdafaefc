#!/bin/bash
# Configures (once) and builds mpcstore in the source tree.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x configure ] || autoreconf -fi
[ -f Makefile ] || ./configure -q
make -j2 -s
