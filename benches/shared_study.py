#!/usr/bin/env python3
"""Shared studies on PostgreSQL (issue 19), side by side with Optuna's RDBStorage.

Every measurement runs on a fresh database of the server at --pg (created and dropped here);
hpo and Optuna runs of one configuration follow each other, so both see the same machine load.

  hpo:    W processes of `hpo run FILE --tracking-uri URL --quiet --no-trial-server`, all joining
          one study of N trials (the budget holds across workers), objective `function = "branin"`
          (in-process, zero cost) or `command = ["sh", "-c", "sleep 1; echo 0.5"]`.
  Optuna: W processes, each `optuna.create_study(storage=URL, load_if_exists=True, sampler=...)`
          then `study.optimize(f, n_trials=N/W)` (Branin, or `time.sleep(1)`); the parent creates
          the study (and Optuna's tables) first. Workers import Optuna, connect, then wait for a
          common start time, so Python's start-up is not counted in the window.

Figures per run: `wall` (first process spawned to last one exited) and `window` (first trial's
start to last trial's end, read from the database: study_trials for hpo, trials for Optuna);
trials/s = finished trials / window.

Usage (from the repository, release build and examples built):
  /tmp/anchors-venv/bin/python benches/shared_study.py overhead throughput sleep
  options: --pg postgresql://postgres@127.0.0.1:5432  --hpo target/release/hpo
           --examples target/release/examples  --quick (smaller n)
           --workers 1,2,4,8,16,32  --out results.jsonl
           --systems hpo|optuna|hpo,optuna  --label NAME (written into each row)
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


# ---------------------------------------------------------------- databases


class FreshDb:
    """A database created for one run and dropped after it."""

    counter = 0

    def __init__(self, server):
        FreshDb.counter += 1
        self.server = server.rstrip("/")
        self.name = f"hpobench_{os.getpid()}_{FreshDb.counter}"

    def admin(self):
        c = psycopg2.connect(self.server + "/postgres")
        c.autocommit = True
        return c

    def __enter__(self):
        c = self.admin()
        with c.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
            cur.execute(f"CREATE DATABASE {self.name}")
        c.close()
        return self.server + "/" + self.name

    def __exit__(self, *exc):
        c = self.admin()
        with c.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
        c.close()


def query(url, sql):
    c = psycopg2.connect(url)
    try:
        with c.cursor() as cur:
            cur.execute(sql)
            return cur.fetchone()
    finally:
        c.close()


# ---------------------------------------------------------------- hpo

RUN_FILE = """
[study]
name = "bench"
algo = "{algo}"
max_evals = {n}
parallelism = 1

[objective]
{objective}

[space]
x1 = {{ uniform = [-5, 10] }}
x2 = {{ uniform = [0, 15] }}
"""

HPO_OBJECTIVES = {
    "zero": 'function = "branin"',
    "sleep": 'command = ["sh", "-c", "sleep 1; echo 0.5"]',
}


def run_hpo(args, url, workers, n, algo, objective):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "bench.toml")
        with open(path, "w") as f:
            f.write(RUN_FILE.format(algo=algo, n=n, objective=HPO_OBJECTIVES[objective]))
        cmd = [args.hpo, "run", path, "--tracking-uri", url, "--quiet", "--no-trial-server"]
        t0 = time.time()
        procs = [
            subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=d)
            for _ in range(workers)
        ]
        errs = [p.communicate()[1].decode(errors="replace") for p in procs]
        wall = time.time() - t0
        codes = [p.returncode for p in procs]
    if any(codes):
        bad = [e for c, e in zip(codes, errs) if c]
        raise RuntimeError(f"hpo exit codes {codes}: {bad[0][-2000:]}")
    done, first, last = query(
        url,
        "SELECT COUNT(*) FILTER (WHERE state = 'OK'), MIN(started_ms), MAX(ended_ms) "
        "FROM study_trials",
    )
    return done, wall, (last - first) / 1e3


# ---------------------------------------------------------------- Optuna

OPTUNA_WORKER = r"""
import sys, time, math
import optuna
optuna.logging.set_verbosity(optuna.logging.WARNING)
url, sampler, n, objective, start_at = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
s = optuna.samplers.TPESampler() if sampler == "tpe" else optuna.samplers.RandomSampler()
study = optuna.create_study(study_name="bench", storage=url, load_if_exists=True, sampler=s)

def branin(t):
    x1 = t.suggest_float("x1", -5, 10)
    x2 = t.suggest_float("x2", 0, 15)
    b, c = 5.1 / (4 * math.pi ** 2), 5 / math.pi
    return (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10

def sleepy(t):
    t.suggest_float("x1", -5, 10)
    t.suggest_float("x2", 0, 15)
    time.sleep(1)
    return 0.5

time.sleep(max(0.0, start_at - time.time()))
study.optimize(branin if objective == "zero" else sleepy, n_trials=n)
"""


def run_optuna(args, url, workers, n, algo, objective):
    import optuna

    db_url = url
    # SQLAlchemy 2.1 reads postgresql:// as psycopg 3; the venv has psycopg2
    url = url.replace("postgresql://", "postgresql+psycopg2://", 1)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optuna.create_study(study_name="bench", storage=url)
    shares = [n // workers + (1 if i < n % workers else 0) for i in range(workers)]
    # time for every worker to import Optuna and connect before the common start
    start_at = time.time() + 6.0 + 0.5 * workers
    t0 = time.time()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPTUNA_WORKER, url, algo, str(k), objective, str(start_at)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for k in shares
        if k > 0
    ]
    errs = [p.communicate()[1].decode(errors="replace") for p in procs]
    wall = time.time() - t0
    codes = [p.returncode for p in procs]
    if any(codes):
        bad = [e for c, e in zip(codes, errs) if c]
        raise RuntimeError(f"optuna exit codes {codes}: {bad[0][-2000:]}")
    done, first, last = query(
        db_url,
        "SELECT COUNT(*) FILTER (WHERE state = 'COMPLETE'), "
        "EXTRACT(EPOCH FROM MIN(datetime_start)), EXTRACT(EPOCH FROM MAX(datetime_complete)) "
        "FROM trials",
    )
    late = max(0.0, float(first) - start_at)
    return done, wall, float(last) - float(first), late


# ---------------------------------------------------------------- measurements


def record(args, row):
    line = json.dumps(row)
    print(line, flush=True)
    if args.out:
        with open(args.out, "a") as f:
            f.write(line + "\n")


def one(args, system, workers, n, algo, objective, section):
    if system not in args.systems:
        return None
    with FreshDb(args.pg) as url:
        if system == "hpo":
            done, wall, window = run_hpo(args, url, workers, n, algo, objective)
            late = 0.0
        else:
            done, wall, window, late = run_optuna(args, url, workers, n, algo, objective)
    row = {
        "section": section,
        "system": system,
        "algo": algo,
        "objective": objective,
        "workers": workers,
        "n": n,
        "finished": done,
        "wall_s": round(wall, 3),
        "window_s": round(window, 3),
        "trials_per_s": round(done / window, 1) if window > 0 else None,
        "worker_ms_per_trial": round(window * 1e3 * workers / max(done, 1), 3),
        "load_1m_after": round(os.getloadavg()[0], 1),
    }
    if args.label:
        row["label"] = args.label
    if system == "optuna":
        row["first_trial_after_start_s"] = round(late, 2)
    if objective == "sleep":
        row["efficiency"] = round((done / window) / workers, 3)
    record(args, row)
    return row


def baseline(args, algo, n):
    out = subprocess.run(
        [os.path.join(args.examples, "fmin_baseline"), algo, str(n)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    fields = dict(kv.split("=") for kv in out.split())
    ms = float(fields["ms_per_trial"])
    record(args, {"section": "baseline", "algo": algo, "n": n, "ms_per_trial": ms})
    return ms


def overhead(args):
    n_hpo = 2000 if args.quick else 10000
    n_opt = 500 if args.quick else 1000
    for algo in ["random"]:
        base = baseline(args, algo, n_hpo)
        for workers in [1, 8]:
            h = one(args, "hpo", workers, n_hpo, algo, "zero", "overhead")
            o = one(args, "optuna", workers, n_opt, algo, "zero", "overhead")
            for r in (h, o):
                if r is None:
                    continue
                record(
                    args,
                    {
                        "section": "overhead_ms",
                        "system": r["system"],
                        "label": args.label,
                        "workers": workers,
                        "n": r["n"],
                        "ms_per_trial_minus_baseline": round(
                            r["worker_ms_per_trial"] - base, 3
                        ),
                        "ms_per_trial_wall_minus_baseline": round(
                            r["wall_s"] * 1e3 * workers / max(r["finished"], 1) - base, 3
                        ),
                    },
                )


def throughput(args):
    for algo in ["random", "tpe"]:
        for workers in args.workers:
            n_hpo = (1000 if args.quick else 2000)
            n_opt = max(100, 10 * workers) if args.quick else max(400, 25 * workers)
            one(args, "hpo", workers, n_hpo, algo, "zero", "throughput")
            one(args, "optuna", workers, n_opt, algo, "zero", "throughput")


def sleep(args):
    workers = 32
    n = workers * (5 if args.quick else 10)
    for system in ["hpo", "optuna"]:
        one(args, system, workers, n, "random", "sleep", "sleep")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("sections", nargs="+", choices=["overhead", "throughput", "sleep"])
    p.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    p.add_argument("--hpo", default=os.path.join(ROOT, "target/release/hpo"))
    p.add_argument("--examples", default=os.path.join(ROOT, "target/release/examples"))
    p.add_argument("--workers", default="1,2,4,8,16,32")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out")
    p.add_argument("--systems", default="hpo,optuna", help="which to run: hpo, optuna or both")
    p.add_argument("--label", default="", help="a label written into every row (which build)")
    args = p.parse_args()
    args.systems = args.systems.split(",")
    args.workers = [int(w) for w in args.workers.split(",")]
    for s in args.sections:
        {"overhead": overhead, "throughput": throughput, "sleep": sleep}[s](args)


if __name__ == "__main__":
    main()
