"""Hostile but fair inputs, one test per cause: each ends in one ``error:`` line on stderr and exit
status 2 (or in the promised result), and nothing already written is lost or changed byte for
byte. Two processes on one run folder, failed and idle resumes, damaged checkpoints, a full disk,
negative seeds, gradcheck's sizes, damaged data, sizes that cannot fit in memory, the sweep's
inputs, compare and figure inputs, and leftovers of a kill."""

import errno
import json
import os
import shutil
import time
import zipfile

import numpy
import pytest
from run_helpers import TINY_SHAPES, cli, config_file, shapes_file

from tagger_ref.baselines.config import load_baseline_config
from tagger_ref.commands.cli import main
from tagger_ref.experiments.training import CHECKPOINT, load_checkpoint
from tagger_ref.files.fileio import remove_stale_parts
from tagger_ref.files.locks import locked

# A classifying TextureMNIST model (N = 784) with a tiny Ladder, as test_texture_cli's stage 2.
CLASSIFIER = TINY_SHAPES.replace(
    input_type="continuous",
    n_inputs=784,
    encoder_proj=(8, 6, 5, 6, 11),
    input_noise=0.2,
    z_init=0.5,
    objects_per_sample=2,
    class_cost_x=0.1,
    labeled_samples=10,
    num_epochs=1,
    dtype="float32",
)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("hostile"))
    texture = os.path.join(d, "tm2.npz")
    assert (
        main(
            [
                "data",
                "texture-mnist",
                "--digits",
                "2",
                "--out",
                texture,
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
    return {"dir": d, "data": shapes_file(d), "config": config_file(d), "texture": texture}


@pytest.fixture(scope="module")
def trained(files):
    """A finished 2-epoch run, evaluated (table1.csv)."""
    run = os.path.join(files["dir"], "trained")
    assert main(["train", "--config", files["config"], "--data", files["data"], "--out", run, "--no-progress"]) == 0
    assert main(["evaluate", run, "--data", files["data"]]) == 0
    return run


def copy_run(trained, tmp_path, name="run"):
    return shutil.copytree(trained, str(tmp_path / name))


def snapshot(folder):
    """Every file under ``folder`` (hidden ones too) and its bytes."""
    found = {}
    for where, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(where, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, folder)] = f.read()
    return found


def one_error(capsys, status, expected):
    """Exit status 2 and exactly one stderr line, ``error: ...`` containing ``expected``."""
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and err.startswith("error: ") and expected in err, (status, err)
    return err


def damage_checkpoint(run, change):
    path = os.path.join(run, CHECKPOINT)
    with numpy.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    change(arrays)
    numpy.savez(path, **arrays)


def cut_checkpoint(run, size):
    path = os.path.join(run, CHECKPOINT)
    with open(path, "rb") as f:
        head = f.read(size)
    with open(path, "wb") as f:
        f.write(head)


DAMAGES = {
    "non-finite parameters": (
        lambda a: a.__setitem__("param/b", a["param/b"] * numpy.nan),
        "parameter b has 8 non-finite",
    ),
    "mis-shaped parameter": (lambda a: a.__setitem__("param/c1", numpy.zeros(3)), "parameter c1 has shape (3,)"),
    "mis-shaped Adam moment": (
        lambda a: a.__setitem__("adam/v/W", numpy.zeros((2, 2))),
        "Adam's v of W has shape (2, 2)",
    ),
}


# 1 ------------------------------------------------------------------------------------------


def test_a_run_folder_is_locked_for_the_runs_life(files, tmp_path, capsys):
    run = str(tmp_path / "run")
    proc = cli(
        "train", "--config", files["config"], "--data", files["data"], "--out", run, "--epochs", 100000, "--no-progress"
    )
    log, deadline = os.path.join(run, "log.csv"), time.monotonic() + 90
    while not (os.path.exists(log) and len(open(log).read().split()) > 1):  # one epoch done
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    try:
        for args in (
            ["train", "--config", files["config"], "--data", files["data"], "--out", run],
            ["train", "--data", files["data"], "--out", run, "--resume"],
            ["baseline", "mlp", "--config", "mlp-quick", "--data", files["texture"], "--out", run],
        ):
            one_error(capsys, main(args), f"run folder {run} is in use by another process")
    finally:
        proc.kill()  # kill -9: the kernel releases the lock
        proc.communicate()
    epochs = load_checkpoint(os.path.join(run, CHECKPOINT))[0].epoch
    assert (
        main(["train", "--data", files["data"], "--out", run, "--resume", "--epochs", str(epochs + 1), "--no-progress"])
        == 0
    )
    with locked(run):  # held here: a baseline is refused as well
        one_error(
            capsys,
            main(["baseline", "mlp", "--data", files["texture"], "--out", run, "--resume"]),
            "is in use by another process",
        )


# 2 ------------------------------------------------------------------------------------------


def test_a_refused_or_idle_resume_writes_nothing(files, trained, tmp_path, capsys):
    run = copy_run(trained, tmp_path)
    resume = ["train", "--data", files["data"], "--out", run, "--resume", "--no-progress"]
    before = snapshot(run)
    one_error(capsys, main(resume + ["--epochs", "1"]), "has done 2 epochs already, and training cannot be undone")
    assert snapshot(run) == before
    for more in (["--epochs", "2"], []):  # as many epochs as done: nothing to do, nothing written
        assert main(resume + more) == 0
        assert "nothing to do" in capsys.readouterr().out
        assert snapshot(run) == before
    for name, (change, expected) in DAMAGES.items():
        damaged = copy_run(trained, tmp_path, name.replace(" ", "-"))
        damage_checkpoint(damaged, change)
        before = snapshot(damaged)
        one_error(
            capsys, main(["train", "--data", files["data"], "--out", damaged, "--resume", "--epochs", "3"]), expected
        )
        assert snapshot(damaged) == before  # config.json still says 2 epochs
        assert json.load(open(os.path.join(damaged, "config.json")))["num_epochs"] == 2


# 3 ------------------------------------------------------------------------------------------


def test_evaluate_and_resume_refuse_damaged_checkpoints(files, trained, tmp_path, capsys):
    damages = dict(DAMAGES)
    damages["truncated"] = (lambda run: cut_checkpoint(run, 1000), "not a readable .npz archive (truncated or damaged)")
    damages["empty"] = (lambda run: cut_checkpoint(run, 0), "not a .npz archive")
    for name, (change, expected) in damages.items():
        run = copy_run(trained, tmp_path, name.replace(" ", "-"))
        change(run) if name in ("truncated", "empty") else damage_checkpoint(run, change)
        before = snapshot(run)
        one_error(capsys, main(["evaluate", run, "--data", files["data"]]), expected)
        assert snapshot(run) == before  # table1.csv and the manifest untouched
        one_error(capsys, main(["train", "--data", files["data"], "--out", run, "--resume", "--epochs", "3"]), expected)
        assert snapshot(run) == before


# 4 ------------------------------------------------------------------------------------------


def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_is_one_line_and_loses_nothing(files, trained, tmp_path, capsys, monkeypatch):
    run = copy_run(trained, tmp_path)
    before = snapshot(run)
    monkeypatch.setattr(os, "fsync", no_space)  # the disk fills while a file is written
    new = str(tmp_path / "new")
    one_error(
        capsys,
        main(["train", "--config", files["config"], "--data", files["data"], "--out", new]),
        f"no space left on {new}",
    )
    assert not os.path.exists(new)  # the refused run leaves no folder
    one_error(
        capsys,
        main(["train", "--data", files["data"], "--out", run, "--resume", "--epochs", "3"]),
        f"no space left on {run}",
    )
    one_error(capsys, main(["evaluate", run, "--data", files["data"]]), f"no space left on {run}")
    one_error(
        capsys,
        main(["figure", "figure4", run, "--data", files["data"], "--out", str(tmp_path / "fig")]),
        "no space left on",
    )
    one_error(
        capsys,
        main(
            [
                "data",
                "shapes",
                "--out",
                str(tmp_path / "d.npz"),
                "--train",
                "10",
                "--valid",
                "10",
                "--test",
                "10",
                "--single",
                "0",
            ]
        ),
        f"no space left on {tmp_path}",
    )
    assert snapshot(run) == before  # no temporary file left, nothing changed
    assert not (tmp_path / "d.npz").exists() and not list(tmp_path.glob(".*part*"))
    monkeypatch.undo()

    def half_written(path, **arrays):  # the disk fills in the middle of a .npz
        with open(path, "wb") as f:
            f.write(b"PK\x03\x04 partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(numpy, "savez", half_written)
    one_error(
        capsys,
        main(["train", "--data", files["data"], "--out", run, "--resume", "--epochs", "3", "--no-progress"]),
        f"no space left on {run}",
    )
    assert load_checkpoint(os.path.join(run, CHECKPOINT))[0].epoch == 2
    assert not [n for n in os.listdir(run) if ".part" in n]
    monkeypatch.undo()

    def full(path, trace):  # a writer outside fileio: the command line says it
        raise OSError(errno.ENOSPC, "No space left on device", path)

    monkeypatch.setattr("tagger_ref.oracle.trace.save_trace", full)  # imported by trace's run when it runs
    one_error(
        capsys,
        main(["trace", "--config", "tiny-binary", "--out", str(tmp_path / "t.npz")]),
        f"no space left on {tmp_path}",
    )


# 5 ------------------------------------------------------------------------------------------


def test_negative_seeds_are_refused_before_anything_is_made(files, trained, tmp_path, capsys):
    before = snapshot(trained)
    out = str(tmp_path / "out")
    commands = [
        ["train", "--config", files["config"], "--data", files["data"], "--out", out],
        ["baseline", "mlp", "--config", "mlp-quick", "--data", files["texture"], "--out", out],
        ["evaluate", trained, "--data", files["data"]],
        ["trace", "--config", "tiny-binary", "--out", os.path.join(out + ".npz")],
        ["gradcheck", "--config", "tiny-binary"],
        ["figure", "figure4", trained, "--data", files["data"], "--out", out],
    ]
    for args in commands:
        one_error(capsys, main(args + ["--seed", "-1"]), "--seed must be at least 0, got -1")
    assert not os.path.exists(out) and not os.path.exists(out + ".npz") and snapshot(trained) == before


# 6 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("option, value", [("--batch", "0"), ("--batch", "-3"), ("--directions", "0")])
def test_gradcheck_sizes_below_one(option, value, capsys):
    one_error(
        capsys,
        main(["gradcheck", "--config", "tiny-binary", option, value]),
        f"{option} must be at least 1, got {value}",
    )


# 7 ------------------------------------------------------------------------------------------


def test_damaged_compressed_data_and_string_features(files, tmp_path, capsys):
    path = str(tmp_path / "compressed.npz")
    assert (
        main(
            [
                "data",
                "shapes",
                "--out",
                path,
                "--train",
                "20",
                "--valid",
                "10",
                "--test",
                "10",
                "--single",
                "0",
                "--compress",
            ]
        )
        == 0
    )
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("train_features.npy")
    data = bytearray(open(path, "rb").read())
    header = info.header_offset
    start = (
        header
        + 30
        + int.from_bytes(data[header + 26 : header + 28], "little")
        + int.from_bytes(data[header + 28 : header + 30], "little")
    )
    data[start] = 0xFF  # the deflate block header: BTYPE 11, "invalid block type" (a zlib.error)
    open(path, "wb").write(bytes(data))
    for args in (
        ["data", "info", path],
        ["train", "--config", files["config"], "--data", path, "--out", str(tmp_path / "a")],
    ):
        one_error(capsys, main(args), "is damaged (split 'train' unreadable): Error -3 while decompressing")
    with numpy.load(files["data"]) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["train_features"] = arrays["train_features"].astype(str)
    strings = str(tmp_path / "strings.npz")
    numpy.savez(strings, **arrays)
    for args in (
        ["data", "info", strings],
        ["train", "--config", files["config"], "--data", strings, "--out", str(tmp_path / "a")],
    ):
        one_error(capsys, main(args), "features has dtype <U32, not numbers")
    assert not (tmp_path / "a").exists()


# 8 ------------------------------------------------------------------------------------------


def test_sizes_that_cannot_fit_in_memory_are_refused_before_allocating(files, trained, tmp_path, capsys):
    huge_layer = config_file(str(tmp_path), TINY_SHAPES.replace(encoder_proj=(10**8, 6, 4)), "huge-layer.json")
    huge_k = config_file(str(tmp_path), TINY_SHAPES.replace(n_groups=10**7), "huge-k.json")
    huge_ladder = config_file(
        str(tmp_path),
        load_baseline_config("ladder-quick").replace(hidden=(10**8, 10), denoising_weights=(1000.0, 10.0, 0.1, 0.1)),
        "huge-ladder.json",
    )
    out = str(tmp_path / "out")
    cases = [
        (
            ["sweep", "--config", files["config"], "--data", files["data"], "--seeds", "0-9999999999", "--out", out],
            "(10000000000 seeds) needs at least",
        ),
        (["train", "--config", huge_layer, "--data", files["data"], "--out", out], "layers [100000000, 6, 4]"),
        (["train", "--config", huge_k, "--data", files["data"], "--out", out], "K = 10000000"),
        (
            ["baseline", "ladder", "--config", huge_ladder, "--data", files["texture"], "--out", out],
            "ladder baseline with layers [100000000, 10]",
        ),
        (["evaluate", trained, "--data", files["data"], "--groups", str(10**7), "--out", out + ".csv"], "K = 10000000"),
        (["trace", "--config", "tiny-binary", "--batch", str(10**9), "--out", out + ".npz"], "batch 1000000000"),
        (["gradcheck", "--config", huge_layer], "layers [100000000, 6, 4]"),
    ]
    for args, expected in cases:
        err = one_error(capsys, main(args), expected)
        assert "of memory, more than this machine's" in err
    assert not os.path.exists(out) and not os.path.exists(out + ".csv") and not os.path.exists(out + ".npz")


# 9 ------------------------------------------------------------------------------------------


def test_sweep_quotes_seed_records_and_a_classifying_config(files, tmp_path, capsys):
    out = tmp_path / "sweep"
    sweep = [
        "sweep",
        "--config",
        files["config"],
        "--data",
        files["data"],
        "--seeds",
        "0",
        "--epochs",
        "1",
        "--out",
        str(out),
    ]
    one_error(capsys, main(sweep + ["--evaluate-args", "--iterations '3"]), "No closing quotation")
    assert not out.exists()
    (out / "seed-0").mkdir(parents=True)
    (out / "seed-0" / "seed.json").write_text("[1]\n")  # not a record: the seed runs as new
    assert main(sweep) == 0
    assert json.loads((out / "seed-0" / "seed.json").read_text())["state"] == "finished"
    assert (out / "seed-0" / "table1.csv").exists()
    classifier = config_file(str(tmp_path), CLASSIFIER, "classifier.json")  # docs/sweeps.md: table2.csv
    texture = tmp_path / "texture"
    assert (
        main(["sweep", "--config", classifier, "--data", files["texture"], "--seeds", "0", "--out", str(texture)]) == 0
    )
    table = (texture / "seed-0" / "table2.csv").read_text().split()
    assert (
        table[0] == "iteration,class_error,class_cost,denoising_cost,ami" and len(table) == 1 + CLASSIFIER.n_iterations
    )
    assert "table2,iteration,1,class_error,1," in (texture / "summary.csv").read_text()


# 10 -----------------------------------------------------------------------------------------


def test_compare_with_nan_in_the_reference_and_figure_with_a_binary_table(trained, files, tmp_path, capsys):
    reference = str(tmp_path / "reference.npz")
    assert main(["trace", "--config", "tiny-binary", "--out", reference]) == 0
    with numpy.load(reference) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["z_1"] = arrays["z_1"].copy()
    arrays["z_1"].flat[0] = numpy.nan
    nan = str(tmp_path / "nan.npz")
    numpy.savez(nan, **arrays)
    capsys.readouterr()
    one_error(capsys, main(["compare", nan, nan]), "holds non-finite values (z_1)")
    assert main(["compare", reference, reference]) == 0
    binary = tmp_path / "table.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    out = tmp_path / "figures"
    for table, expected in ((binary, "not a text file"), (empty, "no rows"), (files["data"], "not a text file")):
        one_error(
            capsys,
            main(["figure", "convergence", trained, "--data", files["data"], "--out", str(out), "--table", str(table)]),
            expected,
        )
    assert not out.exists()


# 11 -----------------------------------------------------------------------------------------


def test_leftovers_of_a_kill_empty_folders_and_clear_messages(files, trained, tmp_path, capsys):
    run = copy_run(trained, tmp_path)
    stale = os.path.join(run, ".checkpoint.npz.k1ll3d.part.npz")  # what kill -9 mid-write leaves
    open(stale, "wb").write(b"PK partial")
    writing = os.path.join(run, ".table1.csv.b5y4ny.part")  # one another process still writes
    with open(writing, "w") as held:
        import fcntl

        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        assert remove_stale_parts(run) == [stale] and os.path.exists(writing)
        open(stale, "wb").write(b"PK partial")
        assert main(["train", "--data", files["data"], "--out", run, "--resume", "--epochs", "3", "--no-progress"]) == 0
        assert not os.path.exists(stale) and os.path.exists(writing)
    # failing commands leave no folder they made
    new = tmp_path / "new"
    for args in (
        ["train", "--config", files["config"], "--data", files["texture"], "--out", str(new)],
        ["train", "--data", files["data"], "--out", str(new), "--resume"],
        ["baseline", "mlp", "--config", "mlp-quick", "--data", files["data"], "--out", str(new)],
        ["figure", "figure4", str(tmp_path / "none"), "--data", files["data"], "--out", str(new)],
    ):
        assert main(args) == 2 and not new.exists(), args
    capsys.readouterr()
    # the messages say what is wrong
    one_error(
        capsys,
        main(["train", "--config", trained, "--data", files["data"], "--out", str(new)]),
        f"config {trained} is a folder, not a preset name or a JSON file (a run folder? its config is "
        f"{os.path.join(trained, 'config.json')})",
    )
    baseline_like = tmp_path / "baseline-like"
    baseline_like.mkdir()
    (baseline_like / "config.json").write_text(json.dumps({"baseline": "mlp"}))
    one_error(
        capsys,
        main(["figure", "table1", str(baseline_like), "--out", str(tmp_path / "t")]),
        "is a mlp baseline's run: Table 1 compares Tagger runs",
    )
    (baseline_like / "config.json").write_text(json.dumps({"seed": 1}))
    one_error(
        capsys,
        main(["figure", "table1", str(baseline_like), "--out", str(tmp_path / "t")]),
        "config.json has no field 'norm': not the config of a tagger-ref train run",
    )
    one_error(
        capsys, main(["figure", "table1", str(tmp_path / "nothing"), "--out", str(tmp_path / "t")]), "is not a folder"
    )


def test_a_reader_that_goes_away_is_no_error():
    """`tagger-ref golden list | head -1`: the pipe closes early; no traceback, exit 0."""
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "tagger_ref.commands.cli", "golden", "list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.readline()
    proc.stdout.close()  # as head does after its first line
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, stderr
    assert "Traceback" not in stderr and "Error" not in stderr
