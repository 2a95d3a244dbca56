"""Optuna's TPE on hpo bench's multimodal problems (`hpo bench --problems multimodal`,
src/bench/multimodal.rs), for `--compare`: the same losses, spaces and shifted optima.

usage: python run_multimodal.py BUDGET SEEDS OUT.jsonl [first_seed]   (ONLY=optuna-tpe,... to pick)
       python run_multimodal.py check        (prints the values src/bench/multimodal.rs tests)
Needs: pip install optuna numpy
"""
import math, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from results import write_results

GOLDEN = 0.6180339887498949


def shift(i, scale):
    u = math.fmod((i + 1.0) * GOLDEN, 1.0)
    return round((2.0 * u - 1.0) * scale * 1000.0) / 1000.0


def levy(x):
    w = [1.0 + (v - 1.0) / 4.0 for v in x]
    s = math.sin(math.pi * w[0]) ** 2
    for wi in w[:-1]:
        s += (wi - 1.0) ** 2 * (1.0 + 10.0 * math.sin(math.pi * wi + 1.0) ** 2)
    return s + (w[-1] - 1.0) ** 2 * (1.0 + math.sin(2.0 * math.pi * w[-1]) ** 2)


def levy_shifted(x):
    return levy([v - shift(i, 6.0) for i, v in enumerate(x)])


def rastrigin_moved(x):
    return 10.0 * len(x) + sum((v - shift(i, 3.0)) ** 2 - 10.0 * math.cos(2.0 * math.pi * (v - shift(i, 3.0)))
                               for i, v in enumerate(x))


def schwefel(x):
    return 418.9828872724339 * len(x) - sum(v * math.sin(math.sqrt(abs(v))) for v in x)


# name: (loss of a list, dimension, low, high, minimum)
PROBLEMS = {
    "levy5_shifted": (levy_shifted, 5, -10.0, 10.0, 0.0),
    "levy20_shifted": (levy_shifted, 20, -10.0, 10.0, 0.0),
    "rastrigin10_shifted": (rastrigin_moved, 10, -5.12, 5.12, 0.0),
    "schwefel5": (schwefel, 5, -500.0, 500.0, 0.0),
}


def run(name, opt, seed, budget):
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    f, d, lo, hi, _ = PROBLEMS[name]
    kw = {"seed": seed}
    kw["multivariate"] = opt == "optuna-tpe"
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(**kw))
    study.optimize(lambda t: f([t.suggest_float(f"x{i}", lo, hi) for i in range(d)]), n_trials=budget)
    best, out = math.inf, []
    for t in study.trials:
        best = min(best, t.value)
        out.append(best)
    return out


if __name__ == "__main__":
    if sys.argv[1] == "check":
        x = [-9.0 + 0.9 * i for i in range(20)]
        print(repr(levy_shifted(x[:5])), repr(levy_shifted(x)), repr(rastrigin_moved([v / 2 for v in x[:10]])),
              repr(schwefel([v * 50 for v in x[:5]])), [shift(i, 6.0) for i in range(3)])
        sys.exit(0)
    budget, seeds, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    first = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    only = os.environ.get("ONLY", "optuna-tpe,optuna-tpe-uni").split(",")
    write_results(out, [(name, spec[4]) for name, spec in PROBLEMS.items()], only, budget, seeds, first, run)
