#!/bin/sh
# Statements and durable commits per trial of a shared study on PostgreSQL (issue 19), counted
# from the server's own log: a fresh database with `log_statement = all`, one `hpo run` worker of
# N trials (Branin in process, random search), then the log lines of that database are counted.
#
#   benches/pg_statements_per_trial.sh [HPO_BINARY] [N]
#
# Needs psql, the server on 127.0.0.1:5432 (trust auth) and read access to its log
# (/var/log/postgresql/postgresql-*-main.log, whose line prefix names the database: `%u@%d`).
# "writes" counts the statements that can write (INSERT/UPDATE/DELETE, also inside a WITH);
# "commits" counts COMMITs plus writing statements sent outside a transaction (autocommit):
# each is one durable commit (a WAL flush) when it changed a row. Study set-up and the end of
# the study are included, so per-trial figures are slightly above the steady state.
set -eu
HPO=${1:-target/release/hpo}
N=${2:-200}
PG="psql -U postgres -h 127.0.0.1 -qAt"
DB=hpo_stmtcount_$$
LOG=$(ls /var/log/postgresql/postgresql-*-main.log | head -1)
DIR=$(mktemp -d)
trap '$PG -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"; rm -rf "$DIR"' EXIT
$PG -d postgres -c "CREATE DATABASE $DB"
$PG -d postgres -c "ALTER DATABASE $DB SET log_statement = 'all'"
cat > "$DIR/s.toml" <<EOF
[study]
name = "count"
algo = "random"
max_evals = $N
parallelism = 1

[objective]
function = "branin"

[space]
x1 = { uniform = [-5, 10] }
x2 = { uniform = [0, 15] }
EOF
START=$(wc -l < "$LOG")
(cd "$DIR" && "$OLDPWD/$HPO" run s.toml --tracking-uri "postgresql://postgres@127.0.0.1:5432/$DB" \
    --quiet --no-trial-server > /dev/null) 2>/dev/null || \
  (cd "$DIR" && "$HPO" run s.toml --tracking-uri "postgresql://postgres@127.0.0.1:5432/$DB" \
    --quiet --no-trial-server > /dev/null)
sleep 1
tail -n +"$((START + 1))" "$LOG" | awk -v db="@$DB " -v n="$N" '
  # a statement: "LOG:  statement: SQL" or "LOG:  execute NAME: SQL"; continuation lines are
  # the rest of a multi-line statement
  index($0, db) && /LOG:  (statement|execute [^:]*):/ {
    stmts++
    sql = $0; sub(/.*LOG:  (statement|execute [^:]*): */, "", sql)
    pid = $0; sub(/^[^[]*\[/, "", pid); sub(/\].*/, "", pid)
    u = toupper(sql)
    if (u ~ /^(BEGIN|START TRANSACTION)/) { intx[pid] = 1; wrote[pid] = 0; next }
    if (u ~ /^COMMIT/) { if (wrote[pid]) commits++; intx[pid] = 0; next }
    if (u ~ /^ROLLBACK/) { intx[pid] = 0; next }
    w = (u ~ /^(INSERT|UPDATE|DELETE)/) || (u ~ /^WITH/ && u ~ /(INSERT|UPDATE|DELETE)/)
    last_w = w; last_pid = pid
    if (w) { writes++; if (intx[pid]) wrote[pid] = 1; else commits++ }
    next
  }
  # a WITH whose writing part is on a continuation line
  !/ LOG:  / && !/ DETAIL:  / && last_pid != "" && !last_w && toupper($0) ~ /(INSERT INTO|UPDATE [A-Z_]+ SET|DELETE FROM)/ {
    last_w = 1; writes++
    if (intx[last_pid]) wrote[last_pid] = 1; else commits++
  }
  END {
    printf "trials=%d statements=%d writes=%d commits=%d per_trial: statements=%.2f writes=%.2f commits=%.2f\n",
      n, stmts, writes, commits, stmts / n, writes / n, commits / n
  }'
