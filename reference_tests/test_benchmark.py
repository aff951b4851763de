"""benchmarks/step_time.py: its lower bound holds exactly the matrix products of a training step
(counted here from autograd's own graph of the step), and the script runs."""

import sys

import autograd.numpy as anp
import numpy
import pytest
from autograd.core import VJPNode
from autograd.tracer import notrace_primitives, trace
from run_helpers import load_repo_script

from tagger_ref.config import PRESETS
from tagger_ref.maths.corruption import make_inputs
from tagger_ref.maths.gradients import step_cost
from tagger_ref.maths.init import init_params


def load_script():
    return load_repo_script("benchmarks", "step_time.py")


class RecordingNode(VJPNode):
    """A VJP node that also records the graph's matrix products A @ B: A's shape, B's shape, and
    which of A and B depend on the parameters (0, 1)."""

    __slots__ = []
    products = []

    def __init__(self, value, fun, args, kwargs, parent_argnums, parents):
        super().__init__(value, fun, args, kwargs, parent_argnums, parents)
        if fun is anp.matmul:
            RecordingNode.products.append((anp.shape(args[0]), anp.shape(args[1]), tuple(parent_argnums)))


notrace_primitives[RecordingNode] = notrace_primitives[VJPNode]  # comparisons etc. are not traced, as for VJPNode


def test_bound_has_exactly_the_products_of_a_step():
    step_time = load_script()
    config = PRESETS["shapes"].replace(encoder_proj=(9, 7, 5), n_inputs=12)
    rng = numpy.random.default_rng(0)
    params = init_params(config, rng)
    inputs = make_inputs(config, (rng.random((3, 12)) < 0.3).astype("float64"), rng)
    RecordingNode.products = []
    trace(RecordingNode.new_root(), lambda p: step_cost(p, config, inputs), params)
    # The backward pass does, per product A @ B, A.T @ G where B depends on the parameters and
    # G @ B.T where A does.
    expected = []
    for a, b, argnums in RecordingNode.products:
        expected.append((a, b, False, False))
        if 1 in argnums:
            expected.append((a[::-1], (a[0], b[1]), True, False))
        if 0 in argnums:
            expected.append(((a[0], b[1]), b[::-1], False, True))
    assert sorted(step_time.product_list(config, 3)) == sorted(expected)
    assert len(expected) == 62  # T = 3 iterations of 7 products, 3 x 7 x 3 - 1


def test_script_runs_and_checks_gradient_dtypes(capsys):
    step_time = load_script()
    assert step_time.main(["--batch", "2", "--ladder", "6,5,4", "--repeats", "1", "--allocator", "kept"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.startswith(("float64 ", "float32 "))]
    assert [(r[0], r[1], r[2], r[-1]) for r in rows] == [
        ("float64", "fast", "kept", "float64"),
        ("float64", "reference", "kept", "float64"),
        ("float32", "fast", "kept", "float32"),
        ("float32", "reference", "kept", "float32"),
    ]


def test_texture_model_and_the_ports_column(capsys):
    """--model texture times the TextureMNIST stage-1 model (continuous inputs, its preset's Ladder
    unless --ladder), and the port column holds a ratio exactly when PyTorch is installed."""
    step_time = load_script()
    assert (
        step_time.main(
            [
                "--model",
                "texture",
                "--batch",
                "2",
                "--ladder",
                "6,5,4",
                "--repeats",
                "1",
                "--allocator",
                "kept",
                "--paths",
                "fast",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "texture-mnist-pretrain, continuous): N=784" in out
    rows = [line.split() for line in out.splitlines() if line.startswith(("float64 ", "float32 "))]
    assert [r[0] for r in rows] == ["float64", "float32"]
    port_column = [r[6] for r in rows]
    port_bound_column = [r[7] for r in rows]
    if step_time.load_port() is None:
        assert port_column == port_bound_column == ["-", "-"]
    else:
        assert all(float(p) > 0 for p in port_column + port_bound_column)
    for r in rows:  # the fast path's breakdown: primitives' forward and derivative seconds, and the rest
        step, bound, forward, derivative, rest = (float(r[i]) for i in (3, 4, 8, 9, 10))
        assert forward > 0 and derivative > 0
        assert rest == pytest.approx(step - bound - forward - derivative, abs=2e-3)  # three decimals each
    assert (
        step_time.main(
            [
                "--batch",
                "2",
                "--ladder",
                "6,5,4",
                "--repeats",
                "1",
                "--allocator",
                "kept",
                "--paths",
                "fast",
                "--no-port",
            ]
        )
        == 0
    )
    assert [line.split()[6] for line in capsys.readouterr().out.splitlines() if line.startswith("float")] == ["-", "-"]


def test_primitive_clock_counts_only_the_fused_primitives_and_restores_autograds_table():
    """primitive_seconds clocks the FAST table's three functions and the primitives' derivatives:
    on the reference path nothing is clocked, on the fast path both clocks run; a slowed
    derivative shows up in the derivative clock only; autograd's VJP table is as before, also
    after a step that raises."""
    import time

    from autograd.core import primitive_vjps

    from tagger_ref.maths import fused
    from tagger_ref.maths.gradients import cost_and_grad
    from tagger_ref.maths.ops import REFERENCE

    step_time = load_script()
    config = PRESETS["shapes"].replace(encoder_proj=(9, 7, 5), n_inputs=12)
    rng = numpy.random.default_rng(0)
    params = init_params(config, rng)
    inputs = make_inputs(config, (rng.random((3, 12)) < 0.3).astype("float64"), rng)
    before = dict(primitive_vjps)

    assert step_time.primitive_seconds(lambda ops: cost_and_grad(params, config, inputs, ops=REFERENCE)) == (0, 0)
    forward, derivative = step_time.primitive_seconds(lambda ops: cost_and_grad(params, config, inputs, ops=ops))
    assert forward > 0 and derivative > 0

    slow_maker = primitive_vjps[fused._combine]

    def slowed(*args, **kwargs):
        vjp = slow_maker(*args, **kwargs)
        return lambda g: (time.sleep(0.01), vjp(g))[1]

    primitive_vjps[fused._combine] = slowed
    try:
        forward, derivative = step_time.primitive_seconds(lambda ops: cost_and_grad(params, config, inputs, ops=ops))
    finally:
        primitive_vjps[fused._combine] = slow_maker
    assert derivative > 9 * 0.01 > forward  # T = 3 iterations of 3 combinators, 10 ms each

    def failing(ops):
        cost_and_grad(params, config, inputs, ops=ops)
        raise RuntimeError("a step that fails")

    with pytest.raises(RuntimeError, match="a step that fails"):
        step_time.primitive_seconds(failing)
    assert primitive_vjps == before


def test_device_gpu_times_trainings_step_on_the_device_and_the_cpu(monkeypatch, capsys):
    """--device gpu on the CuPy stand-in (reference_tests/fake_gpu.py in the place of cupy): a row
    per device, dtype and draws, finite costs, a speed-up line per dtype; the CPU is active after."""
    import fake_gpu

    from tagger_ref.device import backend

    step_time = load_script()
    monkeypatch.setitem(sys.modules, "cupy", fake_gpu.cupy_module())
    assert (
        step_time.main(["--device", "gpu", "--batch", "2", "--ladder", "6,5,4", "--repeats", "1", "--warmup", "1"]) == 0
    )
    assert backend.device() == "cpu"
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.startswith(("gpu ", "cpu "))]
    assert [tuple(r[:3]) for r in rows] == [
        ("gpu", "float64", "host"),
        ("gpu", "float64", "device"),
        ("gpu", "float32", "host"),
        ("gpu", "float32", "device"),
        ("cpu", "float64", "host"),
        ("cpu", "float32", "host"),
    ]
    assert all(float(r[3]) > 0 and numpy.isfinite(float(r[-1])) for r in rows)
    assert out.count("speed-up, GPU") == 2 and "fake_gpu.py stand-in" in out


def test_device_gpu_without_cupy_says_so_and_exits_2(capsys):
    try:
        import cupy  # noqa: F401

        pytest.skip("CuPy is installed here")
    except ImportError:
        pass
    assert load_script().main(["--device", "gpu", "--batch", "2", "--ladder", "6,5,4"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("step_time: ") and "CuPy is not installed" in err
