"""The optimiser behind one interface (experiments/optimizers.py): the config names it, the epoch
loop, the checkpoint and both trainings use it, and another optimiser is one definition and a name.

The second optimiser here is plain SGD, defined and registered in this test alone: it trains,
checkpoints and resumes through the same code as Adam, and its first step is checked against
``theta - lr g`` computed from the maths directly.
"""

import json

import numpy
import pytest

from tagger_ref import config as config_module
from tagger_ref.baselines.config import PRESETS as BASELINE_PRESETS
from tagger_ref.baselines.config import from_dict as baseline_from_dict
from tagger_ref.config import OPTIMIZERS, PRESETS, from_dict
from tagger_ref.errors import ConfigError
from tagger_ref.experiments import optimizers
from tagger_ref.experiments.adam import BETA2, EPS, adam_blocks_update, adam_update
from tagger_ref.experiments.training import CHECKPOINT, batch_cost_and_grad, load_checkpoint, train
from tagger_ref.maths.init import init_params

# 16 inputs, K=3, T=3, Ladder (7, 5, 4); 24 images in batches of 8: 3 steps an epoch.
TINY = PRESETS["tiny-binary"].replace(n_inputs=16, batch_size=8, num_epochs=2, seed=4, lr=0.05)


def tiny_data(n=24, seed=1, N=16):
    x = (numpy.random.default_rng(seed).random((n, N)) < 0.3).astype(numpy.float32)
    return x, x[:8]


def sgd_init(params):
    return {"t": 0}


def sgd_update(params, grads, state, lr):
    return {k: v - lr * grads[k] for k, v in params.items()}, {"t": state["t"] + 1}


SGD = optimizers.Optimizer(name="sgd", label="SGD", init=sgd_init, update=sgd_update, counters=("t",))


@pytest.fixture
def with_sgd(monkeypatch):
    """SGD known to the config and to the registry, for this test only."""
    monkeypatch.setattr(config_module, "OPTIMIZERS", OPTIMIZERS + ("sgd",))
    monkeypatch.setitem(optimizers.OPTIMIZERS, "sgd", SGD)


def test_the_config_names_the_registered_optimisers():
    assert set(OPTIMIZERS) == set(optimizers.OPTIMIZERS)
    assert all(optimizers.get(name).name == name for name in OPTIMIZERS)


def test_adam_is_the_default_and_configs_without_the_field_still_load():
    old = PRESETS["shapes"].to_dict()
    assert "optimizer" not in old  # Adam runs' files stay as before the field existed
    assert from_dict(json.loads(json.dumps(old))).optimizer == "adam"
    assert baseline_from_dict(BASELINE_PRESETS["mlp-1k"].to_dict()).optimizer == "adam"


def test_an_unknown_optimiser_is_a_config_error():
    with pytest.raises(ConfigError, match="config field 'optimizer' = 'sgd': must be one of adam"):
        PRESETS["shapes"].replace(optimizer="sgd")
    with pytest.raises(ConfigError, match="'optimizer' must be a string"):
        from_dict({"optimizer": 3})
    with pytest.raises(ConfigError, match="config field 'optimizer'"):
        BASELINE_PRESETS["mlp-1k"].replace(optimizer="rmsprop")
    with pytest.raises(ConfigError, match="unknown optimizer 'sgd'"):
        optimizers.get("sgd")


def test_a_registered_optimiser_trains_checkpoints_and_resumes(tmp_path, with_sgd):
    config = TINY.replace(optimizer="sgd")
    assert config.to_dict()["optimizer"] == "sgd"  # a non-default optimiser is written down
    x, v = tiny_data()
    train(config.replace(num_epochs=1), x, v, tmp_path / "one")
    state, stored, _ = load_checkpoint(tmp_path / "one" / CHECKPOINT)
    assert stored.optimizer == "sgd" and state.opt_state == {"t": 3}
    with numpy.load(tmp_path / "one" / CHECKPOINT) as f:
        assert "sgd/t" in f.files and not [k for k in f.files if k.startswith("adam/")]
    train(config, x, v, tmp_path / "one", resume=True)
    train(config, x, v, tmp_path / "whole")
    with numpy.load(tmp_path / "one" / CHECKPOINT) as a, numpy.load(tmp_path / "whole" / CHECKPOINT) as b:
        for k in b.files:
            if k.startswith("param/") or k == "sgd/t":
                numpy.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_the_first_sgd_step_is_theta_minus_lr_g(tmp_path, with_sgd):
    """One step of training (B images, one epoch) against the step computed from the maths: the
    run's generator draws the initial parameters, the epoch's permutation, then the batch's noise."""
    config = TINY.replace(optimizer="sgd", num_epochs=1)
    x, v = tiny_data(n=8)
    train(config, x, v, tmp_path / "run")
    state, _, _ = load_checkpoint(tmp_path / "run" / CHECKPOINT)
    rng = numpy.random.default_rng(config.seed)
    params = init_params(config, rng)
    order = rng.permutation(len(x))
    _, grads = batch_cost_and_grad(params, config, x[order], rng)
    for k in params:
        numpy.testing.assert_allclose(state.params[k], params[k] - config.lr * grads[k], rtol=0, atol=1e-15, err_msg=k)


def _blocks_steps(theta, grads, lr, n_steps):
    """Blocks 0.2's Adam step rule written out in its own convention (``blocks.algorithms.Adam``):
    its beta1 = 0.1 and beta2 = 0.001 weigh the *new* gradient, its first-moment weight decays by
    ``decay_factor ** (t - 1)``, and its step is ``lr_t m / (sqrt(v) + eps)`` with the corrections in
    ``lr_t``. The decay factor is a float32 shared variable there, which rounds 1 - 1e-8 to 1."""
    beta1, beta2, eps = 0.1, 0.001, 1e-8
    decay = float(numpy.float32(1 - 1e-8))
    assert decay == 1.0
    mean, variance = numpy.zeros_like(theta), numpy.zeros_like(theta)
    for t1, g in zip(range(1, n_steps + 1), grads):
        lr_t = lr * numpy.sqrt(1.0 - (1.0 - beta2) ** t1) / (1.0 - (1.0 - beta1) ** t1)
        beta_1t = 1 - (1 - beta1) * decay ** (t1 - 1)
        mean = beta_1t * g + (1.0 - beta_1t) * mean
        variance = beta2 * g**2 + (1.0 - beta2) * variance
        theta = theta - lr_t * mean / (numpy.sqrt(variance) + eps)
    return theta


def test_adam_blocks_is_the_step_rule_of_blocks():
    """adam-blocks against Blocks' recurrence written above, on gradients of very different sizes
    (1e-9 to 1: where epsilon matters and where it does not), over 30 steps."""
    rng = numpy.random.default_rng(0)
    theta = {"w": rng.normal(size=(6,))}
    scales = numpy.array([1e-9, 1e-7, 1e-5, 1e-3, 1e-1, 1.0])
    grads = [scales * rng.normal(size=6) for _ in range(30)]
    update = optimizers.get("adam-blocks").update
    state, params = optimizers.get("adam-blocks").init(theta), theta
    for g in grads:
        params, state = update(params, {"w": g}, state, 4e-4)
    numpy.testing.assert_allclose(params["w"], _blocks_steps(theta["w"], grads, 4e-4, 30), rtol=1e-13, atol=0)
    assert state["t"] == 30


def test_adam_blocks_is_adam_with_epsilon_over_the_root_of_the_correction():
    """Each step of adam-blocks equals the textbook Adam step with eps / sqrt(1 - beta2^t), and at a
    gradient of the size of eps the two optimisers' first steps differ: the difference is real."""
    rng = numpy.random.default_rng(1)
    params = {"a": rng.normal(size=(3, 4)), "b": rng.normal(size=(4,))}
    state_b = state_a = optimizers.get("adam").init(params)
    pb = pa = params
    for t in range(1, 6):
        g = {k: 1e-7 * rng.normal(size=v.shape) for k, v in params.items()}
        pb, state_b = adam_blocks_update(pb, g, state_b, 1e-3)
        pa, state_a = adam_update(pa, g, state_a, 1e-3, eps=EPS / numpy.sqrt(1 - BETA2**t))
        for k in params:
            numpy.testing.assert_allclose(pb[k], pa[k], rtol=1e-13, atol=1e-16, err_msg=(t, k))
    g = {k: 1e-8 * numpy.ones_like(v) for k, v in params.items()}
    first_textbook = adam_update(params, g, optimizers.get("adam").init(params), 1e-3)[0]
    first_blocks = adam_blocks_update(params, g, optimizers.get("adam").init(params), 1e-3)[0]
    step_ratio = (params["b"] - first_blocks["b"]) / (params["b"] - first_textbook["b"])
    numpy.testing.assert_allclose(step_ratio, (1e-8 + 1e-8) / (1e-8 + 1e-8 / numpy.sqrt(1e-3)), rtol=1e-6)


def test_adam_blocks_trains_and_checkpoints_under_its_name(tmp_path):
    config = TINY.replace(optimizer="adam-blocks", num_epochs=1)
    assert config.to_dict()["optimizer"] == "adam-blocks"
    x, v = tiny_data()
    train(config, x, v, tmp_path / "run")
    state, stored, _ = load_checkpoint(tmp_path / "run" / CHECKPOINT)
    assert stored.optimizer == "adam-blocks" and state.opt_state["t"] == 3
    with numpy.load(tmp_path / "run" / CHECKPOINT) as f:
        assert "adam-blocks/t" in f.files and "adam-blocks/m/W" in f.files
        assert not [k for k in f.files if k.startswith("adam/")]
