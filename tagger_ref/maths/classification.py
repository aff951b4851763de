"""Classification with Tagger (section 3.3, Figure 3's y_g): per-group class outputs and the "no class" unit."""

import numpy

from ..device.backend import np
from .functions import logsumexp, mean


def class_probabilities(top, n_groups, n_classes):
    """P(class) from the top Ladder layer (K*B, C+1), whose last unit is "no class".

    pred_k = h^{L-1}_k[:C] per group, normalised jointly over groups and classes, then summed
    over groups: P = sum_k pred_k / sum_{k,c} pred_{k,c}. Shape (B, C).
    The model uses the same quantity in the log domain, ``class_log_probabilities``.
    """
    rows, _ = top.shape
    pred = np.reshape(top[:, :n_classes], (n_groups, rows // n_groups, n_classes))  # (K, B, C)
    pred = pred / np.sum(pred, axis=(0, 2), keepdims=True)
    return np.sum(pred, axis=0)  # (B, C)


def class_log_probabilities(top_logits, n_groups, n_classes):
    """log P(class), (B, C): ``class_probabilities`` in the log domain, from the top layer's logits a.

    log pred_k = a[:C] - logsumexp_F(a); log P_c = logsumexp_k log pred_{k,c} - logsumexp_{k,c} log pred_{k,c}.
    Equal to log(class_probabilities(softmax_F(a))) up to rounding, and finite where the top
    softmax underflows (docs/numerics.md, "Log-domain classification").
    """
    rows, _ = top_logits.shape
    log_top = top_logits - logsumexp(top_logits, axis=-1)[:, None]  # (K*B, C+1)
    log_pred = np.reshape(log_top[:, :n_classes], (n_groups, rows // n_groups, n_classes))  # (K, B, C)
    log_p = logsumexp(log_pred, axis=0)  # (B, C)
    return log_p - logsumexp(log_p, axis=-1)[:, None]  # (B, C)


def class_targets(y, n_classes, dtype="float64"):
    """Target distribution (B, C): the mean of the one-hot codes of the digits in each image,
    e.g. (onehot(y_1) + onehot(y_2)) / 2, which puts 1.0 on the class if both digits agree.
    On the device of y (class labels, (B,) or (B, objects))."""
    y = numpy.asarray(y) if isinstance(y, (list, tuple)) else y
    y = np.reshape(y, (len(y), -1))  # (B, objects)
    onehot = y[:, :, None] == np.arange(n_classes, like=y)  # (B, objects, C)
    return np.sum(onehot, axis=1).astype(dtype) / y.shape[1]  # (B, C)


def class_cost_log(log_probs, targets):
    """Categorical cross-entropy from log P (B, C): batch mean of -sum_c target_c log P_c (natural log).

    Taken in the log domain, so no epsilon: Tagger's log P from ``class_log_probabilities``, the
    baselines' from ``functions.log_softmax`` of their logits. The one cross-entropy of the package.
    """
    return mean(-np.sum(targets * log_probs, axis=1))
