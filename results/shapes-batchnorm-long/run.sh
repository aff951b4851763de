#!/bin/sh
# results/shapes-batchnorm-long: batch-norm Tagger (shapes-hour-batchnorm) trained with two BLAS
# threads (no other training run beside it; edits and tests were), the AMI logged every epoch. Exactly what ran, in this order (WORK = the run folder's parent,
# outside the repository):
set -eu
WORK=${1:-runs}
cd "$WORK"
tagger-ref data shapes --out shapes.npz
# segment 1, at commit 837cf19 (before manifest.json existed); stopped by SIGTERM after epoch 29
tagger-ref train --config shapes-hour-batchnorm --data shapes.npz --out shapes-bn --epochs 90 --max-minutes 72 \
    --valid-images 1000 --keep-every 5 --threads 2 --no-progress > shapes-bn.out 2>&1
# segment 2, at commit 702c945 (manifest.json's first segment); stopped by SIGTERM after epoch 55
tagger-ref train --resume --data shapes.npz --out shapes-bn --epochs 90 --max-minutes 78 \
    --valid-images 1000 --keep-every 5 --threads 2 --no-progress >> shapes-bn.out 2>&1
# evaluation (run twice at 2d7a0e0, the second with c0c7eb0's change not yet committed; same seed, the same table), and the curves
tagger-ref evaluate shapes-bn --data shapes.npz > shapes-bn-eval.out 2>&1
tagger-ref figure curves shapes-bn --out curves
