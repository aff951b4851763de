"""The PyTorch port in examples/torch_port, a second implementation written from docs/spec.md, must
reproduce every shipped golden case at compare's float64 defaults (skipped without torch)."""

import importlib.util
import os

import port_checks
import pytest

torch = pytest.importorskip(
    "torch", reason="the PyTorch port's cross-check needs torch: pip install '.[test,torch]', as .ci/run does"
)

from tagger_ref.oracle.compare import DEFAULT_ATOL_SCALE  # noqa: E402
from tagger_ref.oracle.golden import CASES  # noqa: E402

PORT = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "torch_port", "tagger_torch.py"
)


@pytest.fixture(scope="module")
def port():
    # The cases are tiny: one thread is fastest (threads only contend on a busy 2-core CI
    # machine) and makes the sums, and so the last digits, the same from run to run.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    spec = importlib.util.spec_from_file_location("tagger_torch", PORT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    torch.set_num_threads(threads)


def copy_model(port, model, config):
    """A model of ``config`` holding ``model``'s parameters (port_checks.port_trace)."""
    state = model.state_dict()
    model = port.Tagger(config)
    model.load_state_dict(state)
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
    port_checks.check_command_line(port, tmp_path / "torch_trace.npz", monkeypatch, capsys)


@pytest.mark.parametrize("name", ["binary_public", "continuous_public"])
def test_port_reproduces_the_authors_traces(port, name):
    port_checks.check_authors_trace(port, name)


def test_the_port_follows_its_parameters_dtype(port):
    """The port builds its tensors in the dtype it is given (the benchmark times it in float32):
    cost, intermediates and gradients of a float32 step stay float32."""
    import numpy

    from tagger_ref.config import PRESETS
    from tagger_ref.maths.corruption import make_inputs
    from tagger_ref.maths.init import init_params

    config = PRESETS["tiny-binary"].replace(dtype="float32")
    rng = numpy.random.default_rng(0)
    params = init_params(config, rng)
    inputs = make_inputs(config, (rng.random((3, config.n_inputs)) < 0.3).astype("float32"), rng)
    model = port.Tagger(config.to_dict(), dtype=torch.float32)
    model.load_state_dict({k: torch.from_numpy(numpy.asarray(v, dtype="float32")) for k, v in params.items()})
    record = {}
    cost = model(*(torch.from_numpy(numpy.asarray(inputs[k])) for k in ("x", "x_tilde", "m0_logits")), record=record)
    cost.backward()
    assert cost.dtype == torch.float32 and record["z_3"].dtype == torch.float32
    assert all(p.grad.dtype == torch.float32 for p in model.parameters() if p.grad is not None)


def test_the_ports_readme_runs_as_written(tmp_path):
    """examples/torch_port/README.md's shell lines, then its Python lines with the port's folder on
    PYTHONPATH, in a folder holding the repository's examples/ (so out/ lands in tmp_path);
    ``tagger-ref`` and ``python`` are this interpreter's."""
    import re
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "examples", "torch_port", "README.md")) as f:
        readme = f.read()
    shell = re.search(r"```sh\n(.*?)```", readme, re.DOTALL).group(1)
    python = re.search(r"```python\n(.*?)```", readme, re.DOTALL).group(1)
    os.symlink(os.path.join(root, "examples"), tmp_path / "examples")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join("examples", "torch_port"), root]))
    for line in shell.strip().splitlines():
        words = line.split()
        programs = {"tagger-ref": [sys.executable, "-m", "tagger_ref.commands.cli"], "python": [sys.executable]}
        command = programs.get(words[0], words[:1]) + words[1:]
        r = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert r.returncode == 0, f"{line}\n{r.stdout}{r.stderr}"
    r = subprocess.run([sys.executable, "-c", python], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / "port-case" / "torch_trace.npz").is_file()
