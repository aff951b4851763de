"""The machinery of the device checks (test_device.py), on the CPU: its --device option, its
one-line refusals, that it leaves no stand-in behind, that its checks fail when the device computes
wrongly (an error injected into the stand-in), and that its training comparison passes when only
the order of summation differs (as between a GPU and a CPU) and fails on a real error.
"""

import os
import subprocess
import sys

import autograd.numpy
import fake_gpu
import numpy
import pytest
import test_device as td
from run_helpers import REPO

from tagger_ref.device import backend
from tagger_ref.errors import DeviceError


def run_device_tests(*flags):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-rs",
            "reference_tests/test_device.py",
            *flags,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def no_cupy():
    try:
        import cupy  # noqa: F401

        pytest.skip("CuPy is installed here")
    except ImportError:
        pass


# ----- the option -----


def test_without_a_device_every_check_skips_saying_why():
    proc = run_device_tests()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " skipped" in proc.stdout and "passed" not in proc.stdout and "failed" not in proc.stdout
    assert td.SKIP_REASON in proc.stdout


def test_device_gpu_without_cupy_stops_the_run_in_one_line_with_status_2():
    no_cupy()
    proc = run_device_tests("--device", "gpu")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    exits = [line for line in proc.stdout.splitlines() if "--device gpu requested but CuPy is not installed" in line]
    assert len(exits) == 1 and "passed" not in proc.stdout and "failed" not in proc.stdout


def test_an_old_autograd_is_refused_before_the_stand_in_is_put_in_place(monkeypatch):
    from tagger_ref.device import gpu

    monkeypatch.setattr(gpu, "_autograd_version", lambda: "1.8.0")
    before = sys.modules.get("cupy")
    with pytest.raises(DeviceError, match="needs autograd >= 1.9, but autograd 1.8.0 is installed"):
        td.Device("standin")
    assert sys.modules.get("cupy") is before and backend.device() == "cpu"


def test_the_stand_in_leaves_nothing_behind():
    before = sys.modules.get("cupy")
    device = td.Device("standin")
    assert sys.modules.get("cupy") is not before and backend.device() == "cpu"
    with device.on():
        assert backend.device() == "gpu"
    device.close()
    assert sys.modules.get("cupy") is before and backend.device() == "cpu"


# ----- a device that computes wrongly fails the checks -----


@pytest.fixture
def standin():
    device = td.Device("standin")
    yield device
    device.close()


def inject_error(monkeypatch, relative):
    """The stand-in's exp off by ``relative`` (a device whose exp kernel were wrong)."""
    call = fake_gpu.FakeGPUArray.__array_ufunc__

    def wrong(self, ufunc, method, *inputs, **kwargs):
        result = call(self, ufunc, method, *inputs, **kwargs)
        return result * (1.0 + relative) if ufunc is numpy.exp and result is not NotImplemented else result

    monkeypatch.setattr(fake_gpu.FakeGPUArray, "__array_ufunc__", wrong)


def test_the_checks_pass_on_the_stand_in_as_it_is(standin):
    td.test_golden(standin, "drawn-tiny-binary")
    td.test_values_float64(standin, "fast")
    td.test_values_float32(standin, "reference")


def test_golden_fails_an_exp_off_by_1e_7(standin, monkeypatch):
    inject_error(monkeypatch, 1e-7)
    with pytest.raises(AssertionError, match="drawn-tiny-binary: stand-in float64 trace vs CPU"):
        td.test_golden(standin, "drawn-tiny-binary")


@pytest.mark.parametrize("path", ["reference", "fast"])
def test_values_float64_fail_an_exp_off_by_1e_7(standin, monkeypatch, path):
    inject_error(monkeypatch, 1e-7)
    with pytest.raises(AssertionError, match=f"{path} path: stand-in float64 vs CPU float64"):
        td.test_values_float64(standin, path)


def test_values_float32_fail_an_exp_off_by_1e_2(standin, monkeypatch):
    inject_error(monkeypatch, 1e-2)
    with pytest.raises(AssertionError, match="stand-in float32 vs CPU float32"):
        td.test_values_float32(standin, "fast")


def test_cli_trace_fails_an_exp_off_by_1e_7(standin, monkeypatch, tmp_path):
    inject_error(monkeypatch, 1e-7)
    with pytest.raises(AssertionError, match="tagger-ref trace --device gpu"):
        td.test_cli_trace(standin, tmp_path)
    assert backend.device() == "cpu"


# ----- the training comparison: the order of summation is not an error -----


def reversed_sum(original):
    """np.sum adding the elements of every summed axis in the reverse order: a different rounding,
    as a GPU's reduction tree gives, differentiable by autograd (reversal is indexing)."""

    def sum_(a, axis=None, keepdims=False, **kwargs):
        ndim = autograd.numpy.ndim(a)
        axes = (
            range(ndim) if axis is None else [i % ndim for i in (axis if isinstance(axis, (tuple, list)) else (axis,))]
        )
        flipped = a[tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(ndim))]
        return original(flipped, axis=axis, keepdims=keepdims, **kwargs)

    return sum_


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """The check's tiny Shapes run (train --resume from its perturbed start, evaluate) on the CPU
    twice: as is, and with every sum of the maths reversed."""
    folder = str(tmp_path_factory.mktemp("tiny-runs"))
    data, start = td.tiny_training_case(folder)
    runs = {"plain": td.train_and_evaluate(os.path.join(folder, "plain"), data, start, "cpu")}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(autograd.numpy, "sum", reversed_sum(autograd.numpy.sum))
        runs["reordered"] = td.train_and_evaluate(os.path.join(folder, "reordered"), data, start, "cpu")
    return runs


def test_training_comparison_passes_a_reordered_summation(tiny_runs):
    plain, reordered = tiny_runs["plain"], tiny_runs["reordered"]
    assert not isinstance(plain, str) and not isinstance(reordered, str), (plain, reordered)
    differ = [k for k in plain if not numpy.array_equal(plain[k], reordered[k])]
    assert len(differ) > 20, differ  # the reversal changed the rounding of most results
    ok, worst, key = td.compare(plain, reordered)
    assert ok, (worst, key)


def test_training_comparison_fails_a_gradient_off_by_1e_7(tiny_runs):
    """A device whose gradient of W were off by 1e-7 (relative) would leave Adam's first moment of
    W off by as much after the two steps: that must fail."""
    wrong = dict(tiny_runs["plain"])
    wrong["adam/m/W"] = wrong["adam/m/W"] * (1.0 + 1e-7)
    ok, worst, key = td.compare(tiny_runs["plain"], wrong)
    assert not ok and key == "adam/m/W", (worst, key)
    with pytest.raises(AssertionError, match="adam/m/W"):
        td.assert_float64_close(tiny_runs["plain"], wrong, "a gradient off by 1e-7")


# ----- the one prepared command -----


def test_device_run_sh_runs_the_checks_on_the_stand_in():
    """benchmarks/device_run.sh, DEVICE=standin: the device checks (the timings need a GPU), exit 0."""
    env = dict(os.environ, DEVICE="standin", PYTHON=sys.executable)
    proc = subprocess.run(
        ["bash", os.path.join(REPO, "benchmarks", "device_run.sh"), "-q"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " passed" in proc.stdout and "failed" not in proc.stdout
    assert proc.stdout.rstrip().endswith("== device_run: exit status 0")
