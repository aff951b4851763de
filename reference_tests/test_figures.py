"""Figures: the colour coding, and every figure script smoke-run on a tiny trained Shapes run."""

import os
import subprocess
import sys

import numpy
import pytest
from run_helpers import REPO, config_file, shapes_file

from tagger_ref.commands.cli import main
from tagger_ref.report.plots import GROUP_COLOURS, colourize, image_shape

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_colourize_paints_owned_pixels_in_their_group_colour():
    values = numpy.zeros((3, 1, 4))
    values[0, 0, 0] = 1.0  # pixel 0 owned by group 0
    values[2, 0, 1] = 1.0  # pixel 1 owned by group 2
    values[1, 0, 2] = 0.5  # pixel 2 half in group 1
    rgb = colourize(values)
    numpy.testing.assert_allclose(rgb[0, 0], GROUP_COLOURS[0])
    numpy.testing.assert_allclose(rgb[0, 1], GROUP_COLOURS[2])
    numpy.testing.assert_allclose(rgb[0, 2], 1 - 0.5 * (1 - GROUP_COLOURS[1]))
    numpy.testing.assert_allclose(rgb[0, 3], [1, 1, 1])  # nobody's pixel stays white
    assert image_shape(400) == (20, 20) and image_shape(784) == (28, 28) and image_shape(6) == (1, 6)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("figures"))
    data, config = shapes_file(d), config_file(d)
    run = os.path.join(d, "run")
    assert main(["train", "--config", config, "--data", data, "--out", run, "--epochs", "1", "--no-progress"]) == 0
    return data, run


@pytest.mark.parametrize("script", ["figure4", "convergence", "group_removal"])
def test_figure_scripts_write_pngs(tmp_path, trained, script):
    data, run = trained
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = tmp_path / "figs"
    proc = subprocess.run(
        [
            sys.executable,
            os.path.join(REPO, "figures", f"{script}.py"),
            run,
            "--data",
            data,
            "--out",
            str(out),
            "--iterations",
            "3",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    png = out / f"{script}.png"
    assert f"wrote {png}" in proc.stdout
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 5000
    assert [p.name for p in out.iterdir()] == [png.name]  # no temporary files left behind


def test_convergence_from_a_table_and_all_figures(tmp_path, trained):
    data, run = trained
    assert main(["evaluate", run, "--data", data, "--iterations", "4", "--out", str(tmp_path / "t.csv")]) == 0
    assert (
        main(["figure", "all", run, "--data", data, "--out", str(tmp_path / "all"), "--table", str(tmp_path / "t.csv")])
        == 0
    )
    assert sorted(os.listdir(tmp_path / "all")) == ["convergence.png", "figure4.png", "group_removal.png"]


def test_table1_beside_the_paper(tmp_path, trained):
    """figure table1 on an evaluated tiny run: the Markdown has the paper's three rows and this run's
    numbers read back from its table1.csv, and the PNG is written."""
    data, run = trained
    assert main(["evaluate", run, "--data", data, "--iterations", "5"]) == 0
    with open(os.path.join(run, "table1.csv")) as f:
        last = f.read().strip().splitlines()[-1].split(",")  # iteration 5: cost, ami, ami_median
    out = tmp_path / "t1"
    assert main(["figure", "table1", run, "--out", str(out)]) == 0
    md = (out / "table1.md").read_text()
    method = "Tagger*" if '"norm": "layer"' in open(os.path.join(run, "config.json")).read() else "Tagger"
    assert (
        "| RC | 0.61 ± 0.005 | - |" in md and "| Tagger | 0.79 ± 0.034 |" in md and "| Tagger* | 0.97 ± 0.009 |" in md
    )
    ours = [line for line in md.splitlines()[2:] if f"| {os.path.basename(run)} |" in line]  # below the header
    assert len(ours) == 1 and ours[0].startswith(f"| {method} |")
    assert f"{float(last[2]):.3f} / {float(last[3]):.3f}" in ours[0] and f"/ {float(last[1]):.3f} |" in ours[0]
    assert (out / "table1.png").read_bytes()[:8] == PNG_MAGIC


def test_table1_of_an_unevaluated_run_is_one_error(tmp_path, trained, capsys):
    _, run = trained
    empty = tmp_path / "never-evaluated"
    empty.mkdir()
    (empty / "config.json").write_text('{"norm": "batch"}')
    assert main(["figure", "table1", run, str(empty), "--out", str(tmp_path / "o")]) == 2
    assert "holds no table1.csv: run tagger-ref evaluate on it first" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing written


def _png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == PNG_MAGIC
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")  # width, height (IHDR)


def test_figures_say_what_their_rows_and_columns_are_and_keep_no_wide_margins(tmp_path):
    """figure4's A/B/C rows and group_removal's columns are explained on the figure, below it; the
    PNG is cropped to what is drawn: one small image in a wide figure gives a narrow PNG."""
    from matplotlib.figure import Figure

    from tagger_ref.report import figures, plots

    caption = figures.figure4_caption(4, 5, ["A", "B", "C"])
    for words in ("A: a test image grouped with K=2 groups", "B: an image with 4 shapes", "C: an image with 2 shapes"):
        assert words in caption
    assert "B:" not in figures.figure4_caption(4, 5, ["A"])  # a model without Shapes' B and C sets
    rng = numpy.random.default_rng(0)
    K, N = 3, 16
    images = [
        {
            "x": rng.random(N),
            "z": rng.random((K, N)),
            "m": rng.random((K, N)),
            "removed": [(rng.random((K, N)),) * 2] * K,
        }
    ]
    fig = plots.group_removal(images, caption="the columns: without g")
    texts = [t.get_text() for t in fig.texts]
    assert texts == ["the columns: without g"]
    path = str(tmp_path / "removal.png")
    plots.save_png(fig, path)
    assert _png_size(path)[1] > 100 * fig.get_figheight()  # the caption below the axes is kept
    wide = Figure(figsize=(10, 2))
    wide.add_axes([0.45, 0.4, 0.1, 0.2]).plot([0, 1])
    plots.save_png(wide, str(tmp_path / "wide.png"))
    width, height = _png_size(str(tmp_path / "wide.png"))
    assert width < 300 and height < 150  # 1000 x 200 uncropped


@pytest.fixture(scope="module")
def kept(tmp_path_factory):
    """A tiny run of two epochs keeping the parameters of both, each epoch evaluated on its own."""
    d = str(tmp_path_factory.mktemp("kept"))
    data, config = shapes_file(d), config_file(d)
    run = os.path.join(d, "run")
    args = ["train", "--config", config, "--data", data, "--out", run, "--epochs", "2", "--keep-every", "1"]
    assert main(args + ["--no-progress"]) == 0
    for epoch in ("1", "2"):
        assert main(["evaluate", run, "--data", data, "--iterations", "5", "--epoch", epoch]) == 0
    return data, run


def _last_row(path):
    with open(path) as f:
        return f.read().strip().splitlines()[-1].split(",")  # iteration 5: iteration, cost, ami, ami_median


def test_table1_of_kept_epochs_has_a_row_for_each(tmp_path, kept):
    """figures/table1.py (figure table1) --epoch 1 --epoch 2: one row per epoch, labelled with it, each
    with the numbers of its own table1-epoch-E.csv (the two epochs' tables differ, so a row read from
    the wrong file shows)."""
    _, run = kept
    last = {e: _last_row(os.path.join(run, f"table1-epoch-{e}.csv")) for e in (1, 2)}
    assert last[1][2] != last[2][2]
    out = tmp_path / "t1"
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    script = os.path.join(REPO, "figures", "table1.py")
    args = [sys.executable, script, run, "--epoch", "1", "--epoch", "2", "--out", str(out)]
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    md = (out / "table1.md").read_text()
    for e in (1, 2):
        ours = [line for line in md.splitlines() if f"| {os.path.basename(run)}, epoch {e} |" in line]
        assert len(ours) == 1
        assert f"{float(last[e][2]):.3f} / {float(last[e][3]):.3f}" in ours[0], (e, ours[0])
    assert (out / "table1.png").read_bytes()[:8] == PNG_MAGIC


def test_figure_of_a_kept_epoch_and_the_epoch_errors(tmp_path, kept, capsys):
    """figure4 --epoch E draws the kept parameters; an epoch never kept, or evaluated, is one error
    naming it, and an --epoch where it means nothing is refused; nothing is written by a refusal."""
    data, run = kept
    out = tmp_path / "f"
    assert main(["figure", "figure4", run, "--data", data, "--epoch", "1", "--out", str(out)]) == 0
    assert (out / "figure4.png").read_bytes()[:8] == PNG_MAGIC
    capsys.readouterr()
    refused = [
        (["figure", "figure4", run, "--data", data, "--epoch", "7"], "keeps no parameters of that epoch"),
        (["figure", "table1", run, "--epoch", "7"], "holds no table1-epoch-7.csv: run tagger-ref evaluate --epoch 7"),
        (["figure", "figure4", run, "--data", data, "--epoch", "1", "--epoch", "2"], "draws one epoch's parameters"),
        (["figure", "curves", run, "--epoch", "1"], "figure curves takes no --epoch"),
        (["figure", "table1", run, "--epoch", "-1"], "--epoch must be at least 0"),
    ]
    for args, message in refused:
        assert main(args + ["--out", str(tmp_path / "no")]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, (args, err)
    assert not (tmp_path / "no").exists()
