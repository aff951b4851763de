"""Check our TextureMNIST2 against the authors' published inference example.

Usage, from the repository root:

    python results/texture-mnist-diagnosis/data_check.py --mnist MNIST_DIR \
        --authors-npz mnist_removal_example_v3.npz [--n 300] [--png check.png] [--json stats.json]

``MNIST_DIR`` holds the four standard MNIST files; ``--authors-npz`` is the authors'
``pretrained_models/mnist-results/mnist_removal_example_v3.npz`` (CuriousAI/tagger), arrays
``x`` (1, 28, 28), ``z`` and ``m`` (K, 28, 28) and ``m_removed``.

What it does (cheap: a few hundred images, single-threaded NumPy):

1. Describes the authors' arrays (shape, dtype, range).
2. Looks for their image ``x`` among our TextureMNIST2 images made with the authors' seeds: the
   background texture and crop are read off the pixels their model put in its background group,
   only the images whose plan has that background are rendered (about a hundred), and the match
   is tested bit for bit, with the default stacking and with ``--random-top``.
3. Scores their masks ``m`` against our ground truth for that image (AMI as in
   ``tagger_ref.experiments.evaluation``, per-pixel entropy, which true group each of their groups holds).
4. Writes a small sample with ``tagger-ref data texture-mnist`` (``--n`` training images, in a
   temporary folder) and compares pixel statistics, per-image statistics and the dominant spatial
   frequency of the background and digit regions with theirs.
5. Draws a PNG: their x and m (K panels), our rendering of the same image and its true masks,
   and one other image of ours with its true masks.
"""
import argparse
import json
import os
import sys
import tempfile

import numpy

from data_gen import texture_mnist as tm
from data_gen.digits import load_digits
from tagger_ref.commands.cli import main as cli_main
from tagger_ref.files.datasets import load_dataset
from tagger_ref.experiments.evaluation import ami_per_image, true_labels

S = tm.IMAGE_SIZE
PAD = 128            # zero-padded FFT size for the region spectra (frequency step 1/128 cycle per pixel)
MIN_REGION = 30      # smallest region (pixels) whose spectrum is read
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def bank_frequencies():
    """(20, 2) float: each texture's spatial frequency (cycles per pixel, rows, columns), aliased to [-0.5, 0.5)."""
    f = tm.texture_frequencies().astype(float)
    f = numpy.where(f >= tm.TEXTURE_SIZE / 2, f - tm.TEXTURE_SIZE, f)
    return f / tm.TEXTURE_SIZE


def texture_geometry():
    """Periods (pixels) and orientations (degrees, of the wave vector, atan2(row, column)) of the bank."""
    f = bank_frequencies()
    return 1 / numpy.hypot(f[:, 0], f[:, 1]), numpy.degrees(numpy.arctan2(f[:, 0], f[:, 1]))


def region_peak(image, region):
    """Dominant frequency (rows, columns; cycles/pixel) of ``image`` inside boolean ``region``, or None."""
    if region.sum() < MIN_REGION:
        return None
    v = numpy.where(region, image - image[region].mean(), 0.0)
    power = numpy.abs(numpy.fft.fft2(v, s=(PAD, PAD))) ** 2
    power[0, 0] = 0
    a, b = numpy.unravel_index(power.argmax(), power.shape)
    f = numpy.array([a, b], float)
    f = numpy.where(f >= PAD / 2, f - PAD, f) / PAD
    return f


def nearest_texture(f):
    """Index of the bank texture whose frequency (up to sign) is nearest to ``f``, and the distance."""
    bank = bank_frequencies()
    d = numpy.minimum(numpy.linalg.norm(bank - f, axis=1), numpy.linalg.norm(bank + f, axis=1))
    return int(d.argmin()), float(d.min())


def pixel_stats(values):
    v = numpy.asarray(values, float).ravel()
    return {"mean": float(v.mean()), "std": float(v.std()), "min": float(v.min()), "max": float(v.max()),
            "quantiles": {f"{q:g}": float(numpy.quantile(v, q)) for q in QUANTILES}}


def ks_statistic(a, b):
    """Two-sample Kolmogorov-Smirnov statistic (largest gap between the empirical CDFs)."""
    a, b = numpy.sort(numpy.ravel(a)), numpy.sort(numpy.ravel(b))
    grid = numpy.concatenate([a, b])
    return float(numpy.abs(numpy.searchsorted(a, grid, "right") / len(a)
                           - numpy.searchsorted(b, grid, "right") / len(b)).max())


def entropy(m):
    """Per-pixel entropy (nats) of masks m (K, ...), summed over K."""
    p = numpy.clip(m, 1e-12, 1)
    return -(m * numpy.log(p)).sum(axis=0)


def background_candidates(bank, x, region):
    """(code, row, column) crops of the bank equal (to 1e-6) to ``x`` on at least 95 % of ``region``
    (a model's background group also holds a few pixels that a digit's faint edge touches)."""
    hits = []
    for c in range(tm.N_TEXTURES):
        for r in range(tm.MAX_CROP + 1):
            for q in range(tm.MAX_CROP + 1):
                if (numpy.abs(bank[c, r:r + S, q:q + S][region] - x[region]) < 1e-6).mean() >= 0.95:
                    hits.append((c, r, q))
    return hits


def locate(digits, bank, x, background_region):
    """Find ``x`` among our TextureMNIST2 images (authors' seeds). Returns a list of match records."""
    wanted = background_candidates(bank, x, background_region)
    seeds = tm.seeds(None)
    streams = (("train+valid", digits.train_images, digits.train_labels, seeds["train"]),
               ("test", digits.test_images, digits.test_labels, seeds["test"]))
    found, rendered = [], 0
    for random_top in (False, True):
        for name, images, labels, seed in streams:
            plan = tm.plan_images(len(images), len(images), 2, numpy.random.RandomState(seed),
                                  numpy.random.RandomState(seeds["crops"]), random_top)
            keys = numpy.concatenate([plan["codes"][:, :1], plan["crops"][:, 0]], axis=1)   # (n, 3)
            hit = numpy.zeros(len(keys), bool)
            for w in wanted:
                hit |= (keys == numpy.array(w)).all(axis=1)
            for i in numpy.nonzero(hit)[0]:
                out = tm.render(bank, images, labels, plan, i, i + 1)
                rendered += 1
                f = out["features"][0].reshape(S, S)
                if numpy.array_equal(f, x):
                    found.append({"stream": name, "index": int(i), "random_top": random_top, "out": out,
                                  "crops": plan["crops"][i].tolist(), "layer_digits": plan["layer_digits"][i].tolist()})
                elif not random_top and numpy.abs(f - x).max() < 1e-3:
                    found.append({"stream": name, "index": int(i), "random_top": random_top, "out": out,
                                  "near": float(numpy.abs(f - x).max())})
    return wanted, found, rendered


def split_of(stream, index, sizes=tm.DEFAULT_SIZES):
    if stream == "test":
        return "test", index
    return ("train", index) if index < sizes["train"] else ("valid", index - sizes["train"])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mnist", required=True, help="folder with the four standard MNIST files")
    ap.add_argument("--authors-npz", required=True, help="the authors' mnist_removal_example_v3.npz")
    ap.add_argument("--n", type=int, default=300, help="images in our sample (default 300)")
    ap.add_argument("--png", default=None, help="where to draw the side-by-side figure (needs matplotlib)")
    ap.add_argument("--json", default=None, help="write the numbers as JSON here")
    args = ap.parse_args(argv)
    report = {}

    # 1. the authors' arrays
    a = numpy.load(args.authors_npz)
    print("== the authors' example")
    report["authors_arrays"] = {}
    for k in a.files:
        v = a[k]
        report["authors_arrays"][k] = {"shape": list(v.shape), "dtype": str(v.dtype),
                                       "min": float(v.min()), "max": float(v.max()), "mean": float(v.mean())}
        print(f"  {k:10s} {str(v.shape):14s} {str(v.dtype):8s} min {v.min():.4g} max {v.max():.4g} mean {v.mean():.4f}")
    x = a["x"][0]
    m = a["m"]
    K = m.shape[0]
    bg_group = int(m.reshape(K, -1).sum(1).argmax())

    # 2. where their image is in our data
    digits = load_digits(args.mnist)
    bank = tm.texture_bank(numpy.random.RandomState(tm.seeds(None)["textures"]))
    period, angle = texture_geometry()
    report["bank"] = {"min": float(bank.min()), "max": float(bank.max()),
                      "per_texture_min_max_exact": bool((bank.min((1, 2)) == 0).all() and (bank.max((1, 2)) == 1).all()),
                      "period_px": [float(period.min()), float(period.max())],
                      "orientation_deg": [float(angle.min()), float(angle.max())]}
    print(f"== texture bank: values {bank.min()}..{bank.max()}, periods {period.min():.2f}..{period.max():.2f} px,"
          f" orientations {angle.min():.1f}..{angle.max():.1f} deg; MNIST standard files: {digits.standard}")
    wanted, found, rendered = locate(digits, bank, x.astype(numpy.float32), m[bg_group] > 0.99)
    print(f"== locating their x: background group {bg_group}; background crops equal on its pixels: {wanted};"
          f" {rendered} candidate images rendered")
    exact = [f for f in found if "near" not in f]
    for f in found:
        split, idx = split_of(f["stream"], f["index"])
        print(f"  {'EXACT' if 'near' not in f else 'near'} match: {split} image {idx} (stream {f['stream']} index"
              f" {f['index']}), random_top={f['random_top']}, codes {f['out']['codes'][0].tolist()},"
              f" targets {f['out']['targets'][0].tolist()}")
    report["match"] = [{k: v for k, v in f.items() if k != "out"} | {"split": split_of(f["stream"], f["index"])[0],
                        "split_index": split_of(f["stream"], f["index"])[1], "codes": f["out"]["codes"][0].tolist(),
                        "targets": f["out"]["targets"][0].tolist()} for f in found]
    if not exact:
        print("  no exact match found")
    for f in exact:
        if not f["random_top"]:     # the same image under --random-top (same draws, other stacking)
            images = digits.train_images if f["stream"] != "test" else digits.test_images
            labels = digits.train_labels if f["stream"] != "test" else digits.test_labels
            seed = tm.seeds(None)["train" if f["stream"] != "test" else "test"]
            plan = tm.plan_images(len(images), f["index"] + 1, 2, numpy.random.RandomState(seed),
                                  numpy.random.RandomState(tm.seeds(None)["crops"]), True)
            other = tm.render(bank, images, labels, plan, f["index"], f["index"] + 1)["features"][0].reshape(S, S)
            f["random_top_mean_abs_diff"] = float(numpy.abs(other - x).mean())
            print(f"  the same image with random_top=True: mean |difference| {f['random_top_mean_abs_diff']:.4f}")

    # 3. their masks against our ground truth
    stats_masks = {"groups": K, "background_group": bg_group,
                   "mass_per_group_px": [float(v) for v in m.reshape(K, -1).sum(1)],
                   "argmax_pixels_per_group": [int((m.argmax(0) == k).sum()) for k in range(K)],
                   "pixels_above_0.9_per_group": [int((m[k] > 0.9).sum()) for k in range(K)],
                   "entropy_mean_nats": float(entropy(m).mean()), "entropy_max_possible": float(numpy.log(K)),
                   "frac_pixels_max_above_0.9": float((m.max(0) > 0.9).mean()),
                   "removed_mass_per_group_px": [float(v) for v in a["m_removed"].reshape(K, -1).sum(1)],
                   "reconstruction_rmse": float(numpy.sqrt((((m * a["z"]).sum(0) - x) ** 2).mean()))}
    if exact:
        gt = exact[0]["out"]["mask"][0]                                   # (3, 784): background, bottom, top
        labels, scored = true_labels(gt[None])
        pred = m.reshape(K, 1, -1).argmax(0)                               # (1, 784)
        stats_masks["ami_vs_truth"] = float(ami_per_image(labels, scored, pred)[0])
        stats_masks["scored_pixels"] = int(scored.sum())
        conf = numpy.zeros((gt.shape[0], K), int)
        for g in range(gt.shape[0]):
            for k in range(K):
                conf[g, k] = int(((labels[0] == g) & scored[0] & (pred[0] == k)).sum())
        stats_masks["confusion_truth_by_group"] = conf.tolist()
        soft = numpy.einsum("gn,kn->gk", gt, m.reshape(K, -1)) / gt.sum(1, keepdims=True)
        stats_masks["soft_overlap_truth_by_group"] = soft.round(3).tolist()
        cent = lambda w: (numpy.array(numpy.nonzero(numpy.ones((S, S)))).T * w.reshape(-1, 1)).sum(0) / w.sum()
        stats_masks["centroids_truth_rc"] = [cent(g).round(2).tolist() for g in gt.reshape(-1, S * S)[1:]]
        stats_masks["centroids_groups_rc"] = [cent(m[k].ravel()).round(2).tolist() for k in range(K)]
    report["authors_masks"] = stats_masks
    print("== their masks m:", json.dumps(stats_masks))

    # 4. our sample, written by the command line
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "tmnist2-sample.npz")
        rc = cli_main(["data", "texture-mnist", "--digits", "2", "--mnist", args.mnist, "--out", path,
                       "--train", str(args.n), "--valid", "0", "--test", "0"])
        if rc not in (0, None):
            sys.exit(f"tagger-ref data failed with status {rc}")
        ours = load_dataset(path, "train", expect="texture-mnist2")
    X = ours.features.reshape(-1, S, S)
    M = ours.mask.reshape(-1, 3, S, S)
    per_mean, per_std = X.reshape(len(X), -1).mean(1), X.reshape(len(X), -1).std(1)
    ks_ours = numpy.array([ks_statistic(X[i], numpy.delete(X, i, 0)) for i in range(len(X))])
    ks_theirs = ks_statistic(x, X)
    stats = {"theirs_pixels": pixel_stats(x), "ours_pixels": pixel_stats(X),
             "ours_per_image_mean": pixel_stats(per_mean), "ours_per_image_std": pixel_stats(per_std),
             "theirs_mean_percentile": float((per_mean < x.mean()).mean()),
             "theirs_std_percentile": float((per_std < x.std()).mean()),
             "ks_theirs_vs_ours": ks_theirs, "ks_ours_one_vs_rest": pixel_stats(ks_ours),
             "ks_theirs_percentile": float((ks_ours < ks_theirs).mean()),
             "ours_frac_exact_0_or_1": float(numpy.isin(X, (0, 1)).mean()),
             "theirs_frac_exact_0_or_1": float(numpy.isin(x, (0, 1)).mean())}
    # region spectra: ours with the true masks, theirs with their masks (and the truth where matched)
    hits = {"background": [0, 0], "bottom digit": [0, 0], "top digit": [0, 0]}
    dist = []
    for i in range(len(X)):
        for g, name in enumerate(hits):
            f = region_peak(X[i], M[i, g] > 0.9)
            if f is None:
                continue
            t, d = nearest_texture(f)
            hits[name][0] += int(t == ours.codes[i, g])
            hits[name][1] += 1
            dist.append(d)
    stats["ours_region_texture_identified"] = {k: f"{v[0]}/{v[1]}" for k, v in hits.items()}
    stats["ours_region_peak_distance_median"] = float(numpy.median(dist))
    theirs_regions = {}
    for k in range(K):
        region = (m.argmax(0) == k) & (m[k] > 0.9)
        f = region_peak(x, region)
        if f is None:
            theirs_regions[f"group {k}"] = f"{int(region.sum())} px, too small"
            continue
        t, d = nearest_texture(f)
        theirs_regions[f"group {k}"] = {"pixels": int(region.sum()), "peak_cycles_per_px": f.round(4).tolist(),
                                        "texture": t, "bank_frequency": bank_frequencies()[t].round(4).tolist(),
                                        "period_px": round(float(period[t]), 2), "distance": round(d, 4)}
    stats["theirs_region_textures"] = theirs_regions
    f_whole = region_peak(x, numpy.ones((S, S), bool))
    stats["theirs_whole_image_peak_texture"] = nearest_texture(f_whole)[0]
    # geometry of our layers: mean centroid of each true mask
    cy = numpy.einsum("ngrc,r->ng", M, numpy.arange(S)) / M.sum((2, 3))
    cx = numpy.einsum("ngrc,c->ng", M, numpy.arange(S)) / M.sum((2, 3))
    stats["ours_mean_centroid_rc"] = {"bottom layer": [float(cy[:, 1].mean()), float(cx[:, 1].mean())],
                                      "top layer": [float(cy[:, 2].mean()), float(cx[:, 2].mean())]}
    stats["ours_mask_sum_max_dev"] = float(numpy.abs(M.sum(1) - 1).max())
    stats["ours_scored_fraction"] = float((M.max(1) > 0.9).mean())
    stats["ours_scored_per_group_mean_px"] = [float(((M.argmax(1) == g) & (M.max(1) > 0.9)).sum((1, 2)).mean())
                                              for g in range(3)]
    # what simple groupings score with the project's AMI (context for a model's AMI on this data)
    labels, scored = true_labels(ours.mask)                                 # (n, 784)
    rr, cc = numpy.indices((S, S)).reshape(2, -1)
    radius = numpy.hypot(rr - (S - 1) / 2, cc - (S - 1) / 2)
    rng = numpy.random.RandomState(0)
    baselines = {"truth": labels,
                 "two digits merged, background apart": numpy.minimum(labels, 1),
                 "bottom digit merged into background": (labels == 2).astype(int),
                 "top digit merged into background": (labels == 1).astype(int),
                 "random labels, 4 groups": rng.randint(0, 4, labels.shape)}
    for r in (6, 8, 10, 12):
        baselines[f"disc of radius {r} px around the centre"] = numpy.broadcast_to(radius < r, labels.shape).astype(int)
    stats["ours_ami_of_simple_groupings"] = {k: round(float(ami_per_image(labels, scored, v).mean()), 3)
                                             for k, v in baselines.items()}
    report["statistics"] = stats
    print("== statistics:", json.dumps(stats, indent=1))

    if args.png:
        draw(args.png, x, m, exact[0]["out"] if exact else None, X[0], M[0], ours.codes[0], ours.targets[0])
        print("== figure:", args.png)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=1)
    return 0


def draw(path, x, m, match, x_ours, m_ours, codes, targets):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    K = len(m)
    fig, axes = plt.subplots(3, K + 1, figsize=(2.2 * (K + 1), 7))
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].imshow(x, cmap="gray", vmin=0, vmax=1)
    axes[0, 0].set_title("authors' x", fontsize=9)
    for k in range(K):
        axes[0, k + 1].imshow(m[k], cmap="viridis", vmin=0, vmax=1)
        axes[0, k + 1].set_title(f"authors' m[{k}]", fontsize=9)
    names = ("background", "bottom digit", "top digit")
    if match is not None:
        axes[1, 0].imshow(match["features"][0].reshape(S, S), cmap="gray", vmin=0, vmax=1)
        axes[1, 0].set_title("ours, same image", fontsize=9)
        for g in range(3):
            axes[1, g + 1].imshow(match["mask"][0, g].reshape(S, S), cmap="viridis", vmin=0, vmax=1)
            axes[1, g + 1].set_title(f"true {names[g]}", fontsize=9)
        axes[1, K].imshow(numpy.abs(match["features"][0].reshape(S, S) - x), cmap="gray", vmin=0, vmax=1)
        axes[1, K].set_title("|ours - theirs|", fontsize=9)
    axes[2, 0].imshow(x_ours, cmap="gray", vmin=0, vmax=1)
    axes[2, 0].set_title(f"ours, train 0 {targets.tolist()}", fontsize=9)
    for g in range(3):
        axes[2, g + 1].imshow(m_ours[g], cmap="viridis", vmin=0, vmax=1)
        axes[2, g + 1].set_title(f"true {names[g]} (t{codes[g]})", fontsize=9)
    axes[2, K].axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    sys.exit(main())
