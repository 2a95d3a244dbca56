#!/usr/bin/env python3
"""Faults probe for `hpo run` (issue 13's acceptance): kill -9 at random moments, Ctrl-C, a deleted
store, and (as root, with `mount`) a full disk on a small tmpfs.

For each fault it checks: no trial process alive 2 s after hpo is gone, no trial left RUNNING after
the next `--resume`, no duplicate trial numbers, and exit code 0 only when every trial is in the
store. Prints one line per round and a summary. Standard library only.

    python3 benches/faults_probe.py --hpo target/release/hpo [--kills 20] [--ctrlc 10]
"""

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

STUDY = """[study]
name = "probe"
max_evals = {max_evals}
parallelism = 2
seed = 7
[objective]
command = ["sh", "-c", "echo $$ >> {pids}; (sh -c 'echo $$ >> {pids}; exec sleep 30' &); sleep {sleep}; echo {{x}}"]
[space]
x = {{ uniform = [0, 1] }}
"""


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def pids(path):
    try:
        with open(path) as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return []


def runs(hpo, uri):
    out = subprocess.run(
        [hpo, "runs", "list", "-e", "probe", "--max-results", "50000", "--json", "--tracking-uri", uri],
        capture_output=True, text=True)
    if out.returncode != 0:
        return []
    return json.loads(out.stdout)["runs"]


def trials_of(all_runs):
    return [r for r in all_runs if any(t["key"] == "hpo.runType" and t["value"] == "trial"
                                       for t in r["data"]["tags"])]


def number(run):
    return next(int(t["value"]) for t in run["data"]["tags"] if t["key"] == "hpo.trialNumber")


def check_orphans(pid_file, started_before):
    time.sleep(2.0)
    return [p for p in pids(pid_file) if p not in started_before and alive(p)]


def run_round(hpo, workdir, uri, study, kill_after, sig):
    """Start (or resume) the study, send `sig` after `kill_after` s; return (exit code, orphans)."""
    pid_file = os.path.join(workdir, "pids")
    before = set(pids(pid_file))
    env = dict(os.environ, TMPDIR=os.path.join(workdir, "tmp"))
    p = subprocess.Popen([hpo, "run", "-q", "--resume", study, "--tracking-uri", uri],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    time.sleep(kill_after)
    if p.poll() is None:
        p.send_signal(sig)
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return "hung", []
    return p.returncode, check_orphans(pid_file, before)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hpo", default="target/release/hpo")
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--ctrlc", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    hpo = os.path.abspath(a.hpo)
    rng = random.Random(a.seed)
    work = tempfile.mkdtemp(prefix="hpo-faults-")
    os.makedirs(os.path.join(work, "tmp"))
    uri = f"sqlite:///{work}/probe.db"
    study = os.path.join(work, "probe.toml")
    with open(study, "w") as f:
        f.write(STUDY.format(max_evals=1000, pids=os.path.join(work, "pids"), sleep=2))
    summary = {"kill9_orphans": 0, "ctrlc_orphans": 0, "ctrlc_bad_exit": 0, "hung": 0}
    for i in range(a.kills):
        t = rng.uniform(0.3, 4.0)
        code, orphans = run_round(hpo, work, uri, study, t, signal.SIGKILL)
        summary["kill9_orphans"] += len(orphans)
        summary["hung"] += code == "hung"
        print(f"kill -9 #{i + 1} after {t:.2f} s: exit {code}, orphans {len(orphans)}")
    for i in range(a.ctrlc):
        t = rng.uniform(0.3, 4.0)
        code, orphans = run_round(hpo, work, uri, study, t, signal.SIGINT)
        summary["ctrlc_orphans"] += len(orphans)
        summary["ctrlc_bad_exit"] += code != 130
        summary["hung"] += code == "hung"
        print(f"Ctrl-C #{i + 1} after {t:.2f} s: exit {code}, orphans {len(orphans)}")
    # one more resume (stopped quickly) marks what was left running
    run_round(hpo, work, uri, study, 0.5, signal.SIGINT)
    trials = trials_of(runs(hpo, uri))
    numbers = [number(r) for r in trials]
    summary["trials"] = len(trials)
    summary["left_running"] = sum(r["info"]["status"] == "RUNNING" for r in trials)
    summary["duplicate_numbers"] = len(numbers) - len(set(numbers))
    summary["scratch_dirs_left"] = len(os.listdir(os.path.join(work, "tmp")))

    # the store deleted mid-study: the exit code must not be 0
    deleted = os.path.join(work, "deleted")
    os.makedirs(os.path.join(deleted, "tmp"))
    duri = f"sqlite:///{deleted}/d.db"
    dstudy = os.path.join(deleted, "d.toml")
    with open(dstudy, "w") as f:
        f.write(STUDY.format(max_evals=6, pids=os.path.join(deleted, "pids"), sleep=0.5))
    p = subprocess.Popen([hpo, "run", "-q", dstudy, "--tracking-uri", duri],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.8)
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(f"{deleted}/d.db{suffix}")
        except FileNotFoundError:
            pass
    p.wait(timeout=60)
    summary["deleted_store_exit"] = p.returncode

    # a full disk: a 1 MB tmpfs holding the store (root only)
    full = os.path.join(work, "full")
    os.makedirs(full)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", full],
                             capture_output=True).returncode == 0
    if mounted:
        try:
            fstudy = os.path.join(work, "f.toml")
            with open(fstudy, "w") as f:
                f.write('[study]\nname = "probe"\nmax_evals = 20000\nseed = 1\n'
                        '[objective]\nfunction = "branin"\n[space]\n'
                        'x1 = { uniform = [-5, 10] }\nx2 = { uniform = [0, 15] }\n')
            furi = f"sqlite:///{full}/f.db"
            out = subprocess.run([hpo, "run", "-q", "--json", fstudy, "--tracking-uri", furi],
                                 capture_output=True, text=True, timeout=600)
            summary["disk_full_exit"] = out.returncode
            summary["disk_full_stderr"] = out.stderr.strip().splitlines()[-1:] if out.stderr else []
        finally:
            subprocess.run(["umount", full])
    else:
        summary["disk_full_exit"] = "skipped (mount not permitted)"
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    sys.exit(main())
