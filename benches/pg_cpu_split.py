#!/usr/bin/env python3
"""Where the CPU of a shared study's trial goes on PostgreSQL: hpo's processes against the
database server's (issue 19), with W workers.

W `hpo run` processes join one study of N trials (Branin in process, zero cost) on a new database
of the server at --pg. hpo's CPU is the workers' user + sys time (this script's reaped children);
the server's is the postmaster's reaped children (the backends that served the workers, and any
other backend that ended meanwhile) plus the change in the live server processes' time, so run it
on a server nobody else uses. Wall time includes the workers' start-up and the schema's creation.

Usage (run on the machine of the server, which must be local):
  python3 benches/pg_cpu_split.py --hpo target/release/hpo --algo random --workers 8 --n 2000
"""

import argparse
import os
import resource
import subprocess
import tempfile
import time

RUN_FILE = """[study]
name = "bench"
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


def psql(pg, sql):
    return subprocess.run(
        ["psql", f"{pg}/postgres", "-Atqc", sql], check=True, capture_output=True, text=True
    ).stdout.strip()


def stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def server_cpu(postmaster):
    """The postmaster's reaped children's CPU plus every live postgres process's, in seconds."""
    f = stat_fields(postmaster)
    total = (int(f[13]) + int(f[14])) / TICK
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/comm") as c:
                if c.read().strip() != "postgres":
                    continue
            f = stat_fields(p)
            total += (int(f[11]) + int(f[12])) / TICK
        except OSError:
            pass
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--hpo", default="target/release/hpo")
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    ap.add_argument("--algo", default="random")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--n", type=int, default=2000)
    a = ap.parse_args()
    data_dir = psql(a.pg, "SHOW data_directory")
    with open(os.path.join(data_dir, "postmaster.pid")) as f:
        postmaster = int(f.readline())
    db = f"hpobench_cpu_{os.getpid()}"
    psql(a.pg, f"CREATE DATABASE {db}")
    try:
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "bench.toml")
            with open(path, "w") as f:
                f.write(RUN_FILE.format(algo=a.algo, n=a.n))
            cmd = [a.hpo, "run", path, "--tracking-uri", f"{a.pg}/{db}", "--quiet",
                   "--no-trial-server"]
            s0, r0, t0 = server_cpu(postmaster), resource.getrusage(resource.RUSAGE_CHILDREN), time.time()
            procs = [subprocess.Popen(cmd, cwd=d, stdout=subprocess.DEVNULL) for _ in range(a.workers)]
            codes = [p.wait() for p in procs]
            wall = time.time() - t0
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            time.sleep(0.3)  # the backends of the workers' connections end and are reaped
            s1 = server_cpu(postmaster)
        if any(codes):
            raise SystemExit(f"hpo exit codes {codes}")
        hpo = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        print(
            f"{a.algo} workers={a.workers} n={a.n} wall_s={wall:.2f} trials_per_s={a.n / wall:.0f} "
            f"hpo_cpu_ms_per_trial={hpo / a.n * 1e3:.3f} "
            f"server_cpu_ms_per_trial={(s1 - s0) / a.n * 1e3:.3f}"
        )
    finally:
        psql(a.pg, f"DROP DATABASE IF EXISTS {db}")


if __name__ == "__main__":
    main()
