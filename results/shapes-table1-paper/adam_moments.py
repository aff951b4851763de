"""How large Adam's second moments are in a checkpoint, against the two epsilons in question.

    python results/shapes-table1-paper/adam_moments.py RUN_DIR/checkpoint.npz

Prints, over every parameter entry, quantiles of sqrt(v_hat) = sqrt(v / (1 - 0.999^t)), the
denominator's scale in Adam's step, and the fraction of entries below 1e-8 (Adam's epsilon), below
1e-6, and below 3.2e-7 (the effective epsilon of the authors' Blocks Adam at its first step,
1e-8 / sqrt(1 - 0.999)); with the effective epsilon of Blocks' Adam at the checkpoint's step.
Reads the checkpoint only.
"""

import argparse

import numpy

from tagger_ref.experiments.adam import BETA2, EPS


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint")
    args = parser.parse_args()
    with numpy.load(args.checkpoint, allow_pickle=False) as f:
        t = int(f["adam/t"])
        correction = 1.0 - BETA2**t
        roots = {
            k[len("adam/v/") :]: numpy.sqrt(f[k].astype(numpy.float64).ravel() / correction)
            for k in f.files
            if k.startswith("adam/v/")
        }
    every = numpy.concatenate(list(roots.values()))
    print(f"checkpoint at Adam step t = {t}; {every.size} parameter entries in {len(roots)} arrays")
    q = numpy.quantile(every, [0.001, 0.01, 0.1, 0.5, 0.9])
    print("sqrt(v_hat) quantiles 0.1 %, 1 %, 10 %, 50 %, 90 %: " + ", ".join(f"{v:.3g}" for v in q))
    for bound in (1e-8, 3.2e-7, 1e-6):
        print(f"fraction of entries with sqrt(v_hat) < {bound:.1e}: {numpy.mean(every < bound):.4f}")
    print(f"Blocks' effective epsilon at this step: {EPS / numpy.sqrt(correction):.3e} (Adam's: {EPS:.0e})")
    smallest = sorted(roots, key=lambda k: numpy.median(roots[k]))[:5]
    print("arrays of smallest median sqrt(v_hat): " + ", ".join(f"{k} {numpy.median(roots[k]):.3g}" for k in smallest))


if __name__ == "__main__":
    main()
