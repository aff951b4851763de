"""tagger-ref demo at a reduced size (CI runs it): the whole path from data to figures, and what
it tells a new user (which budget ended training, the AMI beside the committed runs and the paper)."""

import os
import re

from tagger_ref.commands import demo
from tagger_ref.commands.cli import main
from tagger_ref.experiments.run_evaluation import degenerate_note, progress_lines
from tagger_ref.report.paper import TABLE1

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_demo_runs_the_whole_path(tmp_path, capsys):
    out = str(tmp_path / "demo")
    assert (
        main(
            [
                "demo",
                "--out",
                out,
                "--train-images",
                "200",
                "--valid-images",
                "50",
                "--test-images",
                "100",
                "--epochs",
                "1",
                "--minutes",
                "0.5",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "demo done" in printed and "$ tagger-ref train --config demo" in printed
    assert "--no-progress" not in printed  # training shows its bar unless the demo is asked not to
    table = open(os.path.join(out, "run", "table1.csv")).read().split()
    assert table[0] == "iteration,denoising_cost,ami,ami_median" and len(table) == 6
    assert sorted(os.listdir(os.path.join(out, "figures"))) == ["convergence.png", "figure4.png", "group_removal.png"]
    for name in ("checkpoint.npz", "params.npz", "config.json", "log.csv", "table1.csv.provenance.json"):
        assert os.path.isfile(os.path.join(out, "run", name)) and name in printed  # written and listed
    # the yardstick: the demo's own AMI at iteration 5, read back from its table1.csv, beside the others
    ami5 = float(table[5].split(",")[2])
    row = next(line for line in printed.splitlines() if line.startswith("this demo: 1 epoch(s) of 200 images"))
    assert row.split()[-1] == f"{ami5:.3f}"
    authors = next(line for line in printed.splitlines() if line.startswith("committed, the authors' settings"))
    assert authors.split()[-2:] == ["-", f"{demo.AUTHORS_SETTINGS_AMI['batch']:.3f}"]
    recipe = next(line for line in printed.splitlines() if line.startswith("committed, a CPU recipe"))
    assert recipe.split()[-2:] == ["0.872", "0.687"]
    paper = next(line for line in printed.splitlines() if line.startswith("the paper"))
    assert paper.split()[-2:] == [f"{TABLE1['layer']['ami'][5]:.2f}", f"{TABLE1['batch']['ami'][5]:.2f}"]
    assert "training ended by its epoch budget: 1 of 1 epoch(s)" in printed
    assert main(["demo", "--out", out]) == 2  # an existing demo is not overwritten


def test_the_demo_names_the_time_limit_when_it_ends_training(tmp_path):
    (tmp_path / "log.csv").write_text("epoch,train_cost,seconds\n1,0.6,40.0\n2,0.5,81.0\n")
    assert demo.training_end(str(tmp_path), 4, 1.5).startswith(
        "training ended by the time limit of 1.5 minute(s) after 2 of 4 epoch(s)"
    )
    assert demo.training_end(str(tmp_path), 2, 1.5) == "training ended by its epoch budget: 2 of 2 epoch(s) in 81 s"


def test_the_demos_committed_numbers_are_the_readmes():
    """The demo's committed AMI are the README's bold iteration-5 AMI: the authors' settings' table
    row and the CPU recipes' lines."""
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    for norm, ami in demo.AUTHORS_SETTINGS_AMI.items():
        model = {"batch": "Tagger", "layer": "Tagger\\*"}[norm]
        row = re.search(rf"^\| {model}: AMI \|.*\*\*([0-9.]+)\*\*", readme, re.MULTILINE)
        assert row and float(row.group(1)) == ami, model
    for model, norm in (("Tagger", "batch"), ("Tagger\\\\\\*", "layer")):  # a list line escapes the star: Tagger\*
        line = re.search(rf"^- {model}, CPU recipe .*?\*\*([0-9.]+)\*\*", readme, re.MULTILINE)
        assert line and float(line.group(1)) == demo.CPU_RECIPE_AMI[norm], model


def test_the_demo_preset_trains_the_demos_epoch_budget():
    from tagger_ref.config import load_config

    assert load_config("demo").num_epochs == demo.DEFAULTS["epochs"]


def test_evaluation_progress_lines_come_every_few_seconds():
    now = [100.0]
    lines = []
    progress = progress_lines(lines.append, every=5.0, clock=lambda: now[0])
    for t, done in ((101.0, 100), (104.9, 200), (105.0, 300), (109.0, 400), (110.5, 500)):
        now[0] = t
        progress("AMI", done, 1000)
    assert lines == ["  AMI: 300/1000 images, 5 s", "  AMI: 500/1000 images, 10 s"]


def test_the_degenerate_images_line_says_what_it_means():
    note = degenerate_note(4)
    assert note.startswith("4 image(s) have fewer than two scored true groups")
    assert "undefined" in note and "1.0" in note and "0.0" in note and "docs/spec.md section 5" in note
