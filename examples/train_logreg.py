#!/usr/bin/env python3
"""A command objective for hpo: logistic regression with an L1 or L2 penalty, in plain Python.

hpo runs it once per trial with the trial's values in place of {C} and {penalty}:

    python3 examples/train_logreg.py --C 0.5 --penalty l1

It trains on a fixed synthetic data set (600 rows, 10 features, 3 of them informative), prints the
validation log loss every 20 epochs as a learning curve ({"step": ..., "val_log_loss": ...}), and
ends with the result line hpo reads: {"loss": <validation log loss>, "metrics": {"accuracy": ...}}.
A file left in $HPO_ARTIFACT_DIR (the weights) becomes an artifact of the trial.
"""
import argparse
import json
import math
import os
import random


def data(n=600, d=10, seed=0):
    rng = random.Random(seed)
    w_true = [2.0, -3.0, 1.5] + [0.0] * (d - 3)
    rows = []
    for _ in range(n):
        x = [rng.gauss(0, 1) for _ in range(d)]
        z = sum(w * v for w, v in zip(w_true, x)) + rng.gauss(0, 1.5)
        rows.append((x, 1 if z > 0 else 0))
    return rows[: n * 2 // 3], rows[n * 2 // 3:]


def sigmoid(z):
    return 1 / (1 + math.exp(-max(min(z, 35), -35)))


def log_loss(w, b, rows):
    s = 0.0
    for x, y in rows:
        p = min(max(sigmoid(sum(wi * xi for wi, xi in zip(w, x)) + b), 1e-12), 1 - 1e-12)
        s -= y * math.log(p) + (1 - y) * math.log(1 - p)
    return s / len(rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--C", type=float, required=True, help="inverse regularization strength")
    ap.add_argument("--penalty", choices=["l1", "l2"], required=True)
    ap.add_argument("--epochs", type=int, default=100)
    args = ap.parse_args()
    if args.C <= 0:
        raise SystemExit("C must be positive")
    train, valid = data()
    d = len(train[0][0])
    w, b, lr = [0.0] * d, 0.0, 0.1
    lam = 1.0 / (args.C * len(train))
    for epoch in range(args.epochs):
        gw, gb = [0.0] * d, 0.0
        for x, y in train:
            err = sigmoid(sum(wi * xi for wi, xi in zip(w, x)) + b) - y
            for j in range(d):
                gw[j] += err * x[j]
            gb += err
        n = len(train)
        for j in range(d):
            w[j] -= lr * gw[j] / n
            if args.penalty == "l2":
                w[j] -= lr * lam * w[j]
            else:  # proximal step for L1
                w[j] = math.copysign(max(abs(w[j]) - lr * lam, 0.0), w[j])
        b -= lr * gb / n
        if epoch % 20 == 19:
            print(json.dumps({"step": epoch + 1, "val_log_loss": log_loss(w, b, valid)}), flush=True)
    acc = sum((sigmoid(sum(wi * xi for wi, xi in zip(w, x)) + b) > 0.5) == (y == 1) for x, y in valid) / len(valid)
    out = os.environ.get("HPO_ARTIFACT_DIR")
    if out:
        with open(os.path.join(out, "weights.json"), "w") as fh:
            json.dump({"w": w, "b": b}, fh)
    print(json.dumps({"loss": log_loss(w, b, valid), "metrics": {"accuracy": acc}}))


if __name__ == "__main__":
    main()
