"""Random but reproducible model points (parameters and inputs) for traces and gradient checks."""

import numpy

from ..maths.corruption import make_inputs
from ..maths.init import init_params, perturb_params


def random_params(config, rng, scale=0.3):
    """Initial parameters (docs/spec.md section 3) perturbed by ``scale`` (see perturb_params)."""
    return perturb_params(init_params(config, rng), rng, scale)


def random_data(config, rng, batch):
    """Clean data x (B, N): binary pixels on with probability z_init (the data mean), or
    continuous values uniform in [0, 1]; plus class labels y when the config classifies."""
    shape = (batch, config.n_inputs)
    if config.input_type == "binary":
        x = (rng.random(shape) < config.z_init).astype(config.dtype)
    else:
        x = rng.random(shape).astype(config.dtype)
    y = None
    if config.class_cost_x > 0:
        y = rng.integers(0, config.n_classes, size=(batch, config.objects_per_sample))
    return x, y


def random_inputs(config, rng, batch=None):
    """x, corrupted x_tilde, m0_logits (and y when classifying), drawn from ``rng``."""
    x, y = random_data(config, rng, config.batch_size if batch is None else batch)
    return make_inputs(config, x, rng, corrupted=True, y=y)


def random_case(config, seed, batch=None):
    """(params, inputs) drawn from numpy.random.default_rng(seed): parameters first, then inputs."""
    rng = numpy.random.default_rng(seed)
    params = random_params(config, rng)
    return params, random_inputs(config, rng, batch)
