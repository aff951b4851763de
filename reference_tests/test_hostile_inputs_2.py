"""Hostile but fair inputs, second round: each input is checked once, where it enters, by the
check every command that takes it shares, and refused in one ``error:`` line with exit status 2
before anything is written. Seeds in configs (a preset, a JSON file, a checkpoint), output names
ending in a slash, Ctrl-C while the command line imports its modules, a scalar features array,
an empty batch of inputs, parameters by ``--init-from`` (checked as ``--params`` are), a sweep's
``--evaluate-args``, and dataset sizes that cannot fit in memory."""

import importlib.abc
import json
import os
import shutil
import sys

import numpy
import pytest
from run_helpers import TINY_SHAPES, config_file, shapes_file
from test_hostile_inputs import one_error, snapshot

from data_gen import digits, shapes, texture_mnist
from tagger_ref.baselines.config import BaselineConfig, load_baseline_config
from tagger_ref.commands.cli import main
from tagger_ref.config import PRESETS, TaggerConfig
from tagger_ref.errors import ConfigError
from tagger_ref.experiments.training import CHECKPOINT
from tagger_ref.files.params import save_params
from tagger_ref.maths.init import init_params


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("hostile2"))
    return {"dir": d, "data": shapes_file(d), "config": config_file(d)}


@pytest.fixture(scope="module")
def trained(files):
    """A finished 1-epoch run of the tiny Shapes model."""
    run = os.path.join(files["dir"], "trained")
    args = ["train", "--config", files["config"], "--data", files["data"], "--out", run, "--epochs", "1"]
    assert main(args + ["--no-progress"]) == 0
    return run


def rewrite_npz(path, change):
    with numpy.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    change(arrays)
    numpy.savez(path, **arrays)


# 7 ------------------------------------------------------------------------------------------


def test_a_negative_seed_in_a_config_is_refused_as_seed_is(files, trained, tmp_path, capsys):
    negative = "config field 'seed' must be at least 0, got -1"
    with pytest.raises(ConfigError, match=negative):
        TaggerConfig(seed=-1)
    with pytest.raises(ConfigError, match=negative):
        PRESETS["tiny-binary"].replace(seed=-1)
    with pytest.raises(ConfigError, match=negative):
        BaselineConfig(seed=-1)
    tagger = config_file(str(tmp_path), TINY_SHAPES, "negative.json")
    baseline = str(tmp_path / "negative-baseline.json")
    for path, good in ((tagger, TINY_SHAPES), (baseline, load_baseline_config("mlp-tiny"))):
        with open(path, "w") as f:
            json.dump(dict(good.to_dict(), seed=-1), f)
    out = str(tmp_path / "out")
    for args in (
        ["train", "--config", tagger, "--data", files["data"], "--out", out],
        ["demo", "--config", tagger, "--out", out],
        ["trace", "--config", tagger, "--out", out + ".npz"],
        ["gradcheck", "--config", tagger],
        ["sweep", "--config", tagger, "--data", files["data"], "--seeds", "0", "--out", out],
        ["baseline", "mlp", "--config", baseline, "--data", files["data"], "--out", out],
    ):
        one_error(capsys, main(args), negative)
        assert not os.path.exists(out) and not os.path.exists(out + ".npz"), args
    # a hand-edited checkpoint: refused when read, before config.json is rewritten or an epoch run
    run = shutil.copytree(trained, str(tmp_path / "edited"))

    def edit(arrays):
        arrays["config_json"] = numpy.str_(json.dumps(dict(json.loads(str(arrays["config_json"])), seed=-1)))

    rewrite_npz(os.path.join(run, CHECKPOINT), edit)
    before = snapshot(run)
    for args in (
        ["train", "--data", files["data"], "--out", run, "--resume", "--epochs", "2", "--no-progress"],
        ["train", "--data", files["data"], "--out", run, "--resume", "--epochs", "2", "--seed", "3"],
        ["evaluate", run, "--data", files["data"]],
    ):
        one_error(capsys, main(args), negative)
        assert snapshot(run) == before


# 8 ------------------------------------------------------------------------------------------


def test_an_output_file_name_ending_in_a_slash(files, trained, tmp_path, capsys):
    before = snapshot(trained)
    for out in (str(tmp_path / "t.npz") + "/", str(tmp_path / "none") + "/"):
        one_error(capsys, main(["trace", "--config", "tiny-binary", "--out", out]), f"output {out} ends in a slash")
    one_error(capsys, main(["trace", "--config", "tiny-binary", "--out", ""]), "the output file name is empty")
    out = str(tmp_path / "table.csv") + "/"
    one_error(capsys, main(["evaluate", trained, "--data", files["data"], "--out", out]), "ends in a slash")
    assert os.listdir(tmp_path) == [] and snapshot(trained) == before
    # where a folder is wanted, a trailing slash is the folder
    case = str(tmp_path / "case") + "/"
    assert main(["trace", "--config", "tiny-binary", "--out", str(tmp_path / "t.npz"), "--save-inputs", case]) == 0
    assert sorted(os.listdir(case)) == ["config.json", "inputs.npz", "params.npz"]


# 9 ------------------------------------------------------------------------------------------


class _CtrlC(importlib.abc.MetaPathFinder):
    """Ctrl-C pressed while the command line imports the module ``name``."""

    def __init__(self, name):
        self.name = name

    def find_spec(self, fullname, path, target=None):
        if fullname == self.name:
            raise KeyboardInterrupt
        return None


def test_ctrl_c_while_the_command_line_imports_its_modules(monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "tagger_ref.commands.golden", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_CtrlC("tagger_ref.commands.golden")] + sys.meta_path)
    try:
        status = main(["golden", "list"])
    except KeyboardInterrupt:  # caught here, or it would end the whole test session
        pytest.fail("KeyboardInterrupt escaped tagger-ref's main (a traceback on the command line)")
    err = capsys.readouterr().err
    assert status == 130 and err == "error: interrupted\n", (status, err)


# 10 -----------------------------------------------------------------------------------------


def test_a_scalar_features_array_in_a_data_file(files, tmp_path, capsys):
    path = shutil.copy(files["data"], str(tmp_path / "scalar.npz"))
    rewrite_npz(path, lambda a: a.__setitem__("train_features", numpy.float32(1.0)))
    for args in (
        ["data", "info", path],
        ["train", "--config", files["config"], "--data", path, "--out", str(tmp_path / "run")],
    ):
        one_error(capsys, main(args), "split 'train': features has shape (), a shapes file has (n, 400)")
    assert not (tmp_path / "run").exists()


# 11 -----------------------------------------------------------------------------------------


def test_an_inputs_file_with_an_empty_batch(tmp_path, capsys):
    config = PRESETS["tiny-binary"]
    N, K = config.n_inputs, config.n_groups
    path = str(tmp_path / "empty.npz")
    numpy.savez(path, x=numpy.zeros((0, N)), x_tilde=numpy.zeros((0, N)), m0_logits=numpy.zeros((K, 0, N)))
    out = str(tmp_path / "trace.npz")
    one_error(
        capsys,
        main(["trace", "--config", "tiny-binary", "--inputs", path, "--out", out]),
        f"x has shape (0, {N}): a batch of no images",
    )
    labeled = PRESETS["tiny-classify"]  # a semi-supervised step's labeled batch, empty
    N, K = labeled.n_inputs, labeled.n_groups
    batch = dict(x=numpy.zeros((2, N)), x_tilde=numpy.zeros((2, N)), m0_logits=numpy.zeros((K, 2, N)))
    empty = dict(labeled_x=numpy.zeros((0, N)), labeled_x_tilde=numpy.zeros((0, N)))
    numpy.savez(path, **batch, **empty, labeled_m0_logits=numpy.zeros((K, 0, N)), y=numpy.zeros((0, 2), int))
    one_error(
        capsys,
        main(["trace", "--config", "tiny-classify", "--inputs", path, "--out", out]),
        f"labeled_x has shape (0, {N}): a batch of no images",
    )
    assert not os.path.exists(out)


# 12, 15 -------------------------------------------------------------------------------------

BAD_VALUES = {
    "non-numeric strings": (lambda b: numpy.array(["x"] * len(b)), "b has dtype <U1, expected a float"),
    "numeric strings": (lambda b: b.astype(str), "b has dtype <U32, expected a float"),
    "complex values": (lambda b: b + 0j, "b has dtype complex128, expected a float"),
    "NaN": (lambda b: b + numpy.nan, "b has 8 non-finite value(s)"),
    "beyond float32": (lambda b: b + 1e300, "b has values beyond the range of float32 (largest magnitude 1e+300)"),
}


@pytest.mark.parametrize("damage", list(BAD_VALUES))
def test_init_from_checks_parameters_as_params_does(damage, files, tmp_path, capsys):
    config = TINY_SHAPES.replace(dtype="float32")  # float32: a float64 1e300 becomes infinite in it
    config_path = config_file(str(tmp_path), config, "tiny32.json")
    params = {k: numpy.asarray(v, "float64") for k, v in init_params(config, numpy.random.default_rng(0)).items()}
    change, expected = BAD_VALUES[damage]
    params["b"] = change(params["b"])
    source = str(tmp_path / "source.npz")
    numpy.savez(source, **params)
    run = str(tmp_path / "run")
    init = ["train", "--config", config_path, "--data", files["data"], "--out", run, "--init-from", source]
    err = one_error(capsys, main(init + ["--no-progress"]), expected)
    assert err.startswith(f"error: --init-from {source}: parameters that cannot be used: ")
    assert not os.path.exists(run)  # nothing that would block a fresh run or --resume
    out = str(tmp_path / "trace.npz")
    err = one_error(capsys, main(["trace", "--config", config_path, "--params", source, "--out", out]), expected)
    assert err.startswith(f"error: parameter file {source} cannot be used with the config")
    assert not os.path.exists(out)
    # the same file with good values starts a run
    save_params(source, init_params(config, numpy.random.default_rng(0)))
    assert main(init + ["--epochs", "1", "--no-progress"]) == 0


# 13 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "words, expected",
    [
        ("--iterations 0", "--iterations must be at least 1, got 0"),
        ("--seed -1", "--seed must be at least 0, got -1"),
        ("--split nope", "has no split 'nope' (has: train, valid, test, single)"),
        ("--groups 0", "--groups must be at least 1, got 0"),
        ("--groups 10000000", "K = 10000000"),
        ("--epoch 1", "--epoch evaluates kept parameters, and a sweep's runs keep none"),
    ],
)
def test_sweep_evaluate_args_are_checked_before_any_seed_trains(words, expected, files, tmp_path, capsys):
    out = tmp_path / "sweep"
    sweep = ["sweep", "--config", files["config"], "--data", files["data"], "--seeds", "0-1", "--out", str(out)]
    one_error(capsys, main(sweep + ["--evaluate-args", words]), expected)
    assert not out.exists()


# 14 -----------------------------------------------------------------------------------------


def test_generators_refuse_sizes_that_cannot_fit_before_drawing(tmp_path, capsys, monkeypatch):
    out = str(tmp_path / "big.npz")
    huge = str(10**12)
    for args, what in (
        (["data", "shapes", "--out", out, "--train", huge], "Shapes of 1000000030000 images needs at least"),
        (
            ["data", "texture-mnist", "--digits", "2", "--out", out, "--train", huge],
            "TextureMNIST2 of 1000000020000 images needs at least",
        ),
    ):
        err = one_error(capsys, main(args), what)
        assert "of memory, more than this machine's" in err
    assert not os.path.exists(out)
    monkeypatch.setattr(shapes, "generate_chunks", None)  # refused before the generator is called
    one_error(capsys, main(["data", "shapes", "--out", out, "--train", huge]), "needs at least")


def test_file_bytes_are_the_bytes_of_the_arrays_written(tmp_path):
    """The generators' memory bound against the arrays they actually write."""
    sizes = {"train": 7, "valid": 3, "test": 2, "single": 4}
    written = shapes.file_arrays(shapes.generate(sizes, seed=1))
    assert shapes.file_bytes(sizes) == sum(a.nbytes for a in written.values())
    source = digits.load_digits(None)  # the offline stand-in
    for n_digits in (1, 2):
        sizes = {"train": 5, "valid": 2, "test": 3}
        written = texture_mnist.file_arrays(texture_mnist.generate(source, n_digits, sizes, seed=1))
        assert texture_mnist.file_bytes(sizes, n_digits) == sum(a.nbytes for a in written.values())
