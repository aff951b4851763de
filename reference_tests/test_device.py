"""The device checks: the GPU's results against the CPU's, the CPU in float64 being the oracle.

    python -m pytest reference_tests/test_device.py --device gpu       # a machine with CuPy and a GPU
    python -m pytest reference_tests/test_device.py --device standin   # anywhere: reference_tests/fake_gpu.py
    python -m pytest reference_tests/test_device.py                    # --device none: every test skips

(``--device`` is reference_tests/conftest.py's option.) ``gpu`` runs the sizes of the paper's Shapes
model; ``standin`` puts the CuPy stand-in in the place of ``cupy`` and runs every check once on
small sizes, to check the device plumbing and these tests without a GPU (its results equal NumPy's
to the bit, so it cannot show a GPU's numerics). ``--device gpu`` without CuPy, a GPU or autograd
>= 1.9 stops the run with one line and exit status 2. benchmarks/device_run.sh runs it with
the timings (docs/gpu.md, "The device check"). The tests:

- device: arrays land on the device; the device's description (with ``-s``);
- cli: ``tagger-ref trace --device gpu`` against the CPU's; a tiny Shapes run trained with
  ``tagger-ref train --resume`` and evaluated with ``tagger-ref evaluate``, ``--device gpu
  --dtype float64``, against the CPU's checkpoint, log and table1.csv;
- golden: every golden case (shipped, the authors' traces, drawn small cases), float64 trace on
  the device against the CPU's trace and the stored one;
- gradients: device float64 gradients against finite differences of the device float64 cost;
- values: the Shapes model, one batch, cost and gradients on both derivative paths, device
  float64 against CPU float64 and device float32 against CPU float32;
- steps: training's step (``training.batch_cost_and_grad``, then ``adam_update``) on the device,
  float32 with host and device draws, float64: finite, of the right dtype, on the device;
- train: ``training.train`` itself on the device in float32.

Tolerances (docs/gpu.md, "Tolerances"): float64 |device - cpu| <= 1e-10 max|cpu| + 1e-9 |cpu| for
every element of every key; float32 3 times the CPU's own float32 error on the key, and at least
1e-3 of its scale (``compare_float32``). Times are benchmarks/step_time.py's (``--device gpu``).
"""

import contextlib
import io
import os
import platform
import shutil
import sys

import numpy
import pytest
from run_helpers import REPO

from tagger_ref.config import PRESETS, load_config
from tagger_ref.device import backend
from tagger_ref.device.backend import to_device, to_numpy
from tagger_ref.errors import DeviceError
from tagger_ref.experiments import checkpoint, training
from tagger_ref.experiments.adam import adam_init, adam_update
from tagger_ref.files.inputs import load_inputs, prepare_inputs
from tagger_ref.files.params import load_params, prepare_params
from tagger_ref.maths.gradients import cost_and_grad, step_cost
from tagger_ref.maths.init import perturb_params
from tagger_ref.maths.ops import FAST, REFERENCE
from tagger_ref.oracle.compare import compare_traces
from tagger_ref.oracle.gradcheck import check_gradient
from tagger_ref.oracle.random_case import random_case, random_params
from tagger_ref.oracle.trace import compute_trace, load_trace

# compare's float64 defaults: |device - cpu| <= 1e-10 max|cpu| + 1e-9 |cpu|
RTOL, ATOL_SCALE = 1e-9, 1e-10
# compare.FLOAT32's scale-relative tolerance: the least a float32 key is allowed
ATOL_SCALE32 = 1e-3
# float32 results may differ from the CPU's float32 by this many times the CPU's own float32 error
FLOAT32_NOISE = 3.0

# The sizes of each device: the paper's Shapes model on the GPU; every code path once, small, on
# the stand-in (golden: a shipped case, an authors' case, a drawn case).
SIZES = {
    "gpu": dict(
        shapes=None,
        batch=100,
        golden=None,
        gradient_configs=("tiny-binary", "tiny-continuous", "tiny-classify"),
        directions=1,
        steps=5,
        train_steps=100,
        valid_images=1000,
    ),
    "standin": dict(
        shapes=dict(n_inputs=20, encoder_proj=(12, 9, 7)),
        batch=10,
        golden=("binary-batch-original", "authors-continuous_public", "drawn-tiny-classify"),
        gradient_configs=("tiny-classify",),
        directions=1,
        steps=2,
        train_steps=3,
        valid_images=20,
    ),
}
SKIP_REASON = (
    "the device checks run only on a device: --device gpu (CuPy and a GPU) or --device standin "
    "(the CPU stand-in reference_tests/fake_gpu.py)"
)

# The drawn golden cases: preset and changes, after the shipped cases and the authors' traces.
DRAWN = [
    ("tiny-binary", {}),
    ("tiny-continuous", {}),
    ("tiny-classify", {}),
    ("tiny-binary", {"norm": "layer", "semantics": "paper"}),
]
ORIGINAL = os.path.join(REPO, "reference_tests", "data", "golden_original")


# ----- the device, real or stand-in -----

_ABSENT = object()


class Device:
    """Switches between the CPU and the device under test. The stand-in takes the place of
    ``cupy`` (``sys.modules``, restored by ``close``), so that both take the same path:
    ``use_device("gpu")``, ``--device gpu``. Raises DeviceError (one line) when the device is
    missing, leaving ``cupy`` and the active device as they were."""

    def __init__(self, kind):
        self.kind, self.sizes = kind, SIZES[kind]
        self.label = "stand-in" if kind == "standin" else "GPU"
        self._saved_cupy = sys.modules.get("cupy", _ABSENT)
        if kind == "standin":
            import fake_gpu

            sys.modules["cupy"] = fake_gpu.cupy_module()
        try:
            backend.use_device("gpu")  # DeviceError if autograd is too old, or CuPy or the GPU is missing
        except DeviceError:
            self.close()
            raise
        self.xp = backend.array_module()
        backend.use_device("cpu")

    def gpu(self):
        backend.use_array_module("gpu", self.xp)

    def cpu(self):
        backend.use_device("cpu")

    @contextlib.contextmanager
    def on(self):
        """``with device.on(): ...`` runs the block on the device, then returns to the CPU."""
        self.gpu()
        try:
            yield
        finally:
            self.cpu()

    def close(self):
        backend.use_device("cpu")
        if self.kind == "standin":
            if self._saved_cupy is _ABSENT:
                sys.modules.pop("cupy", None)
            else:
                sys.modules["cupy"] = self._saved_cupy

    def describe(self):
        from importlib.metadata import version

        versions = f"NumPy {numpy.__version__}, autograd {version('autograd')}, Python {platform.python_version()}"
        if self.kind == "standin":
            return f"stand-in reference_tests/fake_gpu.py (no GPU), {versions}"
        cupy = self.xp
        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        cuda = cupy.cuda.runtime.runtimeGetVersion()
        return (
            f"{name} ({props['totalGlobalMem'] / 2**30:.0f} GiB), CuPy {cupy.__version__}, CUDA runtime "
            f"{cuda // 1000}.{cuda % 1000 // 10}, {versions}"
        )


@pytest.fixture(scope="module")
def device(request):
    kind = request.config.getoption("--device")
    if kind == "none":
        pytest.skip(SKIP_REASON)
    try:
        d = Device(kind)
    except DeviceError as e:
        pytest.exit(f"--device {kind}: {e}", returncode=2)
    yield d
    d.close()


# ----- comparisons -----


def compare(reference, candidate, rtol=RTOL, atol_scale=ATOL_SCALE):
    """(ok, worst error as a fraction of its key's scale, the first failing or the worst key) with
    compare's tolerance: |candidate - reference| <= atol_scale * max|reference| + rtol * |reference|."""
    report = compare_traces(reference, candidate, rtol=rtol, atol=0.0, atol_scale=atol_scale)
    worst = report.worst("max_scaled")
    first = report.first_divergence
    bad = first.key if first is not None else (report.failures[0].key if report.failures else None)
    return report.ok, (worst.max_scaled if worst else 0.0), (bad or (worst.key if worst else ""))


def assert_float64_close(reference, candidate, what):
    ok, worst, key = compare(reference, candidate)
    assert ok, (
        f"{what}: {worst:.1e} of key scale at worst, key {key} (tolerance {ATOL_SCALE:g} of scale + {RTOL:g} rel.)"
    )


def compare_float32(cpu64, cpu32, dev32):
    """(ok, worst |dev32 - cpu32| as a fraction of the key's scale, its key, the CPU's float32 error
    there as a fraction of the scale).

    A float32 result is as good as its rounding: where a key sums many cancelling terms (a bias
    gradient under batch norm sums 400 rows), float32 already departs from float64 by several
    1e-3 of the key's scale, and a device that adds in another order departs as far again. So
    each key's tolerance is FLOAT32_NOISE times the CPU's float32 error on it (max|cpu32 - cpu64|
    over its scale), and at least compare.FLOAT32's 1e-3 of the scale; a wrong derivative or a
    host copy gone astray is off by far more than either.
    """
    ok, worst, worst_key, worst_noise = True, 0.0, "", 0.0
    for key, ref in cpu64.items():
        ref = numpy.asarray(ref, dtype="float64")
        if key not in dev32 or numpy.shape(dev32[key]) != ref.shape:
            return False, float("inf"), key, 0.0
        scale = float(numpy.max(numpy.abs(ref), initial=0.0)) or 1.0
        noise = float(numpy.max(numpy.abs(numpy.asarray(cpu32[key], dtype="float64") - ref), initial=0.0)) / scale
        error = numpy.abs(numpy.asarray(dev32[key], dtype="float64") - numpy.asarray(cpu32[key], dtype="float64"))
        scaled = float(numpy.max(error, initial=0.0)) / scale
        if not scaled <= max(FLOAT32_NOISE * noise, ATOL_SCALE32):  # NaN fails too
            ok = False
        if not scaled <= worst:
            worst, worst_key, worst_noise = scaled, key, noise
    return ok, worst, worst_key, worst_noise


# ----- the cases, by name (cheap to list: --device none collects them too) -----


def golden_names():
    from tagger_ref.oracle.golden import list_cases

    names = list(list_cases())
    if os.path.isdir(ORIGINAL):
        names += [
            f"authors-{n}"
            for n in sorted(os.listdir(ORIGINAL))
            if os.path.isfile(os.path.join(ORIGINAL, n, "trace.npz"))
        ]
    return names + [drawn_name(preset, changes) for preset, changes in DRAWN]


def drawn_name(preset, changes):
    return "drawn-" + preset + "".join(f"-{v}" for v in changes.values())


def load_golden(name):
    """(config, params, inputs, stored trace or None) of a golden case named by ``golden_names``."""
    from tagger_ref.oracle.golden import load_case

    if name.startswith("authors-"):
        d = os.path.join(ORIGINAL, name[len("authors-") :])
        config = load_config(os.path.join(d, "config.json"))
        return (
            config,
            load_params(os.path.join(d, "params.npz"), config),
            load_inputs(os.path.join(d, "inputs.npz"), config),
            load_trace(os.path.join(d, "trace.npz")),
        )
    for preset, changes in DRAWN:
        if name == drawn_name(preset, changes):
            config = PRESETS[preset].replace(**changes)
            params, inputs = random_case(config, seed=11)
            return config, prepare_params(params, config), prepare_inputs(inputs, config), None
    return load_case(name)


def pytest_generate_tests(metafunc):
    """The golden cases and gradient configurations of the chosen device (all of them with none)."""
    kind = metafunc.config.getoption("--device")
    sizes = SIZES.get(kind, SIZES["gpu"])
    if "golden_name" in metafunc.fixturenames:
        metafunc.parametrize(
            "golden_name", [n for n in golden_names() if sizes["golden"] is None or n in sizes["golden"]]
        )
    if "gradient_config" in metafunc.fixturenames:
        metafunc.parametrize("gradient_config", sizes["gradient_configs"])


def shapes_config(device, dtype):
    """The paper's Shapes model with the device's batch (a small model of the same kind on the stand-in)."""
    sizes = device.sizes
    return PRESETS["shapes"].replace(batch_size=sizes["batch"], dtype=dtype, **(sizes["shapes"] or {}))


# ----- device -----


def test_device_holds_the_arrays(device):
    with device.on():
        assert backend.device() == "gpu"
        a = backend.asarray(numpy.arange(3.0))
        assert not isinstance(a, numpy.ndarray) and isinstance(a, device.xp.ndarray)
        assert numpy.array_equal(to_numpy(a * 2.0), [0.0, 2.0, 4.0])
    assert backend.device() == "cpu"
    print(f"\ndevice: {device.describe()}; {os.cpu_count()} CPU cores")


# ----- the command line -----


def _quiet():
    """Silence the commands' own output (their exit status is what is checked)."""
    stack = contextlib.ExitStack()
    stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
    stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
    return stack


def test_cli_trace(device, tmp_path):
    """tagger-ref trace --device gpu (float64) against the same command on the CPU."""
    from tagger_ref.commands.cli import main as cli

    common = ["trace", "--config", "tiny-classify", "--seed", "4"]
    try:
        with _quiet():
            status_gpu = cli(common + ["--out", str(tmp_path / "gpu.npz"), "--device", "gpu"])
            device.cpu()
            status_cpu = cli(common + ["--out", str(tmp_path / "cpu.npz")])
    finally:
        device.cpu()
    assert (status_gpu, status_cpu) == (0, 0), "tagger-ref trace exit statuses, with --device gpu and without"
    assert_float64_close(
        load_trace(str(tmp_path / "cpu.npz")),
        load_trace(str(tmp_path / "gpu.npz")),
        f"tagger-ref trace --device gpu ({device.label}) vs the CPU's",
    )


# A tiny Shapes model with the paper's batch norm: K=3, T=2, Ladder (8, 6, 4), 20 images in 2 steps.
TINY_SHAPES = dict(
    n_groups=3, n_iterations=2, encoder_proj=(8, 6, 4), batch_size=10, num_epochs=1, seed=0, dtype="float64"
)


def tiny_training_case(folder):
    """A tiny Shapes file and a step-0 checkpoint whose parameters are the initial ones perturbed.

    Why perturbed: at the exact initial values several combinator coefficients (a1, a3, a5 of the
    lower layers) have a true gradient of zero under batch norm, so what is computed for them is
    rounding noise (~1e-13) that Adam's eps (1e-8) turns into steps of ~1e-8 depending on the order
    of summation: a comparison of such runs fails on a correct device. Returns (data, checkpoint).
    """
    from tagger_ref.commands.cli import main as cli

    config = PRESETS["shapes"].replace(**TINY_SHAPES)
    data, start = os.path.join(folder, "tiny-shapes.npz"), os.path.join(folder, "start.npz")
    with _quiet():
        status = cli(
            ["data", "shapes", "--out", data, "--train", "20", "--valid", "10", "--test", "10", "--single", "0"]
        )
    assert status == 0, f"tagger-ref data shapes exited {status}"
    features = training.load_split(data, "train", config).features
    state = training.new_state(config)
    state.params = perturb_params(state.params, numpy.random.default_rng(1))
    state.opt_state = adam_init(state.params)
    checkpoint.save_checkpoint(start, state, config, checkpoint.data_identity(features))
    return data, start


def train_and_evaluate(run, data, start, device):
    """`tagger-ref train --resume` from the checkpoint ``start`` and `tagger-ref evaluate`, on ``device``
    ("cpu" or "gpu") in float64. Returns what must agree across devices (parameters, Adam's moments,
    the log but its clocks, Table 1) as a dict of arrays, or a string saying which command failed."""
    from tagger_ref.commands.cli import main as cli

    os.makedirs(run)
    shutil.copy(start, os.path.join(run, training.CHECKPOINT))
    flags = ["--device", device, "--dtype", "float64"]
    try:
        with _quiet():
            status = cli(["train", "--resume", "--data", data, "--out", run, "--no-progress", *flags])
            if status:
                return f"tagger-ref train exited {status}"
            status = cli(["evaluate", run, "--data", data, "--iterations", "2", *flags])
            if status:
                return f"tagger-ref evaluate exited {status}"
    finally:
        backend.use_device("cpu")
    with numpy.load(os.path.join(run, training.CHECKPOINT)) as f:
        arrays = {
            k: f[k] for k in f.files if k.startswith(("param/", "adam/m/", "adam/v/", "log/")) and "seconds" not in k
        }
    arrays["table1"] = numpy.loadtxt(os.path.join(run, "table1.csv"), delimiter=",", skiprows=1)
    return arrays


def test_cli_train_and_evaluate(device, tmp_path):
    """tagger-ref train --resume + evaluate --device gpu (float64, perturbed start) against the CPU's."""
    data, start = tiny_training_case(str(tmp_path))
    runs = {where: train_and_evaluate(str(tmp_path / where), data, start, where) for where in ("gpu", "cpu")}
    failed = [f"{where}: {run}" for where, run in runs.items() if isinstance(run, str)]
    assert not failed, "; ".join(failed)
    assert_float64_close(runs["cpu"], runs["gpu"], f"train --resume + evaluate on the {device.label} vs the CPU")


# ----- golden cases -----


def test_golden(device, golden_name):
    """A golden case traced on the device in float64 against the CPU's trace (and the stored one)."""
    config, params, inputs, stored = load_golden(golden_name)
    config = config.replace(dtype="float64")
    cpu = compute_trace(params, config, inputs)
    with device.on():
        dev = compute_trace(params, config, inputs)
    assert_float64_close(cpu, dev, f"{golden_name}: {device.label} float64 trace vs CPU")
    if stored is not None:
        assert_float64_close(stored, dev, f"{golden_name}: {device.label} float64 trace vs the stored trace")


# ----- gradients by finite differences on the device -----


def test_gradients(device, gradient_config):
    """Device float64 gradients against finite differences of the device float64 cost."""
    config = PRESETS[gradient_config]
    params, inputs = random_case(config, seed=5)
    params, inputs = prepare_params(params, config), prepare_inputs(inputs, config)
    with device.on():
        dev_inputs = to_device(inputs, "float64")
        _, grads = cost_and_grad(to_device(params, "float64"), config, dev_inputs)
        grads = {k: to_numpy(v) for k, v in grads.items()}

        def cost64(p):
            return float(to_numpy(step_cost(to_device(p, "float64"), config, dev_inputs)))

        checks = check_gradient(
            cost64, params, grads, numpy.random.default_rng(0), directions=device.sizes["directions"]
        )
    failed = [c for c in checks if c.status == "FAIL"]
    assert not failed, "; ".join(
        f"{c.name}: {c.analytic:.6g} vs {c.numeric:.6g} (rel. error {c.rel_error:.1e})" for c in failed[:5]
    )


# ----- the Shapes model: one batch, then training's step, then training -----


def shapes_values(device, where, path, dtype):
    """Cost and gradients of one batch of the Shapes model on ``where`` ("cpu" or "gpu"), as host arrays."""
    config = shapes_config(device, "float64")
    params, inputs = random_case(config, seed=1)
    params, inputs = prepare_params(params, config), prepare_inputs(inputs, config)
    with device.on() if where == "gpu" else contextlib.nullcontext():
        cost, grads = cost_and_grad(
            to_device(params, dtype),
            config.replace(dtype=dtype),
            to_device(inputs, dtype),
            ops=FAST if path == "fast" else REFERENCE,
        )
        return dict({f"grad_{k}": to_numpy(v) for k, v in grads.items()}, total_cost=to_numpy(cost))


@pytest.mark.parametrize("path", ["reference", "fast"])
def test_values_float64(device, path):
    """One batch of the Shapes model: device float64 cost and gradients against the CPU's."""
    cpu, dev = shapes_values(device, "cpu", path, "float64"), shapes_values(device, "gpu", path, "float64")
    wrong = sorted(k for k, v in dev.items() if v.dtype != numpy.float64)
    assert not wrong, f"not float64: {', '.join(wrong)}"
    assert_float64_close(cpu, dev, f"Shapes model, {path} path: {device.label} float64 vs CPU float64")


@pytest.mark.parametrize("path", ["reference", "fast"])
def test_values_float32(device, path):
    """One batch of the Shapes model: device float32 against CPU float32, key by key within
    FLOAT32_NOISE times the CPU's own float32 error (against CPU float64), at least 1e-3 of the scale."""
    cpu64, cpu32 = shapes_values(device, "cpu", path, "float64"), shapes_values(device, "cpu", path, "float32")
    dev32 = shapes_values(device, "gpu", path, "float32")
    wrong = sorted(k for k, v in dev32.items() if v.dtype != numpy.float32)
    assert not wrong, f"not float32: {', '.join(wrong)}"
    ok, worst, key, noise = compare_float32(cpu64, cpu32, dev32)
    share = f" ({worst / noise:.2f} times the CPU float32's own error there)" if worst and noise else ""
    assert ok, (
        f"Shapes model, {path} path: {device.label} float32 vs CPU float32: {worst:.1e} of key scale at "
        f"worst ({key}){share}; tolerance max({FLOAT32_NOISE:g} x that error, {ATOL_SCALE32:g} of scale)"
    )


def binary_images(n, config, rng):
    """n images of Shapes' size on the host, pixels on with probability z_init (0.26, Shapes' mean)."""
    return (rng.random((n, config.n_inputs)) < config.z_init).astype(config.dtype)


@pytest.mark.parametrize("dtype, draws", [("float32", "host"), ("float32", "device"), ("float64", "host")])
def test_training_steps(device, dtype, draws):
    """Training's step on the device: ``batch_cost_and_grad`` (host draws copied over, as training
    does, or device draws, the Python API's way), then Adam. Every cost finite, the gradients and
    the new parameters in ``dtype`` and on the device."""
    config = shapes_config(device, dtype)
    B, rng = config.batch_size, numpy.random.default_rng(3)
    data = binary_images(2 * B, config, rng)
    with device.on():
        params = to_device(random_params(config, numpy.random.default_rng(0)), dtype)
        adam = adam_init(params)  # zeros like the parameters: on their device
        if draws == "device":
            data, rng = backend.asarray(data), backend.device_rng(rng)
        for i in range(device.sizes["steps"]):
            x = data[(i % 2) * B : (i % 2 + 1) * B]
            cost, grads = training.batch_cost_and_grad(params, config, x, rng)
            params, adam = adam_update(params, grads, adam, config.lr)
            cost = float(to_numpy(cost))
            assert numpy.isfinite(cost), f"step {i}: cost {cost}"
        for what, arrays in (("gradient", grads), ("parameter", params), ("Adam's m", adam["m"])):
            off = sorted(k for k, v in arrays.items() if not isinstance(v, device.xp.ndarray) or v.dtype != dtype)
            assert not off, f"{what}s not {dtype} arrays of the {device.label}: {', '.join(off)}"


def test_train(device, tmp_path):
    """training.train itself on the device in float32 (host draws, the finiteness check, the
    logged cost, validation, the checkpoint): all its steps, a finite cost."""
    sizes = device.sizes
    n = sizes["train_steps"]
    config = shapes_config(device, "float32").replace(num_epochs=1, seed=0)
    rng = numpy.random.default_rng(5)
    train_x = binary_images(n * config.batch_size, config, rng)
    valid_x = binary_images(sizes["valid_images"], config, rng)
    with device.on():
        result = training.train(config, train_x, valid_x, str(tmp_path))
    log = training.load_checkpoint(str(tmp_path / training.CHECKPOINT))[0].log
    assert result["step"] == n
    assert log["train_cost"] and numpy.isfinite(log["train_cost"][-1]), log["train_cost"]
