#!/bin/sh
# results/shapes-hour: Table 1 (b) in one hour on two CPU cores. Tagger* (shapes-hour, layer norm) and
# Tagger (shapes-hour-batchnorm, batch norm) train side by side, one core each (--threads 1), each
# stopped by --max-minutes 60; then both are evaluated on the 10,000 test images (T = 1..5, K = 4),
# drawn, and set beside the paper's Table 1 (b). Run from the repository root:
#
#   sh results/shapes-hour/run.sh [WORK_DIR]      # WORK_DIR default runs/shapes-hour
#
# Large files (the data, checkpoints) stay in WORK_DIR; the results are copied here.
set -eu
WORK=${1:-runs/shapes-hour}
RESULTS=results/shapes-hour
TAGGER=${TAGGER:-tagger-ref}
MINUTES=${MINUTES:-60}
mkdir -p "$WORK" "$RESULTS"
stamp() { date -u +%Y-%m-%dT%H:%M:%SZ; }
echo "start $(stamp); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$RESULTS/times.txt"

[ -f "$WORK/shapes.npz" ] || $TAGGER data shapes --out "$WORK/shapes.npz"

for model in shapes-hour shapes-hour-batchnorm; do
    $TAGGER train --config "$model" --data "$WORK/shapes.npz" --out "$WORK/$model" --max-minutes "$MINUTES" \
        --valid-images 1000 --threads 1 --no-progress > "$WORK/$model.out" 2>&1 &
done
wait
echo "training done $(stamp); load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$RESULTS/times.txt"

for model in shapes-hour shapes-hour-batchnorm; do
    OPENBLAS_NUM_THREADS=1 $TAGGER evaluate "$WORK/$model" --data "$WORK/shapes.npz" > "$WORK/$model-eval.out" 2>&1 &
done
wait
echo "evaluation done $(stamp)" | tee -a "$RESULTS/times.txt"

for model in shapes-hour shapes-hour-batchnorm; do
    mkdir -p "$RESULTS/$model"
    cp "$WORK/$model/table1.csv" "$WORK/$model/log.csv" "$WORK/$model/config.json" "$WORK/$model.out" \
        "$WORK/$model-eval.out" "$RESULTS/$model/"
    $TAGGER figure all "$WORK/$model" --data "$WORK/shapes.npz" --out "$RESULTS/$model" \
        --table "$WORK/$model/table1.csv"
done
$TAGGER figure table1 "$WORK/shapes-hour-batchnorm" "$WORK/shapes-hour" --out "$RESULTS"
echo "end $(stamp)" | tee -a "$RESULTS/times.txt"
