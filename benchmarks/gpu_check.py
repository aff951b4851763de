"""The device check of tagger_ref's GPU path: correctness against the CPU, then speed.

    python benchmarks/gpu_check.py [--out results.json]    # on a machine with CuPy and a GPU
    python benchmarks/gpu_check.py --dry-run                # anywhere: the plumbing, on a stand-in

Checks, one summary line each (status ok / FAIL / info):

  device     what runs: GPU, CuPy, CUDA, NumPy, autograd versions, CPU cores
  cli        tagger-ref trace --device gpu against the same command on the CPU; then tagger-ref
             train + evaluate --device gpu --dtype float64 (a tiny Shapes run, 2 steps) against
             the same commands on the CPU: checkpoint and table1.csv
  golden     every golden case (shipped ones, the authors' traces, and drawn small cases) traced
             on the GPU in float64 and compared with the CPU trace of the same run (and with the
             stored trace where there is one), key by key, with compare's float64 defaults
  gradients  GPU float64 gradients against finite differences of the GPU float64 cost
  values     the paper's Shapes model, one batch: GPU float64 / float32 cost and gradients
             against the CPU float64 ones
  step       a training step of the Shapes model (B=100, K=4, T=3, Ladder 2000-1000-500: draw
             corruption and initial masks, cost and gradients, Adam): GPU float32 and float64
             (device draws, and float32 with host draws), CPU float64 and float32
  epoch      a full Shapes epoch (50,000 images, 500 steps) on the GPU in float32, on data of
             Shapes' size (random pixels; the data's content does not change the time), and the
             100 epochs of the paper extrapolated

Exit status: 0 all checks passed, 1 a check failed, 2 no CuPy or no GPU (says which).
On an H100 the whole run should take about 2-4 minutes, most of it CuPy compiling its kernels
the first time they run and the CPU steps.

--dry-run puts the tests' stand-in reference_tests/fake_gpu.py (a NumPy-backed stand-in that refuses what CuPy refuses) in the
place of cupy and runs everything with small sizes, to check this script and the device plumbing
without a GPU; its times mean nothing.
"""
import argparse
import json
import os
import platform
import sys
import time

import numpy

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isfile(os.path.join(REPO, "tagger_ref", "__init__.py")):
    sys.path.insert(0, REPO)  # run from a checkout: check this checkout's code, installed or not

from tagger_ref import backend  # noqa: E402
from tagger_ref.backend import to_device, to_numpy  # noqa: E402
from tagger_ref.config import PRESETS, load_config  # noqa: E402
from tagger_ref.errors import DeviceError  # noqa: E402
from tagger_ref.fileio import write_json  # noqa: E402
from tagger_ref.gradcheck import check_gradient  # noqa: E402
from tagger_ref.maths.gradients import cost_and_grad  # noqa: E402
from tagger_ref.inputs import load_inputs, make_inputs, prepare_inputs  # noqa: E402
from tagger_ref.maths.model import total_cost  # noqa: E402
from tagger_ref.params import load_params, prepare_params  # noqa: E402
from tagger_ref.random_case import random_case, random_params  # noqa: E402
from tagger_ref.trace import compute_trace, load_trace  # noqa: E402

# compare's float64 defaults (tagger_ref.compare): |gpu - cpu| <= 1e-10 max|cpu| + 1e-9 |cpu|.
RTOL, ATOL_SCALE = 1e-9, 1e-10
# float32 against float64 (compare's FLOAT32 preset)
RTOL32, ATOL_SCALE32 = 1e-4, 1e-3

FULL = dict(step_config="shapes", batch=100, cpu_steps=3, gpu_steps=20, warmup=2, epoch_images=50_000,
            gradient_configs=("tiny-binary", "tiny-continuous", "tiny-classify"), directions=2)
DRY = dict(step_config=None, batch=10, cpu_steps=1, gpu_steps=2, warmup=1, epoch_images=50,
           gradient_configs=("tiny-classify",), directions=1)


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
            backend.use_device("gpu")  # DeviceError if CuPy or the GPU is missing
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
        import autograd
        versions = f"NumPy {numpy.__version__}, autograd {getattr(autograd, '__version__', _dist_version('autograd'))}"
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


def _dist_version(name):
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:
        return "?"


# ----- reporting -----

class Results:
    def __init__(self):
        self.lines, self.passed, self.failed, self.data = [], 0, 0, {}

    def report(self, check, ok, text, **data):
        """One summary line; ok is True, False, or None for a line of information."""
        status = "info" if ok is None else ("ok" if ok else "FAIL")
        self.passed += ok is True
        self.failed += ok is False
        line = f"{check:<10} {status:<4}  {text}"
        self.lines.append(line)
        print(line, flush=True)
        if data:
            self.data.setdefault(check, []).append(dict(data, text=text, status=status))


def compare(reference, candidate, rtol=RTOL, atol_scale=ATOL_SCALE):
    """(ok, worst error as a fraction of its key's scale, worst key) with compare's tolerance:
    |candidate - reference| <= atol_scale * max|reference| + rtol * |reference|, every key."""
    try:
        from tagger_ref.compare import compare_traces  # the oracle's implementation, where present
        report = compare_traces(reference, candidate, rtol=rtol, atol=0.0, atol_scale=atol_scale)
        worst = report.worst("max_scaled")
        first = report.first_divergence
        bad = first.key if first is not None else (report.failures[0].key if report.failures else None)
        return report.ok, (worst.max_scaled if worst else 0.0), (bad or (worst.key if worst else ""))
    except ImportError:
        pass
    worst, worst_key, first_bad = 0.0, "", None
    for key, ref in reference.items():
        ref = numpy.asarray(ref, dtype="float64")
        if key not in candidate or numpy.shape(candidate[key]) != ref.shape:
            return False, float("inf"), key
        diff = numpy.abs(numpy.asarray(candidate[key], dtype="float64") - ref)
        scale = float(numpy.max(numpy.abs(ref), initial=0.0))
        if not numpy.all(diff <= atol_scale * scale + rtol * numpy.abs(ref)):  # NaN fails too
            first_bad = first_bad or key
        scaled = float(numpy.max(diff, initial=0.0)) / (scale if scale > 0 else 1.0)
        if not scaled <= worst:
            worst, worst_key = scaled, key
    return first_bad is None, worst, first_bad or worst_key


def _worst(worst, key):
    return "identical" if worst == 0 else f"{worst:.1e} of key scale at worst ({key})"


# ----- golden cases -----

def golden_cases():
    """(name, config, params, inputs, stored trace or None): shipped cases, the authors' traces in
    reference_tests/data, and drawn small cases (always, so that the check never runs empty)."""
    cases = []
    try:
        from tagger_ref.golden import list_cases, load_case
        for name in list_cases():
            config, params, inputs, trace = load_case(name)
            cases.append((name, config, params, inputs, trace))
    except ImportError:
        pass
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


def check_golden(device, results):
    for name, config, params, inputs, stored in golden_cases():
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
                       case=name, worst=worst.rel_error)


# ----- the command line -----

def check_cli(device, results):
    """tagger-ref trace --device gpu against the same command on the CPU."""
    import contextlib
    import io
    import tempfile
    from tagger_ref.cli import main as cli
    with tempfile.TemporaryDirectory() as folder, contextlib.redirect_stdout(io.StringIO()):
        common = ["trace", "--config", "tiny-classify", "--seed", "4"]
        status_gpu = cli(common + ["--out", os.path.join(folder, "gpu.npz"), "--device", "gpu"])
        device.cpu()
        status_cpu = cli(common + ["--out", os.path.join(folder, "cpu.npz")])
        if status_gpu or status_cpu:
            results.report("cli", False,
                           f"tagger-ref trace exited {status_gpu} with --device gpu, {status_cpu} without")
            return
        cpu_trace, gpu_trace = (load_trace(os.path.join(folder, f)) for f in ("cpu.npz", "gpu.npz"))
        ok, worst, key = compare(cpu_trace, gpu_trace)
    results.report("cli", ok, f"tagger-ref trace --device gpu (float64) vs the CPU's: {_worst(worst, key)}")
    check_cli_train(device, results)


def check_cli_train(device, results):
    """tagger-ref train and evaluate --device gpu --dtype float64 against the CPU: a tiny Shapes run
    (20 images, 2 steps, the same host draws on both), its checkpoint and table1.csv."""
    import contextlib
    import io
    import tempfile
    from tagger_ref.cli import main as cli
    config = PRESETS["shapes"].replace(n_groups=3, n_iterations=2, encoder_proj=(8, 6, 4), batch_size=10,
                                       num_epochs=1, seed=0)
    with tempfile.TemporaryDirectory() as folder, contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        data, config_path = os.path.join(folder, "shapes.npz"), os.path.join(folder, "config.json")
        with open(config_path, "w") as f:
            json.dump(config.to_dict(), f)
        device.cpu()
        statuses = [cli(["data", "shapes", "--out", data, "--train", "20", "--valid", "10", "--test", "10",
                         "--single", "0"])]
        tables = {}
        for where in ("gpu", "cpu"):
            run = os.path.join(folder, where)
            flags = ["--device", where, "--dtype", "float64"]
            statuses.append(cli(["train", "--config", config_path, "--data", data, "--out", run, "--no-progress",
                                 *flags]))
            statuses.append(cli(["evaluate", run, "--data", data, "--iterations", "2", *flags]))
            device.cpu()
            if statuses[-1] or statuses[-2]:
                break
            with numpy.load(os.path.join(run, "checkpoint.npz")) as f:
                tables[where] = {k: f[k] for k in f.files if k.startswith(("param/", "adam/m/", "adam/v/", "log/"))
                                 and "seconds" not in k}
            tables[where]["table1"] = numpy.loadtxt(os.path.join(run, "table1.csv"), delimiter=",", skiprows=1)
    if any(statuses) or len(tables) < 2:
        results.report("cli", False, f"tagger-ref data/train/evaluate exited {statuses} (gpu run first)")
        return
    ok, worst, key = compare(tables["cpu"], tables["gpu"])
    results.report("cli", ok, f"tagger-ref train + evaluate --device gpu (float64) vs the CPU's: {_worst(worst, key)}")


# ----- the Shapes model: values, step time, epoch time -----

def shapes_config(sizes, dtype):
    if sizes["step_config"] is None:  # dry run: a small model of the same kind
        return PRESETS["shapes"].replace(n_inputs=20, encoder_proj=(12, 9, 7), batch_size=sizes["batch"], dtype=dtype)
    return PRESETS[sizes["step_config"]].replace(batch_size=sizes["batch"], dtype=dtype)


def check_values(device, results, sizes):
    """One batch of the Shapes model: GPU cost and gradients against the CPU's, float64 and float32."""
    config = shapes_config(sizes, "float64")
    params, inputs = random_case(config, seed=1)
    params, inputs = prepare_params(params, config), prepare_inputs(inputs, config)
    device.cpu()
    cost, grads = cost_and_grad(params, config, inputs)
    cpu = dict({f"grad_{k}": v for k, v in grads.items()}, total_cost=numpy.asarray(cost))
    for dtype, rtol, atol_scale in (("float64", RTOL, ATOL_SCALE), ("float32", RTOL32, ATOL_SCALE32)):
        device.gpu()
        cost, grads = cost_and_grad(to_device(params, dtype), config.replace(dtype=dtype), to_device(inputs, dtype))
        gpu = dict({f"grad_{k}": to_numpy(v) for k, v in grads.items()}, total_cost=to_numpy(cost))
        device.cpu()
        ok, worst, key = compare(cpu, gpu, rtol, atol_scale)
        results.report("values", ok, f"shapes model, one batch, {device.label} {dtype} cost and gradients "
                                     "vs CPU float64: "
                                     f"{_worst(worst, key)}; tolerance {atol_scale:g} of scale + {rtol:g} rel.",
                       dtype=dtype, worst=worst)


def training_step(config, data, draw_rng, seed=0):
    """A training step closure on the active device: draw the batch's corruption and initial masks,
    cost and gradients, Adam (lr from the config, beta 0.9 / 0.999, eps 1e-8)."""
    params = to_device(random_params(config, numpy.random.default_rng(seed)), config.dtype)
    m = {k: p * 0 for k, p in params.items()}
    v = {k: p * 0 for k, p in params.items()}
    state = {"t": 0, "batch": 0}
    B = config.batch_size
    n_batches = len(data) // B

    def step():
        i = state["batch"]
        state["batch"] = (i + 1) % n_batches
        inputs = make_inputs(config, data[i * B:(i + 1) * B], draw_rng)
        cost, grads = cost_and_grad(params, config, inputs)
        state["t"] += 1
        t = state["t"]
        for k, g in grads.items():
            m[k] = 0.9 * m[k] + 0.1 * g
            v[k] = 0.999 * v[k] + 0.001 * (g * g)
            params[k] = params[k] - config.lr * (m[k] / (1 - 0.9 ** t)) / ((v[k] / (1 - 0.999 ** t)) ** 0.5 + 1e-8)
        return cost
    return step, n_batches


def binary_data(n, config, rng):
    """n images of Shapes' size, pixels on with probability z_init (0.26, Shapes' mean), on the active device."""
    return backend.asarray(rng.random((n, config.n_inputs)) < config.z_init, dtype=config.dtype)


def time_steps(step, n, warmup):
    for _ in range(warmup):
        cost = step()
    backend.synchronize()
    start = time.perf_counter()
    for _ in range(n):
        cost = step()
    backend.synchronize()
    seconds = (time.perf_counter() - start) / n
    return seconds, float(to_numpy(cost))


def check_steps(device, results, sizes):
    times = {}
    n_data = max(10 * sizes["batch"], sizes["batch"] * (sizes["gpu_steps"] + sizes["warmup"]))
    for where, dtype, draws in (("cpu", "float64", "host"), ("cpu", "float32", "host"), ("gpu", "float32", "device"),
                                ("gpu", "float32", "host"), ("gpu", "float64", "device")):
        config = shapes_config(sizes, dtype)
        if where == "gpu":
            device.gpu()
        else:
            device.cpu()
        rng = numpy.random.default_rng(3)
        data = binary_data(n_data, config, backend.device_rng(rng))
        draw_rng = backend.device_rng(rng) if draws == "device" else rng
        step, _ = training_step(config, data, draw_rng)
        n = sizes["gpu_steps"] if where == "gpu" else sizes["cpu_steps"]
        start = time.perf_counter()
        seconds, cost = time_steps(step, n, sizes["warmup"])
        total = time.perf_counter() - start
        device.cpu()
        times[(where, dtype, draws)] = seconds
        ok = bool(numpy.isfinite(cost))
        label = device.label if where == "gpu" else "CPU"
        results.report("step", ok, f"{label} {dtype} ({draws} draws): {1e3 * seconds:.1f} ms per training step "
                                   f"(mean of {n} after {sizes['warmup']} warm-up, {total:.1f} s in all); "
                                   f"last cost {cost:.4f}",
                       where=where, dtype=dtype, draws=draws, seconds_per_step=seconds)
    cpu64 = times[("cpu", "float64", "host")]
    results.report("step", None, "speed-up over CPU float64: " + ", ".join(
        f"{device.label} {d} ({w} draws) {cpu64 / s:.1f}x" for (where, d, w), s in times.items() if where == "gpu"))
    return times


def check_epoch(device, results, sizes, times):
    config = shapes_config(sizes, "float32")
    device.gpu()
    rng = numpy.random.default_rng(4)
    data = binary_data(sizes["epoch_images"], config, backend.device_rng(rng))
    step, n_batches = training_step(config, data, backend.device_rng(rng))
    step()  # warm (kernels are compiled by now; this only fills the memory pool)
    backend.synchronize()
    start = time.perf_counter()
    for _ in range(n_batches):
        cost = step()
    backend.synchronize()
    seconds = time.perf_counter() - start
    cost = float(to_numpy(cost))
    device.cpu()
    epochs = PRESETS["shapes"].num_epochs
    cpu_epoch = times[("cpu", "float64", "host")] * n_batches
    results.report("epoch", bool(numpy.isfinite(cost)),
                   f"shapes, {sizes['epoch_images']} images, {n_batches} steps, {device.label} float32: "
                   f"{seconds:.1f} s per epoch, "
                   f"{epochs} epochs ~ {epochs * seconds / 60:.1f} min (CPU float64 from its step time: "
                   f"{cpu_epoch / 60:.1f} min per epoch, {epochs * cpu_epoch / 3600:.1f} h); last cost {cost:.4f}",
                   seconds_per_epoch=seconds, steps=n_batches, cpu_seconds_per_epoch_estimate=cpu_epoch)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="run on the CPU stand-in with small sizes")
    parser.add_argument("--out", help="also write the results as JSON to this file")
    parser.add_argument("--skip", default="",
                        help="comma-separated checks to skip (cli,golden,gradients,values,step,epoch)")
    args = parser.parse_args(argv)
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
    results = Results()
    start = time.perf_counter()
    results.report("device", True, device.describe())
    checks = [("cli", lambda: check_cli(device, results)),
              ("golden", lambda: check_golden(device, results)),
              ("gradients", lambda: check_gradients(device, results, sizes)),
              ("values", lambda: check_values(device, results, sizes))]
    for name, run in checks:
        if name not in skip:
            _guarded(name, run, results)
    times = None
    if "step" not in skip:
        times = _guarded("step", lambda: check_steps(device, results, sizes), results)
    if "epoch" not in skip and times:
        _guarded("epoch", lambda: check_epoch(device, results, sizes, times), results)
    total = time.perf_counter() - start
    n = results.passed + results.failed
    results.report("summary", results.failed == 0, f"{results.passed} of {n} checks passed in {total:.0f} s")
    if args.out:
        write_json(args.out, {"lines": results.lines, "checks": results.data, "dry_run": args.dry_run})
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
