"""Optuna's and hyperopt's TPE on hpo bench's noisy problems (`hpo bench --problems noisy`), for
`--compare`: the same loss plus Gaussian noise fixed by (seed, trial) exactly as hpo draws it
(SplitMix64 hashes, Box-Muller), scored on the noiseless value at the trial with the best observed
loss.

usage: python run_noisy.py BUDGET SEEDS OUT.jsonl [first_seed]      (ONLY=optuna-tpe,... to pick)
Needs: pip install hyperopt optuna numpy
"""
import math, os, sys
import numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from problems import PROBLEMS
from results import write_results

NOISY = {"noisy_branin": ("branin", 0.5), "noisy_hartmann6": ("hartmann6", 0.2),
         "noisy_log_goldstein_price": ("log_goldstein_price", 0.2),
         "noisy_rosenbrock5": ("rosenbrock5", 20.0)}
M64 = (1 << 64) - 1


def mix(z):
    z = (z + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def standard_normal(seed, trial):
    a = mix(seed ^ mix(trial ^ 0x5EED))
    b = mix(a)
    u1 = ((a >> 11) + 1.0) / float(1 << 53)
    u2 = (b >> 11) / float(1 << 53)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def flatten(p):
    q = {}
    for k, v in p.items():
        q.update(v if isinstance(v, dict) else {k: v})
    return q


def scored(observed, clean):
    best, out, score = math.inf, [], math.inf
    for o, c in zip(observed, clean):
        if o < best:
            best, score = o, c
        out.append(score)
    return out


def run(name, opt, seed, budget):
    base, sd = NOISY[name]
    f, spaces, _ = PROBLEMS[base]
    observed, clean = [], []

    def value(params):
        c = f(params)
        y = c + sd * standard_normal(seed, len(observed))
        observed.append(y); clean.append(c)
        return y

    if opt.startswith("hyperopt"):
        from hyperopt import fmin, tpe, Trials
        fmin(lambda p: value(flatten(p)), spaces()[0], algo=tpe.suggest, max_evals=budget,
             trials=Trials(), rstate=np.random.default_rng(seed), show_progressbar=False)
    else:
        import optuna
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        kw = {"seed": seed}
        if opt == "optuna-tpe-uni":
            kw["multivariate"] = False
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(**kw))
        sug = spaces()[1]
        study.optimize(lambda t: value(sug(t)), n_trials=budget)
    return scored(observed, clean)


if __name__ == "__main__":
    budget, seeds, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    first = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    only = os.environ.get("ONLY", "optuna-tpe,optuna-tpe-uni,hyperopt-tpe").split(",")
    write_results(out, [(name, PROBLEMS[NOISY[name][0]][2]) for name in NOISY], only, budget, seeds, first, run)
