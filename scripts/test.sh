#!/bin/bash
# Installs dependencies if needed, builds, and runs the whole test suite (make check).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
make -j2 check || { cat tests/integration/*.log 2>/dev/null | tail -n 60; exit 1; }
