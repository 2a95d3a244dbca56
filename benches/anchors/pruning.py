"""Optuna's pruners with its TPE on hpo bench's multi-fidelity problems (`hpo bench --problems
fidelity --pruners ...`), for `--compare`: the same learning curves as src/bench/fidelity.rs (the
same formulas, the same noise hashes, the same SGD on the same diabetes rows, linfa's ElasticNet
coordinate descent ported), each step reported
with trial.report and stopped when trial.should_prune() says so.

Optimizers: optuna-tpe+none (NopPruner), optuna-tpe+median (MedianPruner()),
optuna-tpe+asha (SuccessiveHalvingPruner()), optuna-tpe+hyperband (HyperbandPruner(min_resource=1,
max_resource=81, reduction_factor=3)); TPESampler(seed=seed) with its defaults.

A study is scored as hpo scores it: after each trial, the noiseless final value of the completed
trial with the best observed final value (pruned trials never count); `steps` is the total number
of steps run after each trial.

With STEP_BUDGET=N (as `hpo bench --step-budget N`), every study with a pruner (not `none`) runs
trials until the steps they ran add up to N, with no trial budget: before each step the objective
checks the steps spent, and once they reach N the trial in progress is stopped there (pruned: it
gives no final value) and the study stops; its line carries "step_budget": N. The `none` studies
keep BUDGET trials (the baseline).

usage: python pruning.py BUDGET SEEDS OUT.jsonl [first_seed]
       (ONLY=median,asha to pick pruners; PROBLEMS=curves_parallel,... to pick problems;
        STEP_BUDGET=2700 for the pruned studies' step budget)
Needs: pip install optuna numpy
"""
import gzip, json, math, os, sys, time
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS = 81
DIVERGED = 10.0
NOISE_SD = 0.05
CENTRE = (0.3, 0.7, 0.5, 0.2)
WEIGHT = (1.0, 1.0, 0.5, 0.5)
M64 = (1 << 64) - 1
PROBLEMS = ["curves_parallel", "curves_slow_best", "curves_noisy", "curves_crossing",
            "sgd_diabetes", "enet_diabetes"]
REAL = ("sgd_diabetes", "enet_diabetes")


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


def step_noise(seed, trial, step):
    return standard_normal(seed ^ ((step * 0x9E3779B97F4A7C15) & M64), trial)


def final_value(x):
    s = 0.0
    for i in range(4):
        d = x[i] - CENTRE[i]
        s += WEIGHT[i] * d * d + 0.05 * (1.0 - math.cos(4.0 * math.pi * d))
    return s


def remaining(t, tau):
    return math.exp(-t / tau) - math.exp(-STEPS / tau)


def synthetic_value(problem, x, t):
    a = final_value(x)
    if problem == "curves_parallel":
        return a + remaining(t, 8.0)
    if problem == "curves_slow_best":
        return a + remaining(t, 2.0 + 30.0 * math.exp(-a / 0.1))
    if problem == "curves_noisy":
        return a + remaining(t, 4.0 + 12.0 * x[3])
    if problem == "curves_crossing":
        s = t / STEPS
        return a + remaining(t, 3.0 + 20.0 * x[3]) - 0.5 * (1.0 - x[3]) * (1.0 - s * s)
    raise ValueError(problem)


# --- sgd_diabetes -------------------------------------------------------------------------------

def read_gz_csv(name):
    with gzip.open(os.path.join(HERE, "data", name), "rt") as f:
        lines = f.read().strip().splitlines()[1:]  # linfa reads the first line as a header
    return np.array([[float(v) for v in l.split(",")] for l in lines])


def standardize(train, val):
    m = train.mean(axis=0)
    sd = train.std(axis=0)
    sd[sd == 0] = 1.0
    return (train - m) / sd, (val - m) / sd


def degree2(z):
    cols = [z[:, i] for i in range(z.shape[1])]
    for i in range(z.shape[1]):
        for j in range(i, z.shape[1]):
            cols.append(z[:, i] * z[:, j])
    return np.stack(cols, axis=1)


_DATA = None


def sgd_data():
    global _DATA
    if _DATA is None:
        x = read_gz_csv("diabetes_data.csv.gz")
        y = read_gz_csv("diabetes_target.csv.gz")[:, :1]
        n = len(x)
        rows = [(37 * k) % n for k in range(n)]
        tr, va = rows[:331], rows[331:]
        tx, vx = standardize(x[tr], x[va])
        tx, vx = standardize(degree2(tx), degree2(vx))
        ty, vy = standardize(y[tr], y[va])
        _DATA = (tx, ty[:, 0], vx, vy[:, 0])
    return _DATA


class Sgd:
    def __init__(self, lr, momentum, l2):
        self.lr, self.momentum, self.l2 = lr, momentum, l2
        d = sgd_data()[0].shape[1]
        self.w, self.vw = np.zeros(d), np.zeros(d)
        self.b, self.vb = 0.0, 0.0

    def epoch(self):
        tx, ty, vx, vy = sgd_data()
        with np.errstate(all="ignore"):
            for start in range(0, len(tx), 32):
                xb, yb = tx[start:start + 32], ty[start:start + 32]
                m = float(len(xb))
                err = self.b + xb @ self.w - yb
                g = (err @ xb) / m + self.l2 * self.w
                self.vw = self.momentum * self.vw - self.lr * g
                self.w = self.w + self.vw
                self.vb = self.momentum * self.vb - self.lr * err.sum() / m
                self.b += self.vb
            mse = float(np.mean((self.b + vx @ self.w - vy) ** 2))
        return DIVERGED if (math.isnan(mse) or mse > DIVERGED) else mse


# --- enet_diabetes ------------------------------------------------------------------------------
# linfa's ElasticNet: coordinate descent from zero weights with the target centred (the intercept is
# its mean), tolerance 0 so it runs every sweep it is allowed. A fit with t sweeps is the first t
# sweeps of one run, so one sweep per step here gives the values linfa's refit per step gives.

EPS = 2.220446049250313e-16  # approx's default epsilon in linfa's "is it zero" tests


class Enet:
    def __init__(self, penalty, l1_ratio):
        tx, ty, _, _ = sgd_data()
        self.x = tx[:, :10]
        self.mean = float(ty.mean())
        self.r = ty - self.mean
        self.w = np.zeros(10)
        self.norms = (self.x * self.x).sum(axis=0)
        n = float(len(self.x))
        self.shrink = n * l1_ratio * penalty
        self.ridge = n * (1.0 - l1_ratio) * penalty

    def epoch(self):
        """One more coordinate-descent sweep; the validation MSE after it."""
        for j in range(10):
            if abs(self.norms[j]) <= EPS:
                continue
            xj, old = self.x[:, j], self.w[j]
            if abs(old) > EPS:
                self.r = self.r + old * xj
            tmp = float(xj @ self.r)
            self.w[j] = math.copysign(max(abs(tmp) - self.shrink, 0.0), tmp) / (self.norms[j] + self.ridge)
            if abs(self.w[j]) > EPS:
                self.r = self.r - self.w[j] * xj
        _, _, vx, vy = sgd_data()
        mse = float(np.mean((vx[:, :10] @ self.w + self.mean - vy) ** 2))
        return DIVERGED if (math.isnan(mse) or mse > DIVERGED) else mse


# --- the studies ----------------------------------------------------------------------------------

def suggest(problem, trial):
    if problem == "sgd_diabetes":
        return {"lr": trial.suggest_float("lr", 1e-3, 1.0, log=True),
                "momentum": trial.suggest_float("momentum", 0.0, 0.95),
                "l2": trial.suggest_float("l2", 1e-6, 1.0, log=True)}
    if problem == "enet_diabetes":
        return {"penalty": trial.suggest_float("penalty", 1e-4, 1.0, log=True),
                "l1_ratio": trial.suggest_float("l1_ratio", 0.0, 1.0)}
    return {f"x{i}": trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(4)}


def pruner_of(name):
    import optuna
    return {
        "none": optuna.pruners.NopPruner(),
        "median": optuna.pruners.MedianPruner(),
        "asha": optuna.pruners.SuccessiveHalvingPruner(),
        "hyperband": optuna.pruners.HyperbandPruner(min_resource=1, max_resource=STEPS,
                                                    reduction_factor=3),
    }[name]


def run(problem, pruner, seed, budget, step_budget=None):
    """One study: BUDGET trials, or with step_budget, trials until their steps reach it."""
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    best, trace, steps, total = math.inf, [], [], [0]
    score = [math.inf]

    def objective(trial):
        p = suggest(problem, trial)
        sgd = None
        if problem == "sgd_diabetes":
            sgd = Sgd(p["lr"], p["momentum"], p["l2"])
        elif problem == "enet_diabetes":
            sgd = Enet(p["penalty"], p["l1_ratio"])
        x = [p.get(f"x{i}", 0.0) for i in range(4)]
        last = math.nan
        for t in range(1, STEPS + 1):
            if step_budget is not None and total[0] >= step_budget:
                raise optuna.TrialPruned()  # the budget ends here: stop the trial where it is
            if sgd is not None:
                v = sgd.epoch()
            else:
                v = synthetic_value(problem, x, t)
                if problem == "curves_noisy":
                    v += NOISE_SD * step_noise(seed, trial.number, t)
            total[0] += 1
            last = v
            trial.report(v, t)
            if trial.should_prune():
                raise optuna.TrialPruned()
        clean = last if sgd is not None else synthetic_value(problem, x, STEPS)
        trial.set_user_attr("score", clean)
        return last

    def after(study, frozen):
        nonlocal best
        if frozen.state == optuna.trial.TrialState.COMPLETE and frozen.value < best:
            best = frozen.value
            score[0] = frozen.user_attrs["score"]
        trace.append(score[0])
        steps.append(total[0])
        if step_budget is not None and total[0] >= step_budget:
            study.stop()

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed),
                                pruner=pruner_of(pruner))
    study.optimize(objective, n_trials=budget if step_budget is None else None,
                   callbacks=[after])
    return trace, steps


if __name__ == "__main__":
    budget, seeds, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    first = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    pruners = os.environ.get("ONLY", "none,median,asha,hyperband").split(",")
    problems = os.environ.get("PROBLEMS", ",".join(PROBLEMS)).split(",")
    step_budget = int(os.environ["STEP_BUDGET"]) if os.environ.get("STEP_BUDGET") else None
    with open(out, "a") as f:
        for problem in problems:
            minimum = None if problem in REAL else 0.0
            for pruner in pruners:
                for seed in range(first, first + seeds):
                    start = time.time()
                    steps_of = step_budget if pruner != "none" else None
                    trace, steps = run(problem, pruner, seed, budget, steps_of)
                    last = trace[-1]
                    line = {"problem": problem, "optimizer": f"optuna-tpe+{pruner}",
                            "seed": seed, "budget": len(trace),
                            "best": [v if math.isfinite(v) else None for v in trace],
                            "regret": (last - (minimum or 0.0)) if math.isfinite(last) else None,
                            "minimum": minimum, "seconds": time.time() - start,
                            "steps": steps}
                    if steps_of is not None:
                        line["step_budget"] = steps_of
                    f.write(json.dumps(line) + "\n")
                    f.flush()
                    print(problem, pruner, seed, line["regret"], steps[-1],
                          f"{line['seconds']:.1f}s", file=sys.stderr)
