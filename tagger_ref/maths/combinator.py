"""The Ladder's combinator g(zl, u) (Rasmus et al. eq. 2; A.6), the plain formula: ``ops.REFERENCE``'s.

A module of its own so that ``ops`` can build the reference table from it while ``ladder``, which
calls the combinator through that table, defaults to it.
"""

from .functions import sigmoid


def combinator(zl, u, a, continuous):
    """The Ladder's combinator g(zl, u) with ten per-unit parameters a1..a10 (Rasmus et al. eq. 2, A.6).

    mu = a1 sigmoid(a2 u + a3) + a4 u + a5;  vg = a6 sigmoid(a7 u + a8) + a9 u + a10;
    for continuous inputs Tagger adds a sigmoid on the gating variable, vg = sigmoid(vg) (A.6, E11);
    zhat = (zl - mu) vg + mu.  zl, u: (rows, H_l); a1..a10: (H_l,).
    Fast path: ``fused.combinator`` (``ops.FAST``).
    """
    a1, a2, a3, a4, a5, a6, a7, a8, a9, a10 = a
    mu = a1 * sigmoid(a2 * u + a3) + a4 * u + a5
    vg = a6 * sigmoid(a7 * u + a8) + a9 * u + a10
    if continuous:
        vg = sigmoid(vg)
    return (zl - mu) * vg + mu
