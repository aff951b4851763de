"""The three baselines of Table 2 as models: parameter shapes and initial values, one training
step's inputs and cost, and the class probabilities (docs/baselines.md). The maths is in
``maths.mlp``, ``maths.fc_ladder``, ``maths.convnet``; this module picks by ``config.baseline``.
"""

import numpy

from ..device.backend import np
from ..maths.classification import class_targets
from ..maths.functions import softmax
from ..maths.init import COMBINATOR_ONES
from ..maths.ops import REFERENCE
from . import convnet, fc_ladder, mlp


def param_shapes(config):
    """Ordered dict name -> shape of every parameter of the baseline ``config``."""
    shapes = {}
    if config.baseline == "convnet":
        c1, c2 = config.hidden
        channels_in = 1
        for l, ((k, _), out) in enumerate(zip(convnet.CONV_LAYERS, convnet.conv_channels(c1, c2, config.n_classes)), 1):
            shapes[f"W_{l}"], shapes[f"beta_{l}"] = (k, k, channels_in, out), (out,)
            channels_in = out
        L = len(convnet.CONV_LAYERS) + 1
        shapes[f"W_{L}"] = (convnet.feature_side(config.image_side) ** 2 * config.n_classes, config.n_classes)
        shapes[f"beta_{L}"] = shapes[f"gamma_{L}"] = (config.n_classes,)
        return shapes
    H = config.sizes  # H_0 = N .. H_L = C
    L = len(H) - 1
    for l in range(1, L + 1):
        shapes[f"W_{l}"], shapes[f"beta_{l}"] = (H[l - 1], H[l]), (H[l],)
    shapes[f"gamma_{L}"] = (H[L],)
    if config.baseline == "ladder":
        for l in range(1, L + 1):
            shapes[f"V_{l}"] = (H[l], H[l - 1])
        for l in range(L + 1):
            for j in range(1, 11):
                shapes[f"a_{l}_{j}"] = (H[l],)
    return shapes


def init_params(config, rng):
    """Initial values as Tagger's (``maths.init.init_params``): matrices and kernels N(0, 1) / sqrt(fan-in),
    gamma and the combinator's a_2, a_7 ones, everything else zeros. Drawn from ``rng`` in name order."""
    params = {}
    for name, shape in param_shapes(config).items():
        if name[0] in "WV":
            value = rng.standard_normal(shape) / numpy.sqrt(numpy.prod(shape[:-1]))
        elif name.startswith("gamma") or (name.startswith("a_") and f"a{name.rsplit('_', 1)[1]}" in COMBINATOR_ONES):
            value = numpy.ones(shape)
        else:
            value = numpy.zeros(shape)
        params[name] = value.astype(config.dtype)
    return params


def n_layers(config):
    """L: the MLP's and the Ladder's weight layers (hidden layers + the top)."""
    return len(config.hidden) + 1


def logits(params, config, x, ops=REFERENCE):
    """Logits (B, C) of the clean network on x (B, N): the prediction of every baseline.
    ``ops``: ``ops.REFERENCE`` (the plain formulas, the default) or ``ops.FAST``."""
    if config.baseline == "mlp":
        return mlp.mlp_logits(params, x, len(config.hidden), ops)
    if config.baseline == "convnet":
        return convnet.convnet_logits(params, x, config.image_side, ops)
    return fc_ladder.encoder(params, x, n_layers(config))["logits"]  # no normalize, no combinator


def class_probabilities(params, config, x, ops=REFERENCE):
    """P(class) (B, C) = softmax of ``logits``."""
    return softmax(logits(params, config, x, ops), axis=-1)


def step_inputs(config, x_labeled, y_labeled, x_unlabeled, rng):
    """The arrays of one training step: the labeled batch ``x`` (B, N) with its ``targets`` (B, C)
    (``class_targets``: the mean of the digits' one-hots), and for the Ladder the unlabeled batch
    ``x_unlabeled`` and the noise of both corrupted passes, drawn from ``rng``: the unlabeled batch's
    first, then the labeled batch's (the order of Tagger's semi-supervised step)."""
    inputs = {
        "x": numpy.asarray(x_labeled, config.dtype),
        "targets": class_targets(y_labeled, config.n_classes, config.dtype),
    }
    if config.baseline == "ladder":
        inputs["x_unlabeled"] = numpy.asarray(x_unlabeled, config.dtype)
        inputs["noise_unlabeled"] = fc_ladder.draw_noise(
            rng, config.sizes, len(x_unlabeled), config.input_noise, config.dtype
        )
        inputs["noise"] = fc_ladder.draw_noise(rng, config.sizes, len(x_labeled), config.input_noise, config.dtype)
    return inputs


def step_cost(params, config, inputs, ops=REFERENCE):
    """The training cost of one step: the class cost (MLP, ConvNet), or the Ladder's C_c + C_d."""
    if config.baseline == "mlp":
        return mlp.mlp_cost(params, inputs["x"], inputs["targets"], len(config.hidden), ops)
    if config.baseline == "convnet":
        return convnet.convnet_cost(params, inputs["x"], inputs["targets"], config.image_side, ops)
    return fc_ladder.ladder_cost(
        params,
        inputs["x"],
        inputs["targets"],
        inputs["noise"],
        inputs["x_unlabeled"],
        inputs["noise_unlabeled"],
        n_layers(config),
        config.denoising_weights,
        ops,
    )


def denoising_cost(params, config, x, rng, ops=REFERENCE):
    """The Ladder's denoising cost C_d of x (B, N) with noise drawn from ``rng`` (evaluation)."""
    noise = fc_ladder.draw_noise(rng, config.sizes, len(x), config.input_noise, config.dtype)
    return fc_ladder.unsupervised_cost(
        params, np.asarray(x, config.dtype), noise, n_layers(config), config.denoising_weights, ops
    )
