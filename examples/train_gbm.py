#!/usr/bin/env python3
"""A small gradient-boosted regression trees trainer in plain Python, as a command objective.

The classic hyperopt + MLflow tutorial tunes XGBoost on NYC taxi data with this space (see
spaces/xgboost.toml); this script stands in for it without any dependency: it boosts depth-limited
regression trees on a fixed synthetic data set (400 rows, 6 features, a non-linear target) and
reports the validation RMSE. It understands the tutorial's arguments:

    python3 examples/train_gbm.py --max-depth 4 --learning-rate 0.1 --reg-lambda 0.01 \
        --reg-alpha 0.001 --min-child-weight 1.5 --objective reg:squarederror --seed 42
"""
import argparse
import json
import math
import random


def data(n=400, seed=1):
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        x = [rng.uniform(-2, 2) for _ in range(6)]
        y = math.sin(2 * x[0]) + x[1] * x[2] + 0.5 * x[3] ** 2 + rng.gauss(0, 0.3)
        rows.append((x, y))
    return rows[:300], rows[300:]


def leaf(g, lam, alpha):
    s = sum(g)
    s = math.copysign(max(abs(s) - alpha, 0.0), s)
    return s / (len(g) + lam)


def build(rows, resid, depth, lam, alpha, min_child):
    """A regression tree on (rows, residuals): ('leaf', v) or ('split', f, t, left, right)."""
    if depth == 0 or len(rows) < 2 * min_child:
        return ("leaf", leaf(resid, lam, alpha))
    best = None
    total, n = sum(resid), len(resid)
    for f in range(len(rows[0])):
        order = sorted(range(n), key=lambda i: rows[i][f])
        left = 0.0
        for k in range(1, n):
            left += resid[order[k - 1]]
            if k < min_child or n - k < min_child:
                continue
            gain = left * left / (k + lam) + (total - left) ** 2 / (n - k + lam)
            if best is None or gain > best[0]:
                best = (gain, f, rows[order[k - 1]][f], order[:k], order[k:])
    if best is None:
        return ("leaf", leaf(resid, lam, alpha))
    _, f, t, li, ri = best
    return ("split", f, t,
            build([rows[i] for i in li], [resid[i] for i in li], depth - 1, lam, alpha, min_child),
            build([rows[i] for i in ri], [resid[i] for i in ri], depth - 1, lam, alpha, min_child))


def predict(tree, x):
    while tree[0] == "split":
        tree = tree[3] if x[tree[1]] <= tree[2] else tree[4]
    return tree[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-depth", type=int, required=True)
    ap.add_argument("--learning-rate", type=float, required=True)
    ap.add_argument("--reg-lambda", type=float, default=1.0)
    ap.add_argument("--reg-alpha", type=float, default=0.0)
    ap.add_argument("--min-child-weight", type=float, default=1.0)
    ap.add_argument("--objective", default="reg:squarederror")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=30)
    a = ap.parse_args()
    train, valid = data()
    depth = max(1, min(a.max_depth, 4))  # deeper trees only cost time on 300 rows
    xs, ys = [r[0] for r in train], [r[1] for r in train]
    pred, vpred = [0.0] * len(train), [0.0] * len(valid)
    for rnd in range(a.rounds):
        resid = [y - p for y, p in zip(ys, pred)]
        tree = build(xs, resid, depth, a.reg_lambda, a.reg_alpha, max(1, int(a.min_child_weight)))
        pred = [p + a.learning_rate * predict(tree, x) for p, x in zip(pred, xs)]
        vpred = [p + a.learning_rate * predict(tree, x) for p, (x, _) in zip(vpred, valid)]
        if rnd % 10 == 9:
            rmse = math.sqrt(sum((p - y) ** 2 for p, (_, y) in zip(vpred, valid)) / len(valid))
            print(json.dumps({"step": rnd + 1, "val_rmse": rmse}), flush=True)
    rmse = math.sqrt(sum((p - y) ** 2 for p, (_, y) in zip(vpred, valid)) / len(valid))
    print(json.dumps({"loss": rmse, "metrics": {"train_rmse": math.sqrt(sum((p - y) ** 2 for p, y in zip(pred, ys)) / len(ys))}}))


if __name__ == "__main__":
    main()
