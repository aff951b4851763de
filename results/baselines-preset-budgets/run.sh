#!/bin/sh
# Table 2's baselines on TextureMNIST2 with 1,000 labels at their quick presets' own budgets
# (ladder-quick 20 epochs, convnet-quick 10, mlp-quick 20; results/baselines-quick had cut them to
# 5 / 1 / 10), one BLAS thread each, one after the other; the MLP, the cheapest, with three seeds.
# Exactly what ran, in this order. Run from the repository root:
#   sh results/baselines-preset-budgets/run.sh MNIST_DIR [WORK_DIR]
# WORK_DIR (default runs/baselines-preset-budgets) receives the data and the run folders.
set -eu
MNIST=${1:?usage: sh results/baselines-preset-budgets/run.sh MNIST_DIR [WORK_DIR]}
WORK=${2:-runs/baselines-preset-budgets}
RESULTS=results/baselines-preset-budgets
TAGGER=${TAGGER:-tagger-ref}
PYTHON=${PYTHON:-python3}    # the Python that has tagger_ref installed
mkdir -p "$WORK"
stamp() { date -u +%Y-%m-%dT%H:%M:%SZ; }
echo "start $(stamp); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$RESULTS/times.txt"
[ -f "$WORK/tmnist2.npz" ] || $TAGGER data texture-mnist --digits 2 --mnist "$MNIST" --out "$WORK/tmnist2.npz"

RUNS=""
for spec in ladder:1:20 convnet:1:10 mlp:1:20 mlp:2:20 mlp:3:20; do    # kind:seed:epochs
    kind=${spec%%:*}; rest=${spec#*:}; seed=${rest%%:*}; epochs=${rest#*:}
    run="$WORK/$kind-1k-seed$seed"
    $TAGGER baseline "$kind" --config "$kind-quick" --epochs "$epochs" --labels 1000 --seed "$seed" \
        --data "$WORK/tmnist2.npz" --out "$run" --valid-images 1000 --threads 1 --no-progress --max-minutes 90
    $TAGGER evaluate "$run" --data "$WORK/tmnist2.npz"
    mkdir -p "$RESULTS/$(basename "$run")"
    cp "$run/log.csv" "$run/config.json" "$run/table2.csv" "$run/table2.csv.provenance.json" "$run/manifest.json" "$RESULTS/$(basename "$run")/"
    echo "$kind seed $seed done $(stamp); load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$RESULTS/times.txt"
    RUNS="$RUNS $run"
done
# Tagger's row: the committed quick run (results/texture-mnist-quick), a folder of its config and table
TAGGER_ROW="$WORK/tagger-quick-stage2"
mkdir -p "$TAGGER_ROW"
cp results/texture-mnist-quick/table2.csv "$TAGGER_ROW/"
$PYTHON -c "import json, sys; from tagger_ref.config import PRESETS; \
json.dump(PRESETS['texture-mnist-quick-supervised'].to_dict(), open(sys.argv[1], 'w'))" "$TAGGER_ROW/config.json"
$TAGGER figure table2 $RUNS "$TAGGER_ROW" --out "$RESULTS"
cat "$RESULTS/table2.md"
