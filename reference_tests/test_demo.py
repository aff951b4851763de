"""tagger-ref demo at a reduced size (CI runs it): the whole path from data to figures."""

import os

from tagger_ref.commands.cli import main


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
    table = open(os.path.join(out, "run", "table1.csv")).read().split()
    assert table[0] == "iteration,denoising_cost,ami,ami_median" and len(table) == 6
    assert sorted(os.listdir(os.path.join(out, "figures"))) == ["convergence.png", "figure4.png", "group_removal.png"]
    for name in ("checkpoint.npz", "params.npz", "config.json", "log.csv"):
        assert os.path.isfile(os.path.join(out, "run", name))
    assert main(["demo", "--out", out]) == 2  # an existing demo is not overwritten
