"""Our models' masks on the authors' published example image (TextureMNIST2 valid image 2907), beside theirs.

The authors' ``pretrained_models/mnist-results/mnist_removal_example_v3.npz`` (CuriousAI/tagger) holds
x, z and m of their trained model on one image; ``data-check.md`` found that x is, bit for bit, our
valid image 2907. This script runs each of our runs on that image and draws one row per model:
the image, then the K masks of the last training iteration, with the image's AMI in the title (the
scored pixels and the AMI of ``tagger_ref.experiments.evaluation``). The first row is the authors'.

Batch norm normalises over the batch, so the image is evaluated inside its batch of 100 valid
images (2900 to 2999), as an evaluation batch; the mask logits and the corruption-free input are
drawn from ``numpy.random.default_rng(seed)``.

    python results/texture-mnist-diagnosis/masks_2907.py --data tmnist2.npz \\
        --authors-npz mnist_removal_example_v3.npz --out masks-2907.png RUN_DIR [RUN_DIR ...]
"""
import argparse
import json
import os
import sys

import numpy

from tagger_ref.config import from_dict
from tagger_ref.experiments.training import kept_params_path
from tagger_ref.experiments.evaluation import ami_per_image, infer, predicted_labels, true_labels
from tagger_ref.files.datasets import load_dataset
from tagger_ref.files.params import load_params

IMAGE = 2907
BATCH = slice(2900, 3000)
S = 28


def run_masks(run_dir, valid, seed, epoch=None):
    """(config, m of the image (K, N) after the last training iteration, AMI of the image)."""
    with open(os.path.join(run_dir, "config.json")) as f:
        config = from_dict(json.load(f), source=f"{run_dir}/config.json")
    path = os.path.join(run_dir, "params.npz") if epoch is None else kept_params_path(run_dir, epoch)
    params = load_params(path, config)
    T = config.n_iterations
    m = infer(params, config, valid.features[BATCH], numpy.random.default_rng(seed), T)["m"][T]   # (K, B, N)
    row = IMAGE - BATCH.start
    return config, m[:, row], image_ami(valid.mask[IMAGE:IMAGE + 1], m[:, row:row + 1])


def image_ami(mask, m):
    """AMI of one image: mask (1, G, N) the truth, m (K, 1, N) the masks."""
    labels, scored = true_labels(mask)
    return float(ami_per_image(labels, scored, predicted_labels(m))[0])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", help="run folders of tagger-ref train (RUN or RUN@EPOCH for a kept epoch)")
    ap.add_argument("--data", required=True, help="TextureMNIST2 .npz of tagger-ref data texture-mnist --digits 2")
    ap.add_argument("--authors-npz", required=True, help="the authors' mnist_removal_example_v3.npz")
    ap.add_argument("--out", required=True, help="the figure (.png)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    valid = load_dataset(args.data, "valid", expect="texture-mnist")
    theirs = numpy.load(args.authors_npz)
    x = valid.features[IMAGE]
    if not numpy.array_equal(x, theirs["x"].reshape(-1)):
        sys.exit(f"{args.data}: valid image {IMAGE} is not the authors' example image (data-check.md)")
    m_theirs = theirs["m"].reshape(len(theirs["m"]), -1)
    rows = [("authors' model", m_theirs, image_ami(valid.mask[IMAGE:IMAGE + 1], m_theirs[:, None]))]
    for spec in args.runs:
        run_dir, _, epoch = spec.partition("@")
        config, m, ami = run_masks(run_dir, valid, args.seed, int(epoch) if epoch else None)
        rows.append((os.path.basename(os.path.normpath(run_dir)) + (f" epoch {epoch}" if epoch else ""), m, ami))
    for name, _, ami in rows:
        print(f"{name}: AMI {ami:.3f} on valid image {IMAGE}")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    K = max(len(m) for _, m, _ in rows)
    fig, axes = plt.subplots(len(rows), K + 1, figsize=(1.9 * (K + 1), 2.0 * len(rows)), squeeze=False)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    for r, (name, m, ami) in enumerate(rows):
        axes[r, 0].imshow(x.reshape(S, S), cmap="gray", vmin=0, vmax=1)
        axes[r, 0].set_ylabel(f"{name}\nAMI {ami:.2f}", fontsize=8)
        for k in range(K):
            if k < len(m):
                axes[r, k + 1].imshow(m[k].reshape(S, S), cmap="viridis", vmin=0, vmax=1)
            else:
                axes[r, k + 1].axis("off")
            if r == 0:
                axes[r, k + 1].set_title(f"m[{k}]", fontsize=9)
    axes[0, 0].set_title(f"valid image {IMAGE}", fontsize=9)
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print("figure:", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
