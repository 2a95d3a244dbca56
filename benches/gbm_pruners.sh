#!/bin/sh
# The xgboost tutorial's study (spaces/xgboost.toml: TPE, 30 trials, 2 at a time) on
# examples/train_gbm.py with 100 boosting rounds (a val_rmse report every 10), without a pruner,
# with `extrapolate` and with `median`, over seeds 1..N. Prints one line per (seed, pruner): the
# best validation RMSE and the boosting rounds run (3000 without pruning), then the medians.
#
#   sh benches/gbm_pruners.sh [N] [path/to/hpo]
#
# A sanity check of the pruners on a command objective, not a benchmark of record: with two
# trials at a time a pruning decision depends on which trials had finished, so a seed's figures
# vary from run to run.
set -eu
n=${1:-8}
hpo=${2:-target/release/hpo}
repo=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for k in none extrapolate median; do
    sed -e "s|\"examples/train_gbm.py\",|\"$repo/examples/train_gbm.py\", \"--rounds\", \"100\",|" \
        -e "s|name = \"xgboost-tutorial\"|name = \"gbm-$k\"|" "$repo/spaces/xgboost.toml" > "$dir/$k.toml"
    if [ "$k" != none ]; then
        printf '\n[pruner]\nkind = "%s"\nmetric = "val_rmse"\n' "$k" >> "$dir/$k.toml"
    fi
done
s=1
while [ "$s" -le "$n" ]; do
    for k in none extrapolate median; do
        sed -i "s/^seed = [0-9]*$/seed = $s/" "$dir/$k.toml"
        "$hpo" run "$dir/$k.toml" --tracking-uri "sqlite:///$dir/gbm.db" -q --json |
            python3 -c '
import json, sys
d = json.load(sys.stdin)
p = d.get("pruning") or {}
print(sys.argv[1], sys.argv[2], "%.4f" % d["best"]["loss"], p.get("steps_run", 3000))' "$s" "$k"
    done
    s=$((s + 1))
done | tee "$dir/lines"
python3 - "$dir/lines" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
for k in ("none", "extrapolate", "median"):
    mine = [r for r in rows if r[1] == k]
    rmse = statistics.median(float(r[2]) for r in mine)
    steps = statistics.median(int(r[3]) for r in mine)
    print(f"{k:12} median best rmse {rmse:.4f}, median rounds run {steps:.0f} of 3000")
PY
