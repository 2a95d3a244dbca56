#!/bin/sh
# The web server's memory after 100 /api/compare requests on a 10,000-trial study from 8 concurrent
# clients (issue 18, item 3; target: at most 100 MB RSS). A benchmark, not a test.
# Usage: benches/ui_compare_memory.sh [TRIALS]
set -e
cd "$(dirname "$0")/.."
TRIALS="${1:-10000}" cargo run --quiet --release --example ui_compare_memory
