"""The Ladder network of Rasmus et al. as Tagger uses it (section 2.2, A.6; docs/spec.md section 4 steps 5-6).

No noise and no denoising costs (lambda_l = 0). Rows are the K*B group-and-batch rows jointly;
layer l has H_l units. Parameter names are the original code's (docs/spec.md section 3).
``ops`` (``ops.REFERENCE``, the default, or ``ops.FAST``) supplies normalize and the combinator; ``norm`` is
the model's normalisation (``config.norm``, a key of ``functions.NORM_AXES``), always passed, never defaulted.
"""

from .functions import relu, softmax
from .ops import REFERENCE


def encoder(params, h, n_layers, norm, *, ops=REFERENCE):
    """Clean encoder. Returns the laterals zl^0..zl^{L-1}, the top activation h^{L-1} and its logits.

    zl^0 = h; for l = 1..L-1: zl^l = normalize(h^{l-1} @ f_l_W) (the lateral is taken after
    normalisation, before the bias); h^l = relu(zl^l + f_l_b) below the top, and at the top
    h^{L-1} = softmax_F(a) with the logits a = (zl^{L-1} + f_{L-1}_b) * f_{L-1}_c (returned too:
    the class probabilities are computed from them in the log domain, see classification).
    """
    laterals = [h]  # zl^0 = h, (K*B, H_0)
    logits = None
    for l in range(1, n_layers):
        zl = ops.normalize(h @ params[f"f_{l}_W"], norm)  # (K*B, H_l)
        laterals.append(zl)
        if l < n_layers - 1:
            h = relu(zl + params[f"f_{l}_b"])  # (K*B, H_l)
        else:
            logits = (zl + params[f"f_{l}_b"]) * params[f"f_{l}_c"]  # (K*B, H_{L-1})
            h = softmax(logits, axis=-1)  # (K*B, H_{L-1})
    return laterals, h, logits


def decoder(params, laterals, top, n_layers, continuous, norm, *, ops=REFERENCE):
    """Decoder from the top down; returns zhat^0, the Ladder's output (K*B, H_0).

    u = h^{L-1} at the top, u = zhat^{l+1} @ g_l_W below; u is normalised, then combined with
    the lateral zl^l by the combinator of layer l.
    """
    zhat = None
    for l in reversed(range(n_layers)):
        u = top if l == n_layers - 1 else zhat @ params[f"g_{l}_W"]  # (K*B, H_l)
        u = ops.normalize(u, norm)
        a = [params[f"g_{l}_a{j}"] for j in range(1, 11)]
        zhat = ops.combinator(laterals[l], u, a, continuous)  # (K*B, H_l)
    return zhat


def ladder(params, h, n_layers, continuous, norm, *, ops=REFERENCE):
    """The whole Ladder: returns zhat^0 (K*B, H_0), the top activation h^{L-1} and its logits (K*B, H_{L-1})."""
    laterals, top, top_logits = encoder(params, h, n_layers, norm, ops=ops)
    return decoder(params, laterals, top, n_layers, continuous, norm, ops=ops), top, top_logits
