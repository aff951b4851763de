"""The network's input projection and its two output heads (docs/spec.md section 4 steps 3-4 and 7).

``ops`` (``ops.REFERENCE``, the default, or ``ops.FAST``) supplies normalize and sigmoid; ``norm`` is the
model's normalisation (``config.norm``, a key of ``functions.NORM_AXES``), always passed, never defaulted.
"""

from ..device.backend import np
from .functions import relu, softmax
from .ops import REFERENCE


def network_input(z_in, delta_z, m, L_m):
    """The four TAG inputs concatenated per group: [z_in, delta_z, m, L(m)] (original order, errata E6).

    The paper lists [z, m, delta_z, L(m)]; the code's order is what the parameter W was trained
    with. Shape (K, B, 4N).
    """
    return np.concatenate([z_in, delta_z, m, L_m], axis=-1)


def input_projection(params, inp, norm, *, ops=REFERENCE):
    """h = relu(normalize(inp @ W) + b): the Ladder's input layer (Alg. 1 f(W_h [...]); E7). (K*B, H_0)."""
    K, B, F = inp.shape
    return relu(ops.normalize(np.reshape(inp, (K * B, F)) @ params["W"], norm) + params["b"])


def z_head(params, zhat0, binary, norm, *, ops=REFERENCE):
    """New z from the Ladder output: z_new = c1 * normalize(zhat^0 @ z_u_W) + b1.

    Binary inputs: the logit, with z = sigmoid(z_new) the probability q(x = 1 | g_k) of (11).
    Continuous inputs: z = z_new, the Gaussian mean. Returns (z, z_logit or None), each (K*B, N).
    """
    z_new = params["c1"] * ops.normalize(zhat0 @ params["z_u_W"], norm) + params["b1"]
    if binary:
        return ops.sigmoid(z_new), z_new
    return z_new, None


def m_logits(params, zhat0, norm, *, ops=REFERENCE):
    """The mask logits c2 * normalize(zhat^0 @ m_u_W), (K*B, N), before the softmax over groups."""
    return params["c2"] * ops.normalize(zhat0 @ params["m_u_W"], norm)


def m_head(logits):
    """m = softmax over groups of the mask logits, eqs. (3) and (7): m >= 0, sum_k m_k = 1. (K, B, N)."""
    return softmax(logits, axis=0)
