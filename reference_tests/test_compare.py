"""The trace comparison (tagger_ref.oracle.compare and `tagger-ref compare`): tolerance semantics, the
report's facts, computation order, exit codes, and the authors' traces passing at the defaults."""

import json
import os
import re

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
    assert "first divergence in computation order: h_1, iteration 1, docs/spec.md section 4 step 4" in text
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


# compare's table of steps (compare.TRACE_STEPS) against the text of docs/spec.md section 4 --------

DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs")
_KEY_SYNTAX = re.compile(r"^[A-Za-z][A-Za-z0-9_{}+]*$")  # `z_{i+1}`, not `(K, B, H_0)`


def declared_keys(text):
    """The trace keys a passage declares: the backticked names after "Key" or "Keys", to the sentence's end."""
    keys = []
    for sentence in re.finditer(r"\bKeys?\s(.*?)\.(?:\s|$)", text, re.DOTALL):
        keys += [k for k in re.findall(r"`([^`]+)`", sentence.group(1)) if _KEY_SYNTAX.match(k)]
    return keys


def spec_steps(text):
    """docs/spec.md section 4 as [(place, title, passage)]: place "initialisation", "step 1" ..,
    "after the last iteration"; title the bold words that open a step or bullet (None for the
    initialisation), backticks removed, in lower case."""
    section = re.search(r"^## 4\. .*?(?=^## 5\. )", text, re.MULTILINE | re.DOTALL).group(0)
    parts = re.split(r"^### ", section, flags=re.MULTILINE)
    init = next(p for p in parts if p.startswith("Initialisation"))
    steps = [("initialisation", None, init)]
    iteration = next(p for p in parts if p.startswith("One iteration"))
    for m in re.finditer(r"^(\d+)\. \*\*(.+?)\*\*(.*?)(?=^\d+\. |\Z)", iteration, re.MULTILINE | re.DOTALL):
        steps.append((f"step {m.group(1)}", m.group(2), m.group(0)))
    after = next(p for p in parts if p.startswith("After the last iteration"))
    for m in re.finditer(r"^- \*\*(.+?)\*\*(.*?)(?=^- |^\S|\Z)", after, re.MULTILINE | re.DOTALL):
        steps.append(("after the last iteration", m.group(1), m.group(0)))
    return [(place, title and title.replace("`", "").lower(), passage) for place, title, passage in steps]


def paper_references(paper):
    """The references of a TRACE_STEPS row's paper column: "(30)-(31)", "(4)", "A.6", "Alg. 1-3", ..."""
    return re.findall(r"\(\d+\)(?:-\(\d+\))?|A\.\d+|Alg\. \d+(?:-\d+)?|eq\. \d+|section \d+\.\d+", paper)


def step_problems(rows, spec_text):
    """Lines naming every disagreement between a table of TraceStep rows and a spec's section 4."""
    steps = spec_steps(spec_text)
    where = {key: step for step in steps for key in declared_keys(step[2])}
    out = [f"{key}: declared in docs/spec.md section 4 but not in the table" for key in where if key not in rows]
    for row in rows.values():
        if row.key not in where:
            out.append(f"{row.key}: in the table, declared by no step of docs/spec.md section 4")
            continue
        place, title, passage = where[row.key]
        if row.step != place:
            out.append(f"{row.key}: the table says {row.step}, docs/spec.md section 4 {place}")
        if title is not None and not row.title.lower().startswith(title):
            out.append(f"{row.key}: the table's title {row.title!r} does not start with the spec's {title!r}")
        refs = paper_references(row.paper)
        if not refs:
            out.append(f"{row.key}: no equation in the table's {row.paper!r}")
        out += [
            f"{row.key}: {ref} is not in the text of {place}" for ref in refs if ref not in " ".join(passage.split())
        ]
    return out


@pytest.fixture(scope="module")
def spec_text():
    with open(os.path.join(DOCS, "spec.md")) as f:
        return f.read()


def test_the_table_of_steps_agrees_with_spec_section_4(spec_text):
    from tagger_ref.oracle.compare import TRACE_STEPS

    rows = {row.key: row for row in TRACE_STEPS}
    assert len(rows) == len(TRACE_STEPS)
    assert step_problems(rows, spec_text) == []


def test_the_step_checker_sees_a_wrong_step_title_equation_and_key(spec_text):
    from tagger_ref.oracle.compare import TRACE_STEPS, TraceStep

    rows = {row.key: row for row in TRACE_STEPS}
    assert [s[0] for s in spec_steps(spec_text)][:9] == ["initialisation"] + [f"step {n}" for n in range(1, 9)]
    wrong = dict(rows, h_i=rows["h_i"]._replace(step="step 3"))  # porting.md's old numbering
    assert step_problems(wrong, spec_text) == ["h_i: the table says step 3, docs/spec.md section 4 step 4"]
    wrong = dict(rows, L_m_i=rows["L_m_i"]._replace(paper="(6)"))
    assert step_problems(wrong, spec_text) == ["L_m_i: (6) is not in the text of step 1"]
    wrong = dict(rows, zhat0_i=rows["zhat0_i"]._replace(title="Ladder encoder"))
    assert step_problems(wrong, spec_text) == [
        "zhat0_i: the table's title 'Ladder encoder' does not start with the spec's 'ladder decoder'"
    ]
    wrong = {k: v for k, v in rows.items() if k != "cost_{i+1}"}
    wrong["cost_i"] = TraceStep("cost_i", "step 8", "cost of iteration i+1", "(2)")
    assert sorted(step_problems(wrong, spec_text)) == [
        "cost_i: in the table, declared by no step of docs/spec.md section 4",
        "cost_{i+1}: declared in docs/spec.md section 4 but not in the table",
    ]


def test_compare_names_the_step_and_equation_of_a_diverging_key():
    ref = toy_trace()
    cand = {k: v.copy() for k, v in ref.items()}
    cand["delta_z_1"][0, 0, 0] += 1e-6
    text = compare_traces(ref, cand).format()
    assert (
        "first divergence in computation order: delta_z_1, iteration 1, docs/spec.md section 4 step 2 "
        "(modelling error delta_z_i); paper: binary (30)-(31), continuous (4)"
    ) in text
    row = next(line.split() for line in text.splitlines() if line.startswith("delta_z_1 "))
    assert row[1] == "2"  # the table's step column


def test_porting_section_2_numbers_the_steps_as_the_spec():
    """Every key named at the head of a numbered step of docs/porting.md section 2 sits in that
    step in compare.TRACE_STEPS (and so in docs/spec.md section 4), and every iteration step is there."""
    from tagger_ref.oracle.compare import TRACE_STEPS

    with open(os.path.join(DOCS, "porting.md")) as f:
        section = re.search(r"^## 2\. .*?(?=^## 3\. )", f.read(), re.MULTILINE | re.DOTALL).group(0)
    items = re.findall(r"^(\d+)\. (.*?)(?=^\d+\. |^\S|\Z)", section, re.MULTILINE | re.DOTALL)
    step_of = {row.key: row.step for row in TRACE_STEPS}
    named = {}
    for number, text in items:
        for key in re.findall(r"`([^`]+)`", text.split(":")[0]):
            if key in step_of:
                named[key] = f"step {number}"
    iteration_keys = {row.key for row in TRACE_STEPS if row.step.startswith("step ")}
    assert {key: step_of[key] for key in named} == named
    assert set(named) == iteration_keys
    assert [int(n) for n, _ in items] == list(range(1, 9))
