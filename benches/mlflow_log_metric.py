"""Per-call latency of the MLflow client's log_metric (and log_batch) against a tracking server.

Usage (hpo server, then the same script against `mlflow server` for comparison):

    hpo server --backend-store-uri sqlite:///bench.db --port 5123 &
    MLFLOW_TRACKING_URI=http://127.0.0.1:5123 target/mlflow-venv/bin/python benches/mlflow_log_metric.py 2000

Prints p50/p90/p99 and the mean in milliseconds, measured around each client call (so it includes
the client's own work: building the request, requests' connection pool, parsing the answer), and the
same for a bare `requests` session posting `runs/log-metric` (the HTTP round trip and the server),
and the client process's own CPU time per `log_metric` call (a floor under its latency).
`benches/mlflow_server_compare.py` runs it against `hpo server` and `mlflow server` alternately.
"""

import os
import statistics
import sys
import time

from mlflow import MlflowClient
from mlflow.entities import Metric


def percentiles(samples):
    s = sorted(samples)
    pick = lambda q: s[min(len(s) - 1, int(q * len(s)))]
    return {"p50": pick(0.50), "p90": pick(0.90), "p99": pick(0.99), "mean": statistics.fmean(s)}


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    client = MlflowClient()
    exp = client.create_experiment(f"bench-{time.time_ns()}")
    run = client.create_run(exp).info.run_id
    for i in range(20):  # warm up the connection pool
        client.log_metric(run, "warmup", float(i), step=i)
    single = []
    cpu0 = time.process_time()
    for i in range(n):
        t = time.perf_counter()
        client.log_metric(run, "loss", 1.0 / (i + 1), step=i)
        single.append((time.perf_counter() - t) * 1000)
    # the client's own CPU per call: a floor under its latency whatever the server does
    client_cpu = (time.process_time() - cpu0) / n * 1000
    batch = []
    for i in range(max(1, n // 10)):
        now = int(time.time() * 1000)
        metrics = [Metric(f"m{k}", float(i), now, i) for k in range(10)]
        t = time.perf_counter()
        client.log_batch(run, metrics=metrics)
        batch.append((time.perf_counter() - t) * 1000)
    # the same log-metric call without the MLflow client: one requests session, the JSON body
    # prepared, so what remains is the HTTP round trip and the server
    import requests

    url = os.environ["MLFLOW_TRACKING_URI"].rstrip("/") + "/api/2.0/mlflow/runs/log-metric"
    session = requests.Session()
    raw = []
    for i in range(n):
        body = {"run_id": run, "key": "raw", "value": float(i), "timestamp": 1, "step": i}
        t = time.perf_counter()
        session.post(url, json=body).raise_for_status()
        raw.append((time.perf_counter() - t) * 1000)
    print(f"{'client CPU per log_metric':24} {client_cpu:.3f} ms")
    client.set_terminated(run)
    assert len(client.get_metric_history(run, "loss")) == n
    assert len(client.get_metric_history(run, "raw")) == n
    for name, samples in [
        ("log_metric", single),
        ("log_batch (10 metrics)", batch),
        ("raw HTTP log-metric", raw),
    ]:
        p = percentiles(samples)
        print(
            f"{name:24} n={len(samples):5}  p50 {p['p50']:.3f} ms  p90 {p['p90']:.3f} ms  "
            f"p99 {p['p99']:.3f} ms  mean {p['mean']:.3f} ms"
        )


if __name__ == "__main__":
    main()
