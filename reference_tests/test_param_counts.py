"""Exact parameter counts of the paper's models, against numbers that do not come from the code.

Two oracles, neither computed by ``tagger_ref.files.params``:

- for the paper's models, literals counted by hand from the paper's description of the network
  (N inputs, the four network inputs per pixel of Alg. 1-3, the Ladder sizes of section 3 and
  A.6, the ten combinator weights a1..a10 per unit of Rasmus et al.'s decoder, the normalisation
  scales and biases of the original code, docs/spec.md section 3); the arithmetic is written out
  in the comments, one line per part of the network, so a wrong shape shows as a wrong part;
- for two small models, the parameter files of the authors' original computation
  (reference_tests/data/golden_original): every name and shape, and the total, must be theirs.
"""

import math

import numpy
import pytest
from conftest import golden_original_case

from tagger_ref.config import PRESETS
from tagger_ref.maths.init import count_params, init_params, param_shapes

pytestmark = pytest.mark.quick  # the fast subset: python -m pytest -m quick


def part(name):
    """The part of the network a parameter belongs to, read from its name alone."""
    if name in ("W", "b"):
        return "projection"
    if name in ("z_u_W", "c1", "b1"):
        return "z head"
    if name in ("m_u_W", "c2"):
        return "m head"
    if name == "v":
        return "v"
    if name.startswith("f_"):
        return "encoder"
    if name.startswith("g_") and name.endswith("_W"):
        return "decoder"
    if name.startswith("g_") and "_a" in name:
        return "combinator"
    return name  # an unexpected parameter shows up under its own name


def counts_by_part(config):
    counts = {}
    for name, shape in param_shapes(config).items():
        counts[part(name)] = counts.get(part(name), 0) + math.prod(shape)
    return counts


# Shapes (section 3.1): N = 20 x 20 = 400 binary pixels, Ladder 2000-1000-500.
SHAPES = {
    "projection": 3_202_000,  # 4 inputs per pixel (z, delta_z, m, L(m)): 1600 x 2000 = 3,200,000; bias 2,000
    "z head": 800_800,  # 2000 x 400 = 800,000; per-pixel scale and bias: 2 x 400 = 800
    "m head": 800_001,  # 2000 x 400 = 800,000; one scale for all mask logits: 1
    "encoder": 2_502_000,  # 2000 x 1000 + 1,000 biases = 2,001,000; 1000 x 500 + 500 biases = 500,500;
    # the top softmax's scale, 500
    "decoder": 2_500_000,  # 1000 x 2000 = 2,000,000; 500 x 1000 = 500,000; none above the top
    "combinator": 35_000,  # a1..a10 per unit of every layer: 10 x (2000 + 1000 + 500)
}
SHAPES_TOTAL = 9_839_801  # 3,202,000 + 800,800 + 800,001 + 2,502,000 + 2,500,000 + 35,000

# TextureMNIST stage 1 (section 3.3): N = 28 x 28 = 784 continuous pixels, Ladder 3000-2000-1000.
TEXTURE_PRETRAIN = {
    "projection": 9_411_000,  # 4 x 784 = 3136 inputs: 3136 x 3000 = 9,408,000; bias 3,000
    "z head": 2_353_568,  # 3000 x 784 = 2,352,000; scale and bias 2 x 784 = 1,568
    "m head": 2_352_001,  # 3000 x 784 = 2,352,000; one scale
    "v": 1,  # the learned variance of continuous inputs, one scalar (E4)
    "encoder": 8_004_000,  # 3000 x 2000 + 2,000 = 6,002,000; 2000 x 1000 + 1,000 = 2,001,000; top scale 1,000
    "decoder": 8_000_000,  # 2000 x 3000 = 6,000,000; 1000 x 2000 = 2,000,000
    "combinator": 60_000,  # 10 x (3000 + 2000 + 1000)
}
TEXTURE_PRETRAIN_TOTAL = 30_180_570  # 9,411,000 + 2,353,568 + 2,352,001 + 1 + 8,004,000 + 8,000,000 + 60,000

# TextureMNIST stage 2: the Ladder grows to 3000-2000-1000-500-250-11 (E13); the rest as stage 1.
TEXTURE_SUPERVISED = {
    "projection": 9_411_000,
    "z head": 2_353_568,
    "m head": 2_352_001,
    "v": 1,
    "encoder": 8_631_522,  # weights 6,000,000 + 2,000,000 + 1000 x 500 + 500 x 250 + 250 x 11
    #   = 6,000,000 + 2,000,000 + 500,000 + 125,000 + 2,750 = 8,627,750;
    # biases 2,000 + 1,000 + 500 + 250 + 11 = 3,761; top scale 11
    "decoder": 8_627_750,  # the same five matrices, transposed
    "combinator": 67_610,  # 10 x (3000 + 2000 + 1000 + 500 + 250 + 11) = 10 x 6,761
}
TEXTURE_SUPERVISED_TOTAL = 31_443_452  # 9,411,000 + 2,353,568 + 2,352,001 + 1 + 8,631,522 + 8,627,750 + 67,610


@pytest.mark.parametrize(
    "preset, parts, total",
    [
        ("shapes", SHAPES, SHAPES_TOTAL),
        ("shapes-layernorm", SHAPES, SHAPES_TOTAL),  # Tagger*: layer norm learns the same scales and biases
        ("texture-mnist-pretrain", TEXTURE_PRETRAIN, TEXTURE_PRETRAIN_TOTAL),
        ("texture-mnist-supervised", TEXTURE_SUPERVISED, TEXTURE_SUPERVISED_TOTAL),
        ("texture-mnist-supervised-published", TEXTURE_SUPERVISED, TEXTURE_SUPERVISED_TOTAL),
    ],
)
def test_paper_models_against_hand_counts(preset, parts, total):
    assert sum(parts.values()) == total  # the hand count adds up
    assert counts_by_part(PRESETS[preset]) == parts
    assert count_params(PRESETS[preset]) == total


# The authors' original computation on two small models (reference_tests/data/golden_original/README.md).
ORIGINAL_TOTALS = {
    # N = 16, Ladder 12-9-7, binary. Matrices: 64 x 12 + 2 x (12 x 16) + 12 x 9 + 9 x 7 + 9 x 12 + 7 x 9
    # = 768 + 384 + 108 + 63 + 108 + 63 = 1,494; vectors: 12 + 2 x 16 + 1 + (9 + 7) + 7 + 10 x 28 = 348
    "binary_public": 1_842,
    # N = 14, Ladder 10-8-6, continuous. Matrices: 56 x 10 + 2 x (10 x 14) + 10 x 8 + 8 x 6 + 8 x 10 + 6 x 8
    # = 560 + 280 + 80 + 48 + 80 + 48 = 1,096; vectors: 10 + 2 x 14 + 1 + 1 + (8 + 6) + 6 + 10 x 24 = 300
    "continuous_public": 1_396,
}


@pytest.mark.parametrize("name", sorted(ORIGINAL_TOTALS))
def test_shapes_and_count_match_the_authors_parameter_files(name):
    config, params, _, _ = golden_original_case(name)
    theirs = {key: tuple(value.shape) for key, value in params.items()}
    assert dict(param_shapes(config)) == theirs
    assert sum(value.size for value in params.values()) == ORIGINAL_TOTALS[name]
    assert count_params(config) == ORIGINAL_TOTALS[name]


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
