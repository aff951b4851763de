"""Shared helpers of the reference tests."""

import json
import os

import numpy
import pytest

from tagger_ref.config import from_dict, load_config
from tagger_ref.files.inputs import prepare_inputs
from tagger_ref.files.params import prepare_params
from tagger_ref.oracle.random_case import random_case

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DATA = os.path.join(HERE, "data")
SHARED = os.path.join(REPO, "..", "shared")


def pytest_addoption(parser):
    parser.addoption(
        "--device",
        choices=("none", "gpu", "standin"),
        default="none",
        help="where test_device.py's device checks run: gpu (CuPy and a GPU), standin (the CPU "
        "stand-in fake_gpu.py, small sizes), none (they skip; default)",
    )


def golden_original_case(name):
    """(config, params, inputs, reference trace) of one shipped copy of the authors' traces."""
    d = os.path.join(DATA, "golden_original", name)
    with open(os.path.join(d, "config.json")) as f:
        config = from_dict(json.load(f))
    with (
        numpy.load(os.path.join(d, "params.npz")) as p,
        numpy.load(os.path.join(d, "inputs.npz")) as i,
        numpy.load(os.path.join(d, "trace.npz")) as t,
    ):
        return config, dict(p), dict(i), dict(t)


def case(config, seed=0, batch=None, **changes):
    """A checked random (config, params, inputs) point for a preset name or config."""
    config = load_config(config)
    if changes:
        config = config.replace(**changes)
    params, inputs = random_case(config, seed, batch)
    return config, prepare_params(params, config), prepare_inputs(inputs, config)


@pytest.fixture
def tiny_binary():
    return case("tiny-binary")


@pytest.fixture
def tiny_continuous():
    return case("tiny-continuous")
