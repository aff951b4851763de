"""benchmarks/step_time.py: its lower bound holds exactly the matrix products of a training step
(counted here from autograd's own graph of the step), and the script runs."""

import autograd.numpy as anp
import numpy
from autograd.core import VJPNode
from autograd.tracer import notrace_primitives, trace

from run_helpers import load_repo_script
from tagger_ref.config import PRESETS
from tagger_ref.files.inputs import make_inputs
from tagger_ref.maths.model import total_cost
from tagger_ref.files.params import init_params


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


notrace_primitives[RecordingNode] = notrace_primitives[VJPNode]   # comparisons etc. are not traced, as for VJPNode


def test_bound_has_exactly_the_products_of_a_step():
    step_time = load_script()
    config = PRESETS["shapes"].replace(encoder_proj=(9, 7, 5), n_inputs=12)
    rng = numpy.random.default_rng(0)
    params = init_params(config, rng)
    inputs = make_inputs(config, (rng.random((3, 12)) < 0.3).astype("float64"), rng)
    RecordingNode.products = []
    trace(RecordingNode.new_root(), lambda p: total_cost(p, config, inputs), params)
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
    assert len(expected) == 62                      # T = 3 iterations of 7 products, 3 x 7 x 3 - 1


def test_script_runs_and_checks_gradient_dtypes(capsys):
    step_time = load_script()
    assert step_time.main(["--batch", "2", "--ladder", "6,5,4", "--repeats", "1", "--allocator", "kept"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.startswith(("float64 ", "float32 "))]
    assert [(r[0], r[1], r[2], r[-1]) for r in rows] == [
        ("float64", "fast", "kept", "float64"), ("float64", "reference", "kept", "float64"),
        ("float32", "fast", "kept", "float32"), ("float32", "reference", "kept", "float32")]


def test_texture_model_and_the_ports_column(capsys):
    """--model texture times the TextureMNIST stage-1 model (continuous inputs, its preset's Ladder
    unless --ladder), and the port column holds a ratio exactly when PyTorch is installed."""
    step_time = load_script()
    assert step_time.main(["--model", "texture", "--batch", "2", "--ladder", "6,5,4", "--repeats", "1",
                           "--allocator", "kept", "--paths", "fast"]) == 0
    out = capsys.readouterr().out
    assert "texture-mnist-pretrain, continuous): N=784" in out
    rows = [line.split() for line in out.splitlines() if line.startswith(("float64 ", "float32 "))]
    assert [r[0] for r in rows] == ["float64", "float32"]
    port_column = [r[6] for r in rows]
    if step_time.load_port() is None:
        assert port_column == ["-", "-"]
    else:
        assert all(float(p) > 0 for p in port_column)
    assert step_time.main(["--batch", "2", "--ladder", "6,5,4", "--repeats", "1", "--allocator", "kept",
                           "--paths", "fast", "--no-port"]) == 0
    assert [line.split()[6] for line in capsys.readouterr().out.splitlines()
            if line.startswith("float")] == ["-", "-"]

