#!/usr/bin/env python3
"""CPU time and WAL flushes per trial of a shared study on PostgreSQL (issue 19, storage overhead),
for builds compared on a loaded machine, where wall time mostly measures the wait for a core.

W `hpo run` workers (one by default) of one study of N trials (Branin in process, random search
or --algo) on a fresh database, per build, builds alternating for R rounds. Per trial:
  client_cpu_ms   user + sys time of the hpo processes (their rusage as children of this script);
  server_cpu_ms   user + sys time of the database's backends, read from /proc/PID/stat while
                  they live (sampled every 50 ms; the last sample of each backend counts);
  wal_syncs       WAL flushes of the whole server (pg_stat_wal.wal_sync; other databases'
                  commits on the same server count too);
  wall_ms         the window per trial (first trial's start to last trial's end).
With several workers, `wall_ms` is the window divided by N (the study's, not a worker's).

Usage:
  /tmp/anchors-venv/bin/python benches/pg_cpu_per_trial.py --n 2000 --rounds 2 \
      main=/tmp/hpo-main new=target/release/hpo
  /tmp/anchors-venv/bin/python benches/pg_cpu_per_trial.py --workers 8 --algo tpe --rounds 1 \
      final=target/release/hpo
"""

import argparse
import json
import os
import resource
import subprocess
import tempfile
import threading
import time

import psycopg2

RUN_FILE = """
[study]
name = "cpu"
algo = "{algo}"
max_evals = {n}
parallelism = 1

[objective]
function = "branin"

[space]
x1 = {{ uniform = [-5, 10] }}
x2 = {{ uniform = [0, 15] }}
"""

TICK = os.sysconf("SC_CLK_TCK")


def connect(server, db, autocommit=True):
    c = psycopg2.connect(f"{server}/{db}")
    c.autocommit = autocommit
    return c


def one(cur, sql):
    cur.execute(sql)
    return cur.fetchone()


def proc_cpu_s(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return None


def sample_backends(server, db, stop, seen):
    c = connect(server, "postgres")
    with c.cursor() as cur:
        while not stop.is_set():
            cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (db,))
            for (pid,) in cur.fetchall():
                cpu = proc_cpu_s(pid)
                if cpu is not None:
                    seen[pid] = cpu
            time.sleep(0.05)
    c.close()


def measure(server, label, binary, n, workers=1, algo="random"):
    db = f"hpocpu_{os.getpid()}"
    admin = connect(server, "postgres")
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {db}")
        syncs0 = one(cur, "SELECT wal_sync FROM pg_stat_wal")[0]
    seen, stop = {}, threading.Event()
    sampler = threading.Thread(target=sample_backends, args=(server, db, stop, seen))
    sampler.start()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "cpu.toml")
        with open(path, "w") as f:
            f.write(RUN_FILE.format(n=n, algo=algo))
        url = f"{server}/{db}"
        cmd = [binary, "run", path, "--tracking-uri", url, "--quiet", "--no-trial-server"]
        procs = [
            subprocess.Popen(cmd, cwd=d, stdout=subprocess.DEVNULL) for _ in range(workers)
        ]
        codes = [p.wait() for p in procs]
        if any(codes):
            raise RuntimeError(f"hpo exit codes {codes}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    stop.set()
    sampler.join()
    with admin.cursor() as cur:
        syncs1 = one(cur, "SELECT wal_sync FROM pg_stat_wal")[0]
    c = connect(server, db)
    with c.cursor() as cur:
        done, first, last = one(
            cur,
            "SELECT COUNT(*) FILTER (WHERE state = 'OK'), MIN(started_ms), MAX(ended_ms) "
            "FROM study_trials",
        )
    c.close()
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    admin.close()
    client = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "label": label,
        "workers": workers,
        "algo": algo,
        "n": n,
        "finished": done,
        "client_cpu_ms": round(client * 1e3 / n, 3),
        "server_cpu_ms": round(sum(seen.values()) * 1e3 / n, 3),
        "wal_syncs": round((syncs1 - syncs0) / n, 3),
        "wall_ms": round((last - first) / n, 3),
        "load_1m": os.getloadavg()[0],
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("builds", nargs="+", help="LABEL=BINARY")
    p.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--workers", type=int, default=1, help="hpo run processes joining the study")
    p.add_argument("--algo", default="random")
    p.add_argument("--out")
    args = p.parse_args()
    builds = [b.split("=", 1) for b in args.builds]
    for r in range(args.rounds):
        for label, binary in builds:
            row = measure(args.pg, label, binary, args.n, args.workers, args.algo)
            row["round"] = r + 1
            print(json.dumps(row), flush=True)
            if args.out:
                with open(args.out, "a") as f:
                    f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
