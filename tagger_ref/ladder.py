"""The Ladder network of Rasmus et al. as Tagger uses it (section 2.2, A.6; spec section 4 steps 5-6).

No noise and no denoising costs (lambda_l = 0). Rows are the K*B group-and-batch rows jointly;
layer l has H_l units. Parameter names are the original code's (spec section 3).
"""
from autograd.extend import defvjp_argnums, primitive

from .backend import getval, isbox, np
from .functions import normalize, relu, sigmoid, softmax


def encoder(params, h, n_layers, norm="batch"):
    """Clean encoder. Returns the laterals zl^0..zl^{L-1}, the top activation h^{L-1} and its logits.

    zl^0 = h; for l = 1..L-1: zl^l = normalize(h^{l-1} @ f_l_W) (the lateral is taken after
    normalisation, before the bias); h^l = relu(zl^l + f_l_b) below the top, and at the top
    h^{L-1} = softmax_F(a) with the logits a = (zl^{L-1} + f_{L-1}_b) * f_{L-1}_c (returned too:
    the class probabilities are computed from them in the log domain, see classification).
    """
    laterals = [h]                                                  # zl^0 = h, (K*B, H_0)
    logits = None
    for l in range(1, n_layers):
        zl = normalize(h @ params[f"f_{l}_W"], norm)                # (K*B, H_l)
        laterals.append(zl)
        if l < n_layers - 1:
            h = relu(zl + params[f"f_{l}_b"])                       # (K*B, H_l)
        else:
            logits = (zl + params[f"f_{l}_b"]) * params[f"f_{l}_c"]  # (K*B, H_{L-1})
            h = softmax(logits, axis=-1)                             # (K*B, H_{L-1})
    return laterals, h, logits


def combinator(zl, u, a, continuous):
    """The Ladder's combinator g(zl, u) with ten per-unit parameters a1..a10 (Rasmus et al. eq. 2, A.6).

    mu = a1 sigmoid(a2 u + a3) + a4 u + a5;  vg = a6 sigmoid(a7 u + a8) + a9 u + a10;
    for continuous inputs Tagger adds a sigmoid on the gating variable, vg = sigmoid(vg) (A.6, E11);
    zhat = (zl - mu) vg + mu.  zl, u: (rows, H_l); a1..a10: (H_l,).

    Differentiated by the primitive ``_combine``: the terms above are computed here once, from
    the values (``combinator_terms``), and handed to it; its derivative reuses them.
    """
    terms = combinator_terms(getval(u), [getval(a_j) for a_j in a], continuous)
    return _combine(zl, u, *a, continuous=continuous, terms=terms)


def combinator_terms(u, a, continuous):
    """The combinator's terms s1 = sigmoid(a2 u + a3), s2 = sigmoid(a7 u + a8), mu and vg (see ``combinator``)."""
    a1, a2, a3, a4, a5, a6, a7, a8, a9, a10 = a
    s1 = sigmoid(a2 * u + a3)
    s2 = sigmoid(a7 * u + a8)
    mu = a1 * s1 + a4 * u + a5
    vg = a6 * s2 + a9 * u + a10
    if continuous:
        vg = sigmoid(vg)
    return s1, s2, mu, vg


@primitive
def _combine(zl, u, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, continuous, terms):
    """zhat = (zl - mu) vg + mu, given ``terms = combinator_terms(u, a1..a10, continuous)``.

    One autograd primitive for speed: its derivative (``_combine_vjp``) is written out once for all
    twelve arguments, sharing the terms, instead of autograd's chain through some twenty
    elementwise operations and ten broadcast reductions; reference_tests/test_primitives.py
    checks it against that chain, to first and second order.
    """
    _, _, mu, vg = terms
    return (zl - mu) * vg + mu


def _combine_vjp(argnums, ans, args, kwargs):
    zl, u, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10 = args
    continuous = kwargs["continuous"]
    if any(isbox(x) for x in args):
        # A derivative that is itself differentiated (a second order): the terms must be traced,
        # not the constants computed from the values.
        s1, s2, mu, vg = combinator_terms(u, args[2:], continuous)
    else:
        s1, s2, mu, vg = kwargs["terms"]

    def vjp(g):
        d_mu = g * (1.0 - vg)                          # d zhat / d mu = 1 - vg
        d_vg = g * (zl - mu)                           # d zhat / d vg = zl - mu
        if continuous:
            d_vg = d_vg * vg * (1.0 - vg)              # through the gating sigmoid (A.6)
        t1 = d_mu * a1 * s1 * (1.0 - s1)               # d / d(a2 u + a3)
        t2 = d_vg * a6 * s2 * (1.0 - s2)               # d / d(a7 u + a8)
        grads = {
            0: lambda: g * vg,
            1: lambda: t1 * a2 + d_mu * a4 + t2 * a7 + d_vg * a9,
            2: lambda: _column_dot(d_mu, s1), 3: lambda: _column_dot(t1, u),
            4: lambda: np.sum(t1, axis=0), 5: lambda: _column_dot(d_mu, u), 6: lambda: np.sum(d_mu, axis=0),
            7: lambda: _column_dot(d_vg, s2), 8: lambda: _column_dot(t2, u),
            9: lambda: np.sum(t2, axis=0), 10: lambda: _column_dot(d_vg, u), 11: lambda: np.sum(d_vg, axis=0),
        }
        return tuple(grads[i]() for i in argnums)
    return vjp


defvjp_argnums(_combine, _combine_vjp)


def _column_dot(x, y):
    """sum(x * y, axis=0), the dot products of x's and y's columns, in one pass instead of two."""
    return np.einsum("ij,ij->j", x, y)


def decoder(params, laterals, top, n_layers, continuous, norm="batch"):
    """Decoder from the top down; returns zhat^0, the Ladder's output (K*B, H_0).

    u = h^{L-1} at the top, u = zhat^{l+1} @ g_l_W below; u is normalised, then combined with
    the lateral zl^l by the combinator of layer l.
    """
    zhat = None
    for l in reversed(range(n_layers)):
        u = top if l == n_layers - 1 else zhat @ params[f"g_{l}_W"]  # (K*B, H_l)
        u = normalize(u, norm)
        a = [params[f"g_{l}_a{j}"] for j in range(1, 11)]
        zhat = combinator(laterals[l], u, a, continuous)             # (K*B, H_l)
    return zhat


def ladder(params, h, n_layers, continuous, norm="batch"):
    """The whole Ladder: returns zhat^0 (K*B, H_0), the top activation h^{L-1} and its logits (K*B, H_{L-1})."""
    laterals, top, top_logits = encoder(params, h, n_layers, norm)
    return decoder(params, laterals, top, n_layers, continuous, norm), top, top_logits
