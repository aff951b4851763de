"""tagger-ref train and evaluate on the command line: SIGTERM and kill -9 in a real subprocess
followed by an exact --resume, table1.csv, and one-line errors."""

import os
import signal
import time

import numpy
import pytest
from run_helpers import CLOCKS, TINY_SHAPES, cli, config_file, run_cli, shapes_file

from tagger_ref.commands.cli import main
from tagger_ref.experiments.training import CHECKPOINT, load_checkpoint


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("shapes")
    return shapes_file(str(d)), config_file(str(d))


def same_checkpoints(a, b):
    with numpy.load(os.path.join(a, CHECKPOINT)) as fa, numpy.load(os.path.join(b, CHECKPOINT)) as fb:
        assert set(fa.files) == set(fb.files)
        return [k for k in fa.files if k not in CLOCKS and not numpy.array_equal(fa[k], fb[k])]


def wait_for_epochs(run_dir, proc, epochs, timeout=90):
    """Wait until log.csv lists ``epochs`` epochs (the process must still be running)."""
    log = os.path.join(run_dir, "log.csv")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if os.path.exists(log) and len(open(log).read().split()) > epochs:
            return
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"no {epochs} epochs in {timeout} s")


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "SIGKILL"])
def test_stopped_training_resumes_exactly(tmp_path, files, how):
    data, config = files
    run = str(tmp_path / "run")
    proc = cli("train", "--config", config, "--data", data, "--out", run, "--epochs", 100000, "--no-progress")
    wait_for_epochs(run, proc, 2)
    proc.send_signal(getattr(signal, how))
    out, err = proc.communicate(timeout=60)
    if how == "SIGKILL":
        assert proc.returncode == -signal.SIGKILL
    else:
        assert proc.returncode == {"SIGTERM": 143, "SIGINT": 130}[how], err
        assert f"training stopped by {how}" in out and "Traceback" not in err
    state = load_checkpoint(os.path.join(run, CHECKPOINT))[0]  # a complete checkpoint survives even kill -9
    assert state.step >= 2 * 6
    target = state.epoch + 2
    assert main(["train", "--data", data, "--out", run, "--resume", "--epochs", str(target), "--no-progress"]) == 0
    whole = str(tmp_path / "whole")
    assert (
        main(["train", "--config", config, "--data", data, "--out", whole, "--epochs", str(target), "--no-progress"])
        == 0
    )
    assert same_checkpoints(run, whole) == []
    assert open(os.path.join(run, "log.csv")).read().count("\n") == target + 1


def test_evaluate_writes_table1_for_any_k_and_t(tmp_path, files, capsys):
    data, config = files
    run = str(tmp_path / "run")
    assert main(["train", "--config", config, "--data", data, "--out", run, "--no-progress"]) == 0
    assert main(["evaluate", run, "--data", data]) == 0
    lines = open(os.path.join(run, "table1.csv")).read().split()
    assert lines[0] == "iteration,denoising_cost,ami,ami_median" and len(lines) == 6
    assert [row.split(",")[0] for row in lines[1:]] == ["1", "2", "3", "4", "5"]
    assert "iteration,denoising_cost,ami,ami_median" in capsys.readouterr().out
    other = str(tmp_path / "k2.csv")
    assert main(["evaluate", run, "--data", data, "--groups", "2", "--iterations", "3", "--out", other]) == 0
    again = str(tmp_path / "again.csv")
    assert main(["evaluate", run, "--data", data, "--groups", "2", "--iterations", "3", "--out", again]) == 0
    assert open(other).read() == open(again).read() and open(other).read().count("\n") == 4


def test_errors_are_one_line(tmp_path, files, capsys):
    data, config = files
    wrong_n = config_file(str(tmp_path), TINY_SHAPES.replace(n_inputs=784), "n784.json")
    (tmp_path / "file").write_text("")
    texture = str(tmp_path / "texture.npz")
    assert (
        main(
            [
                "data",
                "texture-mnist",
                "--digits",
                "1",
                "--out",
                texture,
                "--train",
                "20",
                "--valid",
                "10",
                "--test",
                "10",
            ]
        )
        == 0
    )
    cases = [
        (["train", "--config", config, "--data", texture, "--out", tmp_path / "a"], "holds texture-mnist1"),
        (["train", "--config", "no-such-preset", "--data", data, "--out", tmp_path / "a"], "unknown config"),
        (["train", "--config", wrong_n, "--data", data, "--out", tmp_path / "a"], "400 inputs"),
        (["train", "--config", config, "--data", tmp_path / "file", "--out", tmp_path / "a"], "data file"),
        (["train", "--config", config, "--data", data, "--out", tmp_path / "file" / "run"], "cannot create run folder"),
        (["train", "--config", config, "--data", data, "--out", tmp_path / "none", "--resume"], "no checkpoint.npz"),
        (["evaluate", tmp_path / "none", "--data", data], "holds no checkpoint.npz"),
        # the fixture's validation split holds 20 images
        (
            ["train", "--config", config, "--data", data, "--out", tmp_path / "a", "--valid-images", "21"],
            "valid_images = 21, but the validation data holds 20 images",
        ),
        (
            ["train", "--config", config, "--data", data, "--out", tmp_path / "a", "--valid-ami-images", "50"],
            "valid_ami_images = 50, but the validation data holds 20",
        ),
    ]
    capsys.readouterr()
    for args, expected in cases:
        status = main(list(map(str, args)))
        err = capsys.readouterr().err
        assert status == 2 and err.count("\n") == 1 and err.startswith("error: ") and expected in err, (args, err)
    assert not (tmp_path / "a").exists()  # no case left a run folder behind
    run = str(tmp_path / "run")
    assert main(["train", "--config", config, "--data", data, "--out", run, "--epochs", "1", "--no-progress"]) == 0
    other = config_file(str(tmp_path), TINY_SHAPES.replace(lr=0.01), "lr.json")
    status, _, err = run_cli("train", "--config", other, "--data", data, "--out", run, "--resume")  # a real process
    assert status == 2 and "different config" in err and "lr: 0.001 in the checkpoint, 0.01 now" in err
    assert err.count("\n") == 1
