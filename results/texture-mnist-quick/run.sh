#!/bin/sh
# The quick TextureMNIST2 run: data from the real MNIST files, stage 1 (no labels), stage 2 (1,000
# labels, --init-from stage 1), Table 2 on the 10,000 test images, Figure 5. Run from the
# repository root: sh results/texture-mnist-quick/run.sh MNIST_DIR [WORK_DIR]
# MNIST_DIR holds the four MNIST IDX files; WORK_DIR (default runs/texture-mnist-quick) receives
# the data and the two run folders; the results are copied into results/texture-mnist-quick/.
set -eu
MNIST=${1:?usage: sh results/texture-mnist-quick/run.sh MNIST_DIR [WORK_DIR]}
WORK=${2:-runs/texture-mnist-quick}
RESULTS=results/texture-mnist-quick
TAGGER=${TAGGER:-tagger-ref}
export OPENBLAS_NUM_THREADS=2
# Epochs and time guards of the two stages (default: the presets' 10 and 7 epochs, within 20 and 40 minutes).
EPOCHS1=${EPOCHS1:-10}; MINUTES1=${MINUTES1:-20}
EPOCHS2=${EPOCHS2:-7}; MINUTES2=${MINUTES2:-40}
mkdir -p "$WORK"

stamp() { date -u +%Y-%m-%dT%H:%M:%SZ; }
echo "start $(stamp); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); epochs $EPOCHS1 + $EPOCHS2" | tee "$RESULTS/times.txt"

# TextureMNIST2 (and TextureMNIST1 for Figure 5's example D) with the authors' seeds.
$TAGGER data texture-mnist --digits 2 --mnist "$MNIST" --out "$WORK/tmnist2.npz"
$TAGGER data texture-mnist --digits 1 --mnist "$MNIST" --out "$WORK/tmnist1.npz" --train 0 --valid 0
echo "data done $(stamp)" | tee -a "$RESULTS/times.txt"

# Stage 1: no labels. --max-minutes guards a slower machine (the checkpoint then holds fewer epochs).
$TAGGER train --config texture-mnist-quick-pretrain --data "$WORK/tmnist2.npz" --out "$WORK/stage1" \
    --valid-images 1000 --threads 2 --no-progress --epochs "$EPOCHS1" --max-minutes "$MINUTES1"
echo "stage 1 done $(stamp)" | tee -a "$RESULTS/times.txt"

# Stage 2: the grown Ladder from stage 1's parameters, 1,000 labels.
$TAGGER train --config texture-mnist-quick-supervised --data "$WORK/tmnist2.npz" --out "$WORK/stage2" \
    --init-from "$WORK/stage1" --valid-images 1000 --threads 2 --no-progress --epochs "$EPOCHS2" \
    --max-minutes "$MINUTES2"
echo "stage 2 done $(stamp)" | tee -a "$RESULTS/times.txt"

# Table 2 (T = 4, the training T) and the groupings of stage 1 (Table 1 rows: is it grouping?).
$TAGGER evaluate "$WORK/stage2" --data "$WORK/tmnist2.npz"      # stage2/table2.csv and predictions.npz
cp "$WORK/stage2/table2.csv" "$RESULTS/table2.csv"
$TAGGER evaluate "$WORK/stage1" --data "$WORK/tmnist2.npz" --iterations 3 --out "$RESULTS/table1-stage1.csv"
echo "evaluation done $(stamp)" | tee -a "$RESULTS/times.txt"

$TAGGER figure figure5 "$WORK/stage2" --data "$WORK/tmnist2.npz" --data1 "$WORK/tmnist1.npz" --out "$RESULTS"
cp "$WORK/stage1/log.csv" "$RESULTS/log-stage1.csv"
cp "$WORK/stage2/log.csv" "$RESULTS/log-stage2.csv"
cp "$WORK/stage2/init_from.json" "$RESULTS/init_from.json"
echo "end $(stamp); load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$RESULTS/times.txt"
