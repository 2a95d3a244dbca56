#!/usr/bin/env python3
"""`hpo server` and MLflow's own `mlflow server` side by side, measured alternately in one run.

    python3 benches/mlflow_server_compare.py --hpo target/release/hpo \\
        --mlflow-python target/mlflow-server-venv/bin/python \\
        --client-python target/mlflow-venv/bin/python [--rounds 3]

Both servers run on this machine over a SQLite file of their own (each with its default number of
workers), on loopback ports. Each round runs, against one server and then the other (the order
alternates between rounds), the same two client scripts with the same MLflow client:

- `benches/mlflow_log_metric.py`: the client's per-call latency of `log_metric` and `log_batch`
  (10 metrics), and a bare `requests` post of `runs/log-metric`;
- `benches/mlflow_throughput.py`: sustained `log_metric` calls per second with 1, 8 and 32
  concurrent client processes, and the errors.

and `hpo run` of a study of `--study-trials` random-search trials of the built-in `branin`
function (parallelism 1) recorded into each server over `--tracking-uri http://...`, against the
same study into a local SQLite file: milliseconds per trial (process start included).

The throughput of Python clients on a small machine is bound by the clients' own CPU (about 2 ms
of it per `log_metric` call), so the script also reads each server's CPU time (the process and its
children, from /proc) over the throughput runs and prints the server's CPU milliseconds per call.

Prints each round's figures, then the medians over rounds and the ratios hpo / mlflow.
"""

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url, proc, limit=300):
    start = time.time()
    while time.time() - start < limit:
        if proc.poll() is not None:
            sys.exit(f"the server for {url} exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url + "/api/2.0/mlflow/experiments/search?max_results=1", timeout=5)
            return
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.5)
    sys.exit(f"{url} did not answer within {limit} s")


def start_servers(args, work):
    servers = {}
    port = free_port()
    d = os.path.join(work, "hpo")
    os.makedirs(d)
    hpo = subprocess.Popen(
        [args.hpo, "server", "--backend-store-uri", f"sqlite:///{d}/bench.db", "--port", str(port)],
        cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    servers["hpo"] = (hpo, f"http://127.0.0.1:{port}")
    port = free_port()
    d = os.path.join(work, "mlflow")
    os.makedirs(d)
    ml = subprocess.Popen(
        [args.mlflow_python, "-m", "mlflow", "server", "--backend-store-uri",
         f"sqlite:///{d}/bench.db", "--host", "127.0.0.1", "--port", str(port)],
        cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    servers["mlflow"] = (ml, f"http://127.0.0.1:{port}")
    for proc, url in servers.values():
        wait_ready(url, proc)
    return servers


def cpu_seconds(pid):
    """CPU time (user + system) of process `pid` and its descendants, in seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    children, cpu = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        cpu[int(entry)] = (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / tick
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += cpu.get(p, 0.0)
        todo.extend(children.get(p, []))
    return total


def run_client(args, url, script, extra, calls=None):
    env = dict(os.environ, MLFLOW_TRACKING_URI=url)
    env.pop("HPO_TRACKING_URI", None)
    if calls:
        env["HPO_BENCH_CALLS"] = str(calls)
    out = subprocess.run([args.client_python, os.path.join(HERE, script), *extra],
                         env=env, capture_output=True, text=True, check=True)
    return out.stdout


LATENCY = re.compile(r"^(.+?)\s+n=\s*(\d+)\s+p50 ([\d.]+) ms")
THROUGHPUT = re.compile(r"^\s*(\d+) clients:\s+(\d+) log_metric calls/s, (\d+) errors")


STUDY = """[study]
name = "remote-{tag}"
algo = "random"
max_evals = {n}
seed = 1
[objective]
function = "branin"
[space]
x1 = {{ uniform = [-5, 10] }}
x2 = {{ uniform = [0, 15] }}
"""


def study_ms_per_trial(args, uri, tag, n):
    with tempfile.TemporaryDirectory() as d:
        f = os.path.join(d, "s.toml")
        with open(f, "w") as fh:
            fh.write(STUDY.format(n=n, tag=tag))
        t = time.perf_counter()
        subprocess.run([args.hpo, "run", "-q", f, "--tracking-uri", uri or f"sqlite:///{d}/h.db"],
                       cwd=d, stdout=subprocess.DEVNULL, check=True)
        return (time.perf_counter() - t) * 1000 / n


def measure(args, name, url, pid):
    n = args.n if name == "hpo" else args.n_mlflow
    lat = {}
    if args.study_only:
        n = args.study_trials if name == "hpo" else args.study_trials_mlflow
        lat["hpo run, ms per trial"] = study_ms_per_trial(args, url, f"{name}-{time.time_ns()}", n)
        return lat, {}
    for line in run_client(args, url, "mlflow_log_metric.py", [str(n)]).splitlines():
        m = LATENCY.match(line)
        if m:
            lat[m.group(1).strip()] = float(m.group(3))
    calls = args.calls if name == "hpo" else args.calls_mlflow
    thr = {}
    before = cpu_seconds(pid)
    out = run_client(args, url, "mlflow_throughput.py", [str(c) for c in args.clients], calls)
    spent = cpu_seconds(pid) - before
    total_calls = calls * sum(args.clients)
    lat["server CPU per log_metric (throughput runs)"] = spent * 1000 / total_calls
    for line in out.splitlines():
        m = THROUGHPUT.match(line)
        if m:
            thr[int(m.group(1))] = (int(m.group(2)), int(m.group(3)))
    n = args.study_trials if name == "hpo" else args.study_trials_mlflow
    lat["hpo run, ms per trial"] = study_ms_per_trial(args, url, f"{name}-{time.time_ns()}", n)
    return lat, thr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hpo", default="target/release/hpo")
    ap.add_argument("--mlflow-python", default="target/mlflow-server-venv/bin/python")
    ap.add_argument("--client-python", default="target/mlflow-venv/bin/python")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--n", type=int, default=2000, help="latency calls per round against hpo")
    ap.add_argument("--n-mlflow", type=int, default=300, help="latency calls against mlflow")
    ap.add_argument("--calls", type=int, default=300, help="log_metric calls per client, hpo")
    ap.add_argument("--calls-mlflow", type=int, default=60, help="calls per client, mlflow")
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--study-trials", type=int, default=200, help="hpo run trials into hpo server")
    ap.add_argument("--study-trials-mlflow", type=int, default=40, help="into mlflow server")
    ap.add_argument("--study-only", action="store_true", help="time only hpo run into each server")
    args = ap.parse_args()
    for k in ("hpo", "mlflow_python", "client_python"):
        setattr(args, k, os.path.abspath(getattr(args, k)))
    work = tempfile.mkdtemp(prefix="hpo-vs-mlflow-")
    servers = start_servers(args, work)
    results = {"hpo": [], "mlflow": [], "local": []}
    try:
        for r in range(args.rounds):
            order = ["hpo", "mlflow"] if r % 2 == 0 else ["mlflow", "hpo"]
            for name in order:
                lat, thr = measure(args, name, servers[name][1], servers[name][0].pid)
                results[name].append((lat, thr))
                lat_text = ", ".join(f"{k} p50 {v:.3f} ms" for k, v in lat.items())
                thr_text = ", ".join(f"{c}: {t}/s ({e} errors)" for c, (t, e) in thr.items())
                print(f"round {r + 1} {name:6} {lat_text}; {thr_text}", flush=True)
            local = study_ms_per_trial(args, None, "local", args.study_trials)
            results.setdefault("local", []).append(local)
            print(f"round {r + 1} local  hpo run into SQLite: {local:.3f} ms per trial", flush=True)
    finally:
        for proc, _ in servers.values():
            try:
                os.killpg(proc.pid, 15)
            except ProcessLookupError:
                pass
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)
    print("\nmedians over rounds")
    keys = list(results["hpo"][0][0])
    for k in keys:
        h = statistics.median(x[0][k] for x in results["hpo"])
        m = statistics.median(x[0][k] for x in results["mlflow"])
        print(f"  {k:24} hpo {h:8.3f} ms   mlflow {m:8.3f} ms   mlflow/hpo {m / h:6.1f}x")
    print(f"  hpo run into a local SQLite file: {statistics.median(results['local']):.3f} ms per trial")
    for c in [] if args.study_only else args.clients:
        h = statistics.median(x[1][c][0] for x in results["hpo"])
        m = statistics.median(x[1][c][0] for x in results["mlflow"])
        he = sum(x[1][c][1] for x in results["hpo"])
        me = sum(x[1][c][1] for x in results["mlflow"])
        print(f"  {c:3} clients log_metric/s  hpo {h:8.0f} ({he} errors)   mlflow {m:8.0f} "
              f"({me} errors)   hpo/mlflow {h / m:6.1f}x")


if __name__ == "__main__":
    main()
