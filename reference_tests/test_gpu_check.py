"""The prepared device check, benchmarks/gpu_check.py, on the CPU: its dry run on the CuPy stand-in,
its one-line refusals, its budget and progressive JSON, and its training comparison, which must
pass when only the order of summation differs (as between a GPU and a CPU) and fail on a real error.
"""
import json
import os
import subprocess
import sys

import autograd.numpy
import numpy
import pytest

from run_helpers import REPO, load_repo_script
from tagger_ref.device import backend

SCRIPT = os.path.join(REPO, "benchmarks", "gpu_check.py")
CORRECTNESS = "cli,golden,gradients,values"


def load_gpu_check():
    return load_repo_script("benchmarks", "gpu_check.py")


def no_cupy():
    try:
        import cupy  # noqa: F401
        pytest.skip("CuPy is installed here")
    except ImportError:
        pass


def test_gpu_check_dry_run_passes_every_check(tmp_path, capsys):
    status = load_gpu_check().main(["--dry-run", "--out", str(tmp_path / "r.json")])
    out = capsys.readouterr().out
    assert status == 0, out
    lines = out.splitlines()
    checks = {"device", "cli", "golden", "gradients", "values", "step", "train", "cpu", "epoch", "summary"}
    assert {line.split()[0] for line in lines} == checks
    assert not any(line.split()[1] == "FAIL" for line in lines)
    assert not any("skipped" in line for line in lines)
    written = json.loads((tmp_path / "r.json").read_text())
    assert written["dry_run"] is True and written["complete"] is True and written["failed"] == 0
    assert written["lines"] == lines
    assert backend.device() == "cpu"


def test_gpu_check_without_cupy_says_so_and_exits_2(capsys):
    no_cupy()
    assert load_gpu_check().main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "CuPy is not installed" in err


def test_gpu_check_without_autograd_names_it_in_one_line():
    """A machine without autograd (the GPU image has none): one line naming it, exit status 2."""
    blocked = ("import runpy, sys; sys.modules['autograd'] = None; sys.argv = ['gpu_check.py']; "
               f"runpy.run_path({SCRIPT!r}, run_name='__main__')")
    proc = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("gpu_check: missing dependencies: autograd;") and "docs/gpu.md" in proc.stderr


def test_gpu_check_with_an_old_autograd_exits_2_before_any_check(monkeypatch, capsys):
    from tagger_ref.device import gpu
    monkeypatch.setattr(gpu, "_autograd_version", lambda: "1.8.0")
    before = sys.modules.get("cupy")
    assert load_gpu_check().main(["--dry-run"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "needs autograd >= 1.9, but autograd 1.8.0 is installed" in captured.err
    assert sys.modules.get("cupy") is before and backend.device() == "cpu"


def test_gpu_check_dry_run_leaves_no_stand_in_behind():
    before = sys.modules.get("cupy")
    load_gpu_check().main(["--dry-run", "--skip", CORRECTNESS + ",step,train,cpu"])
    assert sys.modules.get("cupy") is before
    assert backend.device() == "cpu"


def test_timed_loops_that_do_not_fit_the_budget_are_skipped(tmp_path, capsys):
    status = load_gpu_check().main(["--dry-run", "--budget", "0", "--skip", CORRECTNESS,
                                    "--out", str(tmp_path / "r.json")])
    lines = capsys.readouterr().out.splitlines()
    assert status == 0
    skipped = [line for line in lines if line.split()[0] in ("step", "train", "cpu")]
    assert len(skipped) == 6 and all(line.split()[1] == "info" and "skipped" in line for line in skipped)
    assert json.loads((tmp_path / "r.json").read_text())["complete"] is True


def test_json_is_written_as_the_check_goes(tmp_path, monkeypatch, capsys):
    """A run cut short (here: interrupted in the train check) leaves the lines written so far."""
    gc = load_gpu_check()

    def interrupted(*args):
        raise KeyboardInterrupt
    monkeypatch.setattr(gc, "check_train", interrupted)
    out = tmp_path / "r.json"
    with pytest.raises(KeyboardInterrupt):
        gc.main(["--dry-run", "--budget", "0", "--skip", CORRECTNESS, "--out", str(out)])
    written = json.loads(out.read_text())
    assert written["complete"] is False
    assert [line.split()[0] for line in written["lines"]] == ["device"] + ["step"] * 3
    assert written["lines"] == capsys.readouterr().out.splitlines()
    assert backend.device() == "cpu"


# ----- the training comparison: the order of summation is not an error -----

def reversed_sum(original):
    """np.sum adding the elements of every summed axis in the reverse order: a different rounding,
    as a GPU's reduction tree gives, differentiable by autograd (reversal is indexing)."""
    def sum_(a, axis=None, keepdims=False, **kwargs):
        ndim = autograd.numpy.ndim(a)
        axes = range(ndim) if axis is None else [i % ndim for i in (axis if isinstance(axis, (tuple, list))
                                                                    else (axis,))]
        flipped = a[tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(ndim))]
        return original(flipped, axis=axis, keepdims=keepdims, **kwargs)
    return sum_


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """The check's tiny Shapes run (train --resume from its perturbed start, evaluate) on the CPU
    twice: as is, and with every sum of the maths reversed."""
    gc = load_gpu_check()
    folder = str(tmp_path_factory.mktemp("tiny-runs"))
    data, start = gc.tiny_training_case(folder)
    runs = {"plain": gc.train_and_evaluate(os.path.join(folder, "plain"), data, start, "cpu")}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(autograd.numpy, "sum", reversed_sum(autograd.numpy.sum))
        runs["reordered"] = gc.train_and_evaluate(os.path.join(folder, "reordered"), data, start, "cpu")
    return gc, runs


def test_training_comparison_passes_a_reordered_summation(tiny_runs):
    gc, runs = tiny_runs
    plain, reordered = runs["plain"], runs["reordered"]
    assert not isinstance(plain, str) and not isinstance(reordered, str), (plain, reordered)
    differ = [k for k in plain if not numpy.array_equal(plain[k], reordered[k])]
    assert len(differ) > 20, differ          # the reversal changed the rounding of most results
    ok, worst, key = gc.compare(plain, reordered)
    assert ok, (worst, key)


def test_training_comparison_fails_a_gradient_off_by_1e_7(tiny_runs):
    """A device whose gradient of W were off by 1e-7 (relative) would leave Adam's first moment of
    W off by as much after the two steps: that must fail."""
    gc, runs = tiny_runs
    wrong = dict(runs["plain"])
    wrong["adam/m/W"] = wrong["adam/m/W"] * (1.0 + 1e-7)
    ok, worst, key = gc.compare(runs["plain"], wrong)
    assert not ok and key == "adam/m/W", (worst, key)
