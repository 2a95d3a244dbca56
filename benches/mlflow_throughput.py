"""Sustained log_metric throughput of a tracking server with N concurrent MLflow client processes.

    hpo server --backend-store-uri sqlite:///bench.db --port 5124 &
    MLFLOW_TRACKING_URI=http://127.0.0.1:5124 target/mlflow-venv/bin/python benches/mlflow_throughput.py 1 8 32

Each client process makes its own run, waits at a barrier, then calls log_metric CALLS times
(300, or `HPO_BENCH_CALLS`); prints the calls per second over all clients (from the barrier to the
last client done) and the errors. `benches/mlflow_server_compare.py` runs it against `hpo server`
and `mlflow server` alternately.
"""

import multiprocessing as mp
import os
import sys
import time

CALLS = int(os.environ.get("HPO_BENCH_CALLS", "300"))


def client(barrier, results):
    from mlflow import MlflowClient

    c = MlflowClient()
    exp = c.get_experiment_by_name("throughput")
    run = c.create_run(exp.experiment_id).info.run_id
    barrier.wait()
    errors = 0
    for i in range(CALLS):
        try:
            c.log_metric(run, "loss", float(i), step=i)
        except Exception:  # noqa: BLE001 - counted, not raised
            errors += 1
    results.put((time.time(), errors))


def main():
    from mlflow import MlflowClient

    if MlflowClient().get_experiment_by_name("throughput") is None:
        MlflowClient().create_experiment("throughput")
    for n in [int(a) for a in sys.argv[1:]] or [1, 8, 32]:
        barrier = mp.Barrier(n + 1)
        results = mp.Queue()
        procs = [mp.Process(target=client, args=(barrier, results)) for _ in range(n)]
        for p in procs:
            p.start()
        barrier.wait()
        start = time.time()
        done = [results.get() for _ in procs]
        for p in procs:
            p.join()
        elapsed = max(t for t, _ in done) - start
        errors = sum(e for _, e in done)
        print(f"{n:3} clients: {n * CALLS / elapsed:8.0f} log_metric calls/s, {errors} errors")


if __name__ == "__main__":
    main()
