"""The two-stage TextureMNIST path through the command line at a tiny size: data, stage 1 without
labels, stage 2 with --init-from, Table 2 and its predictions, Figure 5 (command and script)."""

import csv
import os
import subprocess
import sys

import numpy
import pytest
from run_helpers import REPO, config_file

from tagger_ref.commands.cli import main
from tagger_ref.config import TaggerConfig
from tagger_ref.experiments.evaluation import class_errors

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# TextureMNIST (N = 784) with a tiny Ladder; stage 2 grows it by two layers and the class layer.
STAGE1 = TaggerConfig(
    input_type="continuous",
    n_inputs=784,
    n_groups=3,
    n_iterations=2,
    encoder_proj=(8, 6, 5),
    input_noise=0.2,
    z_init=0.5,
    objects_per_sample=2,
    lr=1e-3,
    batch_size=10,
    num_epochs=1,
    labeled_samples=10,
    seed=1,
    dtype="float32",
)
STAGE2 = STAGE1.replace(encoder_proj=(8, 6, 5, 6, 11), n_iterations=3, input_noise=0.18, class_cost_x=0.1, lr=2e-4)


@pytest.fixture(scope="module")
def stages(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("texture"))
    data, data1 = os.path.join(d, "tm2.npz"), os.path.join(d, "tm1.npz")
    for digits, path in ((2, data), (1, data1)):
        assert (
            main(
                [
                    "data",
                    "texture-mnist",
                    "--digits",
                    str(digits),
                    "--out",
                    path,
                    "--train",
                    "40",
                    "--valid",
                    "10",
                    "--test",
                    "20",
                ]
            )
            == 0
        )
    one, two = os.path.join(d, "one"), os.path.join(d, "two")
    assert (
        main(
            ["train", "--config", config_file(d, STAGE1, "stage1.json"), "--data", data, "--out", one, "--no-progress"]
        )
        == 0
    )
    assert (
        main(
            [
                "train",
                "--config",
                config_file(d, STAGE2, "stage2.json"),
                "--data",
                data,
                "--out",
                two,
                "--init-from",
                one,
                "--no-progress",
            ]
        )
        == 0
    )
    return d, data, data1, one, two


def test_stage_two_logs_classification_and_tells_what_it_took(stages, capsys):
    d, data, _, one, two = stages
    log = open(os.path.join(two, "log.csv")).read().split()
    assert log[0].startswith("epoch,step,train_cost,valid_cost,valid_cost_last,valid_class_cost,valid_class_error")
    assert len(log) == 2 and log[1].split(",")[1] == "4"  # 40 images, batches of 10
    assert (
        open(os.path.join(one, "log.csv"))
        .read()
        .split()[0]
        .endswith("valid_cost_last,valid_ami,valid_ami_median,seconds,cpu_seconds")
    )  # no class columns in stage 1
    bad = config_file(d, STAGE2.replace(encoder_proj=(9, 6, 5, 6, 11)), "bad.json")
    capsys.readouterr()
    assert main(["train", "--config", bad, "--data", data, "--out", os.path.join(d, "bad"), "--init-from", one]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --init-from") and "W has shape (3136, 8) there, (3136, 9) in this model" in err
    assert (
        main(
            [
                "train",
                "--config",
                bad,
                "--data",
                data,
                "--out",
                os.path.join(d, "bad"),
                "--init-from",
                os.path.join(d, "nothing"),
            ]
        )
        == 2
    )
    assert "no such run folder" in capsys.readouterr().err


def test_evaluate_writes_table2_and_predictions(stages, capsys):
    _, data, _, _, two = stages
    assert main(["evaluate", two, "--data", data]) == 0
    out = capsys.readouterr().out
    assert "chance: 90 % for one digit, 80 % for two" in out and "top-2 error" in out
    with open(os.path.join(two, "table2.csv")) as f:
        rows = list(csv.DictReader(f))
    assert [r["iteration"] for r in rows] == ["1", "2", "3"]  # the training T
    assert list(rows[0]) == ["iteration", "class_error", "class_cost", "denoising_cost", "ami"]
    with numpy.load(os.path.join(two, "table2.predictions.npz")) as f:
        probs, labels = f["class_probs"], f["labels"]
    assert probs.shape == (3, 20, 10) and labels.shape == (20, 2)
    numpy.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=1e-6)
    for i, row in enumerate(rows):  # anyone can recompute the error
        assert float(row["class_error"]) == pytest.approx(100 * class_errors(probs[i], labels).mean(), abs=0.006)
        assert 0 <= float(row["class_error"]) <= 100 and float(row["class_cost"]) > 0
    assert main(["evaluate", two, "--data", data, "--iterations", "2", "--out", os.path.join(two, "t2.csv")]) == 0
    assert open(os.path.join(two, "t2.csv")).read().count("\n") == 3


def test_figure5_command_and_script(stages, tmp_path):
    _, data, data1, _, two = stages
    assert main(["figure", "figure5", two, "--data", data, "--data1", data1, "--out", str(tmp_path / "a")]) == 0
    png = tmp_path / "a" / "figure5.png"
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 5000
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [
            sys.executable,
            os.path.join(REPO, "figures", "figure5.py"),
            two,
            "--data",
            data,
            "--out",
            str(tmp_path / "b"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "b" / "figure5.png").read_bytes()[:8] == PNG_MAGIC
