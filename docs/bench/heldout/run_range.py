"""run_anchors.py for seeds FIRST..FIRST+N-1 (run_anchors.py itself runs 0..N-1).
usage: python3 run_range.py BUDGET FIRST N OUT.jsonl [problem ...]   (ONLY=opt1,opt2; ANCHORS=dir of run_anchors.py)"""
import json, os, sys, time
import numpy as np
sys.path.insert(0, os.environ.get("ANCHORS", "/work/shared/anchors"))
import run_anchors as ra
budget, first, n, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
names = sys.argv[5:] or list(ra.PROBLEMS)
only = os.environ.get("ONLY")
opts = {k: v for k, v in ra.OPTS.items() if not only or k in only.split(",")}
with open(out, "a") as fh:
    for name in names:
        m = ra.minimum(name)
        for opt, fn in opts.items():
            for s in range(first, first + n):
                t0 = time.perf_counter()
                tr = fn(name, s, budget)
                best = list(np.minimum.accumulate(tr))
                fh.write(json.dumps({"problem": name, "optimizer": opt, "seed": s, "budget": budget,
                                     "best": [round(v, 10) for v in best], "regret": best[-1] - m,
                                     "minimum": m, "seconds": round(time.perf_counter() - t0, 3)}) + "\n")
                fh.flush()
        print("done", name, flush=True)
