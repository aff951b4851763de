"""The golden cases shipped with the package: regenerating them reproduces the shipped files, they
cover what they claim to, and `tagger-ref golden list/export` work."""

import json
import os

import numpy
import pytest
from run_helpers import load_repo_script

from tagger_ref.commands import cli
from tagger_ref.config import TaggerConfig
from tagger_ref.files.fileio import load_npz
from tagger_ref.maths.functions import NORM_AXES
from tagger_ref.oracle import golden
from tagger_ref.oracle.compare import assert_traces_close


def _maintainer_script():
    """maintainer/make_golden.py, the generator of the shipped cases (not part of the package)."""
    return load_repo_script("maintainer", "make_golden.py")


def test_every_case_is_shipped():
    assert golden.list_cases() == list(golden.CASES)
    for name in golden.list_cases():
        assert sorted(os.listdir(golden.case_dir(name))) == sorted(golden.FILES)


def test_regenerating_reproduces_the_shipped_files(tmp_path):
    """Every array of all four files to 1e-12 (relative to the array's largest magnitude, and
    elementwise); the config exactly."""
    _maintainer_script().main(["--out", str(tmp_path)])
    for name in golden.list_cases():
        shipped, fresh = golden.case_dir(name), tmp_path / name
        with open(os.path.join(shipped, "config.json")) as f, open(fresh / "config.json") as g:
            assert json.load(f) == json.load(g), name
        for file in ("params.npz", "inputs.npz", "trace.npz"):
            a = load_npz(os.path.join(shipped, file))
            b = load_npz(fresh / file)
            assert sorted(a) == sorted(b), (name, file)
            for key in a:
                assert a[key].dtype == b[key].dtype and a[key].shape == b[key].shape, (name, file, key)
            assert_traces_close(a, b, rtol=1e-12, atol=0.0, atol_scale=1e-12)


def test_cases_cover_the_model_space():
    configs = {name: golden.load_case(name)[0] for name in golden.list_cases()}
    assert {c.input_type for c in configs.values()} == {"binary", "continuous"}
    assert {c.norm for c in configs.values()} == {"batch", "layer"}
    assert {c.semantics for c in configs.values()} == {"original", "paper", "paper-eq29"}
    assert {len(c.encoder_proj) for c in configs.values()} >= {2, 3, 5}
    assert 1 in {c.n_groups for c in configs.values()}
    classify = [name for name, c in configs.items() if c.class_cost_x > 0]
    assert classify
    for name in classify:
        _, _, inputs, trace = golden.load_case(name)
        assert "y" in inputs and inputs["y"].shape[1] == 2 and "class_cost" in trace and "class_probs" in trace


@pytest.mark.parametrize("name", list(golden.CASES))
def test_case_files_are_consistent(name):
    config, params, inputs, trace = golden.load_case(name)
    assert isinstance(config, TaggerConfig) and config.dtype == "float64"
    K, B, N = inputs["m0_logits"].shape
    assert (K, B, N) == (config.n_groups, config.batch_size, config.n_inputs)
    assert all(numpy.all(numpy.isfinite(v)) for v in trace.values())
    assert {f"grad_{p}" for p in params} <= set(trace)
    assert trace[f"z_{config.n_iterations}"].shape == (K, B, N)
    assert golden.describe(name)


def test_unknown_case_names_the_known_ones():
    with pytest.raises(Exception, match="shipped cases: binary-batch-original"):
        golden.case_dir("no-such-case")


@pytest.fixture
def run_cli(monkeypatch, capsys):
    monkeypatch.setattr(cli, "COMMANDS", ["compare", "golden"])

    def run(*argv):
        try:
            code = cli.main(list(argv))
        except SystemExit as e:
            code = e.code
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_cli_list_and_export(run_cli, tmp_path):
    code, out, _ = run_cli("golden", "list")
    assert code == 0
    for name in golden.CASES:
        assert f"{name}\n" in out
    dest = tmp_path / "case"
    code, out, _ = run_cli("golden", "export", "classify", str(dest))
    assert code == 0 and sorted(os.listdir(dest)) == sorted(golden.FILES)
    for file in golden.FILES:
        with open(dest / file, "rb") as f, open(os.path.join(golden.case_dir("classify"), file), "rb") as g:
            assert f.read() == g.read()
    code, _, err = run_cli("golden", "export", "classify", str(dest))
    assert code == 2 and "--force" in err
    code, _, _ = run_cli("golden", "export", "classify", str(dest), "--force")
    assert code == 0
    code, _, err = run_cli("golden", "export", "no-such-case", str(tmp_path / "x"))
    assert code == 2 and err.startswith("error: no golden case")
    code, _, err = run_cli("golden", "export", "classify", str(tmp_path / "no" / "such" / "folder"))
    assert code == 2 and "does not exist" in err
    code, out, _ = run_cli("golden", "export", "all", str(tmp_path / "all"))
    assert code == 0 and sorted(os.listdir(tmp_path / "all")) == sorted(golden.CASES)
    # an exported trace compares clean against itself through the command line
    code, out, _ = run_cli("compare", str(dest / "trace.npz"), str(tmp_path / "all" / "classify" / "trace.npz"))
    assert code == 0


def test_edge_cases_sit_at_their_edges():
    """Each edge case reaches the edge its description names (docs/numerics.md), checked on its files."""

    def load(name):
        return golden.load_case(name)

    config, _, _, trace = load("edge-class-saturated")
    assert numpy.any(trace["ladder_top_1"][..., :-1] == 0) and trace["class_cost"] > 100
    config, _, _, trace = load("edge-semi-supervised-saturated")
    assert numpy.any(trace["labeled_ladder_top_1"][..., :-1] == 0)
    for name in ("edge-masks-zero", "edge-masks-zero-layer"):
        config, params, _, trace = load(name)
        assert all(numpy.any(trace[f"m_{i}"] == 0) for i in range(config.n_iterations)), name
        s2 = config.input_noise**2 + numpy.exp(numpy.arcsinh(params["v"]))  # the paper's variance (E3)
        far = numpy.min((trace["z_1"] - golden.load_case(name)[2]["x_tilde"]) ** 2, axis=0) / (2 * s2)
        assert numpy.any(far > 746), name  # every density underflows
    for name in ("edge-v-negative", "edge-v-negative-paper"):
        assert golden.load_case(name)[1]["v"] == -1e8
    for name in ("edge-binary-saturated", "edge-binary-saturated-paper"):
        trace = load(name)[3]
        assert numpy.min(trace["z_logit_1"]) < -746 and numpy.any(trace["z_1"] == 0), name
    for name in ("edge-beta-tiny", "edge-beta-tiny-layer"):
        config, _, inputs, trace = load(name)
        assert config.input_noise <= 1e-12 and config.z_init == 0.0
        assert numpy.max(numpy.abs(trace["delta_z_0"])) > 1e11  # (1 - 2 beta) m / beta
    for name in ("edge-norm-floor", "edge-norm-floor-layer"):
        config, params, inputs, trace = load(name)
        K, B, N = inputs["m0_logits"].shape
        inp = numpy.concatenate([trace["z_0"], trace["delta_z_0"], trace["m_0"], trace["L_m_0"]], axis=-1)
        pre = inp.reshape(K * B, 4 * N) @ params["W"]
        var = pre.var(axis=NORM_AXES[config.norm])
        assert numpy.all(var < 1e-10), name  # below the floor 1e-10
