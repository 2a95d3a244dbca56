"""The anchors' result lines for `hpo bench --compare`: one JSON line per (problem, optimizer,
seed), the same fields `hpo bench` writes."""
import json, time


def write_results(out, problems, optimizers, budget, seeds, first, run):
    """Appends to `out` the result of `run(problem, optimizer, seed, budget)` (the best loss so
    far after each trial) for every (problem, minimum) in `problems`, optimizer and seed
    first..first+seeds."""
    with open(out, "a") as fh:
        for name, minimum in problems:
            for opt in optimizers:
                for s in range(first, first + seeds):
                    t0 = time.perf_counter()
                    best = run(name, opt, s, budget)
                    fh.write(json.dumps({"problem": name, "optimizer": opt, "seed": s, "budget": budget,
                                         "best": [round(v, 10) for v in best], "regret": best[-1] - minimum,
                                         "minimum": minimum, "seconds": round(time.perf_counter() - t0, 3)}) + "\n")
                    fh.flush()
            print("done", name, flush=True)
