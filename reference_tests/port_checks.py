"""The checks every port of docs/spec.md passes, shared by test_torch_port.py (the PyTorch port) and
test_numpy_port.py (the NumPy port): each golden case within compare's defaults and a tighter
margin, compare's first divergence at the right key for a wrong semantics and a wrong variance
floor, the port's command line, and the authors' two traces. A port module has ``Tagger`` (with
``from_files``), ``write_trace``, ``load_inputs``, ``main`` and ``NORM_EPS``; ``copy`` makes a model
of another config with a model's parameters (each framework holds them its own way)."""

import json
import os

from tagger_ref.commands import cli
from tagger_ref.oracle import golden
from tagger_ref.oracle.compare import DEFAULT_ATOL_SCALE, assert_traces_close, compare_traces

HERE = os.path.dirname(os.path.abspath(__file__))


def port_trace(port, copy, name, **config_changes):
    """The port's trace of golden case ``name``, its config changed by ``config_changes``."""
    folder = golden.case_dir(name)
    model = port.Tagger.from_files(os.path.join(folder, "config.json"), os.path.join(folder, "params.npz"))
    if config_changes:
        with open(os.path.join(folder, "config.json")) as f:
            model = copy(port, model, dict(json.load(f), **config_changes))
    return port.write_trace(model, port.load_inputs(os.path.join(folder, "inputs.npz")))


def check_golden_case(port, copy, name):
    reference = golden.load_case(name)[3]
    candidate = port_trace(port, copy, name)
    report = assert_traces_close(reference, candidate)
    assert not report.extra, f"the port writes keys the reference lacks: {report.extra}"
    # the margin docs/porting.md states: within a hundredth of the default atol_scale, a tenth at
    # the numerical edges (where the worst key comes to 1e-12)
    edge = name.startswith("edge-")
    margin = compare_traces(reference, candidate, rtol=0.0, atol_scale=DEFAULT_ATOL_SCALE / (10 if edge else 100))
    assert margin.ok, margin.format()


def check_other_semantics_caught(port, copy):
    """compare has teeth: the paper's delta_z (E1) in the port diverges first at delta_z_0."""
    report = compare_traces(
        golden.load_case("binary-batch-original")[3],
        port_trace(port, copy, "binary-batch-original", semantics="paper"),
    )
    assert not report.ok and report.first_divergence.key == "delta_z_0"
    assert report["delta_z_0"].max_scaled > 0.5  # the factor 1 / (1 - 2 beta) = 5/3 at beta = 0.2


def check_variance_floor_caught(port, copy, monkeypatch, eps, moved):
    """``eps`` under the square root of normalize instead of 1e-10 moves h_0, the first normalised
    key, by more than ``moved`` of its scale (docs/porting.md, Tolerances)."""
    monkeypatch.setattr(port, "NORM_EPS", eps)
    report = compare_traces(
        golden.load_case("binary-batch-original")[3], port_trace(port, copy, "binary-batch-original")
    )
    assert not report.ok and report.first_divergence.key == "h_0"
    assert report["h_0"].max_scaled > moved


def check_command_line(port, out, monkeypatch, capsys):
    """The port's command line writes a trace of a golden case that ``tagger-ref compare`` accepts."""
    folder = golden.case_dir("classify")
    assert port.main([os.path.join(folder, f) for f in ("config.json", "params.npz", "inputs.npz")] + [str(out)]) == 0
    monkeypatch.setattr(cli, "COMMANDS", ["compare"])
    assert cli.main(["compare", os.path.join(folder, "trace.npz"), str(out)]) == 0
    assert "OK: all" in capsys.readouterr().out


def check_authors_trace(port, name):
    """One of the two traces of the authors' original computation (reference_tests/data/golden_original)."""
    folder = os.path.join(HERE, "data", "golden_original", name)
    model = port.Tagger.from_files(os.path.join(folder, "config.json"), os.path.join(folder, "params.npz"))
    candidate = port.write_trace(model, port.load_inputs(os.path.join(folder, "inputs.npz")))
    assert_traces_close(os.path.join(folder, "trace.npz"), candidate)
