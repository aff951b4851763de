"""The trace comparison (tagger_ref.oracle.compare and `tagger-ref compare`): tolerance semantics, the
report's facts, computation order, exit codes, and the authors' traces passing at the defaults."""

import json
import os

import numpy
import pytest

from tagger_ref.commands import cli
from tagger_ref.config import from_dict
from tagger_ref.errors import TaggerError
from tagger_ref.files.inputs import load_inputs, prepare_inputs
from tagger_ref.files.params import load_params, prepare_params
from tagger_ref.oracle import golden
from tagger_ref.oracle.compare import (
    DEFAULT_ATOL_SCALE,
    DEFAULT_RTOL,
    FLOAT32,
    assert_traces_close,
    compare_traces,
    computation_rank,
)
from tagger_ref.oracle.trace import compute_trace, load_trace, save_trace

ORIGINAL = os.path.join(os.path.dirname(__file__), "data", "golden_original")


def toy_trace(T=2, K=2, B=3, N=4, binary=True):
    """A hand-made dict with every key of a binary trace, values from a fixed generator."""
    rng = numpy.random.default_rng(0)
    t = {"z_0": rng.random((K, B, N)), "m_0": rng.random((K, B, N))}
    for i in range(T):
        for name in ("L_m", "delta_z"):
            t[f"{name}_{i}"] = rng.random((K, B, N))
        t[f"h_{i}"] = rng.random((K, B, 5))
        t[f"ladder_top_{i}"] = rng.random((K, B, 3))
        t[f"zhat0_{i}"] = rng.random((K, B, 5))
        if binary:
            t[f"z_logit_{i + 1}"] = rng.standard_normal((K, B, N))
        t[f"z_{i + 1}"] = rng.random((K, B, N))
        t[f"m_{i + 1}"] = rng.random((K, B, N))
        t[f"cost_{i + 1}"] = numpy.array(rng.random())
    t["total_cost"] = numpy.array(0.7)
    t["grad_W"] = rng.standard_normal((4 * N, 5))
    t["grad_c2"] = numpy.array(0.01)
    return t


def test_identical_traces_agree():
    t = toy_trace()
    report = compare_traces(t, {k: v.copy() for k, v in t.items()})
    assert report.ok and report.first_divergence is None and not report.failures
    assert "OK: all" in report.format()
    assert report.worst("max_rel").max_rel == 0.0


def test_one_perturbed_element_is_reported_with_index_and_values():
    ref = toy_trace()
    cand = {k: v.copy() for k, v in ref.items()}
    cand["h_1"][1, 2, 3] += 1e-6
    report = compare_traces(ref, cand)
    assert not report.ok
    r = report["h_1"]
    assert r.status == "mismatch" and r.n_bad == 1 and r.size == ref["h_1"].size
    assert r.worst_index == (1, 2, 3)
    assert r.worst_reference == ref["h_1"][1, 2, 3] and r.worst_candidate == cand["h_1"][1, 2, 3]
    assert r.max_abs == pytest.approx(1e-6, rel=1e-6)
    assert r.max_rel == pytest.approx(1e-6 / ref["h_1"][1, 2, 3], rel=1e-6)
    assert [f.key for f in report.failures] == ["h_1"]
    text = report.format()
    assert "first divergence in computation order: h_1 (iteration 1, step 4" in text
    assert "(1, 2, 3)" in text and repr(float(cand["h_1"][1, 2, 3])) in text


def test_first_divergence_follows_computation_order_not_dict_order():
    ref = toy_trace(T=3)
    cand = {k: v.copy() for k, v in reversed(list(ref.items()))}
    for key in ("grad_W", "z_3", "m_2", "delta_z_1", "cost_1", "total_cost"):
        cand[key] = cand[key] + 1e-3
    report = compare_traces(ref, cand)
    assert report.first_divergence.key == "cost_1"  # iteration 0, step 8, before delta_z_1
    assert [r.key for r in report.failures] == ["cost_1", "delta_z_1", "m_2", "z_3", "total_cost", "grad_W"]


def test_computation_order_of_all_trace_keys():
    keys = list(toy_trace(T=2))
    expected = [
        "z_0",
        "m_0",
        "L_m_0",
        "delta_z_0",
        "h_0",
        "ladder_top_0",
        "zhat0_0",
        "z_logit_1",
        "z_1",
        "m_1",
        "cost_1",
        "L_m_1",
        "delta_z_1",
        "h_1",
        "ladder_top_1",
        "zhat0_1",
        "z_logit_2",
        "z_2",
        "m_2",
        "cost_2",
        "total_cost",
        "grad_W",
        "grad_c2",
    ]
    numpy.random.default_rng(1).shuffle(keys)
    position = {k: i for i, k in enumerate(expected)}  # the gradients keep the reference's order
    assert sorted(keys, key=lambda k: computation_rank(k, position[k])) == expected
    assert computation_rank("class_probs") < computation_rank("class_cost") < computation_rank("total_cost")
    assert computation_rank("cost_3") < computation_rank("class_probs")
    assert computation_rank("grad_b") < computation_rank("something_else")


def test_missing_and_misshaped_keys_are_named():
    ref = toy_trace()
    cand = {k: v.copy() for k, v in ref.items()}
    del cand["L_m_1"], cand["cost_2"]
    cand["zhat0_0"] = cand["zhat0_0"][:, :, :4]
    cand["grad_c2"] = numpy.array(["not a number"])
    cand["my_extra"] = numpy.zeros(3)
    report = compare_traces(ref, cand)
    status = {r.key: r.status for r in report.failures}
    assert status == {"L_m_1": "missing", "cost_2": "missing", "zhat0_0": "shape", "grad_c2": "dtype"}
    assert report.first_divergence.key == "zhat0_0"  # present keys only; missing ones are listed apart
    assert report.extra == ["my_extra"]
    text = report.format()
    assert "missing from the candidate: L_m_1, cost_2" in text
    assert "zhat0_0: shape (2, 3, 4) in the candidate, (2, 3, 5) in the reference" in text
    assert "in the candidate only (not compared): my_extra" in text


def test_tolerance_is_elementwise_rtol_plus_scale_relative_atol():
    ref = {"g": numpy.array([1.0, 1e-4])}
    # error at the small element: far beyond rtol * |ref|, but within atol_scale * max|ref|
    ok = {"g": numpy.array([1.0, 1e-4 + 0.5 * DEFAULT_ATOL_SCALE])}
    assert compare_traces(ref, ok).ok
    assert not compare_traces(ref, ok, atol_scale=0.0).ok
    # error at the large element: rtol * |ref| and atol_scale * max|ref| add
    limit = DEFAULT_RTOL + DEFAULT_ATOL_SCALE
    assert compare_traces(ref, {"g": numpy.array([1.0 + 0.9 * limit, 1e-4])}).ok
    assert not compare_traces(ref, {"g": numpy.array([1.0 + 1.1 * limit, 1e-4])}).ok
    # a plain absolute tolerance
    assert compare_traces(ref, {"g": numpy.array([1.1, 1e-4])}, atol=0.2).ok
    # an all-zero key needs exact zeros unless atol > 0
    zero = {"z": numpy.zeros(3)}
    assert not compare_traces(zero, {"z": numpy.array([0.0, 1e-300, 0.0])}).ok
    assert compare_traces(zero, {"z": numpy.array([0.0, 1e-300, 0.0])}, atol=1e-200).ok


def test_nan_and_inf_agree_only_with_themselves():
    ref = {"a": numpy.array([numpy.nan, numpy.inf, 1.0])}
    assert compare_traces(ref, {"a": numpy.array([numpy.nan, numpy.inf, 1.0])}).ok
    for bad in (
        [0.0, numpy.inf, 1.0],
        [numpy.nan, -numpy.inf, 1.0],
        [numpy.nan, numpy.inf, numpy.nan],
        [numpy.nan, 1e308, 1.0],
    ):
        report = compare_traces(ref, {"a": numpy.array(bad)})
        assert not report.ok and report["a"].n_bad == 1


def test_float32_candidate_is_compared_in_float64():
    ref = {"a": numpy.array([0.1, 0.2, 0.3])}
    cand = {"a": ref["a"].astype(numpy.float32)}
    assert not compare_traces(ref, cand).ok  # float32 rounding is 1e-8, far above 1e-9
    assert compare_traces(ref, cand, **FLOAT32).ok


def test_keys_pattern_selects_reference_keys():
    ref = toy_trace()
    cand = {k: v + 1.0 for k, v in ref.items()}
    cand.update({k: ref[k] for k in ref if k.startswith("z_") or k.startswith("m_")})
    report = compare_traces(ref, cand, keys="z_*,m_*")
    assert report.ok and {r.key for r in report.results} == {k for k in ref if k[:2] in ("z_", "m_")}
    assert not compare_traces(ref, cand, keys=["z_*", "cost_*"]).ok
    with pytest.raises(TaggerError, match="no key of the reference matches"):
        compare_traces(ref, cand, keys="nothing*")


def test_bad_tolerances_are_rejected():
    t = toy_trace()
    for kwargs in ({"rtol": -1.0}, {"atol": float("nan")}, {"atol_scale": float("inf")}):
        with pytest.raises(TaggerError):
            compare_traces(t, t, **kwargs)


def test_assert_traces_close_raises_assertion_error_with_the_report(tmp_path):
    ref = toy_trace()
    cand = {k: v.copy() for k, v in ref.items()}
    cand["m_1"] = cand["m_1"] * 1.01
    with pytest.raises(AssertionError) as info:
        assert_traces_close(ref, cand)
    assert "first divergence in computation order: m_1" in str(info.value)
    # paths work as well as dicts
    save_trace(tmp_path / "ref.npz", ref)
    save_trace(tmp_path / "cand.npz", ref)
    assert assert_traces_close(str(tmp_path / "ref.npz"), tmp_path / "cand.npz").ok


def _computed_and_original(case):
    folder = os.path.join(ORIGINAL, case)
    with open(os.path.join(folder, "config.json")) as f:
        config = from_dict(json.load(f))
    params = load_params(os.path.join(folder, "params.npz"), config)
    inputs = load_inputs(os.path.join(folder, "inputs.npz"), config)
    return config, params, inputs, load_trace(os.path.join(folder, "trace.npz"))


@pytest.mark.parametrize("case", ["binary_public", "continuous_public"])
def test_authors_traces_pass_compare_at_the_defaults(case):
    config, params, inputs, original = _computed_and_original(case)
    ours = compute_trace(params, config, inputs)
    report = assert_traces_close(original, ours)
    assert not report.extra and len(report.results) == len(original)


@pytest.mark.parametrize("case", ["binary_public", "continuous_public"])
def test_float32_run_fails_the_float64_defaults_and_passes_the_float32_preset(case):
    config, params, inputs, original = _computed_and_original(case)
    c32 = config.replace(dtype="float32")
    ours32 = compute_trace(prepare_params(params, c32), c32, prepare_inputs(inputs, c32))
    assert not compare_traces(original, ours32).ok
    assert_traces_close(original, ours32, **FLOAT32)


@pytest.mark.parametrize("name", [n for n in golden.CASES if not n.startswith("edge-")])
def test_float32_run_of_a_golden_case_keeps_a_tenth_of_the_float32_preset(name):
    """tagger_ref in float32 against the case's float64 trace: within 1e-4 of each key's scale,
    ten times inside FLOAT32's atol_scale (the margin compare.py and docs/porting.md state). The
    edge-* cases are float64 edges (v_eff = 5e-9, logits of 1e3 against a float32 eps of 1e-7):
    a float32 run is not expected to reproduce them."""
    config, params, inputs, trace = golden.load_case(name)
    c32 = config.replace(dtype="float32")
    ours32 = compute_trace(prepare_params(params, c32), c32, prepare_inputs(inputs, c32))
    assert_traces_close(trace, ours32, rtol=0.0, atol=0.0, atol_scale=FLOAT32["atol_scale"] / 10)


def test_commands_are_registered():
    assert "compare" in cli.COMMANDS and "golden" in cli.COMMANDS


@pytest.fixture
def run_cli(monkeypatch, capsys):
    """Run `tagger-ref` in-process with only this file's commands registered (the others are
    tested elsewhere); returns (exit status, stdout, stderr)."""
    monkeypatch.setattr(cli, "COMMANDS", ["compare", "golden"])

    def run(*argv):
        try:
            code = cli.main(list(argv))
        except SystemExit as e:  # argparse usage errors
            code = e.code
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_cli_exit_codes(run_cli, tmp_path):
    ref = toy_trace()
    save_trace(tmp_path / "ref.npz", ref)
    save_trace(tmp_path / "same.npz", ref)
    cand = dict(ref, delta_z_0=ref["delta_z_0"] + 1e-7)
    save_trace(tmp_path / "cand.npz", cand)
    code, out, _ = run_cli("compare", str(tmp_path / "ref.npz"), str(tmp_path / "same.npz"))
    assert code == 0 and "OK: all" in out
    code, out, _ = run_cli("compare", str(tmp_path / "ref.npz"), str(tmp_path / "cand.npz"))
    assert code == 1 and "first divergence in computation order: delta_z_0" in out
    code, out, _ = run_cli("compare", str(tmp_path / "ref.npz"), str(tmp_path / "cand.npz"), "--atol", "1e-6")
    assert code == 0
    code, out, _ = run_cli("compare", str(tmp_path / "ref.npz"), str(tmp_path / "cand.npz"), "--keys", "z_*,m_*")
    assert code == 0
    code, out, _ = run_cli("compare", str(tmp_path / "ref.npz"), str(tmp_path / "cand.npz"), "--float32")
    assert code == 0 and f"{FLOAT32['atol_scale']:g} * max|reference|" in out
    code, out, _ = run_cli("compare", str(tmp_path / "ref.npz"), str(tmp_path / "cand.npz"), "-v")
    assert code == 1 and "z_logit_1" in out  # verbose lists the keys that agree too
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    code, _, err = run_cli("compare", str(tmp_path / "ref.npz"), str(tmp_path / "broken.npz"))
    assert code == 2 and err.startswith("error: candidate trace") and "Traceback" not in err
    code, _, err = run_cli("compare", str(tmp_path / "missing.npz"), str(tmp_path / "same.npz"))
    assert code == 2 and "does not exist" in err
    code, _, err = run_cli("compare", str(tmp_path / "ref.npz"), str(tmp_path / "same.npz"), "--rtol", "-1")
    assert code == 2 and "rtol" in err
    code, _, err = run_cli("compare", str(tmp_path / "ref.npz"))
    assert code == 2


def test_a_wrong_epsilon_in_normalize_is_caught_at_h_0(monkeypatch):
    """The defaults are tight enough to see 1e-12 instead of 1e-10 under the square root."""
    import tagger_ref.maths.functions

    config, params, inputs, original = _computed_and_original("binary_public")
    monkeypatch.setattr(tagger_ref.maths.functions, "NORM_EPS", 1e-12)
    report = compare_traces(original, compute_trace(params, config, inputs))
    assert not report.ok and report.first_divergence.key == "h_0"
