#!/bin/sh
# results/texture-mnist-diagnosis: stage 1 of TextureMNIST at equal steps, exactly what ran, in this
# order. WORK = the run folders' parent, outside the repository; MNIST_DIR holds the four MNIST files;
# AUTHORS_NPZ is the authors' pretrained_models/mnist-results/mnist_removal_example_v3.npz.
set -eu
MNIST=${1:?usage: sh run.sh MNIST_DIR AUTHORS_NPZ [WORK]}
AUTHORS=${2:?usage: sh run.sh MNIST_DIR AUTHORS_NPZ [WORK]}
WORK=${3:-runs}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$WORK" && cd "$WORK"
cp "$HERE"/ln-1000.json "$HERE"/bn-1000.json "$HERE"/tm1-bn-1000.json .
tagger-ref data texture-mnist --digits 2 --mnist "$MNIST" --out tmnist2.npz
tagger-ref data texture-mnist --digits 1 --mnist "$MNIST" --out tmnist1.npz
# two runs side by side, one BLAS thread each, 6 epochs (3,000 steps); AMI of 200 valid images every epoch
for r in ln-1000 bn-1000; do
    tagger-ref train --config $r.json --data tmnist2.npz --out $r --epochs 6 --max-minutes 150 \
        --valid-images 1000 --keep-every 2 --threads 1 --no-progress > $r.out 2>&1 &
done
wait
# then: bn-1000 (the better of the two) on, beside TextureMNIST1 with the same recipe
tagger-ref train --resume --data tmnist2.npz --out bn-1000 --epochs 14 --max-minutes 100 \
    --valid-images 1000 --keep-every 2 --threads 1 --no-progress >> bn-1000.out 2>&1 &
tagger-ref train --config tm1-bn-1000.json --data tmnist1.npz --out tm1-bn-1000 --epochs 6 --max-minutes 100 \
    --valid-images 1000 --keep-every 2 --threads 1 --no-progress > tm1-bn-1000.out 2>&1 &
wait
# (bn-1000 was stopped by SIGTERM after 12 epochs, 6,035 steps; it checkpointed, --resume continues)
tagger-ref evaluate bn-1000 --data tmnist2.npz --iterations 3
cp bn-1000/table1.csv "$HERE"/table1-bn-1000.csv
# the masks on the authors' example image (valid image 2907), and the curves
python "$HERE"/masks_2907.py --data tmnist2.npz --authors-npz "$AUTHORS" --out "$HERE"/masks-2907.png \
    ln-1000@6 bn-1000@6 bn-1000
tagger-ref figure curves ln-1000 bn-1000 tm1-bn-1000 --out "$HERE"
for r in ln-1000 bn-1000 tm1-bn-1000; do cp $r/log.csv "$HERE"/log-$r.csv; done
