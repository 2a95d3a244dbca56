#!/bin/sh
# Deep pages of run search on one database, two or more `pg_search` builds alternating
# (examples/pg_search.rs's `deep` mode: the first page, the page at offset 4,000 and the last page
# of its five searches, 100 runs a page, ITERS timed calls after a cold one).
#
#   benches/search_pages_rounds.sh DB ROUNDS ITERS NAME=BINARY [NAME=BINARY ...]
#
# DB is a tracking URI (postgresql://... or a SQLite file) already filled by `pg_search DB 100000 1`
# (and, for the runs without the ordered value, `pg_search DB 100000 1 lacking`). Each output block
# starts with a line `# round R NAME DB load ... time`; benches/keyset_pages.sh does the same for a
# before/after pair on PostgreSQL and SQLite at once.
set -eu
db=$1 rounds=$2 iters=$3
shift 3
for round in $(seq 1 "$rounds"); do
    for nb in "$@"; do
        name=${nb%%=*} bin=${nb#*=}
        echo "# round $round $name $db load $(cut -d' ' -f1-3 /proc/loadavg) $(date -u +%H:%M:%S)"
        nice -n 5 "$bin" "$db" 100000 "$iters" deep
    done
done
