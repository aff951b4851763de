"""The command line, run as a user runs it: a real subprocess, exit codes, files written."""

import os
import subprocess
import sys

import numpy

HERE = os.path.dirname(os.path.abspath(__file__))


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "tagger_ref.commands.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=dict(os.environ, PYTHONPATH=os.path.dirname(HERE)),
    )


def test_trace_recomputable_from_saved_inputs(tmp_path):
    r = run(
        "trace",
        "--config",
        "tiny-binary",
        "--seed",
        "4",
        "--out",
        str(tmp_path / "t.npz"),
        "--save-inputs",
        str(tmp_path / "case"),
    )
    assert r.returncode == 0, r.stderr
    r2 = run(
        "trace",
        "--config",
        str(tmp_path / "case" / "config.json"),
        "--params",
        str(tmp_path / "case" / "params.npz"),
        "--inputs",
        str(tmp_path / "case" / "inputs.npz"),
        "--out",
        str(tmp_path / "t2.npz"),
    )
    assert r2.returncode == 0, r2.stderr
    a, b = numpy.load(tmp_path / "t.npz"), numpy.load(tmp_path / "t2.npz")
    assert set(a.files) == set(b.files) and all(numpy.array_equal(a[k], b[k]) for k in a.files)


def test_gradcheck_passes_on_a_tiny_preset():
    r = run("gradcheck", "--config", "tiny-continuous", "--directions", "1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "all " in r.stdout and "checks passed" in r.stdout and "grad" not in r.stderr


def test_bad_input_is_one_error_line_and_exit_2(tmp_path):
    r = run("trace", "--config", "nonsense", "--out", str(tmp_path / "t.npz"))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: unknown config 'nonsense': not a preset (shapes, ")
    (tmp_path / "p.npz").write_text("garbage")
    r = run("trace", "--config", "tiny-binary", "--params", str(tmp_path / "p.npz"), "--out", str(tmp_path / "t.npz"))
    assert r.returncode == 2 and r.stderr.startswith("error: parameter file") and "Traceback" not in r.stderr
    assert not (tmp_path / "t.npz").exists()  # a failing command leaves no output file
    r = run(
        "--debug",
        "trace",
        "--config",
        "tiny-binary",
        "--params",
        str(tmp_path / "p.npz"),
        "--out",
        str(tmp_path / "t.npz"),
    )
    assert r.returncode != 0 and "Traceback" in r.stderr
    r = run("trace", "--config", "tiny-binary", "--out", str(tmp_path / "no" / "such" / "t.npz"))
    assert r.returncode == 2 and "does not exist" in r.stderr
    r = run("trace", "--out")
    assert r.returncode == 2 and "error:" in r.stderr
