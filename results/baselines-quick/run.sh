#!/bin/sh
# The quick baselines of Table 2 on TextureMNIST2 with 1,000 labels (presets mlp-quick, ladder-quick,
# convnet-quick; docs/baselines.md), evaluated on the test split and set beside the paper's Table 2
# together with the quick Tagger run when it exists. Run from the repository root:
#   sh results/baselines-quick/run.sh MNIST_DIR [WORK_DIR] [SEEDS]
# WORK_DIR (default runs/baselines-quick) receives the data and the run folders; SEEDS (default "1")
# the seeds to train, e.g. "1 2 3 4 5" for the paper's five runs; the tables go to results/baselines-quick/.
# TAGGER_RUN (default runs/texture-mnist-quick/stage2) is the Tagger run set beside them.
# EPOCHS_MLP, EPOCHS_LADDER, EPOCHS_CONVNET (default: the presets' 20, 20 and 10) set a shorter budget.
set -eu
MNIST=${1:?usage: sh results/baselines-quick/run.sh MNIST_DIR [WORK_DIR] [SEEDS]}
WORK=${2:-runs/baselines-quick}
SEEDS=${3:-1}
RESULTS=results/baselines-quick
TAGGER=${TAGGER:-tagger-ref}
mkdir -p "$WORK"

stamp() { date -u +%Y-%m-%dT%H:%M:%SZ; }
echo "start $(stamp); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$RESULTS/times.txt"
[ -f "$WORK/tmnist2.npz" ] || $TAGGER data texture-mnist --digits 2 --mnist "$MNIST" --out "$WORK/tmnist2.npz"

RUNS=""
for seed in $SEEDS; do
    for kind in mlp ladder convnet; do
        run="$WORK/$kind-1k-seed$seed"
        # --max-minutes guards a slower machine (the checkpoint then holds fewer epochs; --resume continues)
        case $kind in
            mlp) epochs=${EPOCHS_MLP:-20};; ladder) epochs=${EPOCHS_LADDER:-20};; *) epochs=${EPOCHS_CONVNET:-10};;
        esac
        $TAGGER baseline $kind --config $kind-quick --epochs "$epochs" --labels 1000 --seed "$seed" \
            --data "$WORK/tmnist2.npz" --out "$run" --valid-images 1000 --threads 2 --no-progress --max-minutes 40
        $TAGGER evaluate "$run" --data "$WORK/tmnist2.npz"
        mkdir -p "$RESULTS/$(basename "$run")"
        cp "$run/log.csv" "$run/config.json" "$run/table2.csv" "$RESULTS/$(basename "$run")/"
        echo "$kind seed $seed done $(stamp)" | tee -a "$RESULTS/times.txt"
        RUNS="$RUNS $run"
    done
done
TAGGER_RUN=${TAGGER_RUN:-runs/texture-mnist-quick/stage2}      # the quick Tagger run, when evaluated
[ -f "$TAGGER_RUN/table2.csv" ] && RUNS="$RUNS $TAGGER_RUN"
$TAGGER figure table2 $RUNS --out "$RESULTS"
cat "$RESULTS/table2.md"
