#!/bin/sh
# Deep pages of run search, offset tokens (BEFORE) against keyset tokens (AFTER), on PostgreSQL and
# SQLite with 100,000 runs (examples/pg_search.rs's data and searches; its `deep` mode times the
# first page, the page at offset 4,000 and the last page, 100 runs a page).
#
#   benches/keyset_pages.sh BEFORE AFTER PG_URL SQLITE_FILE [ROUNDS] [ITERS]
#
# BEFORE and AFTER are `pg_search` binaries built from the two commits (the example only uses the
# public API, so the same source builds on both). Both databases must hold the 100,000 runs
# already (a first `pg_search URL 100000 1` fills them). The rounds alternate the builds on each
# database; each line of output is one (round, database, build, search, depth) median.
set -eu
before=$1 after=$2 pg=$3 lite=$4 rounds=${5:-3} iters=${6:-7}
for round in $(seq 1 "$rounds"); do
    for db in "$pg" "$lite"; do
        for build in before after; do
            if [ "$build" = before ]; then bin=$before; else bin=$after; fi
            echo "# round $round $build $db load $(cut -d' ' -f1-3 /proc/loadavg) $(date -u +%H:%M:%S)"
            "$bin" "$db" 100000 "$iters" deep
        done
    done
done
