"""The device check of tagger_ref's GPU path: correctness against the CPU, then speed.

    python benchmarks/gpu_check.py [--out results.json] [--budget 270]   # on a machine with CuPy and a GPU
    python benchmarks/gpu_check.py --dry-run                             # anywhere: the plumbing, on a stand-in

Checks, in this order, one result line each (status ok / FAIL / info) on standard output;
progress, with the seconds elapsed, on standard error:

  device     what runs: GPU, CuPy, CUDA, NumPy, autograd versions, CPU cores
  cli        tagger-ref trace --device gpu against the same command on the CPU; then a tiny Shapes
             run (batch norm, 2 steps from perturbed initial parameters, the same host draws)
             trained with tagger-ref train --resume and evaluated with tagger-ref evaluate,
             --device gpu --dtype float64 against the CPU: checkpoint, log and table1.csv
  golden     every golden case (shipped ones, the authors' traces, and drawn small cases) traced
             on the GPU in float64 against the CPU trace (and the stored trace where there is one)
  gradients  GPU float64 gradients against finite differences of the GPU float64 cost
  values     the paper's Shapes model, one batch, cost and gradients on both derivative paths
             (reference and fast): GPU float64 against CPU float64, GPU float32 against CPU float32
  step       the step loop of training (host or device draws, cost and gradients on the fast path,
             Adam) on the Shapes model (B=100, K=4, T=3, Ladder 2000-1000-500), GPU float32 and
             float64
  train      training.train itself on the GPU in float32 for a few hundred steps on data of
             Shapes' size (all that training does: host draws, the finiteness check, the logged
             cost, validation, the checkpoint), and the epoch and 100-epoch times derived from it
  cpu        the same step loop on the CPU in float64 and float32, for the speed-ups
  epoch      the epoch and 100-epoch figures side by side

float64 comparisons use compare's tolerance |device - cpu| <= 1e-10 max|cpu| + 1e-9 |cpu| for every
element of every key; float32 ones allow each key 3 times the CPU's own float32 error on it, and at
least compare.FLOAT32's 1e-3 of its scale (``compare_float32``; docs/gpu.md, "Tolerances").

The whole run is sized for 5 minutes on a fresh GPU machine (CuPy compiles every kernel the first
time it runs): ``--budget`` seconds (default 270) bound it, the correctness checks come first,
the timed loops take as many steps as the budget leaves (a loop that no longer fits is skipped
with an info line), and the CPU loops come last. ``--out`` is rewritten after every line, so a
run that is cut short still leaves what it measured.

Exit status: 0 all checks passed, 1 a check failed, 2 a dependency, CuPy or the GPU is missing
(one line says which).

--dry-run puts the tests' stand-in reference_tests/fake_gpu.py (a NumPy-backed stand-in that
refuses what CuPy refuses) in the place of cupy and runs everything with small sizes, to check this
script and the device plumbing without a GPU; its times mean nothing.
"""
import argparse
import contextlib
import importlib.util
import io
import os
import platform
import shutil
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isfile(os.path.join(REPO, "tagger_ref", "__init__.py")):
    sys.path.insert(0, REPO)  # run from a checkout: check this checkout's code, installed or not

# What the package needs (setup.cfg's install_requires): module -> pip package.
DEPENDENCIES = {"numpy": "numpy", "autograd": "autograd", "scipy": "scipy", "sklearn": "scikit-learn",
                "matplotlib": "matplotlib", "tqdm": "tqdm", "threadpoolctl": "threadpoolctl",
                "tagger_ref": "tagger-ref"}


def missing_dependencies():
    """The pip packages among DEPENDENCIES that cannot be found (without importing them)."""
    missing = []
    for module, package in DEPENDENCIES.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(package)
    return missing


MISSING = missing_dependencies()
if not MISSING:
    try:
        import numpy
        from tagger_ref.device import backend
        from tagger_ref.experiments import training
        from tagger_ref.experiments.adam import adam_init, adam_update
        from tagger_ref.device.backend import to_device, to_numpy
        from tagger_ref.oracle.compare import compare_traces
        from tagger_ref.config import PRESETS, load_config
        from tagger_ref.errors import DeviceError
        from tagger_ref.files.fileio import write_json
        from tagger_ref.oracle.gradcheck import check_gradient
        from tagger_ref.files.inputs import load_inputs, make_inputs, prepare_inputs
        from tagger_ref.maths.ops import FAST, REFERENCE
        from tagger_ref.maths.gradients import cost_and_grad
        from tagger_ref.maths.model import total_cost
        from tagger_ref.files.params import load_params, perturb_params, prepare_params
        from tagger_ref.oracle.random_case import random_case, random_params
        from tagger_ref.oracle.trace import compute_trace, load_trace
    except ImportError as e:  # found but broken (e.g. built for another NumPy)
        MISSING = [f"{e.name or 'a module'} ({str(e).splitlines()[0] if str(e) else type(e).__name__})"]

# compare's float64 defaults: |gpu - cpu| <= 1e-10 max|cpu| + 1e-9 |cpu|
RTOL, ATOL_SCALE = 1e-9, 1e-10
# compare.FLOAT32's scale-relative tolerance: the least a float32 key is allowed
ATOL_SCALE32 = 1e-3

SHAPES_EPOCH_STEPS = 500        # 50,000 training images in batches of 100
SHAPES_VALID_IMAGES = 10_000    # the validation split that training evaluates after every epoch

FULL = dict(step_config="shapes", batch=100, golden=None, gradient_configs=("tiny-binary", "tiny-continuous",
            "tiny-classify"), directions=1, warmup=3, gpu_steps=20, train_steps=(100, 300), valid_images=1000,
            cpu_steps=3, budget=270.0)
# the dry run: every code path once, on small sizes (golden: a shipped case, an authors' case, a drawn case)
DRY = dict(step_config=None, batch=10, golden=("binary-batch-original", "authors-continuous_public",
           "drawn-tiny-classify"), gradient_configs=("tiny-classify",), directions=1, warmup=1, gpu_steps=1,
           train_steps=(2, 3), valid_images=20, cpu_steps=1, budget=3600.0)


# ----- the device, real or stand-in -----

_ABSENT = object()


def _stand_in():
    """The tests' CuPy stand-in (a checkout's reference_tests/fake_gpu.py): for --dry-run only."""
    sys.path.insert(0, os.path.join(REPO, "reference_tests"))
    try:
        import fake_gpu
    except ImportError:
        raise DeviceError("--dry-run needs the test stand-in reference_tests/fake_gpu.py of a checkout") from None
    return fake_gpu


class Device:
    """Switches between the CPU and the device under test. The dry run puts the stand-in in the
    place of ``cupy`` (``sys.modules``, restored by ``close``), so that both runs take the same
    path: ``use_device("gpu")``, ``--device gpu``."""

    def __init__(self, dry_run):
        self.dry_run = dry_run
        self.label = "stand-in" if dry_run else "GPU"
        self._saved_cupy = sys.modules.get("cupy", _ABSENT)
        if dry_run:
            sys.modules["cupy"] = _stand_in().cupy_module()
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

    def close(self):
        backend.use_device("cpu")
        if self.dry_run:
            if self._saved_cupy is _ABSENT:
                sys.modules.pop("cupy", None)
            else:
                sys.modules["cupy"] = self._saved_cupy

    def describe(self):
        from importlib.metadata import version
        versions = f"NumPy {numpy.__version__}, autograd {version('autograd')}, Python {platform.python_version()}"
        cpu = f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()})"
        if self.dry_run:
            return f"stand-in reference_tests/fake_gpu.py (no GPU; times are meaningless), {versions}, {cpu}"
        cupy = self.xp
        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        mem = props["totalGlobalMem"] / 2 ** 30
        cuda = cupy.cuda.runtime.runtimeGetVersion()
        return (f"{name} ({mem:.0f} GiB), CuPy {cupy.__version__}, CUDA runtime {cuda // 1000}.{cuda % 1000 // 10}, "
                f"{versions}, {cpu}")


# ----- reporting -----

class Results:
    """Result lines on standard output, progress on standard error, and the JSON file rewritten
    after every line (so that a run cut short leaves what it measured)."""

    def __init__(self, out=None, dry_run=False, budget=None):
        self.out, self.dry_run, self.budget = out, dry_run, budget
        self.start = time.perf_counter()
        self.lines, self.passed, self.failed, self.data = [], 0, 0, {}
        self.running, self.complete = None, False

    def elapsed(self):
        return time.perf_counter() - self.start

    def left(self):
        return self.budget - self.elapsed()

    def progress(self, check, text):
        self.running = check
        print(f"gpu_check [{self.elapsed():5.0f} s] {check}: {text}", file=sys.stderr, flush=True)
        self.write()

    def report(self, check, ok, text, count=True, **data):
        """One result line; ok is True, False, or None for a line of information; ``count`` False
        for a line that is not a check of its own (the summary)."""
        status = "info" if ok is None else ("ok" if ok else "FAIL")
        self.passed += count and ok is True
        self.failed += count and ok is False
        line = f"{check:<10} {status:<4}  {text}"
        self.lines.append(line)
        print(line, flush=True)
        self.data.setdefault(check, []).append(dict(data, text=text, status=status,
                                                    at_seconds=round(self.elapsed(), 1)))
        self.write()

    def write(self):
        if self.out:
            write_json(self.out, {"dry_run": self.dry_run, "complete": self.complete, "running": self.running,
                                  "elapsed_seconds": round(self.elapsed(), 1), "budget_seconds": self.budget,
                                  "passed": self.passed, "failed": self.failed, "lines": self.lines,
                                  "checks": self.data})


def compare(reference, candidate, rtol=RTOL, atol_scale=ATOL_SCALE):
    """(ok, worst error as a fraction of its key's scale, the first failing or the worst key) with
    compare's tolerance: |candidate - reference| <= atol_scale * max|reference| + rtol * |reference|."""
    report = compare_traces(reference, candidate, rtol=rtol, atol=0.0, atol_scale=atol_scale)
    worst = report.worst("max_scaled")
    first = report.first_divergence
    bad = first.key if first is not None else (report.failures[0].key if report.failures else None)
    return report.ok, (worst.max_scaled if worst else 0.0), (bad or (worst.key if worst else ""))


def _worst(worst, key):
    return "identical" if worst == 0 else f"{worst:.1e} of key scale at worst ({key})"


# ----- golden cases -----

def golden_cases():
    """(name, config, params, inputs, stored trace or None): shipped cases, the authors' traces in
    reference_tests/data, and drawn small cases (always, so that the check never runs empty)."""
    cases = []
    from tagger_ref.oracle.golden import list_cases, load_case
    for name in list_cases():
        config, params, inputs, trace = load_case(name)
        cases.append((name, config, params, inputs, trace))
    original = os.path.join(REPO, "reference_tests", "data", "golden_original")
    if os.path.isdir(original):
        for name in sorted(os.listdir(original)):
            d = os.path.join(original, name)
            if os.path.isfile(os.path.join(d, "trace.npz")):
                config = load_config(os.path.join(d, "config.json"))
                params = load_params(os.path.join(d, "params.npz"), config)
                inputs = load_inputs(os.path.join(d, "inputs.npz"), config)
                cases.append((f"authors-{name}", config, params, inputs, load_trace(os.path.join(d, "trace.npz"))))
    for name, changes in [("tiny-binary", {}), ("tiny-continuous", {}), ("tiny-classify", {}),
                          ("tiny-binary", {"norm": "layer", "semantics": "paper"})]:
        config = PRESETS[name].replace(**changes)
        params, inputs = random_case(config, seed=11)
        label = "drawn-" + name + "".join(f"-{v}" for v in changes.values())
        cases.append((label, config, prepare_params(params, config), prepare_inputs(inputs, config), None))
    return cases


def check_golden(device, results, sizes):
    cases = [c for c in golden_cases() if sizes["golden"] is None or c[0] in sizes["golden"]]
    results.progress("golden", f"{len(cases)} cases, float64 traces on the {device.label} and the CPU")
    for name, config, params, inputs, stored in cases:
        config = config.replace(dtype="float64")
        device.cpu()
        cpu = compute_trace(params, config, inputs)
        device.gpu()
        start = time.perf_counter()
        gpu = compute_trace(params, config, inputs)
        seconds = time.perf_counter() - start
        device.cpu()
        ok, worst, key = compare(cpu, gpu)
        text = f"{name}: {device.label} float64 trace vs CPU: {_worst(worst, key)}"
        if stored is not None:
            ok_stored, worst_stored, key_stored = compare(stored, gpu)
            ok = ok and ok_stored
            text += f"; vs stored trace: {_worst(worst_stored, key_stored)}"
        results.report("golden", ok, text + f"; {len(gpu)} keys, {seconds:.2f} s", case=name, worst=worst)


# ----- gradients by finite differences on the GPU -----

def check_gradients(device, results, sizes):
    results.progress("gradients", f"finite differences on the {device.label}: {', '.join(sizes['gradient_configs'])}")
    for name in sizes["gradient_configs"]:
        config = PRESETS[name]
        params, inputs = random_case(config, seed=5)
        params, inputs = prepare_params(params, config), prepare_inputs(inputs, config)
        device.gpu()
        dev_inputs = to_device(inputs, "float64")
        _, grads = cost_and_grad(to_device(params, "float64"), config, dev_inputs)
        grads = {k: to_numpy(v) for k, v in grads.items()}

        def cost64(p):
            return float(to_numpy(total_cost(to_device(p, "float64"), config, dev_inputs)))

        checks = check_gradient(cost64, params, grads, numpy.random.default_rng(0), directions=sizes["directions"])
        device.cpu()
        failed = [c for c in checks if c.status == "FAIL"]
        worst = max(checks, key=lambda c: c.rel_error)
        results.report("gradients", not failed,
                       f"{name}: {len(checks)} directional derivatives on the {device.label} (float64) "
                       "vs finite differences: "
                       f"worst rel. error {worst.rel_error:.1e} ({worst.name}), {len(failed)} failed"
                       + ("".join(f"; FAIL {c.name}: {c.analytic:.6g} vs {c.numeric:.6g}" for c in failed[:3])),
                       case=name, worst=float(worst.rel_error))


# ----- the command line -----

def _quiet():
    """Silence the commands' own output (their exit status is what is checked)."""
    stack = contextlib.ExitStack()
    stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
    stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
    return stack


def check_cli(device, results, sizes):
    """tagger-ref trace --device gpu against the same command on the CPU; then train + evaluate."""
    from tagger_ref.commands.cli import main as cli
    results.progress("cli", f"tagger-ref trace --device gpu (the {device.label}) and on the CPU")
    with tempfile.TemporaryDirectory() as folder:
        common = ["trace", "--config", "tiny-classify", "--seed", "4"]
        with _quiet():
            status_gpu = cli(common + ["--out", os.path.join(folder, "gpu.npz"), "--device", "gpu"])
            device.cpu()
            status_cpu = cli(common + ["--out", os.path.join(folder, "cpu.npz")])
        if status_gpu or status_cpu:
            results.report("cli", False,
                           f"tagger-ref trace exited {status_gpu} with --device gpu, {status_cpu} without")
        else:
            cpu_trace, gpu_trace = (load_trace(os.path.join(folder, f)) for f in ("cpu.npz", "gpu.npz"))
            ok, worst, key = compare(cpu_trace, gpu_trace)
            results.report("cli", ok, f"tagger-ref trace --device gpu (float64) vs the CPU's: {_worst(worst, key)}")
        results.progress("cli", "tagger-ref train --resume + evaluate, --device gpu and cpu, float64")
        data, start = tiny_training_case(folder)
        runs = {}
        for where in ("gpu", "cpu"):
            runs[where] = train_and_evaluate(os.path.join(folder, where), data, start, where)
            device.cpu()
    failed = [f"{where}: {run}" for where, run in runs.items() if isinstance(run, str)]
    if failed:
        results.report("cli", False, "tagger-ref train/evaluate failed: " + "; ".join(failed))
        return
    ok, worst, key = compare(runs["cpu"], runs["gpu"])
    results.report("cli", ok, "tagger-ref train --resume + evaluate --device gpu (float64, perturbed start) vs the "
                              f"CPU's: {_worst(worst, key)}; {len(runs['cpu'])} arrays")


# A tiny Shapes model with the paper's batch norm: K=3, T=2, Ladder (8, 6, 4), 20 images in 2 steps.
TINY_SHAPES = dict(n_groups=3, n_iterations=2, encoder_proj=(8, 6, 4), batch_size=10, num_epochs=1, seed=0,
                   dtype="float64")


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
        status = cli(["data", "shapes", "--out", data, "--train", "20", "--valid", "10", "--test", "10",
                      "--single", "0"])
    if status:
        raise RuntimeError(f"tagger-ref data shapes exited {status}")
    features = training.load_split(data, "train", config).features
    state = training.new_state(config)
    state.params = perturb_params(state.params, numpy.random.default_rng(1))
    state.adam = adam_init(state.params)
    training.save_checkpoint(start, state, config, training.data_identity(features))
    return data, start


def train_and_evaluate(run, data, start, device):
    """`tagger-ref train --resume` from the checkpoint ``start`` and `tagger-ref evaluate`, on ``device``
    in float64. Returns what must agree across devices (parameters, Adam's moments, the log but its
    clocks, Table 1) as a dict of arrays, or a string saying which command failed."""
    from tagger_ref.commands.cli import main as cli
    os.makedirs(run)
    shutil.copy(start, os.path.join(run, training.CHECKPOINT))
    flags = ["--device", device, "--dtype", "float64"]
    with _quiet():
        status = cli(["train", "--resume", "--data", data, "--out", run, "--no-progress", *flags])
        if status:
            return f"tagger-ref train exited {status}"
        status = cli(["evaluate", run, "--data", data, "--iterations", "2", *flags])
        if status:
            return f"tagger-ref evaluate exited {status}"
    with numpy.load(os.path.join(run, training.CHECKPOINT)) as f:
        arrays = {k: f[k] for k in f.files if k.startswith(("param/", "adam/m/", "adam/v/", "log/"))
                  and "seconds" not in k}
    arrays["table1"] = numpy.loadtxt(os.path.join(run, "table1.csv"), delimiter=",", skiprows=1)
    return arrays


# ----- the Shapes model: values, step time, training time -----

def shapes_config(sizes, dtype):
    if sizes["step_config"] is None:  # dry run: a small model of the same kind
        return PRESETS["shapes"].replace(n_inputs=20, encoder_proj=(12, 9, 7), batch_size=sizes["batch"], dtype=dtype)
    return PRESETS[sizes["step_config"]].replace(batch_size=sizes["batch"], dtype=dtype)


def check_values(device, results, sizes):
    """One batch of the Shapes model: device cost and gradients against the CPU's in the same dtype,
    on the reference path (autograd through the formulas) and the fast path (training's).

    float64: compare's float64 defaults. float32: for every key, |device - CPU| must stay within
    FLOAT32_NOISE times the CPU's own float32 error on that key (against its float64 result), and
    never below compare.FLOAT32's 1e-3 of the key's scale (``compare_float32``)."""
    config = shapes_config(sizes, "float64")
    params, inputs = random_case(config, seed=1)
    params, inputs = prepare_params(params, config), prepare_inputs(inputs, config)
    for fast in (False, True):
        path = "fast" if fast else "reference"
        values = {}
        for dtype in ("float64", "float32"):
            results.progress("values", f"shapes model, {path} path, {dtype}: CPU, then the {device.label}")
            for where in ("cpu", "gpu"):
                getattr(device, where)()
                cost, grads = cost_and_grad(to_device(params, dtype), config.replace(dtype=dtype),
                                            to_device(inputs, dtype), ops=FAST if fast else REFERENCE)
                values[where, dtype] = dict({f"grad_{k}": to_numpy(v) for k, v in grads.items()},
                                            total_cost=to_numpy(cost))
                device.cpu()
            wrong = sorted(k for k, v in values["gpu", dtype].items() if v.dtype != numpy.dtype(dtype))
            if dtype == "float64":
                ok, worst, key = compare(values["cpu", dtype], values["gpu", dtype])
                text = f"{_worst(worst, key)}; tolerance {ATOL_SCALE:g} of scale + {RTOL:g} rel."
            else:
                ok, worst, key, noise = compare_float32(values["cpu", "float64"], values["cpu", "float32"],
                                                        values["gpu", "float32"])
                share = f" ({worst / noise:.2f} times the CPU float32's own error there)" if worst and noise else ""
                text = (f"{_worst(worst, key)}{share}; tolerance max({FLOAT32_NOISE:g} x that error, "
                        f"{ATOL_SCALE32:g} of scale)")
            results.report("values", ok and not wrong,
                           f"shapes model, one batch, {path} path: {device.label} {dtype} cost and gradients vs "
                           f"CPU {dtype}: {text}" + (f"; not {dtype}: {', '.join(wrong)}" if wrong else ""),
                           path=path, dtype=dtype, worst=worst)


# float32 results may differ from the CPU's float32 by this many times the CPU's own float32 error
FLOAT32_NOISE = 3.0


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


def training_step(config, data, draw_rng, seed=0):
    """The step loop of training on the active device: draw the batch's corruption and initial
    masks, cost and gradients on the fast path, Adam (lr from the config, beta 0.9 / 0.999, eps 1e-8)."""
    params = to_device(random_params(config, numpy.random.default_rng(seed)), config.dtype)
    state = {"adam": adam_init(params), "batch": 0}  # zeros like the parameters: on their device
    B = config.batch_size
    n_batches = len(data) // B

    def step():
        nonlocal params
        i = state["batch"]
        state["batch"] = (i + 1) % n_batches
        inputs = make_inputs(config, data[i * B:(i + 1) * B], draw_rng)
        cost, grads = cost_and_grad(params, config, inputs, ops=FAST)
        params, state["adam"] = adam_update(params, grads, state["adam"], config.lr)
        return cost
    return step


def binary_images(n, config, rng):
    """n images of Shapes' size on the host, pixels on with probability z_init (0.26, Shapes' mean):
    the data's content does not change the time of a step."""
    return (rng.random((n, config.n_inputs)) < config.z_init).astype(config.dtype)


def time_steps(step, n, warmup):
    """Seconds per step (mean of n after ``warmup`` untimed steps) and the last cost."""
    for _ in range(warmup):
        cost = step()
    backend.synchronize()
    start = time.perf_counter()
    for _ in range(n):
        cost = step()
    backend.synchronize()
    return (time.perf_counter() - start) / n, float(to_numpy(cost))


def check_steps(device, results, sizes, where="gpu"):
    """Seconds per step of the step loop, on the device (float32 host and device draws, float64)
    or on the CPU (float64, float32). The number of steps shrinks to what the budget leaves."""
    times = {}
    label = device.label if where == "gpu" else "CPU"
    runs = ((("float32", "host"), ("float32", "device"), ("float64", "host")) if where == "gpu"
            else (("float64", "host"), ("float32", "host")))
    check = "step" if where == "gpu" else "cpu"
    n_wanted = sizes["gpu_steps"] if where == "gpu" else sizes["cpu_steps"]
    warmup = sizes["warmup"] if where == "gpu" else 1
    for dtype, draws in runs:
        if results.left() < 10:
            results.report(check, None, f"{label} {dtype} ({draws} draws): skipped, {results.left():.0f} s left of "
                                        "the budget")
            continue
        config = shapes_config(sizes, dtype)
        getattr(device, where)()
        rng = numpy.random.default_rng(3)
        data = binary_images(10 * sizes["batch"], config, rng)
        if draws == "device":   # data and draws on the device (the Python API's way)
            step = training_step(config, backend.asarray(data), backend.device_rng(rng))
        else:                   # data and draws on the host, each batch copied over (training's way)
            step = training_step(config, data, rng)
        results.progress(check, f"{label} {dtype} ({draws} draws): {warmup} warm-up step(s)")
        start = time.perf_counter()
        for _ in range(warmup):
            step()
        backend.synchronize()
        first = (time.perf_counter() - start) / warmup
        n = min(n_wanted, int((results.left() - 10) / max(first, 1e-6)))
        if n < 1:
            device.cpu()
            results.report(check, None, f"{label} {dtype} ({draws} draws): skipped, {results.left():.0f} s left of "
                                        f"the budget and a step takes {first:.2f} s")
            continue
        results.progress(check, f"{label} {dtype} ({draws} draws): {n} timed steps")
        seconds, cost = time_steps(step, n, 0)
        total = time.perf_counter() - start
        device.cpu()
        times[(dtype, draws)] = seconds
        results.report(check, bool(numpy.isfinite(cost)),
                       f"{label} {dtype} ({draws} draws): {1e3 * seconds:.1f} ms per step of the step loop "
                       f"(mean of {n} after {warmup} warm-up, {total:.1f} s in all); last cost {cost:.4f}",
                       where=where, dtype=dtype, draws=draws, seconds_per_step=seconds, steps=n)
    return times


class _Timed:
    """Wraps ``module.name`` so that its calls' seconds (device work included) add up in ``seconds``."""

    def __init__(self, module, name):
        self.module, self.name, self.original, self.seconds, self.calls = module, name, getattr(module, name), 0.0, 0

    def __enter__(self):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return self.original(*args, **kwargs)
            finally:
                backend.synchronize()
                self.seconds += time.perf_counter() - start
                self.calls += 1
        setattr(self.module, self.name, timed)
        return self

    def __exit__(self, *exc):
        setattr(self.module, self.name, self.original)


def check_train(device, results, sizes, step_times):
    """training.train itself on the device, float32, one epoch of as many steps as the budget
    allows (``train_steps``: at least, at most), validation on ``valid_images`` images, checkpoints.
    Returns the derived seconds per Shapes epoch, or None."""
    low, high = sizes["train_steps"]
    per_step = step_times.get(("float32", "host"))
    if per_step is None:
        results.report("train", None, "skipped: no float32 step time to size it by")
        return None
    # what fits, leaving time for the CPU loops: a training step costs more than the loop's (the checks)
    n = min(high, int((results.left() - 30) / (1.5 * per_step)))
    if n < low:
        results.report("train", None, f"skipped: {results.left():.0f} s left of the budget, {low} steps need "
                                      f"about {1.5 * low * per_step:.0f} s")
        return None
    config = shapes_config(sizes, "float32").replace(num_epochs=1, seed=0)
    rng = numpy.random.default_rng(5)
    train_x = binary_images(n * config.batch_size, config, rng)
    valid_x = binary_images(sizes["valid_images"], config, rng)
    results.progress("train", f"training.train on the {device.label}, float32: {n} steps, validation on "
                              f"{len(valid_x)} images")
    device.gpu()
    try:
        with tempfile.TemporaryDirectory() as run, _Timed(training, "denoising_costs") as valid, \
                _Timed(training, "save_checkpoint") as checkpoint:
            start = time.perf_counter()
            result = training.train(config, train_x, valid_x, run)
            backend.synchronize()
            seconds = time.perf_counter() - start
            log = training.load_checkpoint(os.path.join(run, training.CHECKPOINT))[0].log
    finally:
        device.cpu()
    steps_seconds = seconds - valid.seconds - checkpoint.seconds
    per_step = steps_seconds / result["step"]
    valid_per_image = valid.seconds / len(valid_x)
    per_checkpoint = checkpoint.seconds / max(checkpoint.calls, 1)
    epoch = SHAPES_EPOCH_STEPS * per_step + SHAPES_VALID_IMAGES * valid_per_image + per_checkpoint
    epochs = PRESETS["shapes"].num_epochs
    cost = log["train_cost"][-1] if log["train_cost"] else float("nan")
    results.report("train", result["step"] == n and bool(numpy.isfinite(cost)),
                   f"training.train, {device.label} float32, {result['step']} steps: {seconds:.1f} s, of which "
                   f"{1e3 * per_step:.1f} ms per step, validation {valid.seconds:.1f} s ({len(valid_x)} images), "
                   f"{checkpoint.calls} checkpoints {checkpoint.seconds:.1f} s; a Shapes epoch ({SHAPES_EPOCH_STEPS} "
                   f"steps, validation on {SHAPES_VALID_IMAGES} images) {epoch:.0f} s, {epochs} epochs "
                   f"{epochs * epoch / 3600:.2f} h; train cost {cost:.4f}",
                   steps=result["step"], seconds=seconds, seconds_per_step=per_step, valid_seconds=valid.seconds,
                   valid_images=len(valid_x), checkpoint_seconds=checkpoint.seconds, seconds_per_epoch=epoch)
    return epoch


def report_epochs(device, results, step_times, train_epoch, cpu_times):
    """The epoch figures side by side: the step loop alone (steps x 500) and training.train."""
    epochs = PRESETS["shapes"].num_epochs
    parts = []
    for label, times in ((device.label, step_times), ("CPU", cpu_times)):
        for (dtype, draws), seconds in times.items():
            epoch = SHAPES_EPOCH_STEPS * seconds
            parts.append(f"{label} {dtype} {draws} draws {epoch / 60:.1f} min ({epochs * epoch / 3600:.1f} h)")
    text = "Shapes epoch (100 epochs), step loop only: " + ("; ".join(parts) if parts else "not measured")
    if train_epoch is not None:
        text += (f". training.train, {device.label} float32: {train_epoch / 60:.1f} min per epoch "
                 f"({epochs * train_epoch / 3600:.2f} h)")
    cpu64, gpu32 = cpu_times.get(("float64", "host")), step_times.get(("float32", "host"))
    if cpu64 and gpu32:
        text += f". Step loop speed-up, {device.label} float32 (host draws) over CPU float64: {cpu64 / gpu32:.1f}x"
    results.report("epoch", None, text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="run on the CPU stand-in with small sizes")
    parser.add_argument("--out", help="write the results as JSON to this file (rewritten after every line)")
    parser.add_argument("--budget", type=float, metavar="SECONDS",
                        help="the time the whole check may take (default 270; the timed loops shrink to fit)")
    parser.add_argument("--skip", default="",
                        help="comma-separated checks to skip (cli,golden,gradients,values,step,train,cpu)")
    args = parser.parse_args(argv)
    if MISSING:
        print(f"gpu_check: missing dependencies: {', '.join(MISSING)}; install them (without network: "
              "docs/gpu.md, 'A machine without network')", file=sys.stderr)
        return 2
    skip = set(filter(None, args.skip.split(",")))
    try:
        device = Device(args.dry_run)
    except DeviceError as e:
        print(f"gpu_check: {e}", file=sys.stderr)
        return 2
    try:
        return run_checks(device, args, skip)
    finally:
        device.close()


def run_checks(device, args, skip):
    sizes = DRY if args.dry_run else FULL
    results = Results(args.out, args.dry_run, args.budget if args.budget is not None else sizes["budget"])
    results.report("device", True, device.describe())
    for name, check in (("cli", check_cli), ("golden", check_golden), ("gradients", check_gradients),
                        ("values", check_values)):
        if name not in skip:
            _guarded(name, lambda: check(device, results, sizes), results)
    step_times, cpu_times, train_epoch = {}, {}, None
    if "step" not in skip:
        step_times = _guarded("step", lambda: check_steps(device, results, sizes, "gpu"), results) or {}
    if "train" not in skip:
        train_epoch = _guarded("train", lambda: check_train(device, results, sizes, step_times), results)
    if "cpu" not in skip:
        cpu_times = _guarded("cpu", lambda: check_steps(device, results, sizes, "cpu"), results) or {}
    if step_times or cpu_times or train_epoch:
        report_epochs(device, results, step_times, train_epoch, cpu_times)
    results.running, results.complete = None, True
    n = results.passed + results.failed
    results.report("summary", results.failed == 0, f"{results.passed} of {n} checks passed in "
                                                   f"{results.elapsed():.0f} s (budget {results.budget:.0f} s)",
                    count=False)
    return 0 if results.failed == 0 else 1


def _guarded(name, run, results):
    """Run one check; an exception is that check's failure (one line), not the end of the script."""
    try:
        return run()
    except Exception as e:  # noqa: BLE001  (a device check reports whatever broke)
        backend.use_device("cpu")
        results.report(name, False, f"raised {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
        return None


if __name__ == "__main__":
    sys.exit(main())
