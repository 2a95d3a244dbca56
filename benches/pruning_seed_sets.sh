#!/bin/sh
# Compares two hpo builds' default pruner with TPE under a step budget of 2700 (a third of no
# pruning's 100 trials x 81 steps) on the six multi-fidelity problems, over three sets of 40
# seeds (0-39, 100-139, 200-239), against TPE without pruning; prints a Markdown table of
# median final regrets and the reports' p-values against no pruning.
#
#   sh benches/pruning_seed_sets.sh OLD_HPO NEW_HPO [OUT_DIR]
#
# e.g. OLD_HPO a build of main before a change, NEW_HPO target/release/hpo. 2880 studies,
# about 4 minutes on 2 cores.
set -eu
old=$1
new=$2
out=${3:-/tmp/pruning-seed-sets}
for build in old new; do
    bin=$old
    [ "$build" = new ] && bin=$new
    for first in 0 100 200; do
        dir="$out/$build-$first"
        mkdir -p "$dir"
        "$bin" bench --problems fidelity --algos tpe --seeds 40 --first-seed "$first" \
            --budget 100 --step-budget 2700 --pruners none,default --out "$dir" -q >/dev/null
    done
done
python3 - "$out" <<'PY'
# reads each run's report.md: its medians, and its p-values (Mann-Whitney U against no
# pruning, computed by hpo bench itself)
import sys

out = sys.argv[1]

def rows(build, first):
    """(problem, optimizer) -> the report's cells: seeds, final regret, steps, ratio, p, ..."""
    table, problem = {}, None
    with open(f"{out}/{build}-{first}/report.md") as f:
        for line in f:
            if line.startswith("## "):
                problem = line[3:].strip()
            elif problem and line.startswith("| hpo-"):
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                table[(problem, cells[0])] = cells[1:]
    return table

problems = ["curves_parallel", "curves_slow_best", "curves_noisy", "curves_crossing",
            "sgd_diabetes", "enet_diabetes"]
met = {"old": 0, "new": 0}
print("| problem | seeds | no pruning (8100 steps) | old default (p) | new default (p) |")
print("|---|---|---:|---:|---:|")
for problem in problems:
    for first in (0, 100, 200):
        old, new = rows("old", first), rows("new", first)
        none = old[(problem, "hpo-tpe+none")][1]
        cells = []
        for build, table in (("old", old), ("new", new)):
            regret, p = table[(problem, "hpo-tpe+default")][1], table[(problem, "hpo-tpe+default")][4]
            met[build] += "worse" not in p
            cells.append(f"{regret} ({p})")
        print(f"| {problem} | {first}-{first + 39} | {none} | {cells[0]} | {cells[1]} |")
print(f"\nnot significantly worse than no pruning: old {met['old']} of 18, new {met['new']} of 18")
PY
