#!/bin/sh
# Runs every benchmark; each prints JSON lines.
echo '{"bench":"none","note":"no benchmarks yet"}'
