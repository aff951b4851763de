#!/bin/sh
# results/texture-mnist-diagnosis, second sitting: the learning rate, K and the paper's width, each a
# change of one field of bn-1000.json; exactly what ran, in this order (the baselines of
# ../baselines-preset-budgets/run.sh ran beside these, one after the other). Same arguments as run.sh.
set -eu
MNIST=${1:?usage: sh run2.sh MNIST_DIR AUTHORS_NPZ [WORK]}
AUTHORS=${2:?usage: sh run2.sh MNIST_DIR AUTHORS_NPZ [WORK]}
WORK=${3:-runs}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$WORK" && cd "$WORK"
RUNS="bn-1000-lr3e-3 bn-1000-lr3e-4 bn-1000-k3 bn-1000-lr1e-2 bn-3000-lr1e-2"
for r in $RUNS; do cp "$HERE/$r.json" .; done
[ -f tmnist2.npz ] || tagger-ref data texture-mnist --digits 2 --mnist "$MNIST" --out tmnist2.npz
COMMON="--data tmnist2.npz --valid-images 1000 --threads 1 --no-progress"
# three runs side by side, 6 epochs (3,000 steps) each
for r in bn-1000-lr3e-3 bn-1000-lr3e-4 bn-1000-k3; do
    tagger-ref train --config $r.json --out $r --epochs 6 --max-minutes 170 --keep-every 2 $COMMON > $r.out 2>&1 &
done
# bn-1000-lr3e-4 was stopped with SIGTERM after its 4th epoch (2,010 steps), when it was clearly the slowest;
# lr 1e-2 took its place, 4 epochs, then resumed; the paper's width at lr 1e-2 as far as the time allowed
( tagger-ref train --config bn-1000-lr1e-2.json --out bn-1000-lr1e-2 --epochs 4 --max-minutes 50 --keep-every 2 \
      $COMMON > bn-1000-lr1e-2.out 2>&1
  tagger-ref train --resume --out bn-1000-lr1e-2 --epochs 40 --max-minutes 58 --keep-every 2 $COMMON \
      >> bn-1000-lr1e-2.out 2>&1
  tagger-ref train --resume --out bn-1000-lr1e-2 --epochs 60 --max-minutes 30 --keep-every 2 \
      --data tmnist2.npz --valid-images 1000 --threads 2 --no-progress >> bn-1000-lr1e-2.out 2>&1 ) &
tagger-ref train --config bn-3000-lr1e-2.json --out bn-3000-lr1e-2 --epochs 2 --max-minutes 72 --keep-every 1 $COMMON \
    > bn-3000-lr1e-2.out 2>&1 &
wait
# the test AMI of the best (T = 1..3), the masks on the authors' example image, Figure 5, the curves
tagger-ref evaluate bn-1000-lr3e-3 --data tmnist2.npz --iterations 3
tagger-ref evaluate bn-1000-lr1e-2 --epoch 14 --data tmnist2.npz --iterations 3   # run while it trained on
cp bn-1000-lr1e-2/table1-epoch-14.csv "$HERE"/table1-bn-1000-lr1e-2-epoch-14.csv
cp bn-1000-lr3e-3/table1.csv "$HERE"/table1-bn-1000-lr3e-3.csv
python "$HERE"/masks_2907.py --data tmnist2.npz --authors-npz "$AUTHORS" --out "$HERE"/masks-2907-second.png \
    bn-1000-lr3e-3 bn-1000-k3 bn-3000-lr1e-2 bn-1000-lr1e-2@8 bn-1000-lr1e-2@16 bn-1000-lr1e-2@26
tagger-ref data texture-mnist --digits 1 --mnist "$MNIST" --out tmnist1-test.npz --train 0 --valid 0
tagger-ref figure figure5 bn-1000-lr3e-3 --data tmnist2.npz --data1 tmnist1-test.npz --out .
cp figure5.png "$HERE"/figure5-bn-1000-lr3e-3.png
# the curves beside bn-1000 of the first sitting (run.sh; its folder, or one holding its log.csv and config)
tagger-ref figure curves bn-1000 $RUNS --out .
cp curves.png "$HERE"/curves-second.png
for r in $RUNS; do cp $r/log.csv "$HERE"/log-$r.csv; cp $r/manifest.json "$HERE"/manifest-$r.json; done
