"""The GPU mechanism (tagger_ref.gpu) checked on the CPU through a CuPy stand-in.

FakeGPUArray (reference_tests/fake_gpu.py) is registered exactly as cupy.ndarray is, and refuses what CuPy
refuses (implicit host copies, NumPy arrays mixed in, ufunc methods, object views, reshape with
order=None). The model's forward pass and every gradient run on it and must (a) stay on the
device: every result is a FakeGPUArray, nothing fell back to NumPy, and (b) equal plain NumPy.
The stand-in computes with NumPy, so in float64 (b) holds to the last bit; the tolerance is 1e-12.
In float32 the device rule for the gradient of a mean divides by a Python int and stays float32,
where autograd's NumPy rule divides by a NumPy int64 and (NEP 50) computes that part in float64;
so float32 results agree to float32 rounding, not to the bit.
"""
import numpy
import pytest
from autograd import grad

import fake_gpu
from tagger_ref import backend
from tagger_ref.backend import np, to_numpy
from tagger_ref.config import load_config
from tagger_ref.maths.gradients import cost_and_grad
from tagger_ref.maths.model import forward

from conftest import case

fake_gpu.register()
TOL = 1e-12
FakeGPUArray = fake_gpu.FakeGPUArray


def on_fake(arrays):
    return {k: fake_gpu.asarray(v) for k, v in arrays.items()}


def assert_same(device_value, host_value, what, float32=False):
    assert isinstance(device_value, FakeGPUArray), f"{what}: {type(device_value).__name__}, expected a device array"
    if float32:  # rounding of float32 (eps 6e-8) through T iterations and backpropagation
        atol = 1e-5 * float(numpy.max(numpy.abs(host_value)))
        numpy.testing.assert_allclose(to_numpy(device_value), host_value, rtol=1e-4, atol=atol, err_msg=what)
    else:
        numpy.testing.assert_allclose(to_numpy(device_value), host_value, rtol=TOL, atol=TOL, err_msg=what)


VARIANTS = [
    ("tiny-binary", {}),
    ("tiny-continuous", {}),
    ("tiny-classify", {}),
    ("tiny-binary", {"norm": "layer", "semantics": "paper"}),
    ("tiny-continuous", {"semantics": "paper-eq29", "dtype": "float32"}),
    ("tiny-binary", {"dtype": "float32"}),
]


@pytest.mark.parametrize("name, changes", VARIANTS, ids=["-".join([n, *c.values()]) for n, c in VARIANTS])
def test_forward_and_gradients_on_device_equal_numpy(name, changes):
    config, params, inputs = case(name, seed=3, **changes)
    host = forward(params, config, inputs)
    host_cost, host_grads = cost_and_grad(params, config, inputs)
    dev_params, dev_inputs = on_fake(params), on_fake(inputs)
    dev = forward(dev_params, config, dev_inputs)
    dev_cost, dev_grads = cost_and_grad(dev_params, config, dev_inputs)
    float32 = config.dtype == "float32"
    assert set(dev) == set(host)
    for key in host:
        assert_same(dev[key], host[key], key, float32)
    assert_same(dev_cost, host_cost, "total_cost", float32)
    assert set(dev_grads) == set(host_grads)
    for key in host_grads:
        assert_same(dev_grads[key], host_grads[key], f"grad_{key}", float32)
        assert dev_grads[key].dtype == numpy.dtype(config.dtype), key


def test_group_removal_and_more_iterations_on_device():
    config, params, inputs = case("tiny-classify", seed=1)
    host = forward(params, config, inputs, n_iterations=5, remove_group=1)
    dev = forward(on_fake(params), config, on_fake(inputs), n_iterations=5, remove_group=1)
    for key in host:
        assert_same(dev[key], host[key], key)


# ----- each replaced rule of autograd, alone -----

def host_and_device_grads(f, *arrays):
    """d sum(f(...)) / d first argument, on NumPy arrays and on the stand-in."""
    loss = lambda a, *rest: np.sum(f(a, *rest) * f(a, *rest))  # noqa: E731  (non-linear, so g varies)
    host = grad(loss)(*arrays)
    device = grad(loss)(*[fake_gpu.asarray(a) for a in arrays])
    return host, device


A = numpy.random.default_rng(0).standard_normal((3, 4, 5))
RULES = {
    "sum-all": lambda a: np.sum(a),
    "sum-axis": lambda a: np.sum(a, axis=1),
    "sum-axes-keepdims": lambda a: np.sum(a, axis=(0, 2), keepdims=True),
    "sum-negative-axis": lambda a: np.sum(a, axis=-1),
    "mean-all": lambda a: np.mean(a),
    "mean-axis-keepdims": lambda a: np.mean(a, axis=0, keepdims=True),
    "mean-axes": lambda a: np.mean(a, axis=(0, 2)),
    "reshape": lambda a: np.reshape(np.tanh(a), (12, 5)),
    "power-scalar": lambda a: a ** 3,
    "power-zero": lambda a: a ** 0 + a,
    "power-array-exponent": lambda a: 1.5 ** np.tanh(a),
    "getitem-slices": lambda a: a[:, 1:3, ::2],
    "getitem-int-none-ellipsis": lambda a: a[1, ..., None],
    "concatenate": lambda a: np.concatenate([a, 2.0 * a, np.tanh(a)], axis=-1),
}


@pytest.mark.parametrize("name", RULES)
def test_replaced_rule_gives_numpy_gradient(name):
    host, device = host_and_device_grads(RULES[name], A)
    assert_same(device, host, name)


def test_device_gradient_of_a_float32_mean_stays_float32():
    a = A.astype("float32")
    device = grad(lambda a: np.sum(np.tanh(np.mean(a, axis=0))))(fake_gpu.asarray(a))
    assert device.dtype == numpy.float32


def test_power_of_device_base_and_exponent():
    b = numpy.abs(A) + 0.5
    f = lambda a, e: np.sum(a ** e)  # noqa: E731
    for argnum in (0, 1):
        host = grad(f, argnum)(b, A)
        device = grad(f, argnum)(fake_gpu.asarray(b), fake_gpu.asarray(A))
        assert_same(device, host, f"power argnum {argnum}")


def test_gradient_of_fancy_indexing_on_device_fails_loudly():
    with pytest.raises(NotImplementedError, match="advanced"):
        grad(lambda a: np.sum(a[[0, 0, 1]]))(fake_gpu.asarray(A))


# ----- the stand-in refuses what CuPy refuses (else the tests above would prove little) -----

def test_stand_in_refuses_what_cupy_refuses():
    d = fake_gpu.asarray(A)
    with pytest.raises(TypeError):
        numpy.asarray(d)                       # no implicit device-to-host copy
    with pytest.raises(TypeError):
        d + A                                  # no mixing with host arrays
    with pytest.raises(TypeError):
        d * numpy.array(2.0)                   # not even 0-d ones
    with pytest.raises(TypeError):
        numpy.concatenate([d, A])
    with pytest.raises(TypeError):
        numpy.add.at(d, (slice(None),), d)     # ufunc methods are not handled
    with pytest.raises(TypeError):
        d.view(numpy.ndarray)                  # what autograd's concatenate does
    with pytest.raises(TypeError):
        numpy.reshape(d, (60,), order=None)    # what autograd's reshape gradient does
    assert isinstance(d * numpy.float64(2.0) + 1, FakeGPUArray)  # scalars are fine
    assert isinstance(numpy.sum(d), FakeGPUArray) and numpy.sum(d).shape == ()
    assert isinstance(numpy.asarray(A, like=d), FakeGPUArray)   # the explicit transfer


# ----- the backend switch -----

def test_unknown_device_is_an_error():
    from tagger_ref.errors import DeviceError
    with pytest.raises(DeviceError, match="unknown device"):
        backend.use_device("tpu")


def test_missing_gpu_is_one_clear_error():
    try:
        import cupy  # noqa: F401
        pytest.skip("CuPy is installed here")
    except ImportError:
        pass
    from tagger_ref.errors import DeviceError
    with pytest.raises(DeviceError, match="--device gpu requested but CuPy is not installed"):
        backend.use_device("gpu")
    assert backend.device() == "cpu"


def broken_cupy():
    """A cupy whose CUDA runtime finds no device (a machine without a driver)."""
    module = fake_gpu.cupy_module()

    def no_device():
        raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected\nmore detail")
    module.cuda.runtime.getDeviceCount = no_device
    return module


@pytest.mark.parametrize("module, message", [(None, "CuPy is not installed"),
                                             (broken_cupy(), "no CUDA device found"),
                                             (fake_gpu.cupy_module(device_count=0), "no CUDA device found")])
def test_use_device_gpu_fails_in_one_line_without_a_usable_gpu(monkeypatch, module, message):
    from tagger_ref.errors import DeviceError
    monkeypatch.setitem(__import__("sys").modules, "cupy", module)
    with pytest.raises(DeviceError, match=message) as error:
        backend.use_device("gpu")
    assert "\n" not in str(error.value)
    assert backend.device() == "cpu"


def test_cli_trace_on_device_gpu_equals_cpu(monkeypatch, tmp_path):
    """The whole --device gpu path of the CLI (load_cupy, apply_device, compute_trace), with the
    stand-in answering for cupy."""
    from tagger_ref.cli import main
    monkeypatch.setitem(__import__("sys").modules, "cupy", fake_gpu.cupy_module())
    common = ["trace", "--config", "tiny-classify", "--seed", "4"]
    try:
        assert main(common + ["--out", str(tmp_path / "gpu.npz"), "--device", "gpu"]) == 0
        assert backend.device() == "gpu" and backend.array_module().ndarray is FakeGPUArray
    finally:
        backend.use_device("cpu")
    assert main(common + ["--out", str(tmp_path / "cpu.npz")]) == 0
    with numpy.load(tmp_path / "gpu.npz") as gpu, numpy.load(tmp_path / "cpu.npz") as cpu:
        assert set(gpu.files) == set(cpu.files)
        for key in cpu.files:
            numpy.testing.assert_allclose(gpu[key], cpu[key], rtol=TOL, atol=TOL, err_msg=key)


def test_inputs_made_on_the_active_device():
    config = load_config("tiny-classify")
    x = numpy.random.default_rng(5).random((config.batch_size, config.n_inputs))
    y = [[1, 2], [3, 3], [0, 9], [4, 5]]
    from tagger_ref.inputs import make_inputs
    host = make_inputs(config, x, numpy.random.default_rng(7), y=y)
    previous = (backend.device(), backend.array_module())
    backend.use_array_module("fake", fake_gpu)
    try:
        # host draws, copied over: the same inputs as on the CPU
        same = make_inputs(config, x, numpy.random.default_rng(7), y=y)
        for key in host:
            assert isinstance(same[key], FakeGPUArray), key
            numpy.testing.assert_array_equal(to_numpy(same[key]), host[key], err_msg=key)
        assert same["y"].dtype == numpy.int64
        # device draws: on the device, reproducible from the seed, different from the host's
        rng = backend.device_rng(numpy.random.default_rng(7))
        drawn = make_inputs(config, x, rng, y=y)
        again = make_inputs(config, x, backend.device_rng(numpy.random.default_rng(7)), y=y)
        for key in host:
            assert isinstance(drawn[key], FakeGPUArray), key
            numpy.testing.assert_array_equal(to_numpy(drawn[key]), to_numpy(again[key]), err_msg=key)
        assert not numpy.array_equal(to_numpy(drawn["m0_logits"]), host["m0_logits"])
        moved = backend.to_device({"W": numpy.ones((2, 2)), "y": numpy.arange(3)}, "float32")
        assert moved["W"].dtype == numpy.float32 and moved["y"].dtype == numpy.int64
        assert isinstance(moved["W"], FakeGPUArray)
    finally:
        backend.use_array_module(*previous)
    host_rng = numpy.random.default_rng(0)
    assert backend.device_rng(host_rng) is host_rng  # on the CPU, draws stay as they were


def test_trace_on_device_equals_trace_on_host():
    from tagger_ref.trace import compute_trace
    config, params, inputs = case("tiny-continuous", seed=2)
    host = compute_trace(params, config, inputs)
    previous = (backend.device(), backend.array_module())
    backend.use_array_module("fake", fake_gpu)
    try:
        device = compute_trace(params, config, inputs)
    finally:
        backend.use_array_module(*previous)
    assert set(device) == set(host)
    for key in host:
        assert type(device[key]) is numpy.ndarray and device[key].dtype == numpy.float64
        numpy.testing.assert_allclose(device[key], host[key], rtol=TOL, atol=TOL, err_msg=key)


def test_cli_device_gpu_without_cupy_fails_in_one_line(tmp_path, capsys):
    try:
        import cupy  # noqa: F401
        pytest.skip("CuPy is installed here")
    except ImportError:
        pass
    from tagger_ref.cli import main
    status = main(["trace", "--config", "tiny-binary", "--out", str(tmp_path / "t.npz"), "--device", "gpu"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("error: --device gpu requested but CuPy is not installed")
    assert not (tmp_path / "t.npz").exists()
    assert backend.device() == "cpu"


# ----- the prepared device script -----

def load_gpu_check():
    import importlib.util
    import os
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks", "gpu_check.py")
    spec = importlib.util.spec_from_file_location("gpu_check", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_check_dry_run_passes_every_check(tmp_path, capsys):
    import json
    status = load_gpu_check().main(["--dry-run", "--out", str(tmp_path / "r.json")])
    out = capsys.readouterr().out
    assert status == 0, out
    lines = out.splitlines()
    checks = {"device", "cli", "golden", "gradients", "values", "step", "epoch", "summary"}
    assert {line.split()[0] for line in lines} == checks
    assert not any(line.split()[1] == "FAIL" for line in lines)
    assert json.loads((tmp_path / "r.json").read_text())["dry_run"] is True
    assert backend.device() == "cpu"


def test_gpu_check_without_cupy_says_so_and_exits_2(capsys):
    try:
        import cupy  # noqa: F401
        pytest.skip("CuPy is installed here")
    except ImportError:
        pass
    assert load_gpu_check().main([]) == 2
    assert "CuPy is not installed" in capsys.readouterr().err


def test_gpu_check_dry_run_leaves_no_stand_in_behind():
    import sys
    before = sys.modules.get("cupy")
    load_gpu_check().main(["--dry-run", "--skip", "cli,golden,gradients,values,step,epoch"])
    assert sys.modules.get("cupy") is before
    assert backend.device() == "cpu"
