"""Evaluation of a trained model (docs/spec.md section 5, the paper's Table 1): denoising cost and AMI per iteration.

- Denoising cost of iteration i: ``cost_i`` of docs/spec.md section 4 on *corrupted* input, averaged over
  images (every image has N inputs, so this is the mean over all inputs of the set).
- AMI of iteration i, per image, on *clean* input: the true label of a pixel is the argmax over the
  ground-truth mask channels; only pixels whose mask maximum exceeds 0.9 are scored (this drops
  background and overlaps); the predicted label is the argmax over the K groups of ``m_i``. Scored
  with scikit-learn's ``adjusted_mutual_info_score(..., average_method="max")``, the definition
  in force in 2016 (errata E10); Table 1 reports the mean over images.

Degenerate images are scored exactly as the authors' code scored them (``ami_score_op`` of
CuriousAI/tagger: every image, scikit-learn's value): no scored pixel, or a single true group
predicted as a single group, gives 1.0; a single true group split over several predicted groups
gives 0.0. On Shapes such images are rare (two sprites covering each other leave one scored
sprite); :func:`degenerate_images` counts them so that a report can say how many there were.

Batch norm uses the statistics of each evaluation batch (``batch_size`` images, 100 as in the
paper); a last batch with fewer images is evaluated as it is, with its own statistics, so every
image is scored. All random draws (corruption, initial mask logits) come from the ``rng`` given.
Every pass takes the fast path (``ops=FAST``), as training does (docs/training.md, "Fast path").
"""

import numpy
from sklearn.metrics import adjusted_mutual_info_score

from ..device.backend import np, to_numpy
from ..maths.classification import class_cost_log, class_log_probabilities, class_targets
from ..maths.corruption import make_inputs
from ..maths.functions import softmax
from ..maths.model import forward
from ..maths.ops import FAST

SCORED_THRESHOLD = 0.9  # a pixel is scored when its ground-truth mask maximum exceeds this (docs/spec.md section 5)
AMI_AVERAGE = "max"  # scikit-learn's normaliser of 2016 (errata E10); its default became "arithmetic" in 0.22


def batch_slices(n, batch_size):
    """Consecutive slices of at most ``batch_size`` items covering ``range(n)`` (the last may be shorter)."""
    return [slice(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]


def true_labels(mask):
    """Ground truth from a mask (n, G, N): labels (n, N) = argmax over G, scored (n, N) = max over G > 0.9."""
    mask = numpy.asarray(mask)
    return mask.argmax(axis=1), mask.max(axis=1) > SCORED_THRESHOLD


def predicted_labels(m):
    """The group each pixel is assigned to: argmax over K of m (K, B, N). Returns (B, N)."""
    return numpy.asarray(m).argmax(axis=0)


def ami_per_image(labels, scored, predicted):
    """AMI of each image on its scored pixels; labels, scored, predicted are (n, N). Returns (n,) float64."""
    return numpy.array(
        [
            adjusted_mutual_info_score(t[s], p[s], average_method=AMI_AVERAGE)
            for t, s, p in zip(labels, scored, predicted)
        ],
        dtype=numpy.float64,
    )


def degenerate_images(mask):
    """Number of images with fewer than two true groups among their scored pixels (see the module doc)."""
    labels, scored = true_labels(mask)
    return int(sum(len(numpy.unique(t[s])) < 2 for t, s in zip(labels, scored)))


def infer(params, config, x, rng, n_iterations, n_groups=None, corrupted=False, remove_group=None):
    """One forward pass over a batch x (B, N); inputs drawn from ``rng`` by make_inputs.

    Returns NumPy arrays: ``z`` and ``m`` of shape (T+1, K, B, N) (iterations 0..T),
    ``cost`` (T,) the per-iteration costs, ``x_tilde`` (B, N) the input fed, and ``ladder_top``
    (T, K, B, H_{L-1}) the top softmax of each iteration (a classifier's per-group class outputs).
    """
    inputs = make_inputs(config, x, rng, corrupted=corrupted, n_groups=n_groups)
    trace = forward(params, config, inputs, n_iterations=n_iterations, remove_group=remove_group, ops=FAST)
    T = n_iterations
    return {
        "z": numpy.stack([to_numpy(trace[f"z_{i}"]) for i in range(T + 1)]),
        "m": numpy.stack([to_numpy(trace[f"m_{i}"]) for i in range(T + 1)]),
        "cost": numpy.array([float(to_numpy(trace[f"cost_{i}"])) for i in range(1, T + 1)]),
        "x_tilde": to_numpy(inputs["x_tilde"]),
        "ladder_top": numpy.stack([to_numpy(trace[f"ladder_top_{i}"]) for i in range(T)]),
    }


def denoising_costs(params, config, features, rng, n_iterations, n_groups=None, batch_size=None, progress=None):
    """Mean denoising cost of iterations 1..T over all images, on corrupted input. Returns (T,) float64.
    ``progress(what, done, total)``, if given, is called after every batch (images done of total)."""
    features = numpy.asarray(features)
    batch_size = batch_size or config.batch_size
    total = numpy.zeros(n_iterations)
    for rows in batch_slices(len(features), batch_size):
        x = features[rows]
        inputs = make_inputs(config, x, rng, corrupted=True, n_groups=n_groups)
        trace = forward(params, config, inputs, n_iterations=n_iterations, ops=FAST)
        total += len(x) * numpy.array([float(to_numpy(trace[f"cost_{i}"])) for i in range(1, n_iterations + 1)])
        if progress:
            progress("denoising cost", rows.stop, len(features))
    return total / len(features)


def ami_scores(params, config, features, mask, rng, n_iterations, n_groups=None, batch_size=None, progress=None):
    """AMI of every image at every iteration 1..T, on clean input. Returns (T, n) float64.
    ``progress`` as :func:`denoising_costs`'s."""
    features = numpy.asarray(features)
    labels, scored = true_labels(mask)
    batch_size = batch_size or config.batch_size
    scores = numpy.zeros((n_iterations, len(features)))
    for rows in batch_slices(len(features), batch_size):
        m = infer(params, config, features[rows], rng, n_iterations, n_groups)["m"]  # (T+1, K, B, N)
        for i in range(1, n_iterations + 1):
            scores[i - 1, rows] = ami_per_image(labels[rows], scored[rows], predicted_labels(m[i]))
        if progress:
            progress("AMI", rows.stop, len(features))
    return scores


def evaluate(params, config, features, mask, rng, n_iterations=5, n_groups=None, batch_size=None, progress=None):
    """Table 1 of the paper for one model: per iteration 1..T the denoising cost (corrupted input)
    and the AMI (clean input), with K groups (default: the config's).

    Returns {"denoising_cost": (T,), "ami": (T, n) per image}. The denoising pass draws first,
    then the AMI pass, both from ``rng``. ``progress(what, done, total)``, if given, hears of every batch.
    """
    costs = denoising_costs(params, config, features, rng, n_iterations, n_groups, batch_size, progress)
    ami = ami_scores(params, config, features, mask, rng, n_iterations, n_groups, batch_size, progress)
    return {"denoising_cost": costs, "ami": ami}


def table1_rows(result):
    """Rows of table1.csv from :func:`evaluate`'s result: iteration, denoising_cost, ami (mean over
    images), ami_median (median over images)."""
    return [
        {
            "iteration": i + 1,
            "denoising_cost": float(cost),
            "ami": float(numpy.mean(result["ami"][i])),
            "ami_median": float(numpy.median(result["ami"][i])),
        }
        for i, cost in enumerate(result["denoising_cost"])
    ]


# ---------------------------------------------------------------------------------------------
# classification (section 3.3, Table 2)


def iteration_class_log_probs(config, trace, n_iterations, prefix=""):
    """log P(class) (T, B, C) of every iteration 1..T of a forward trace.

    From the top layer's logits that ``forward`` keeps in memory, ``ladder_top_logits_i``, by
    ``class_log_probabilities`` as the training cost takes them (log domain, finite where the top
    softmax saturates).
    """
    K, B, _ = trace[prefix + "m_0"].shape
    out = []
    for i in range(n_iterations):
        top_logits = np.reshape(trace[f"{prefix}ladder_top_logits_{i}"], (K * B, -1))  # (K*B, C+1)
        out.append(to_numpy(class_log_probabilities(top_logits, K, config.n_classes)))  # (B, C)
    return numpy.stack(out)


def evaluate_classifier(
    params, config, features, targets, rng, n_iterations, mask=None, n_groups=None, batch_size=None, progress=None
):
    """Table 2 of the paper for one model with a classification head, per iteration 1..T.

    A pass over all images on corrupted input gives ``denoising_cost`` (T,) and ``class_cost``
    (T,) (batch mean of -sum_c t_c log P_c, averaged over images); then a pass on clean input gives
    ``class_probs`` (T, n, C), ``class_error`` (T,) in percent (``class_errors``: argmax, or the
    authors' top-2 error for two digits) and, when ``mask`` (n, G, N) is given, ``ami`` (T, n).
    Both passes draw from ``rng``, in that order, batch by batch. ``progress(what, done, total)``,
    if given, hears of every batch.
    """
    features, targets = numpy.asarray(features), numpy.asarray(targets).reshape(len(features), -1)
    batch_size = batch_size or config.batch_size
    T, n, C = n_iterations, len(features), config.n_classes
    costs, class_cost = numpy.zeros(T), numpy.zeros(T)
    for rows in batch_slices(n, batch_size):
        inputs = make_inputs(config, features[rows], rng, corrupted=True, n_groups=n_groups, y=targets[rows])
        trace = forward(params, config, inputs, n_iterations=T, ops=FAST)
        t = class_targets(inputs["y"], C, dtype=config.dtype)
        log_p = iteration_class_log_probs(config, trace, T)  # (T, B, C)
        count = rows.stop - rows.start
        costs += count * numpy.array([float(to_numpy(trace[f"cost_{i}"])) for i in range(1, T + 1)])
        class_cost += count * numpy.array([float(to_numpy(class_cost_log(lp, to_numpy(t)))) for lp in log_p])
        if progress:
            progress("costs", rows.stop, n)
    probs = numpy.zeros((T, n, C))
    ami = numpy.zeros((T, n)) if mask is not None else None
    if mask is not None:
        labels, scored = true_labels(mask)
    for rows in batch_slices(n, batch_size):
        inputs = make_inputs(config, features[rows], rng, corrupted=False, n_groups=n_groups, y=targets[rows])
        trace = forward(params, config, inputs, n_iterations=T, ops=FAST)
        log_p = iteration_class_log_probs(config, trace, T)
        probs[:, rows] = softmax(log_p, axis=-1)  # as the trace's class_probs
        if mask is not None:
            for i in range(1, T + 1):
                ami[i - 1, rows] = ami_per_image(
                    labels[rows], scored[rows], predicted_labels(to_numpy(trace[f"m_{i}"]))
                )
        if progress:
            progress("classes" + (" and AMI" if mask is not None else ""), rows.stop, n)
    error = numpy.array([100.0 * class_error(p, targets) for p in probs])
    result = {"denoising_cost": costs / n, "class_cost": class_cost / n, "class_probs": probs, "class_error": error}
    if ami is not None:
        result["ami"] = ami
    return result


def class_errors(probs, y):
    """Per-image error in [0, 1] (the authors' top-2 error). One digit: 1 where the argmax is not
    the label. Two digits with different labels: 1 - (labels among the two most probable classes) / 2,
    so 0, 0.5 or 1; with equal labels: 1 where the argmax is not that label. (n,) float64."""
    probs = to_numpy(probs)
    y = to_numpy(y).reshape(len(probs), -1)  # (n, objects)
    order = numpy.argsort(-probs, axis=1, kind="stable")  # (n, C), most probable first
    top1_wrong = (order[:, 0] != y[:, 0]).astype(numpy.float64)
    if y.shape[1] == 1:
        return top1_wrong
    hits = (order[:, :2, None] == y[:, None, :]).any(axis=1)  # (n, objects): label in the top 2
    top2_wrong = 1.0 - hits.sum(axis=1) / y.shape[1]
    return numpy.where(y[:, 0] == y[:, 1], top1_wrong, top2_wrong)


def class_error(probs, y):
    """Mean of ``class_errors`` over the images: the fraction misclassified (x 100 for percent)."""
    return float(numpy.mean(class_errors(probs, y)))


def table2_rows(result):
    """Rows of table2.csv from :func:`evaluate_classifier`'s result: iteration, class_error (%),
    class_cost, denoising_cost, ami (mean over images)."""
    return [
        {
            "iteration": i + 1,
            "class_error": float(result["class_error"][i]),
            "class_cost": float(result["class_cost"][i]),
            "denoising_cost": float(result["denoising_cost"][i]),
            "ami": float(numpy.mean(result["ami"][i])),
        }
        for i in range(len(result["class_error"]))
    ]


def chance_error(n_objects, n_classes=10):
    """The error in percent of guessing: 1 - 1/C for one digit; for two, about 1 - 2/C (the top-2
    of a guess holds each of two different labels with probability 2/C; 80 % for C = 10)."""
    return 100.0 * (1.0 - (1.0 if n_objects == 1 else 2.0) / n_classes)
