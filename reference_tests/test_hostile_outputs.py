"""Hostile but fair inputs, round two (issue 41, causes 1-6, 16 and 17), one test per cause in the
form of ``test_hostile_inputs.py``: each ends in one ``error:`` line on stderr and exit status 2
(or in the promised result), and nothing already written is lost or changed byte for byte. A
sweep re-run with another config, NaN class targets, a closed stdout, two tables in one folder,
a folder that is not a run folder, an output that is an input, partial output on failure, an
empty reference, a long output name and an output that is a link."""

import errno
import json
import os
import shutil
import subprocess
import sys

import numpy
import pytest
from run_helpers import CLOCKS, REPO, TINY_SHAPES, checkpoint_arrays, config_file, shapes_file
from test_hostile_inputs import CLASSIFIER, one_error, snapshot

from tagger_ref.commands.cli import main
from tagger_ref.experiments.training import CHECKPOINT, load_checkpoint
from tagger_ref.oracle import golden


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("outputs"))
    texture = os.path.join(d, "tm2.npz")
    tm = ["data", "texture-mnist", "--digits", "2", "--out", texture, "--train", "40", "--valid", "10", "--test", "20"]
    assert main(tm) == 0
    return {"dir": d, "data": shapes_file(d), "config": config_file(d), "texture": texture}


@pytest.fixture(scope="module")
def trained(files):
    """A finished 2-epoch Shapes run, evaluated (table1.csv)."""
    run = os.path.join(files["dir"], "trained")
    assert main(["train", "--config", files["config"], "--data", files["data"], "--out", run, "--no-progress"]) == 0
    assert main(["evaluate", run, "--data", files["data"]]) == 0
    return run


@pytest.fixture(scope="module")
def classifier(files):
    """A trained classifying run on TextureMNIST2, evaluated (table2.csv and its predictions)."""
    run = os.path.join(files["dir"], "crun")
    config = config_file(files["dir"], CLASSIFIER, "classifier.json")
    assert main(["train", "--config", config, "--data", files["texture"], "--out", run, "--no-progress"]) == 0
    assert main(["evaluate", run, "--data", files["texture"]]) == 0
    return run


def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def subprocess_env():
    """The environment of a command run as a subprocess: this checkout, and stdout unbuffered, so
    that every line meets the pipe when it is printed (as at a terminal)."""
    path = REPO + os.pathsep + os.environ.get("PYTHONPATH", "")
    return dict(os.environ, PYTHONPATH=path, PYTHONUNBUFFERED="1")


# 1 ------------------------------------------------------------------------------------------


def test_a_sweep_rerun_with_a_changed_command_is_refused_before_anything_is_written(files, tmp_path, capsys):
    out = str(tmp_path / "sweep")
    sweep = ["sweep", "--data", files["data"], "--seeds", "0-1", "--out", out]
    assert main(sweep + ["--config", files["config"], "--epochs", "1"]) == 0
    before = snapshot(out)
    assert "summary.csv" in before and "seeds.csv" in before
    capsys.readouterr()
    other = config_file(str(tmp_path), TINY_SHAPES.replace(lr=2e-3), "other.json")
    err = one_error(
        capsys,
        main(sweep + ["--config", other, "--epochs", "1"]),
        "seed-0 holds a run of another config (lr: 0.001 in the checkpoint, 0.002 now); seed-1 holds",
    )
    assert "nothing was changed" in err
    assert snapshot(out) == before
    one_error(
        capsys,
        main(sweep + ["--config", files["config"], "--epochs", "0"]),
        "seed-0 has done 1 epochs, more than 0 (training cannot be undone)",
    )
    assert snapshot(out) == before
    data = str(tmp_path / "other-data")
    os.mkdir(data)
    other_data = shapes_file(data, train=70)
    one_error(
        capsys,
        main(["sweep", "--data", other_data, "--seeds", "0-1", "--out", out, "--config", files["config"]]),
        "seed-0 was trained on other data (60 training images)",
    )
    assert snapshot(out) == before
    for seed in (0, 1):  # the finished records are as they were
        assert json.load(open(os.path.join(out, f"seed-{seed}", "seed.json")))["state"] == "finished"
    # the same command as before is no error: every seed is finished
    assert main(sweep + ["--config", files["config"], "--epochs", "1"]) == 0
    assert "2 finished earlier, 0 to run" in capsys.readouterr().out


# 2 ------------------------------------------------------------------------------------------


def test_nan_class_targets_are_refused_where_the_data_is_read(files, classifier, tmp_path, capsys):
    bad = {}
    for name, split, value in (("nan", "test", numpy.nan), ("train-nan", "train", numpy.nan), ("half", "test", 2.5)):
        with numpy.load(files["texture"]) as f:
            arrays = {k: f[k] for k in f.files}
        arrays[f"{split}_targets"] = arrays[f"{split}_targets"].astype(numpy.float64)
        arrays[f"{split}_targets"][3, 1] = value  # one target that is not a label
        bad[name] = str(tmp_path / f"{name}.npz")
        numpy.savez(bad[name], **arrays)
    before = snapshot(classifier)
    expected = "targets are not all whole numbers (NaN, infinite or fractional values)"
    for name, split in (("nan", "test"), ("train-nan", "train"), ("half", "test")):
        one_error(capsys, main(["data", "info", bad[name]]), f"split '{split}': {expected}")
    new = str(tmp_path / "new")
    for args in (
        ["evaluate", classifier, "--data", bad["nan"]],
        ["evaluate", classifier, "--data", bad["half"]],
        ["train", "--config", os.path.join(classifier, "config.json"), "--data", bad["train-nan"], "--out", new],
        ["baseline", "mlp", "--config", "mlp-tiny", "--data", bad["train-nan"], "--out", new],
    ):
        one_error(capsys, main(args), expected)
    assert snapshot(classifier) == before and not os.path.exists(new)


# 3 ------------------------------------------------------------------------------------------


def read_one_line_and_close(*args):
    """Run `tagger-ref ARGS` with a reader that goes away after its first line (`| head -1`);
    returns (exit status, that line, stderr)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tagger_ref.commands.cli", *map(str, args)],
        cwd=REPO,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    proc.stdout.close()
    stderr = proc.stderr.read()
    return proc.wait(timeout=300), line, stderr


def test_a_closed_stdout_does_not_stop_a_run_or_change_what_it_writes(files, tmp_path):
    piped, alone = str(tmp_path / "piped"), str(tmp_path / "alone")
    train = ["train", "--config", files["config"], "--data", files["data"], "--epochs", "4", "--no-progress"]
    status, line, err = read_one_line_and_close(*train, "--out", piped)
    assert status == 0 and line.startswith("epoch 1:"), (status, line, err)
    assert err.count("carries on without printing") == 1 and "Traceback" not in err, err
    assert main(train + ["--out", alone]) == 0
    assert load_checkpoint(os.path.join(piped, CHECKPOINT))[0].epoch == 4
    assert os.path.exists(os.path.join(piped, "params.npz"))
    a, b = checkpoint_arrays(piped), checkpoint_arrays(alone)
    assert a.keys() == b.keys()
    for key in a.keys() - CLOCKS:
        numpy.testing.assert_array_equal(a[key], b[key], err_msg=key)
    sweep = str(tmp_path / "sweep")
    sweep_args = ["sweep", "--config", files["config"], "--data", files["data"], "--seeds", "0-1", "--epochs", "1"]
    status, line, err = read_one_line_and_close(*sweep_args, "--out", sweep)
    assert status == 0 and line.startswith("sweep of 2 seed(s)"), (status, line, err)
    assert "Traceback" not in err, err
    for seed in (0, 1):
        assert json.load(open(os.path.join(sweep, f"seed-{seed}", "seed.json")))["state"] == "finished"
    assert os.path.exists(os.path.join(sweep, "summary.csv"))


# 4 ------------------------------------------------------------------------------------------


def test_two_tables_in_one_folder_keep_their_own_predictions(files, classifier, tmp_path, capsys):
    res = tmp_path / "res"
    res.mkdir()
    assert main(["evaluate", classifier, "--data", files["texture"], "--out", str(res / "a.csv")]) == 0
    first = (res / "a.predictions.npz").read_bytes()
    assert (
        main(["evaluate", classifier, "--data", files["texture"], "--iterations", "1", "--out", str(res / "b.csv")])
        == 0
    )
    assert "b.predictions.npz" in capsys.readouterr().out
    assert (res / "a.predictions.npz").read_bytes() == first
    assert not (res / "predictions.npz").exists()
    for name, iterations in (("a", CLASSIFIER.n_iterations), ("b", 1)):
        with numpy.load(res / f"{name}.predictions.npz") as f:
            assert f["class_probs"].shape == (iterations, 20, 10)  # one slice per row of its own table
        assert (res / f"{name}.csv").read_text().count("\n") == 1 + iterations
    assert os.path.exists(os.path.join(classifier, "table2.predictions.npz"))  # the default table's


# 5 ------------------------------------------------------------------------------------------


def test_a_new_run_refuses_a_folder_that_is_not_a_run_folder(files, trained, tmp_path, capsys):
    case = str(tmp_path / "case")
    assert main(["trace", "--config", "tiny-binary", "--out", str(tmp_path / "t.npz"), "--save-inputs", case]) == 0
    before = snapshot(case)
    expected = f"--out {case} holds files (config.json, inputs.npz, params.npz) but no checkpoint.npz: not a run folder"
    one_error(capsys, main(["train", "--config", files["config"], "--data", files["data"], "--out", case]), expected)
    one_error(
        capsys, main(["baseline", "mlp", "--config", "mlp-tiny", "--data", files["texture"], "--out", case]), expected
    )
    sweep = ["sweep", "--config", files["config"], "--data", files["data"], "--seeds", "0"]
    one_error(capsys, main(sweep + ["--out", case]), f"--out {case} holds files (config.json, inputs.npz, params.npz)")
    assert snapshot(case) == before
    run = snapshot(trained)  # a training run is no sweep's folder, nor a place for --save-inputs
    one_error(capsys, main(sweep + ["--out", trained]), "but is not a sweep's folder")
    one_error(
        capsys,
        main(["trace", "--config", "tiny-binary", "--out", str(tmp_path / "u.npz"), "--save-inputs", trained]),
        f"--save-inputs {trained} is a run folder (it holds checkpoint.npz)",
    )
    assert snapshot(trained) == run
    empty = tmp_path / "empty"  # an empty folder, hidden files aside, is a new run's
    empty.mkdir()
    (empty / ".hidden").write_text("kept")
    assert (
        main(
            [
                "train",
                "--config",
                files["config"],
                "--data",
                files["data"],
                "--out",
                str(empty),
                "--epochs",
                "1",
                "--no-progress",
            ]
        )
        == 0
    )
    assert (empty / "checkpoint.npz").exists() and (empty / ".hidden").read_text() == "kept"


# 6 ------------------------------------------------------------------------------------------


def test_an_output_that_is_an_input_is_refused(files, trained, classifier, tmp_path, capsys):
    data = str(tmp_path / "s.npz")
    shutil.copyfile(files["data"], data)
    os.symlink(data, str(tmp_path / "link.npz"))
    case = str(tmp_path / "case")
    assert main(["trace", "--config", "tiny-binary", "--out", str(tmp_path / "t.npz"), "--save-inputs", case]) == 0
    inputs = {"data": data, "case": case, "run": trained, "classifier": classifier}
    before = {name: snapshot(os.path.dirname(p) if name == "data" else p) for name, p in inputs.items()}
    params, config = os.path.join(case, "params.npz"), os.path.join(case, "config.json")
    cases = [
        (["evaluate", trained, "--data", data, "--out", data], f"output {data} is the input {data}"),
        (["evaluate", trained, "--data", data, "--out", str(tmp_path / "link.npz")], f"is the input {data}"),
        (["evaluate", trained, "--data", data, "--out", os.path.join(trained, CHECKPOINT)], "is the input"),
        (["evaluate", trained, "--data", data, "--out", os.path.join(trained, "manifest.json")], "is the input"),
        (["trace", "--config", config, "--params", params, "--out", params], f"output {params} is the input {params}"),
        (["trace", "--config", config, "--params", params, "--out", config], f"output {config} is the input {config}"),
        (
            [
                "trace",
                "--config",
                "tiny-binary",
                "--params",
                params,
                "--out",
                str(tmp_path / "u.npz"),
                "--save-inputs",
                case,
            ],
            f"output {params} is the input {params}",
        ),
        (
            ["trace", "--config", "tiny-binary", "--out", os.path.join(case, "inputs.npz"), "--save-inputs", case],
            "are one file",
        ),
    ]
    table = os.path.join(classifier, "table2.csv")  # figure table2 --out RUN_DIR would replace the run's table
    cases.append((["figure", "table2", classifier, "--out", classifier], f"output {table} is the input {table}"))
    for args, expected in cases:
        one_error(capsys, main(args), expected)
    assert {name: snapshot(os.path.dirname(p) if name == "data" else p) for name, p in inputs.items()} == before


# 16 -----------------------------------------------------------------------------------------


def test_a_failure_before_the_first_step_leaves_no_run_folder(files, tmp_path, capsys, monkeypatch):
    new, empty = str(tmp_path / "new"), tmp_path / "empty"
    empty.mkdir()
    train = ["train", "--config", files["config"], "--data", files["data"], "--no-progress"]
    baseline = ["baseline", "mlp", "--config", "mlp-tiny", "--data", files["texture"], "--no-progress"]

    def out_of_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr("tagger_ref.experiments.training.batch_cost_and_grad", out_of_memory)
    one_error(capsys, main(train + ["--out", new]), "out of memory")
    one_error(capsys, main(train + ["--out", str(empty)]), "out of memory")
    assert not os.path.exists(new) and os.listdir(empty) == []  # the empty folder stays, empty
    monkeypatch.undo()

    monkeypatch.setattr(numpy, "savez", no_space)  # the disk fills at the first checkpoint (config.json written)
    for command in (train, baseline):
        one_error(capsys, main(command + ["--out", new]), f"no space left on {new}")
        assert not os.path.exists(new)
    monkeypatch.undo()
    for command in (train, baseline):  # with space again, the same commands run
        assert main(command + ["--out", new, "--epochs", "1"]) == 0
        shutil.rmtree(new)


def test_golden_export_is_all_or_nothing(tmp_path, capsys, monkeypatch):
    name = golden.list_cases()[0]
    dest = tmp_path / "case"
    calls = []

    def fills_at_the_third(source, target):
        calls.append(target)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return shutil_copyfile(source, target)

    shutil_copyfile = shutil.copyfile
    monkeypatch.setattr(shutil, "copyfile", fills_at_the_third)
    one_error(capsys, main(["golden", "export", name, str(dest)]), "no space left on")
    assert not dest.exists()
    monkeypatch.undo()
    assert main(["golden", "export", name, str(dest)]) == 0  # no --force needed
    assert sorted(os.listdir(dest)) == sorted(golden.FILES)
    everything = tmp_path / "all"
    last = golden.list_cases()[-1]
    (everything / last).mkdir(parents=True)
    (everything / last / "trace.npz").write_bytes(b"mine")
    one_error(capsys, main(["golden", "export", "all", str(everything)]), "already exist(s); use --force")
    assert os.listdir(everything) == [last] and os.listdir(everything / last) == ["trace.npz"]


def test_a_full_disk_stops_a_sweep_with_one_error_line(files, tmp_path, capsys, monkeypatch):
    out = str(tmp_path / "sweep")
    monkeypatch.setattr(numpy, "savez", no_space)
    one_error(
        capsys,
        main(["sweep", "--config", files["config"], "--data", files["data"], "--seeds", "0-1", "--out", out]),
        "sweep stopped: seed 0 failed: no space left on",
    )
    assert not os.path.exists(os.path.join(out, "summary.csv")) and not os.path.exists(os.path.join(out, "seeds.csv"))
    assert not os.path.exists(os.path.join(out, "seed-1", CHECKPOINT))  # stopped before it started


# 17 -----------------------------------------------------------------------------------------


def test_an_empty_reference_a_long_output_name_and_an_output_link(files, trained, tmp_path, capsys):
    empty = str(tmp_path / "empty.npz")
    numpy.savez(empty)
    reference = str(tmp_path / "reference.npz")
    assert main(["trace", "--config", "tiny-binary", "--out", reference]) == 0
    capsys.readouterr()
    one_error(capsys, main(["compare", empty, reference]), f"reference trace {empty} holds no arrays")
    for length in (252, 255):  # the longest names a file system allows, .npz included
        long = str(tmp_path / ("x" * (length - 4) + ".npz"))
        assert main(["trace", "--config", "tiny-binary", "--out", long]) == 0
        assert main(["compare", reference, long]) == 0
    capsys.readouterr()
    before = snapshot(trained)
    table = str(tmp_path / ("t" * 250 + ".csv"))  # legal, but its provenance's name would not be
    one_error(capsys, main(["evaluate", trained, "--data", files["data"], "--out", table]), "more than the 255")
    assert snapshot(trained) == before and not os.path.exists(table)
    target, link = tmp_path / "target.npz", tmp_path / "link.npz"
    target.write_bytes(b"old")
    link.symlink_to(target)
    assert main(["trace", "--config", "tiny-binary", "--out", str(link)]) == 0
    assert link.is_symlink() and os.readlink(link) == str(target)  # written through, the link kept
    assert main(["compare", reference, str(target)]) == 0
