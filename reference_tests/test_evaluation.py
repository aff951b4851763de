"""Evaluation (docs/spec.md section 5): scored pixels, AMI against a hand computation and an independent
implementation, degenerate images, and the denoising cost over batches."""

import math

import numpy
import pytest

from tagger_ref.config import PRESETS
from tagger_ref.experiments.evaluation import (
    ami_per_image,
    batch_slices,
    class_error,
    degenerate_images,
    denoising_costs,
    evaluate,
    infer,
    predicted_labels,
    table1_rows,
    true_labels,
)
from tagger_ref.maths.init import init_params, perturb_params


def ami_by_formula(a, b):
    """Adjusted mutual information normalised by max(H(a), H(b)) (Vinh, Epps and Bailey 2010),
    written from the formula with an explicit hypergeometric expectation, in plain Python."""
    n = len(a)
    classes, clusters = sorted(set(a)), sorted(set(b))
    if len(classes) == len(clusters) == 1 or n == 0:
        return 1.0
    count = {(i, j): 0 for i in classes for j in clusters}
    for x, y in zip(a, b):
        count[x, y] += 1
    rows = {i: sum(count[i, j] for j in clusters) for i in classes}
    cols = {j: sum(count[i, j] for i in classes) for j in clusters}
    mi = sum(c / n * math.log(n * c / (rows[i] * cols[j])) for (i, j), c in count.items() if c > 0)
    h_a = -sum(r / n * math.log(r / n) for r in rows.values())
    h_b = -sum(c / n * math.log(c / n) for c in cols.values())

    def lf(k):  # log k!
        return math.lgamma(k + 1)

    emi = 0.0
    for r in rows.values():
        for c in cols.values():
            for nij in range(max(1, r + c - n), min(r, c) + 1):
                log_p = (
                    lf(r)
                    + lf(c)
                    + lf(n - r)
                    + lf(n - c)
                    - lf(n)
                    - lf(nij)
                    - lf(r - nij)
                    - lf(c - nij)
                    - lf(n - r - c + nij)
                )
                emi += nij / n * math.log(n * nij / (r * c)) * math.exp(log_p)
    return (mi - emi) / (max(h_a, h_b) - emi)


def mask_of(labels, scored, G=3):
    """A ground-truth mask (1, G, N) in the datasets' form: one-hot where scored, 1/G elsewhere."""
    labels, scored = numpy.asarray(labels), numpy.asarray(scored, bool)
    mask = numpy.full((1, G, len(labels)), 1.0 / G)
    mask[0, :, scored] = numpy.eye(G)[labels[scored]]
    return mask


def test_hand_computed_ami_ignores_unscored_pixels():
    # Scored pixels: truth (0, 0, 1, 1), prediction (0, 1, 0, 1). MI = 0, H = ln 2 each; the expected MI
    # sums, over the 4 cells of row and column sums 2, n_ij = 2 with probability C(2,2)C(2,0)/C(4,2) = 1/6
    # and weight (2/4) ln(4*2/4): EMI = 4 * ln2/12 = ln2/3, so AMI = (0 - ln2/3) / (ln2 - ln2/3) = -1/2.
    labels = [0, 0, 1, 1, 2, 0]
    scored = [1, 1, 1, 1, 0, 0]
    predicted = numpy.array([[0, 1, 0, 1, 1, 1]])
    truth, mask_scored = true_labels(mask_of(labels, scored))
    assert ami_per_image(truth, mask_scored, predicted)[0] == pytest.approx(-0.5, abs=1e-12)
    # the same pixels with a perfect (relabelled) prediction; unscored pixels may be anything
    assert ami_per_image(truth, mask_scored, numpy.array([[3, 3, 1, 1, 0, 2]]))[0] == pytest.approx(1.0)


def test_class_error_hand_computed():
    probs = numpy.array([[0.5, 0.3, 0.2], [0.5, 0.3, 0.2], [0.1, 0.2, 0.7], [0.6, 0.3, 0.1]])
    y = numpy.array([[1, 0], [2, 0], [2, 2], [0, 0]])
    # row 0: top-2 {0,1} = {1,0} right; row 1: {0,1} holds one of {2,0}, half wrong; row 2: same class,
    # top-1 2 right; row 3: same class 0, top-1 0 right
    assert class_error(probs, y) == pytest.approx(0.125)
    assert class_error(probs[:, :3], numpy.array([[0], [1], [2], [0]])) == pytest.approx(0.25)


def test_scored_threshold_and_labels():
    mask = numpy.array([[[0.95, 0.9, 1 / 3, 0.0], [0.05, 0.1, 1 / 3, 0.0], [0.0, 0.0, 1 / 3, 1.0]]])  # (1, 3, 4)
    labels, scored = true_labels(mask)
    assert scored.tolist() == [[True, False, False, True]]  # max must exceed 0.9 strictly
    assert labels[0, [0, 3]].tolist() == [0, 2]
    m = numpy.array([[[0.2, 0.7]], [[0.5, 0.1]], [[0.3, 0.2]]])  # (K=3, B=1, N=2)
    assert predicted_labels(m).tolist() == [[1, 0]]


def test_ami_against_an_independent_implementation():
    rng = numpy.random.default_rng(3)
    n_images, N = 25, 40
    labels = rng.integers(0, 3, (n_images, N))
    scored = rng.random((n_images, N)) < 0.6
    predicted = numpy.where(rng.random((n_images, N)) < 0.7, labels, rng.integers(0, 4, (n_images, N)))
    ours = ami_per_image(labels, scored, predicted)
    for k in range(n_images):
        assert ours[k] == pytest.approx(
            ami_by_formula(labels[k][scored[k]].tolist(), predicted[k][scored[k]].tolist()), abs=1e-10
        )


def test_degenerate_images_score_as_the_authors_code():
    # no scored pixel: 1; one true group in one predicted group: 1; one true group split in two: 0
    labels = numpy.array([[0, 0, 0], [1, 1, 1], [1, 1, 1]])
    scored = numpy.array([[0, 0, 0], [1, 1, 1], [1, 1, 1]], bool)
    predicted = numpy.array([[0, 1, 2], [2, 2, 2], [2, 0, 2]])
    assert ami_per_image(labels, scored, predicted).tolist() == [1.0, 1.0, 0.0]
    masks = numpy.concatenate(
        [mask_of([0, 1, 0], [0, 0, 0]), mask_of([1, 1, 1], [1, 1, 1]), mask_of([0, 1, 2], [1, 1, 0])]
    )
    assert degenerate_images(masks) == 2


def test_batch_slices_cover_everything_once():
    assert batch_slices(5, 2) == [slice(0, 2), slice(2, 4), slice(4, 5)]
    assert batch_slices(4, 4) == [slice(0, 4)]


def layer_norm_model(preset="tiny-binary", **changes):
    config = PRESETS[preset].replace(norm="layer", **changes)
    rng = numpy.random.default_rng(5)
    return config, perturb_params(init_params(config, rng), rng)


def test_denoising_cost_weights_a_short_last_batch():
    # With one group and no noise (sigma = 0) the draws do not matter, and with layer norm every image is computed
    # on its own, so batches of 2, 2 and 1 image must give the mean over the 5 images of one batch.
    config, params = layer_norm_model("tiny-continuous", input_noise=0.0)
    x = numpy.random.default_rng(0).random((5, config.n_inputs))
    rng = numpy.random.default_rng
    whole = denoising_costs(params, config, x, rng(1), 4, n_groups=1, batch_size=5)
    split = denoising_costs(params, config, x, rng(2), 4, n_groups=1, batch_size=2)
    per_image = numpy.mean(
        [infer(params, config, x[b : b + 1], rng(3), 4, 1, corrupted=True)["cost"] for b in range(5)], axis=0
    )
    numpy.testing.assert_allclose(split, whole, rtol=1e-12)
    numpy.testing.assert_allclose(per_image, whole, rtol=1e-12)


def test_evaluate_table_shape_determinism_and_one_group():
    config, params = layer_norm_model()
    rng = numpy.random.default_rng(0)
    x = (rng.random((7, config.n_inputs)) < 0.5).astype(float)
    labels = rng.integers(0, 3, (7, config.n_inputs))
    labels[0] = 1  # image 0 has a single true group
    mask = numpy.eye(3)[labels].transpose(0, 2, 1)  # (n, G, N), every pixel scored
    a = evaluate(params, config, x, mask, numpy.random.default_rng(9), n_iterations=4, batch_size=3)
    b = evaluate(params, config, x, mask, numpy.random.default_rng(9), n_iterations=4, batch_size=3)
    rows = table1_rows(a)
    assert [r["iteration"] for r in rows] == [1, 2, 3, 4]
    assert a["ami"].shape == (4, 7) and a["denoising_cost"].shape == (4,)
    assert rows == table1_rows(b)
    assert rows[2]["ami_median"] == numpy.median(a["ami"][2])
    # K = 1 puts every pixel in one group: AMI 1 for the single-group image, 0 for the others
    one = evaluate(params, config, x, mask, numpy.random.default_rng(9), n_iterations=2, n_groups=1)
    assert one["ami"][:, 0].tolist() == [1.0, 1.0]
    assert numpy.all(one["ami"][:, 1:] == 0.0)
