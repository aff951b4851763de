"""Runs that explain themselves: the AMI over training in log.csv, kept epochs, manifest.json and
`figure curves`.

The AMI columns are recomputed from the kept parameters by a second, direct scoring: the forward
pass of ``maths.model`` on the first validation images with the mask logits drawn as training
draws them, the argmax over groups, and scikit-learn's AMI on the scored pixels, written here
from docs/spec.md section 5 rather than through ``evaluation.ami_scores``.
"""

import csv
import hashlib
import json
import os

import numpy
import pytest
from run_helpers import TINY_SHAPES, config_file, shapes_file
from sklearn.metrics import adjusted_mutual_info_score

from tagger_ref.commands.cli import main
from tagger_ref.experiments.training import CHECKPOINT, VALID_AMI_STREAM, kept_params_path, load_checkpoint
from tagger_ref.files.datasets import load_dataset
from tagger_ref.files.params import load_params
from tagger_ref.maths.corruption import make_inputs
from tagger_ref.maths.model import forward

AMI_IMAGES = 15


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("records")
    return shapes_file(str(d), train=40, valid=20, test=20), config_file(str(d))


def train(data, config, run, *extra):
    return main(
        [
            "train",
            "--config",
            config,
            "--data",
            data,
            "--out",
            run,
            "--no-progress",
            "--valid-ami-images",
            str(AMI_IMAGES),
            *map(str, extra),
        ]
    )


def read_log(run):
    with open(os.path.join(run, "log.csv"), newline="") as f:
        return list(csv.DictReader(f))


def read_manifest(folder):
    with open(os.path.join(folder, "manifest.json")) as f:
        return json.load(f)


def direct_ami(params, config, features, mask, seed):
    """Mean and median over images of the AMI at the last training iteration, scored directly."""
    rng = numpy.random.default_rng([seed, VALID_AMI_STREAM])
    scores = []
    for start in range(0, len(features), config.batch_size):
        x = features[start : start + config.batch_size]
        inputs = make_inputs(config, x, rng, corrupted=False)
        m = numpy.asarray(
            forward(params, config, inputs, n_iterations=config.n_iterations)[f"m_{config.n_iterations}"]
        )  # (K, B, N)
        for b in range(len(x)):
            truth = mask[start + b]  # (G, N)
            scored = truth.max(axis=0) > 0.9
            scores.append(
                adjusted_mutual_info_score(
                    truth.argmax(axis=0)[scored], m[:, b].argmax(axis=0)[scored], average_method="max"
                )
            )
    return numpy.mean(scores), numpy.median(scores)


def test_ami_columns_recomputed_from_kept_parameters(tmp_path, files):
    data, config_path = files
    run = str(tmp_path / "run")
    assert train(data, config_path, run, "--epochs", 2, "--keep-every", 1) == 0
    rows = read_log(run)
    assert [r["epoch"] for r in rows] == ["1", "2"]
    valid = load_dataset(data, "valid")
    state, config, _ = load_checkpoint(os.path.join(run, CHECKPOINT))
    assert state.valid_ami_images == AMI_IMAGES
    for epoch, row in enumerate(rows, 1):
        params = load_params(kept_params_path(run, epoch), config)
        mean, median = direct_ami(params, config, valid.features[:AMI_IMAGES], valid.mask[:AMI_IMAGES], config.seed)
        assert float(row["valid_ami"]) == pytest.approx(mean, abs=1e-6)
        assert float(row["valid_ami_median"]) == pytest.approx(median, abs=1e-6)
        assert state.log["valid_ami"][epoch - 1] == pytest.approx(mean, abs=1e-12)


def test_resume_keeps_ami_columns_and_manifest_segments(tmp_path, files):
    data, config_path = files
    whole, parts = str(tmp_path / "whole"), str(tmp_path / "parts")
    assert train(data, config_path, whole, "--epochs", 2) == 0
    assert train(data, config_path, parts, "--epochs", 1) == 0
    first = read_manifest(parts)["segments"]
    assert main(["train", "--resume", "--data", data, "--out", parts, "--epochs", "2", "--no-progress"]) == 0
    a, b = load_checkpoint(os.path.join(whole, CHECKPOINT))[0], load_checkpoint(os.path.join(parts, CHECKPOINT))[0]
    for column in ("valid_ami", "valid_ami_median", "valid_cost", "train_cost"):
        assert a.log[column] == b.log[column], column  # bit for bit
    segments = read_manifest(parts)["segments"]
    assert len(segments) == 2 and segments[0] == first[0]  # the first segment is left as it was
    assert segments[1]["argv"][:3] == ["tagger-ref", "train", "--resume"]
    assert [s["steps"] for s in segments] == [4, 8] and [s["status"] for s in segments] == ["done", "done"]
    # a resume that asks for another AMI image count is refused before anything is written
    before = open(os.path.join(parts, "manifest.json")).read()
    assert (
        main(
            [
                "train",
                "--resume",
                "--data",
                data,
                "--out",
                parts,
                "--epochs",
                "3",
                "--no-progress",
                "--valid-ami-images",
                "5",
            ]
        )
        == 2
    )
    assert open(os.path.join(parts, "manifest.json")).read() == before


def test_manifest_records_what_produced_the_run(tmp_path, files):
    data, config_path = files
    run = str(tmp_path / "run")
    assert train(data, config_path, run, "--epochs", 1, "--max-minutes", 10) == 0
    (segment,) = read_manifest(run)["segments"]
    assert segment["command"] == "train" and segment["status"] == "done" and segment["steps"] == 4
    assert segment["argv"][:2] == ["tagger-ref", "train"] and "--max-minutes" in segment["argv"]
    size = os.path.getsize(data)
    with open(data, "rb") as f:
        raw = f.read()
    ends = hashlib.sha256(
        str(size).encode() + raw[: 1 << 20] + (raw[max(1 << 20, size - (1 << 20)) :] if size > 1 << 20 else b"")
    ).hexdigest()
    assert segment["data"] == {"file": os.path.basename(data), "bytes": size, "sha256_ends": ends}
    software = segment["software"]
    assert software["numpy"] == numpy.__version__ and software["python"].count(".") == 2
    assert {"autograd", "scipy", "scikit-learn", "cupy", "commit", "dirty"} <= set(software)
    assert segment["machine"]["cores"] == os.cpu_count() and segment["machine"]["blas"]
    assert segment["wall_seconds"] >= 0 and segment["cpu_seconds"] >= 0 and segment["ended"] >= segment["started"]


def test_stopped_and_failed_commands_in_the_manifest(tmp_path, files):
    from tagger_ref.config import load_config
    from tagger_ref.experiments.manifest import Segment
    from tagger_ref.experiments.training import train as train_fn

    data, config_path = files
    train_data, valid_data = load_dataset(data, "train"), load_dataset(data, "valid")
    config = load_config(config_path).replace(num_epochs=5)
    run = str(tmp_path / "run")
    result = train_fn(
        config,
        train_data.features,
        valid_data.features,
        run,
        stop_requested=lambda: "SIGTERM",
        valid_mask=valid_data.mask,
        manifest=Segment(run, "train", argv=["tagger-ref", "train"]),
    )
    assert result["status"] == "SIGTERM"
    (segment,) = read_manifest(run)["segments"]
    assert segment["status"] == "SIGTERM" and segment["steps"] == 1
    # a fresh run refused (the folder holds a checkpoint) adds no segment
    assert train(data, config_path, run, "--epochs", 1) == 2
    assert len(read_manifest(run)["segments"]) == 1


def test_evaluate_kept_epoch_names_the_manifest(tmp_path, files, capsys):
    data, config_path = files
    run = str(tmp_path / "run")
    assert train(data, config_path, run, "--epochs", 2, "--keep-every", 2) == 0
    assert main(["evaluate", run, "--data", data, "--epoch", "2", "--iterations", "2"]) == 0
    table = os.path.join(run, "table1-epoch-2.csv")
    assert os.path.isfile(table) and not os.path.exists(os.path.join(run, "table1.csv"))
    with open(table + ".provenance.json") as f:
        provenance = json.load(f)
    assert provenance["epoch"] == 2 and provenance["run"]["manifest"] == "manifest.json"  # beside the table
    assert provenance["run"]["training_segment"] == 0 and provenance["run"]["steps"] == 8
    segments = read_manifest(run)["segments"]
    assert [s["command"] for s in segments] == ["train", "evaluate"] and segments[1]["status"] == "done"
    # the kept epoch 2 and the final checkpoint (after epoch 2) are the same parameters: the same table
    assert main(["evaluate", run, "--data", data, "--iterations", "2"]) == 0
    assert open(table).read() == open(os.path.join(run, "table1.csv")).read()
    capsys.readouterr()
    assert main(["evaluate", run, "--data", data, "--epoch", "1"]) == 2
    assert "kept: 2" in capsys.readouterr().err


def test_figure_curves(tmp_path, files, capsys):
    data, config_path = files
    runs = [str(tmp_path / name) for name in ("a", "b")]
    assert train(data, config_path, runs[0], "--epochs", 2) == 0
    assert train(data, config_path, runs[1], "--epochs", 1, "--seed", 3) == 0
    out = str(tmp_path / "fig")
    assert main(["figure", "curves", *runs, "--out", out]) == 0
    with open(os.path.join(out, "curves.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    capsys.readouterr()
    assert main(["figure", "curves", str(tmp_path / "none"), "--out", out]) == 2
    assert "log.csv" in capsys.readouterr().err


def test_paper_lines_for_shapes_runs(tmp_path):
    from tagger_ref.report.figures import paper_lines

    with open(tmp_path / "config.json", "w") as f:
        json.dump(TINY_SHAPES.replace(n_iterations=3, norm="batch").to_dict(), f)
    lines = paper_lines(str(tmp_path))
    assert lines["valid_ami"][0][0] == 0.77 and lines["valid_cost_last"][0][0] == 0.063  # Table 1, iteration 3


def test_curves_of_both_models_mark_both_papers_values(tmp_path, monkeypatch):
    """A batch-norm and a layer-norm run drawn together: the paper's Tagger and Tagger* lines, each once."""
    from tagger_ref.report import figures, plots

    dirs = []
    for name, norm in (("bn", "batch"), ("ln", "layer"), ("bn2", "batch")):
        os.makedirs(tmp_path / name)
        with open(tmp_path / name / "config.json", "w") as f:
            json.dump(TINY_SHAPES.replace(n_iterations=3, norm=norm).to_dict(), f)
        with open(tmp_path / name / "log.csv", "w") as f:
            f.write(
                "epoch,step,train_cost,valid_cost,valid_cost_last,valid_ami,valid_ami_median,seconds,cpu_seconds\n"
                "1,5,0.5,0.4,0.3,0.2,0.2,1.0,1.0\n"
            )
        dirs.append(str(tmp_path / name))
    drawn = {}
    monkeypatch.setattr(plots, "save_png", lambda fig, path: None)
    monkeypatch.setattr(plots, "curves", lambda runs, paper: drawn.update(paper) or "figure")
    figures.curves(dirs, str(tmp_path / "curves.png"))
    # the paper's Table 1 (b) at iteration 3: Tagger 0.77, Tagger* 0.95
    assert sorted(value for value, _ in drawn["valid_ami"]) == [0.77, 0.95]
