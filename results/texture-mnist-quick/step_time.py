"""Step times of the quick TextureMNIST presets beside shapes-quick's, in one process.

    python results/texture-mnist-quick/step_time.py TEXTURE_MNIST2.npz SHAPES.npz THREADS SECONDS

Rounds of one training step of each preset (shapes-quick, texture-mnist-quick-pretrain,
texture-mnist-quick-supervised: inputs drawn as training draws them, a semi-supervised step for the
last, the fast path on) until SECONDS have passed; prints per preset the median wall and CPU
seconds of a step. Alternating the presets lets a busy machine slow them alike; shapes-quick's
step, whose idle time is known (results/shapes-quick), tells how busy it was. The files need 300
training images or more (e.g. `tagger-ref data texture-mnist --digits 2 --train 2000 ...`).
"""
import sys
import time

import numpy
from threadpoolctl import threadpool_limits

from tagger_ref.config import PRESETS
from tagger_ref.files.datasets import load_dataset
from tagger_ref.maths.corruption import make_inputs, make_semi_supervised_inputs
from tagger_ref.maths.gradients import cost_and_grad
from tagger_ref.maths.ops import FAST
from tagger_ref.experiments.memory import keep_freed_memory
from tagger_ref.maths.init import init_params

keep_freed_memory()
threads, budget = int(sys.argv[3]), float(sys.argv[4])
tm = load_dataset(sys.argv[1], "train", expect="texture-mnist2")
sh = load_dataset(sys.argv[2], "train", expect="shapes")
rng = numpy.random.default_rng(0)
cases = {}
for name, data in (("shapes-quick", sh), ("texture-mnist-quick-pretrain", tm), ("texture-mnist-quick-supervised", tm)):
    c = PRESETS[name]
    cases[name] = (c, init_params(c, rng), numpy.asarray(data.features[:300], c.dtype), data.targets)


def step(name):
    c, p, x, y = cases[name]
    rows = rng.permutation(300)[:100]
    if c.class_cost_x > 0:
        lab = rng.permutation(300)[:100]
        inputs = make_semi_supervised_inputs(c, x[rows], x[lab], y[lab], rng)
    else:
        inputs = make_inputs(c, x[rows], rng)
    cost_and_grad(p, c, inputs, ops=FAST)   # the fast path, as training takes it


times = {n: ([], []) for n in cases}
start = time.monotonic()
with threadpool_limits(limits=threads, user_api="blas"):
    for n in cases:
        step(n)                                  # warm-up
    while time.monotonic() - start < budget:
        for n in cases:
            w, t = time.monotonic(), time.process_time()
            step(n)
            times[n][0].append(time.monotonic() - w)
            times[n][1].append(time.process_time() - t)
base = numpy.median(times["shapes-quick"][1])
for n, (w, t) in times.items():
    print(f"{n}: {len(w)} steps, median wall {numpy.median(w):.3f} s, median CPU {numpy.median(t):.3f} s, "
          f"CPU relative to shapes-quick {numpy.median(t) / base:.2f}")
