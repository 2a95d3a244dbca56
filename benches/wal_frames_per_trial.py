"""WAL frames written by the first transaction of a recorded trial, replayed in plain SQL.

The first transaction of a trial (see `record_trial` in benches/tracking.rs) inserts the run, its
tags and its 10 params. This script replays that transaction N times on a copy of a store (with
random 6-digit param values, as the search bench store has) and prints the WAL frames (pages)
written per transaction, which is what a commit costs on this machine. Automatic checkpoints are
off, so every transaction appends each page it dirties.

    cp <target>/tracking-bench-100000-v1.db /tmp/copy.db
    python3 benches/wal_frames_per_trial.py /tmp/copy.db 500 [seed]

Run it a few times on the same copy: a store whose indexes were just built by a migration (packed
full) splits many pages in its first few thousand inserts; later batches show the steady state.
"""
import os
import random
import sqlite3
import sys
import uuid

path, n = sys.argv[1], int(sys.argv[2])
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
con = sqlite3.connect(path, isolation_level=None)
con.execute("PRAGMA journal_mode=WAL")
con.execute("PRAGMA wal_autocheckpoint=0")
con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
version = con.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
experiment = con.execute("SELECT MAX(experiment_id) FROM experiments").fetchone()[0]
rnd = random.Random(seed)
for t in range(n):
    run_id = uuid.UUID(int=rnd.getrandbits(128)).hex
    con.execute("BEGIN IMMEDIATE")
    con.execute(
        "INSERT INTO runs (run_uuid, experiment_id, name, status, start_time, user_id, "
        "artifact_uri, lifecycle_stage) VALUES (?, ?, 'r', 'RUNNING', 1, 'u', '/a', 'active')",
        (run_id, experiment),
    )
    run_key = con.execute("SELECT last_insert_rowid()").fetchone()[0]
    for key, value in [("hpo.trialNumber", str(t)), ("hpo.runName", "r"), ("model", "x")]:
        con.execute("INSERT INTO tags VALUES (?, ?, ?)", (run_id, key, value))
    for j in range(10):
        value = "%.6f" % rnd.random()
        owner = run_key if version >= 5 else run_id
        con.execute("INSERT INTO params VALUES (?, ?, ?, ?)", (owner, "p%d" % j, value, float(value)))
    con.execute("COMMIT")
frames = (os.path.getsize(path + "-wal") - 32) / (con.execute("PRAGMA page_size").fetchone()[0] + 24)
print("schema v%d: %.1f WAL frames per transaction" % (version, frames / n))
con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
