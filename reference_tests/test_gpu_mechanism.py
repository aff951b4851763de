"""The GPU mechanism (tagger_ref.device.gpu) checked on the CPU through a CuPy stand-in.

FakeGPUArray (reference_tests/fake_gpu.py) is registered exactly as cupy.ndarray is, and refuses what CuPy
refuses (implicit host copies, NumPy arrays mixed in, ufunc methods, object views, reshape with
order=None). The model's forward pass and every gradient, for every configuration and on both
derivative paths (reference and fast), run on it and must (a) stay on the device: every result is
a FakeGPUArray, nothing fell back to NumPy, and (b) equal plain NumPy.
The stand-in computes with NumPy, so in float64 (b) holds to the last bit; the tolerance is 1e-12.
In float32 the device rule for the gradient of a mean divides by a Python int and stays float32,
where autograd's NumPy rule divides by a NumPy int64 and (NEP 50) computes that part in float64;
so float32 results agree to float32 rounding, not to the bit.
"""

import fake_gpu
import numpy
import pytest
from autograd import grad
from conftest import case

from tagger_ref.config import load_config
from tagger_ref.device import backend
from tagger_ref.device.backend import np, to_numpy
from tagger_ref.maths.gradients import cost_and_grad
from tagger_ref.maths.model import forward
from tagger_ref.maths.ops import FAST, REFERENCE

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


# Every configuration the model has (input type x semantics x norm, classification, float32), so
# that every gradient rule either derivative path needs runs on the device.
GRID = [
    (name, {"semantics": semantics, "norm": norm})
    for name, all_semantics in (
        ("tiny-binary", ("original", "paper")),
        ("tiny-continuous", ("original", "paper", "paper-eq29")),
    )
    for semantics in all_semantics
    for norm in ("batch", "layer")
]
GRID += [
    ("tiny-classify", {}),
    ("tiny-classify", {"semantics": "paper", "norm": "layer"}),
    ("tiny-binary", {"dtype": "float32"}),
    ("tiny-continuous", {"semantics": "paper-eq29", "dtype": "float32"}),
]
GRID_IDS = ["-".join([n, *c.values()]) for n, c in GRID]


@pytest.mark.parametrize("path", ["reference", "fast"])
@pytest.mark.parametrize("name, changes", GRID, ids=GRID_IDS)
def test_gradients_on_device_equal_numpy(name, changes, path):
    """cost_and_grad on the device equals NumPy's, on the reference path (autograd through the
    formulas: trace, gradcheck) and on the fast path (the hand-written derivatives: training)."""
    config, params, inputs = case(name, seed=3, **changes)
    ops = FAST if path == "fast" else REFERENCE
    host_cost, host_grads = cost_and_grad(params, config, inputs, ops=ops)
    dev_cost, dev_grads = cost_and_grad(on_fake(params), config, on_fake(inputs), ops=ops)
    float32 = config.dtype == "float32"
    assert_same(dev_cost, host_cost, "total_cost", float32)
    assert set(dev_grads) == set(host_grads)
    for key in host_grads:
        assert_same(dev_grads[key], host_grads[key], f"grad_{key}", float32)
        assert dev_grads[key].dtype == numpy.dtype(config.dtype), key


VARIANTS = [
    ("tiny-binary", {}),
    ("tiny-continuous", {"semantics": "paper"}),
    ("tiny-classify", {}),
    ("tiny-binary", {"norm": "layer", "semantics": "paper"}),
    ("tiny-continuous", {"semantics": "paper-eq29", "dtype": "float32"}),
]


@pytest.mark.parametrize("name, changes", VARIANTS, ids=["-".join([n, *c.values()]) for n, c in VARIANTS])
def test_forward_on_device_equals_numpy(name, changes):
    config, params, inputs = case(name, seed=3, **changes)
    host = forward(params, config, inputs)
    dev = forward(on_fake(params), config, on_fake(inputs))
    assert set(dev) == set(host)
    for key in host:
        assert_same(dev[key], host[key], key, config.dtype == "float32")


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
    "power-scalar": lambda a: a**3,
    "power-zero": lambda a: a**0 + a,
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
    f = lambda a, e: np.sum(a**e)  # noqa: E731
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
        numpy.asarray(d)  # no implicit device-to-host copy
    with pytest.raises(TypeError):
        d + A  # no mixing with host arrays
    with pytest.raises(TypeError):
        d * numpy.array(2.0)  # not even 0-d ones
    with pytest.raises(TypeError):
        numpy.concatenate([d, A])
    with pytest.raises(TypeError):
        numpy.add.at(d, (slice(None),), d)  # ufunc methods are not handled
    with pytest.raises(TypeError):
        d.view(numpy.ndarray)  # what autograd's concatenate does
    with pytest.raises(TypeError):
        numpy.reshape(d, (60,), order=None)  # what autograd's reshape gradient does
    assert isinstance(d * numpy.float64(2.0) + 1, FakeGPUArray)  # scalars are fine
    assert isinstance(numpy.sum(d), FakeGPUArray) and numpy.sum(d).shape == ()
    assert isinstance(numpy.asarray(A, like=d), FakeGPUArray)  # the explicit transfer


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


@pytest.mark.parametrize("version, lacking", [("1.8.0", None), ("1.6", None), ("1.9.1", "_primitive_mean")])
def test_too_old_autograd_is_one_line_before_anything_changes(monkeypatch, version, lacking):
    """autograd before 1.9 lacks _primitive_mean and ArrayBox.__array_ufunc__: use_device("gpu")
    and register_array_type refuse it in one line before touching autograd or asking CuPy anything."""
    import sys

    from autograd.core import primitive_vjps
    from autograd.extend import VSpace
    from autograd.tracer import Box

    from tagger_ref.device import gpu
    from tagger_ref.errors import DeviceError

    monkeypatch.setattr(gpu, "_autograd_version", lambda: version)
    if lacking:
        monkeypatch.delattr(gpu.anp, lacking)
    module, asked = fake_gpu.cupy_module(), []
    module.cuda.runtime.getDeviceCount = lambda: asked.append(1) or 1
    monkeypatch.setitem(sys.modules, "cupy", module)

    class Other(FakeGPUArray):
        pass

    rules = dict(primitive_vjps)
    with pytest.raises(DeviceError) as error:
        backend.use_device("gpu")
    with pytest.raises(DeviceError):
        gpu.register_array_type(Other, fake_gpu)
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"--device gpu needs autograd >= 1.9, but autograd {version} ")
    assert (f"lacks {lacking}" in message) == bool(lacking)
    assert asked == [] and backend.device() == "cpu"
    assert dict(primitive_vjps) == rules
    assert Other not in gpu._MODULES and Other not in Box.type_mappings and Other not in VSpace.mappings


def test_cli_device_gpu_with_too_old_autograd_fails_in_one_line(monkeypatch, tmp_path, capsys):
    import sys

    from tagger_ref.commands.cli import main
    from tagger_ref.device import gpu

    monkeypatch.setattr(gpu, "_autograd_version", lambda: "1.7.0")
    monkeypatch.setitem(sys.modules, "cupy", fake_gpu.cupy_module())
    status = main(["trace", "--config", "tiny-binary", "--out", str(tmp_path / "t.npz"), "--device", "gpu"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("error: --device gpu needs autograd >= 1.9, but autograd 1.7.0")
    assert not (tmp_path / "t.npz").exists() and backend.device() == "cpu"


def test_autograd_versions_are_read_by_major_and_minor():
    from tagger_ref.device.gpu import AUTOGRAD_MIN, _version_tuple

    assert [_version_tuple(v) for v in ("1.9.0", "1.9", "1.10.2", "2.0rc1", "1.8.0.post1", "x")] == [
        (1, 9),
        (1, 9),
        (1, 10),
        (2, 0),
        (1, 8),
        (0, 0),
    ]
    assert _version_tuple("1.10.0") >= AUTOGRAD_MIN > _version_tuple("1.8.0")


def broken_cupy():
    """A cupy whose CUDA runtime finds no device (a machine without a driver)."""
    module = fake_gpu.cupy_module()

    def no_device():
        raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected\nmore detail")

    module.cuda.runtime.getDeviceCount = no_device
    return module


@pytest.mark.parametrize(
    "module, message",
    [
        (None, "CuPy is not installed"),
        (broken_cupy(), "no CUDA device found"),
        (fake_gpu.cupy_module(device_count=0), "no CUDA device found"),
    ],
)
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
    from tagger_ref.commands.cli import main

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
    from tagger_ref.maths.corruption import make_inputs

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
    from tagger_ref.oracle.trace import compute_trace

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
    from tagger_ref.commands.cli import main

    status = main(["trace", "--config", "tiny-binary", "--out", str(tmp_path / "t.npz"), "--device", "gpu"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("error: --device gpu requested but CuPy is not installed")
    assert not (tmp_path / "t.npz").exists()
    assert backend.device() == "cpu"
