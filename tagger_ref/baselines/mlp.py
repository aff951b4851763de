"""The fully connected baseline of Table 2 (section 3.3, "FC MLP"; docs/baselines.md) and the
layers that the three baselines share.

Every layer is batch-normalised (Ioffe and Szegedy 2015) with a learned bias beta and, at the
softmax top only, a learned scale gamma, the places where the Ladder paper (Rasmus et al. 2015,
Algorithm 1) has them: below a ReLU a scale is redundant. Normalisation is
``functions.normalize(a, "batch")`` over the rows of the batch, as in Tagger. Parameters are
named ``W_l``, ``beta_l`` (l = 1..L) and ``gamma_L``; matrices are (in, out), used as ``h @ W``.
The class cost is ``classification.class_cost_log`` of ``log_softmax`` of the logits; ``ops``
(``ops.REFERENCE``, the default, or ``ops.FAST``) supplies normalize, as in Tagger.
"""

from ..maths.classification import class_cost_log
from ..maths.functions import log_softmax, relu
from ..maths.ops import REFERENCE


def hidden_layer(h, W, beta, ops=REFERENCE):
    """h^l = relu(BN(h^{l-1} W_l) + beta_l): the baselines' hidden layer (section 3.3). h (B, H_{l-1}) -> (B, H_l)."""
    return relu(ops.normalize(h @ W, "batch") + beta)


def top_logits(z, gamma, beta, ops=REFERENCE):
    """a = gamma_L (BN(z) + beta_L): the logits of the softmax top (Rasmus et al. Algorithm 1,
    h^L = softmax(gamma^L (z^L + beta^L))). z: the top's pre-activation (B, C)."""
    return gamma * (ops.normalize(z, "batch") + beta)


def mlp_logits(params, x, n_hidden, ops=REFERENCE):
    """The FC MLP: n_hidden layers ``hidden_layer``, then the softmax top's logits (B, C). x: (B, N)."""
    h = x
    for l in range(1, n_hidden + 1):
        h = hidden_layer(h, params[f"W_{l}"], params[f"beta_{l}"], ops)  # (B, H_l)
    L = n_hidden + 1
    return top_logits(h @ params[f"W_{L}"], params[f"gamma_{L}"], params[f"beta_{L}"], ops)  # (B, C)


def mlp_cost(params, x, targets, n_hidden, ops=REFERENCE):
    """The MLP's training cost (supervised only): the cross-entropy of softmax(logits) against the
    targets (B, C) (``classification.class_targets``, 0.5 on each of two different digits)."""
    return class_cost_log(log_softmax(mlp_logits(params, x, n_hidden, ops), axis=-1), targets)
