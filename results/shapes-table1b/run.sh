#!/bin/sh
# results/shapes-table1b: the CPU recipe search for batch-norm Tagger at equal steps, then the
# chosen recipe trained long. Exactly what ran, in this order (WORK = the run folders' parent,
# outside the repository; the three JSON configs are the *.json files of this folder).
set -eu
WORK=${1:-runs}
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$WORK"
cp "$HERE"/bn-lr4e-4.json "$HERE"/bn-1000.json "$HERE"/bn-2000.json .
tagger-ref data shapes --out shapes.npz
# the search: two candidates side by side, one BLAS thread each (compared at equal steps, not times)
tagger-ref train --config bn-lr4e-4.json --data shapes.npz --out bn-lr4e-4 --epochs 70 --max-minutes 170 \
    --valid-images 1000 --keep-every 5 --threads 1 --no-progress > bn-lr4e-4.out 2>&1 &
tagger-ref train --config bn-1000.json --data shapes.npz --out bn-1000 --epochs 70 --max-minutes 170 \
    --valid-images 1000 --keep-every 5 --threads 1 --no-progress > bn-1000.out 2>&1 &
# after 5 epochs with AMI 0.002 (against 0.21 for bn-1000 after one): SIGTERM to bn-lr4e-4, and in its place
#   tagger-ref train --config bn-2000.json --data shapes.npz --out bn-2000 --epochs 70 --max-minutes 170 \
#       --valid-images 1000 --keep-every 5 --threads 1 --no-progress > bn-2000.out 2>&1 &
# after bn-2000's first epoch: SIGTERM to both; bn-1000, the choice, continues alone with both threads
wait
tagger-ref train --resume --data shapes.npz --out bn-1000 --epochs 70 --max-minutes 105 \
    --valid-images 1000 --keep-every 5 --threads 2 --no-progress >> bn-1000.out 2>&1
tagger-ref evaluate bn-1000 --data shapes.npz > bn-1000-eval.out 2>&1
# (drawn with the commit that added markers to figure curves)
tagger-ref figure curves "$HERE"/../shapes-batchnorm-long bn-lr4e-4 bn-2000 bn-1000 --out "$HERE"
tagger-ref figure figure4 bn-1000 --data shapes.npz --out "$HERE"    # saved as figure4-bn-1000.png
# (table1 of bn-1000 alone, replaced by the one of both runs below)
# second sitting: Tagger* with the same recipe, alone with both threads, then to bn-1000's step count
cp "$HERE"/ln-1000.json .
tagger-ref train --config ln-1000.json --data shapes.npz --out ln-1000 --epochs 70 --max-minutes 75 \
    --valid-images 1000 --keep-every 5 --threads 2 --no-progress > ln-1000.out 2>&1
tagger-ref train --resume --data shapes.npz --out ln-1000 --epochs 33 --max-minutes 45 \
    --valid-images 1000 --keep-every 5 --threads 2 --no-progress >> ln-1000.out 2>&1
tagger-ref evaluate ln-1000 --data shapes.npz > ln-1000-eval.out 2>&1
# (figure curves with the commit that draws every model's paper lines)
tagger-ref figure curves bn-1000 ln-1000 --out "$HERE"    # saved as curves-both.png
tagger-ref figure figure4 ln-1000 --data shapes.npz --out "$HERE"    # saved as figure4-ln-1000.png
tagger-ref figure table1 bn-1000 ln-1000 --out "$HERE"
