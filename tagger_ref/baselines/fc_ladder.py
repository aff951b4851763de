"""The FC Ladder baseline of Table 2: the semi-supervised Ladder network of Rasmus et al. 2015
("Semi-supervised learning with Ladder networks", Algorithm 1, eq. (1)-(2)), fully connected.

Unlike Tagger's Ladder (``ladder``: no noise, no layer-wise costs), this one has a corrupted
encoder with Gaussian noise at every layer, a clean encoder, and a decoder whose reconstructions
z_hat^l are held against the clean encoder's batch-normalised z^l by the denoising cost
C_d = sum_l lambda_l / H_l * batch mean ||z^l - z_hat_BN^l||^2. Layers l = 0..L have sizes
H_0 = N (the input) .. H_L = C (the softmax top). The combinator is ``combinator.combinator`` with
``continuous=False``: Rasmus et al.'s "vanilla" (gauss) combinator, eq. (2).

Parameters: encoder ``W_l`` (H_{l-1}, H_l), ``beta_l`` (H_l,) for l = 1..L and ``gamma_L``
(as ``mlp``); decoder ``V_l`` (H_l, H_{l-1}) for l = 1..L and the combinator's ``a_l_1`` ..
``a_l_10`` (H_l,) for l = 0..L. The noise is an input (``draw_noise``), so a step is
reproducible from its arrays. ``ops`` (``ops.REFERENCE``, the default, or ``ops.FAST``) supplies
the decoder's normalize and combinator. Defaults and sources: docs/baselines.md.
"""

from ..device.backend import np
from ..maths.classification import class_cost_log
from ..maths.functions import NORM_AXES, centred_and_std, log_softmax, mean, relu, softmax
from ..maths.ops import REFERENCE


def batch_statistics(pre):
    """(mu, sigma) of a pre-activation (B, H) over the batch: mu = mean, sigma = sqrt(var + 1e-10),
    the statistics of ``functions.normalize(pre, "batch")`` (``functions.centred_and_std``, so the
    same variance floor), kept for the decoder."""
    axis = NORM_AXES["batch"]  # over the batch's rows
    mu = mean(pre, axis=axis, keepdims=True)  # (1, H)
    return mu, centred_and_std(pre, axis)[1]  # (1, H), (1, H)


def draw_noise(rng, sizes, rows, sigma, dtype="float64"):
    """The corrupted encoder's noise, one array (rows, H_l) of N(0, sigma^2) per layer l = 0..L,
    drawn from ``rng`` in layer order (Algorithm 1's N(0, sigma^2))."""
    return [(sigma * rng.standard_normal((rows, h))).astype(dtype) for h in sizes]


def encoder(params, x, n_layers, noise=None):
    """Algorithm 1's encoder, corrupted (``noise``: L+1 arrays) or clean (``noise`` None).

    z^0 = x (+ n^0);  for l = 1..L: z^l = BN(h^{l-1} W_l) (+ n^l),
    h^l = relu(z^l + beta_l) below the top, logits a = gamma_L (z^L + beta_L) and h^L = softmax(a).
    Returns {"z": [z^0..z^L], "mu": [mu^0..mu^L], "sigma": [sigma^0..sigma^L], "logits", "top"}:
    mu, sigma the batch statistics of each pre-activation (mu^0 = 0, sigma^0 = 1 for the input).
    """
    L = n_layers
    z = x if noise is None else x + noise[0]  # z^0, (B, N)
    out = {"z": [z], "mu": [0.0], "sigma": [1.0]}
    h = z
    for l in range(1, L + 1):
        pre = h @ params[f"W_{l}"]  # (B, H_l)
        mu, sigma = batch_statistics(pre)
        z = (pre - mu) / sigma  # = normalize(pre), (B, H_l)
        if noise is not None:
            z = z + noise[l]
        out["z"].append(z)
        out["mu"].append(mu)
        out["sigma"].append(sigma)
        if l < L:
            h = relu(z + params[f"beta_{l}"])  # (B, H_l)
    out["logits"] = params[f"gamma_{L}"] * (z + params[f"beta_{L}"])  # (B, C)
    out["top"] = softmax(out["logits"], axis=-1)  # h^L, (B, C)
    return out


def decoder(params, corrupted, n_layers, ops=REFERENCE):
    """Algorithm 1's decoder, from the top down: z_hat^l for l = L..0, returned as [z_hat^0..z_hat^L].

    u^L = BN(h~^L);  u^l = BN(z_hat^{l+1} V_{l+1}) below;  z_hat^l = g(z~^l, u^l) (eq. (2), vanilla).
    """
    L = n_layers
    zhat = [None] * (L + 1)
    for l in range(L, -1, -1):
        u = corrupted["top"] if l == L else zhat[l + 1] @ params[f"V_{l + 1}"]  # (B, H_l)
        a = [params[f"a_{l}_{j}"] for j in range(1, 11)]
        zhat[l] = ops.combinator(corrupted["z"][l], ops.normalize(u, "batch"), a, False)  # (B, H_l), vanilla
    return zhat


def denoising_cost(clean, zhat, weights):
    """C_d = sum_l lambda_l / H_l * batch mean_n ||z^l_n - z_hat_BN^l_n||^2 (Rasmus et al. Algorithm 1),
    z_hat_BN^l = (z_hat^l - mu^l) / sigma^l with the clean encoder's batch statistics. weights: lambda_0..lambda_L."""
    total = 0.0
    for l, w in enumerate(weights):
        if w == 0:
            continue
        zhat_bn = (zhat[l] - clean["mu"][l]) / clean["sigma"][l]  # (B, H_l)
        diff = clean["z"][l] - zhat_bn
        total = total + w / diff.shape[1] * mean(np.sum(diff * diff, axis=1))
    return total


def unsupervised_cost(params, x, noise, n_layers, weights, ops=REFERENCE):
    """The denoising cost of one batch x (B, N): a clean and a corrupted encoder pass, the decoder."""
    clean = encoder(params, x, n_layers)
    corrupted = encoder(params, x, n_layers, noise)
    return denoising_cost(clean, decoder(params, corrupted, n_layers, ops), weights)


def ladder_cost(
    params, x_labeled, targets, noise_labeled, x_unlabeled, noise_unlabeled, n_layers, weights, ops=REFERENCE
):
    """One semi-supervised step: C = C_c + C_d (Rasmus et al. Algorithm 1).

    C_c: the cross-entropy of the corrupted encoder's softmax on the labeled batch (targets (B, C));
    C_d: ``unsupervised_cost`` of the unlabeled batch. Each batch has its own batch statistics
    (docs/baselines.md, "FC Ladder").
    """
    corrupted = encoder(params, x_labeled, n_layers, noise_labeled)
    class_cost = class_cost_log(log_softmax(corrupted["logits"], axis=-1), targets)
    return class_cost + unsupervised_cost(params, x_unlabeled, noise_unlabeled, n_layers, weights, ops)
