#!/usr/bin/env python3
"""Parallel efficiency of `hpo run` with a command objective (issue 18, item 2): N trials of
`sleep S; echo 0` at parallelism P, each on its own new SQLite store.

Three figures per round:
- *process*: ideal / wall time of the whole `hpo run` process, start-up and the study's end
  included, where ideal = N * S / P;
- *against a bare runner*: the wall time of a bare runner (a pool of P Python threads, each
  running the same command with `subprocess.run`, N in all; the program's own start-up, `sh` and
  `sleep`, is in it) divided by hpo's: what hpo adds to running the same programs, 1.0 when
  nothing;
- *trials*: the trials' own run time (each run's end - start, from the store) summed, divided by
  P times the window from the first trial's start to the last trial's end: how busy the P slots
  were while the study ran (the process's start-up and end left out).

    python3 benches/parallel_efficiency.py --hpo target/release/hpo [--trials 64] \
        [--sleep 0.2] [--parallelism 8] [--rounds 3]
"""

import argparse
import concurrent.futures
import json
import os
import sqlite3
import statistics
import subprocess
import tempfile
import time

STUDY = """[study]
name = "efficiency"
algo = "random"
max_evals = {n}
parallelism = {p}
seed = 1
[objective]
command = ["sh", "-c", "sleep {s}; echo 0"]
[space]
x = {{ uniform = [0, 1] }}
"""


def one_round(hpo, n, s, p):
    with tempfile.TemporaryDirectory() as d:
        f = os.path.join(d, "s.toml")
        with open(f, "w") as fh:
            fh.write(STUDY.format(n=n, p=p, s=s))
        db = os.path.join(d, "h.db")
        t = time.perf_counter()
        subprocess.run([hpo, "run", "-q", f, "--tracking-uri", f"sqlite:///{db}"],
                       stdout=subprocess.DEVNULL, check=True)
        wall = time.perf_counter() - t
        con = sqlite3.connect(db)
        rows = con.execute(
            "SELECT r.start_time, r.end_time FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
            "WHERE t.key = 'hpo.runType' AND t.value = 'trial'").fetchall()
        con.close()
    assert len(rows) == n, f"{len(rows)} trials recorded, {n} asked for"
    busy = sum(e - b for b, e in rows) / 1000.0
    window = (max(e for _, e in rows) - min(b for b, _ in rows)) / 1000.0
    return {"wall_s": wall, "process": n * s / p / wall, "trials": busy / (p * window),
            "window_s": window, "mean_trial_s": busy / n}


def bare_round(n, s, p):
    """Wall time of running the same N commands on a pool of P threads, nothing recorded."""
    cmd = ["sh", "-c", f"sleep {s}; echo 0"]

    def one(_):
        subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)

    t = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=p) as pool:
        list(pool.map(one, range(n)))
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hpo", default="target/release/hpo")
    ap.add_argument("--trials", type=int, default=64)
    ap.add_argument("--sleep", type=float, default=0.2)
    ap.add_argument("--parallelism", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    hpo = os.path.abspath(a.hpo)
    results = []
    for r in range(a.rounds):
        load = os.getloadavg()[0]
        bare = bare_round(a.trials, a.sleep, a.parallelism)
        res = one_round(hpo, a.trials, a.sleep, a.parallelism)
        res["bare_wall_s"] = bare
        res["vs_bare"] = bare / res["wall_s"]
        res["load"] = load
        results.append(res)
        print(json.dumps({"round": r + 1, **{k: round(v, 4) for k, v in res.items()}}))
    med = {k: statistics.median(x[k] for x in results) for k in results[0]}
    print(f"median of {a.rounds}: process efficiency {med['process']:.3f} (wall "
          f"{med['wall_s']:.3f} s, ideal {a.trials * a.sleep / a.parallelism:.3f} s), trials "
          f"efficiency {med['trials']:.3f} (window {med['window_s']:.3f} s, mean trial "
          f"{med['mean_trial_s'] * 1000:.1f} ms); against a bare runner {med['vs_bare']:.3f} "
          f"(bare wall {med['bare_wall_s']:.3f} s)")


if __name__ == "__main__":
    main()
