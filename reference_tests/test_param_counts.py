"""Exact parameter counts of the paper's models, computed by hand from docs/spec.md section 3."""
from tagger_ref.config import PRESETS
from tagger_ref.files.params import count_params, init_params, param_shapes

import numpy
import pytest

pytestmark = pytest.mark.quick   # the fast subset: python -m pytest -m quick


def test_shapes_model():
    N, (H0, H1, H2) = 400, (2000, 1000, 500)
    matrices = 4 * N * H0 + 2 * H0 * N + H0 * H1 + H1 * H2 + H1 * H0 + H2 * H1   # W, z_u_W, m_u_W, f, g
    vectors = H0 + 2 * N + 1 + H1 + H2 + H2 + 10 * (H0 + H1 + H2)                  # b, c1 b1, c2, f_b, f_c, a1..a10
    assert matrices + vectors == 9_839_801
    assert count_params(PRESETS["shapes"]) == 9_839_801


def test_texture_mnist_models():
    # pretrain: N=784, Ladder (3000, 2000, 1000), continuous (so also v)
    matrices = 4 * 784 * 3000 + 2 * 3000 * 784 + 2 * (3000 * 2000 + 2000 * 1000)   # W, heads, f and g
    vectors = 3000 + 2 * 784 + 1 + 1 + (2000 + 1000) + 1000 + 10 * (3000 + 2000 + 1000)
    assert matrices + vectors == 30_180_570
    assert count_params(PRESETS["texture-mnist-pretrain"]) == 30_180_570
    # supervised: the Ladder grows to (3000, 2000, 1000, 500, 250, 11) (errata E13)
    f = 3000 * 2000 + 2000 * 1000 + 1000 * 500 + 500 * 250 + 250 * 11
    vectors = 3000 + 2 * 784 + 1 + 1 + (2000 + 1000 + 500 + 250 + 11) + 11 + 10 * 6761
    assert 4 * 784 * 3000 + 2 * 3000 * 784 + 2 * f + vectors == 31_443_452
    assert count_params(PRESETS["texture-mnist-supervised"]) == 31_443_452


def test_initial_values():
    config = PRESETS["tiny-continuous"]
    params = init_params(config, numpy.random.default_rng(0))
    assert set(params) == set(param_shapes(config))
    assert params["c1"].tolist() == [1.0] * 6 and params["v"] == 1 and params["c2"] == 1
    assert params["g_0_a2"].tolist() == [1.0] * 7 and params["g_1_a7"].tolist() == [1.0] * 5
    assert not params["g_0_a1"].any() and not params["b1"].any() and not params["f_1_b"].any()
    assert params["f_2_c"].tolist() == [1.0] * 4
    # matrices randn(in, out) / sqrt(in): the column variance is about 1 / in
    big = init_params(PRESETS["shapes"], numpy.random.default_rng(0))["W"]
    assert abs(big.var() * 1600 - 1) < 0.01
