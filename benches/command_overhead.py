#!/usr/bin/env python3
"""Per-trial overhead of a command objective through `hpo run` against a bare spawn of the same
program, measured alternately in one run (issue 18, item 2).

    python3 benches/command_overhead.py --hpo target/release/hpo [--trials 500] [--rounds 3]

Prints, per round, the bare spawn time per call (`/bin/echo 0` with subprocess, output read), and
hpo's wall time per trial for a study of `--trials` random-search trials of that program at
parallelism 1 into a new SQLite store (store creation and process start included, divided by the
number of trials); then the medians and the difference.

With `--trial-server` it also times the same study with `--no-trial-server` in each round (no
embedded MLflow server, no `MLFLOW_*` variables) and prints what the server costs per trial.
"""

import argparse
import os
import statistics
import subprocess
import tempfile
import time

STUDY = """[study]
name = "overhead"
algo = "random"
max_evals = {n}
parallelism = 1
seed = 1
[objective]
command = ["/bin/echo", "0"]
[space]
x = {{ uniform = [0, 1] }}
"""


def bare(n):
    t = time.perf_counter()
    for _ in range(n):
        subprocess.run(["/bin/echo", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    return (time.perf_counter() - t) / n


def hpo_run(hpo, n, extra=()):
    with tempfile.TemporaryDirectory() as d:
        f = os.path.join(d, "s.toml")
        with open(f, "w") as fh:
            fh.write(STUDY.format(n=n))
        t = time.perf_counter()
        subprocess.run([hpo, "run", "-q", f, "--tracking-uri", f"sqlite:///{d}/h.db", *extra],
                       stdout=subprocess.DEVNULL, check=True)
        return (time.perf_counter() - t) / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hpo", default="target/release/hpo")
    ap.add_argument("--trials", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--trial-server", action="store_true",
                    help="also time --no-trial-server: the embedded MLflow server's cost per trial")
    a = ap.parse_args()
    hpo = os.path.abspath(a.hpo)
    b, h, w = [], [], []
    for r in range(a.rounds):
        b.append(bare(a.trials))
        h.append(hpo_run(hpo, a.trials))
        line = f"round {r + 1}: bare spawn {b[-1] * 1e3:.3f} ms, hpo run {h[-1] * 1e3:.3f} ms per trial"
        if a.trial_server:
            w.append(hpo_run(hpo, a.trials, ["--no-trial-server"]))
            line += f", --no-trial-server {w[-1] * 1e3:.3f} ms"
        print(line)
    mb, mh = statistics.median(b), statistics.median(h)
    print(f"median: bare spawn {mb * 1e3:.3f} ms, hpo run {mh * 1e3:.3f} ms per trial, "
          f"overhead {(mh - mb) * 1e3:.3f} ms per trial")
    if w:
        mw = statistics.median(w)
        print(f"median: --no-trial-server {mw * 1e3:.3f} ms per trial; the embedded MLflow server "
              f"costs {(mh - mw) * 1e3:.3f} ms per trial")


if __name__ == "__main__":
    main()
