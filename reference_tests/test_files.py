"""Parameter, input and trace files: round trips, and one clear error per kind of bad file."""

import zipfile

import numpy
import pytest
from conftest import case

from tagger_ref.errors import InputError, ParamFileError, TraceError
from tagger_ref.files.inputs import load_inputs, save_inputs
from tagger_ref.files.params import load_params, save_params
from tagger_ref.maths.model import forward
from tagger_ref.oracle.trace import compute_trace, load_trace, save_trace

pytestmark = pytest.mark.quick  # the fast subset: python -m pytest -m quick


def test_round_trips(tmp_path, tiny_continuous):
    config, params, inputs = tiny_continuous
    save_params(tmp_path / "p.npz", params)
    save_inputs(tmp_path / "i.npz", inputs)
    p2, i2 = load_params(tmp_path / "p.npz", config), load_inputs(tmp_path / "i.npz", config)
    assert all(numpy.array_equal(params[k], p2[k]) for k in params) and set(p2) == set(params)
    assert all(numpy.array_equal(inputs[k], i2[k]) for k in inputs)
    trace = compute_trace(p2, config, i2)
    save_trace(tmp_path / "t.npz", trace)
    t2 = load_trace(tmp_path / "t.npz")
    assert set(t2) == set(trace) and all(numpy.array_equal(trace[k], t2[k]) for k in trace)
    assert not list(tmp_path.glob(".*part*"))  # no temporary files left behind


def test_trace_keys_are_the_spec_section_8_keys():
    config, params, inputs = case("tiny-binary")
    T = config.n_iterations
    trace = compute_trace(params, config, inputs)
    expected = {"total_cost"} | {f"grad_{k}" for k in params}
    for i in range(T):
        expected |= {f"L_m_{i}", f"delta_z_{i}", f"h_{i}", f"ladder_top_{i}", f"zhat0_{i}"}
    for i in range(T + 1):
        expected |= {f"z_{i}", f"m_{i}"}
    for i in range(1, T + 1):
        expected |= {f"z_logit_{i}", f"cost_{i}"}
    assert set(trace) == expected
    K, B, N = inputs["m0_logits"].shape
    assert trace["h_0"].shape == (K, B, config.encoder_proj[0])
    assert trace["ladder_top_2"].shape == (K, B, config.encoder_proj[-1])
    assert all(v.dtype == numpy.float64 for v in trace.values())
    c, p, i = case("tiny-classify")
    t = compute_trace(p, c, i)
    assert t["class_probs"].shape == (i["x"].shape[0], c.n_classes) and t["class_cost"].shape == ()
    assert "z_logit_1" not in t


def _write(path, arrays):
    numpy.savez(path, **arrays)
    return path


def test_bad_parameter_files(tmp_path, tiny_binary):
    config, params, _ = tiny_binary
    with pytest.raises(ParamFileError, match="does not exist"):
        load_params(tmp_path / "nope.npz", config)
    missing = dict(params)
    del missing["W"], missing["g_1_a3"]
    with pytest.raises(ParamFileError, match="missing W, g_1_a3"):
        load_params(_write(tmp_path / "m.npz", missing), config)
    with pytest.raises(ParamFileError, match="unexpected bogus"):
        load_params(_write(tmp_path / "e.npz", dict(params, bogus=numpy.zeros(2))), config)
    with pytest.raises(ParamFileError, match=r"c1 has shape \(5,\), expected \(6,\)"):
        load_params(_write(tmp_path / "s.npz", dict(params, c1=numpy.zeros(5))), config)
    bad = dict(params, b=params["b"].copy(), f_1_W=params["f_1_W"].copy())
    bad["b"][0] = numpy.nan
    bad["f_1_W"][1, 1] = numpy.inf
    with pytest.raises(ParamFileError, match="b has 1 non-finite.*f_1_W has 1 non-finite"):
        load_params(_write(tmp_path / "n.npz", bad), config)
    # every problem at once
    with pytest.raises(ParamFileError, match="missing W.*unexpected bogus.*c1 has shape"):
        load_params(_write(tmp_path / "all.npz", dict(missing, bogus=numpy.zeros(1), c1=numpy.zeros(5))), config)


def test_truncated_and_foreign_files(tmp_path, tiny_binary):
    config, params, inputs = tiny_binary
    save_params(tmp_path / "p.npz", params)
    data = (tmp_path / "p.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ParamFileError, match="not a readable .npz"):
        load_params(tmp_path / "cut.npz", config)
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ParamFileError, match=r"not a .npz archive \(not a zip file\)"):
        load_params(tmp_path / "text.npz", config)
    numpy.save(tmp_path / "one.npy", numpy.zeros(3))
    with pytest.raises(ParamFileError, match="single .npy array"):
        load_params(tmp_path / "one.npy", config)
    with pytest.raises(TraceError, match="does not exist"):
        load_trace(tmp_path / "none.npz")
    assert zipfile.is_zipfile(tmp_path / "p.npz")


def test_bad_input_files(tmp_path, tiny_binary):
    config, _, inputs = tiny_binary
    with pytest.raises(InputError, match="missing m0_logits"):
        load_inputs(_write(tmp_path / "a.npz", {k: inputs[k] for k in ("x", "x_tilde")}), config)
    with pytest.raises(InputError, match=r"x has shape \(4, 5\), expected \(B, 6\)"):
        load_inputs(_write(tmp_path / "b.npz", dict(inputs, x=inputs["x"][:, :5])), config)
    with pytest.raises(InputError, match="m0_logits has shape"):
        load_inputs(_write(tmp_path / "c.npz", dict(inputs, m0_logits=inputs["m0_logits"][:, :2])), config)
    nan = dict(inputs, x_tilde=inputs["x_tilde"].copy())
    nan["x_tilde"][0, 0] = numpy.nan
    with pytest.raises(InputError, match="x_tilde has 1 NaN or infinite"):
        load_inputs(_write(tmp_path / "d.npz", nan), config)
    with pytest.raises(InputError, match="values other than 0 and 1, but the model is binary"):
        load_inputs(_write(tmp_path / "e.npz", dict(inputs, x=inputs["x"] * 0.5)), config)
    c, _, i = case("tiny-classify")
    with pytest.raises(InputError, match="y has labels outside 0..9"):
        load_inputs(_write(tmp_path / "f.npz", dict(i, y=i["y"] + 10)), c)


def test_inputs_file_with_another_number_of_groups_is_an_error(tmp_path, tiny_binary):
    """A config with K = 3 and m0_logits of 2 groups: an error naming both, not a silent K = 2 run."""
    config, _, inputs = tiny_binary
    assert config.n_groups == 3
    path = _write(tmp_path / "k2.npz", dict(inputs, m0_logits=inputs["m0_logits"][:2]))
    with pytest.raises(InputError, match="m0_logits has 2 groups, but the config has n_groups = 3"):
        load_inputs(path, config)
    assert load_inputs(path, config, n_groups=2)["m0_logits"].shape[0] == 2  # asked for explicitly: fine


def test_forward_checks_its_arguments_at_entry(tiny_binary):
    """Wrong widths and T = 0 fail with a message naming the culprit, not a broadcast error deep inside."""
    config, params, inputs = tiny_binary
    with pytest.raises(InputError, match=r"n_iterations must be an integer >= 1, got 0"):
        forward(params, config, inputs, n_iterations=0)
    with pytest.raises(InputError, match=r"x has shape \(4, 5\), expected \(B, N=6\)"):
        forward(params, config, dict(inputs, x=inputs["x"][:, :5]))
    with pytest.raises(InputError, match=r"x_tilde has shape \(4, 5\)"):
        forward(params, config, dict(inputs, x_tilde=inputs["x_tilde"][:, :5]))
    with pytest.raises(InputError, match=r"m0_logits has shape \(3, 4, 5\), expected \(K, 4, 6\)"):
        forward(params, config, dict(inputs, m0_logits=inputs["m0_logits"][:, :, :5]))
    with pytest.raises(InputError, match="remove_group = 3, but there are K = 3 groups"):
        forward(params, config, inputs, remove_group=3)


def test_written_files_get_the_usual_mode(tmp_path, tiny_binary):
    import os

    _, params, _ = tiny_binary
    save_params(tmp_path / "p.npz", params)
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "p.npz").stat().st_mode & 0o777 == 0o666 & ~umask
