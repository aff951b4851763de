#!/bin/sh
# Table 2 (TextureMNIST2, 1,000 labels) with the stage 1 that groups on two CPU cores: stage 2 from
# run bn-1000-lr1e-2 of ../texture-mnist-diagnosis (its exact segments are in run2.sh there: 13,978
# steps of texture-mnist-cpu-pretrain), the test split, Figure 5, an FC Ladder baseline at the
# Tagger's width, and Table 2 beside the baselines of ../baselines-preset-budgets.
# What ran, in this order, with three differences of form: stage 2 named its config by a copy of the
# preset (stage2/config.json, equal to it: reference_tests/test_config.py) and ran with --max-minutes 110
# instead of --epochs 10 (it was stopped with SIGTERM just after epoch 10's validation, at 5,003
# steps); the tables were written in the run folders and copied here. From the repository root:
#   sh results/texture-mnist-cpu/run.sh MNIST_DIR STAGE1_DIR [WORK_DIR]
# STAGE1_DIR: that run folder. Without one, train it first (14,000 steps, 22 more than ours):
#   tagger-ref train --config texture-mnist-cpu-pretrain --data WORK_DIR/tmnist2.npz --out STAGE1_DIR \
#       --epochs 28 --valid-images 1000 --keep-every 2 --threads 1 --no-progress
set -eu
USAGE="usage: sh results/texture-mnist-cpu/run.sh MNIST_DIR STAGE1_DIR [WORK_DIR]"
MNIST=${1:?$USAGE}
STAGE1=${2:?$USAGE}
WORK=${3:-runs/texture-mnist-cpu}
RESULTS=results/texture-mnist-cpu
TAGGER=${TAGGER:-tagger-ref}
mkdir -p "$WORK" "$RESULTS/stage1" "$RESULTS/stage2" "$RESULTS/ladder-1000-1k-seed1"
[ -f "$WORK/tmnist2.npz" ] || $TAGGER data texture-mnist --digits 2 --mnist "$MNIST" --out "$WORK/tmnist2.npz"
[ -f "$WORK/tmnist1-test.npz" ] ||
    $TAGGER data texture-mnist --digits 1 --mnist "$MNIST" --out "$WORK/tmnist1-test.npz" --train 0 --valid 0

# stage 1's last parameters on the test split (T = 1..5); ours ran beside stage 2's first minutes, one thread
OPENBLAS_NUM_THREADS=1 $TAGGER evaluate "$STAGE1" --data "$WORK/tmnist2.npz" &
# stage 2: the preset texture-mnist-cpu-supervised (= stage2/config.json) with two BLAS threads
$TAGGER train --config texture-mnist-cpu-supervised --data "$WORK/tmnist2.npz" --out "$WORK/stage2" \
    --init-from "$STAGE1" --valid-images 1000 --keep-every 1 --threads 2 --no-progress --epochs 10
wait
# the test split beside the FC Ladder at the Tagger's width (ladder-1000.json: ladder-quick with
# hidden 1000-500-250-500-250), one thread each
OPENBLAS_NUM_THREADS=1 $TAGGER evaluate "$WORK/stage2" --data "$WORK/tmnist2.npz" &
LADDER="$WORK/ladder-1000-1k-seed1"
$TAGGER baseline ladder --config "$RESULTS/ladder-1000.json" --data "$WORK/tmnist2.npz" --out "$LADDER" \
    --valid-images 1000 --threads 1 --no-progress --max-minutes 45
$TAGGER evaluate "$LADDER" --data "$WORK/tmnist2.npz"
cp "$LADDER/table2.csv" "$RESULTS/ladder-1000-1k-seed1/table2-20-epochs.csv"
cp "$LADDER/table2.csv.provenance.json" "$RESULTS/ladder-1000-1k-seed1/table2-20-epochs.csv.provenance.json"
wait
# the Ladder again to 40 epochs (20,000 steps), as many steps as Tagger's two stages together (18,981)
$TAGGER baseline ladder --resume --out "$LADDER" --data "$WORK/tmnist2.npz" --epochs 40 --valid-images 1000 \
    --threads 1 --no-progress --max-minutes 30
$TAGGER evaluate "$LADDER" --data "$WORK/tmnist2.npz"
$TAGGER figure figure5 "$WORK/stage2" --data "$WORK/tmnist2.npz" --data1 "$WORK/tmnist1-test.npz" --out "$RESULTS"
$TAGGER figure curves "$STAGE1" "$WORK/stage2" --out "$RESULTS"
cp "$STAGE1/table1.csv" "$STAGE1/table1.csv.provenance.json" "$STAGE1/manifest.json" "$RESULTS/stage1/"
for f in log.csv config.json init_from.json table2.csv table2.csv.provenance.json manifest.json; do
    cp "$WORK/stage2/$f" "$RESULTS/stage2/"
done
for f in log.csv config.json table2.csv table2.csv.provenance.json manifest.json; do
    cp "$LADDER/$f" "$RESULTS/ladder-1000-1k-seed1/"
done
$TAGGER figure table2 "$RESULTS/stage2" "$RESULTS/ladder-1000-1k-seed1" results/baselines-preset-budgets/*-1k-seed* \
    --out "$RESULTS"
cat "$RESULTS/table2.md"
