#!/usr/bin/env python3
"""Per-trial cost of hpo's whole loop against hyperopt, Optuna and rustuna, like for like (issue 18,
item 1): every library runs its own loop (hpo's `fmin`, `examples/suggest_loop.rs`; the others
through `benches/anchors/suggest_latency.py`) on the same 10-parameter space and trivial objective,
timed per trial over the last 100 of n, alternating inside each round; medians over the rounds.

    cargo build --release --example suggest_loop
    python3 benches/like_for_like.py --n 1000 --rounds 3 [--python VENV/bin/python] [--skip optuna]

The anchors need `pip install hyperopt optuna rustuna numpy` in the Python given by --python.
Prints the CPU, one JSON line per measurement, then a table of medians and hpo's ratios.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def cpu():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def lines(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [json.loads(l) for l in out.splitlines() if l.startswith("{")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--skip", action="append", default=[], help="hyperopt, optuna or rustuna")
    a = ap.parse_args()
    hpo = os.path.join(ROOT, "target", "release", "examples", "suggest_loop")
    print(f"cpu: {cpu()}; n = {a.n}; {a.rounds} rounds", flush=True)
    results = {}
    for r in range(a.rounds):
        runs = [[hpo, str(a.n), algo] for algo in ("tpe", "tpe-hyperopt", "random")]
        for lib in ("hyperopt", "optuna", "rustuna"):
            if lib not in a.skip:
                runs.append([a.python, os.path.join(HERE, "anchors", "suggest_latency.py"), str(a.n), lib])
        for cmd in runs:
            for rec in lines(cmd):
                print(json.dumps(rec), flush=True)
                key = (rec["lib"], rec["algo"])
                results.setdefault(key, []).append(rec["ms_per_trial_last100"])
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"\nmedian ms per trial over the last 100 of {a.n} ({a.rounds} rounds):")
    hpo_tpe = next((v for (lib, algo), v in med.items() if lib.startswith("hpo") and algo == "tpe"), None)
    for (lib, algo), v in sorted(med.items()):
        ratio = f"  (hpo tpe is {v / hpo_tpe:.1f}x faster)" if hpo_tpe and not lib.startswith("hpo") else ""
        print(f"  {lib:24} {algo:18} {v:9.3f}{ratio}")


if __name__ == "__main__":
    main()
