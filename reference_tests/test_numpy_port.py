"""The NumPy port in examples/numpy_port, a second implementation written from docs/spec.md on
autograd.numpy, must reproduce every shipped golden case at compare's float64 defaults, as the
PyTorch port does (reference_tests/test_torch_port.py); it needs nothing beyond the base install,
and reference_tests/test_misreadings.py makes its mistakes in it."""

import os

import port_checks
import pytest
from run_helpers import load_repo_script

from tagger_ref.oracle import golden
from tagger_ref.oracle.compare import DEFAULT_ATOL_SCALE
from tagger_ref.oracle.golden import CASES

PORT = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "numpy_port", "tagger_numpy.py"
)


@pytest.fixture(scope="module")
def port():
    return load_repo_script("examples", "numpy_port", "tagger_numpy.py")


def copy_model(port, model, config):
    """A model of ``config`` holding ``model``'s parameters (port_checks.port_trace)."""
    params = model.params
    model = port.Tagger(config)
    model.load_params(params)
    return model


@pytest.mark.parametrize("name", list(CASES))
def test_port_reproduces_golden_case(port, name):
    port_checks.check_golden_case(port, copy_model, name)


def test_port_with_other_semantics_is_caught_at_the_right_step(port):
    port_checks.check_other_semantics_caught(port, copy_model)


@pytest.mark.parametrize("eps,moved", [(1e-12, 10 * DEFAULT_ATOL_SCALE), (1e-5, 1e-4)])
def test_port_with_another_variance_floor_is_caught_at_h_0(port, monkeypatch, eps, moved):
    """1e-12, or PyTorch's default 1e-5, under the square root of normalize instead of 1e-10."""
    port_checks.check_variance_floor_caught(port, copy_model, monkeypatch, eps, moved)


def test_port_command_line_writes_a_trace_that_compare_accepts(port, tmp_path, monkeypatch, capsys):
    port_checks.check_command_line(port, tmp_path / "numpy_trace.npz", monkeypatch, capsys)


def test_port_refuses_a_parameter_of_the_wrong_shape(port):
    folder = golden.case_dir("binary-batch-original")
    model = port.Tagger.from_files(os.path.join(folder, "config.json"), os.path.join(folder, "params.npz"))
    params = dict(model.params, b1=model.params["b1"][:-1])
    with pytest.raises(ValueError, match="parameter b1 has shape"):
        model.load_params(params)


@pytest.mark.parametrize("name", ["binary_public", "continuous_public"])
def test_port_reproduces_the_authors_traces(port, name):
    port_checks.check_authors_trace(port, name)


def test_the_port_imports_nothing_of_tagger_ref():
    """A second implementation: its source names no tagger_ref module."""
    with open(PORT, encoding="utf-8") as f:
        lines = [line for line in f if line.lstrip().startswith(("import ", "from "))]
    assert lines and not [line for line in lines if "tagger_ref" in line], lines
