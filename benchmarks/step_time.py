"""Time of one training step (forward and gradient) against the matrix products alone.

    python benchmarks/step_time.py [--repeats R] [--threads N] [--batch B] [--ladder 2000,1000,500]
                                   [--dtypes float64,float32] [--allocator both|kept] [--paths fast,reference]
    python benchmarks/step_time.py --device gpu [--repeats R] [--warmup W] [--batch B] [--dtypes ...]

Default: the paper's Shapes model (N=400, K=4, T=3, B=100, Ladder (2000, 1000, 500)), in float64
and float32, on both derivative paths: ``fast`` (the hand-written derivatives of
tagger_ref/maths/fused.py, as training runs) and ``reference`` (autograd through the plain formulas,
as trace, gradcheck and the tests run). For each dtype and path it prints

- step: the median time of ``cost_and_grad`` (autograd forward and backward through all T
  iterations);
- bound: the median time of the same matrix products done alone in NumPy, on arrays of the same
  shapes and dtype: per iteration the forward products, and in the backward the two products of
  each (the gradient with respect to the left operand, ``G @ W.T``, and to the weight,
  ``A.T @ G``), except for the left operand of the first iteration's input projection, which
  depends on no parameter. No implementation of this design can do less than these products;
- ratio step / bound (steps and products are timed alternately and the ratio is the median of
  the pairs' ratios, which a busy machine disturbs less);
- ``port``: the ratio of the step to the same step of the PyTorch port
  (examples/torch_port/tagger_torch.py: forward and ``backward()`` on the same parameters and
  inputs, in the same dtype, with as many threads), timed alternately with it, where PyTorch is
  installed (``-`` otherwise, or with ``--no-port``);
- ``port/bd``: the port's own ratio to the same products (the median of the pairs' ratios), which
  says how close an eager framework with its own elementwise kernels gets to the bound;
- for the fast path, where the rest of the step goes, from one separate step with a clock on
  the fused primitives (``sigmoid``, ``normalize``, the combinator: their values in the forward
  pass, ``prim fw``, and their hand-written derivatives, ``prim bw``) and ``rest`` = step - bound -
  both: every other elementwise operation (ReLU, biases, softmaxes, the TAG steps and costs),
  autograd's bookkeeping, and whatever the step's own products take beyond the bound's;
- the minor page faults of one step (``faults``) and the peak of the memory NumPy allocates
  during one step (tracemalloc, measured in a separate untimed step).
Each dtype is timed twice: with the C library's default allocator settings, then after
``tagger_ref.experiments.memory.keep_freed_memory()``, which the ``tagger-ref`` command line (training
included) calls at start, so the second row is the step time training gets. The default settings
hand freed blocks back to the operating system, and each new array then pays a page fault per
4 KiB page.
The gradients' dtype is checked too: a float32 step must produce float32 gradients.

``--device gpu`` times training's step instead (``training.batch_cost_and_grad``: the batch's
draws, cost and gradients on the fast path; then the optimiser's update; the cost read back, as training
logs it) on the GPU and on the CPU: the median seconds of a step (each one synchronised) after
``--warmup`` untimed steps (CuPy compiles its kernels on the first), on the GPU with the draws
made on the host and copied over (training's way) or made on the device (``device_rng``), and
what that makes an epoch of 50,000 images and the preset's epochs (steps only: no validation, no
checkpoint), then the GPU's speed-up over the CPU. Its correctness is reference_tests/test_device.py's.
"""

import argparse
import contextlib
import dataclasses
import os
import statistics
import sys
import time
import tracemalloc

import numpy

try:
    import resource
except ImportError:  # not on Windows: no page-fault count there
    resource = None

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tagger_ref.config import PRESETS  # noqa: E402
from tagger_ref.experiments.memory import keep_freed_memory  # noqa: E402
from tagger_ref.maths import fused  # noqa: E402
from tagger_ref.maths.corruption import make_inputs  # noqa: E402
from tagger_ref.maths.gradients import cost_and_grad  # noqa: E402
from tagger_ref.maths.init import init_params, perturb_params  # noqa: E402
from tagger_ref.maths.ops import FAST, REFERENCE  # noqa: E402

MODELS = {"shapes": ("shapes", "2000,1000,500"), "texture": ("texture-mnist-pretrain", "3000,2000,1000")}


def matmul_shapes(config, batch):
    """(m, k, n) of every product A (m, k) @ B (k, n) of one iteration's forward pass (docs/spec.md section 4)."""
    R, N, H = config.n_groups * batch, config.n_inputs, config.encoder_proj
    L = len(H)
    shapes = [(R, 4 * N, H[0])]  # step 4: inp @ W
    shapes += [(R, H[l - 1], H[l]) for l in range(1, L)]  # step 5: encoder h @ f_l_W
    shapes += [(R, H[l + 1], H[l]) for l in range(L - 2, -1, -1)]  # step 6: decoder zhat @ g_l_W
    shapes += [(R, H[0], N), (R, H[0], N)]  # step 7: heads z_u_W, m_u_W
    return shapes


def product_list(config, batch):
    """Every product of one step as (left shape, right shape, transpose flags)."""
    products = []
    for i in range(config.n_iterations):
        for j, (m, k, n) in enumerate(matmul_shapes(config, batch)):
            products.append(((m, k), (k, n), False, False))  # forward  A @ B
            products.append(((k, m), (m, n), True, False))  # backward A.T @ G  (weight gradient)
            if not (i == 0 and j == 0):  # the first input depends on no parameter
                products.append(((m, n), (n, k), False, True))  # backward G @ B.T  (input gradient)
    return products


def product_runner(products, dtype, rng):
    """A function doing all the products once, each on preallocated random arrays."""
    arrays = []
    for a_shape, b_shape, ta, tb in products:
        a = rng.standard_normal(a_shape[::-1] if ta else a_shape).astype(dtype)
        b = rng.standard_normal(b_shape[::-1] if tb else b_shape).astype(dtype)
        arrays.append((a.T if ta else a, b.T if tb else b))

    def run():
        for a, b in arrays:
            a @ b

    return run


def minor_faults():
    """The process's minor page faults so far (0 where the platform does not count them)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt if resource else 0


def seconds(f):
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


def time_step_and_bound(config, products, batch, repeats, rng, fast=True, port=None):
    """Median times of cost_and_grad and of its products alone, the median of their ratios, the
    gradient dtypes, the minor page faults of the last timed step, the traced peak memory of one
    step, and (``port``: the PyTorch port's module, from ``load_port``) the median ratio of the
    step to the port's. Steps, products and port steps alternate, so that all see the same state of
    the machine; the ratios are taken pair by pair."""
    params = perturb_params(init_params(config, rng), rng, 0.1)
    if config.input_type == "binary":
        x = (rng.random((batch, config.n_inputs)) < 0.26).astype(config.dtype)
    else:
        x = rng.random((batch, config.n_inputs)).astype(config.dtype)
    inputs = make_inputs(config, x, rng)

    def step():
        return cost_and_grad(params, config, inputs, ops=FAST if fast else REFERENCE)

    bound = product_runner(products, config.dtype, rng)
    port_run = port_step(port, config, params, inputs) if port is not None else None
    step(), bound()  # warm up
    if port_run:
        port_run()
    steps, bounds, ports = [], [], []
    for _ in range(repeats):
        faults = minor_faults()
        steps.append(seconds(step))
        faults = minor_faults() - faults
        bounds.append(seconds(bound))
        if port_run:
            ports.append(seconds(port_run))
    dtypes = sorted({str(numpy.asarray(g).dtype) for g in step()[1].values()})
    tracemalloc.start()
    step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    primitives = primitive_seconds(lambda ops: cost_and_grad(params, config, inputs, ops=ops)) if fast else None
    return StepTimes(
        step=statistics.median(steps),
        bound=statistics.median(bounds),
        ratio=statistics.median(s / b for s, b in zip(steps, bounds)),
        dtypes=dtypes,
        faults=faults,
        peak=peak,
        port_ratio=statistics.median(s / q for s, q in zip(steps, ports)) if ports else None,
        port_bound_ratio=statistics.median(q / b for q, b in zip(ports, bounds)) if ports else None,
        primitives=primitives,
    )


@dataclasses.dataclass
class StepTimes:
    """What ``time_step_and_bound`` measures (seconds are medians; ratios are medians of the pairs')."""

    step: float  # one cost_and_grad
    bound: float  # its matrix products alone
    ratio: float  # the median of the pairs' step / bound (not step / bound of the medians)
    dtypes: list  # the gradients' dtypes
    faults: int  # minor page faults of the last timed step
    peak: int  # bytes, tracemalloc's peak over one step
    port_ratio: float = None  # the median of the pairs' step / the PyTorch port's step
    port_bound_ratio: float = None  # the median of the pairs' port step / bound
    primitives: tuple = None  # (forward, derivative) seconds in the fused primitives, fast path only


class _Clock:
    """Seconds spent inside the functions it wraps (not re-entrant: no wrapped function calls another)."""

    def __init__(self):
        self.seconds = 0.0

    def wrap(self, f):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return f(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start

        return timed


def primitive_seconds(run_step):
    """(forward, derivative): the seconds one fast-path step (``run_step(ops)``) spends in the fused
    primitives' forward values (the ``FAST`` table's three functions, clocked where the model calls
    them) and in their hand-written derivatives (the primitives' VJPs, clocked where autograd's
    backward pass calls them)."""
    from autograd.core import primitive_vjps

    forward, derivative = _Clock(), _Clock()
    ops = dataclasses.replace(FAST, **{f.name: forward.wrap(getattr(FAST, f.name)) for f in dataclasses.fields(FAST)})
    originals = {f: primitive_vjps[f] for f in (fused.sigmoid, fused._normalized, fused._combine)}

    def clocked(vjpmaker):
        def maker(*args, **kwargs):
            return derivative.wrap(vjpmaker(*args, **kwargs))

        return maker

    with contextlib.ExitStack() as restore:
        restore.callback(primitive_vjps.update, originals)
        primitive_vjps.update({f: clocked(m) for f, m in originals.items()})
        run_step(ops)
    return forward.seconds, derivative.seconds


def load_port():
    """The PyTorch port's module (examples/torch_port/tagger_torch.py), or None without PyTorch."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return None
    import importlib.util

    path = os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "torch_port", "tagger_torch.py"
    )
    spec = importlib.util.spec_from_file_location("tagger_torch", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def port_step(port, config, params, inputs):
    """A function doing one forward and backward pass of the PyTorch port (``port``, its module) on
    the same parameters and inputs, in the parameters' dtype."""
    import torch

    dtype = getattr(torch, config.dtype)
    model = port.Tagger(config.to_dict(), dtype=dtype)
    model.load_state_dict({k: torch.from_numpy(numpy.asarray(v)) for k, v in params.items()})
    x, x_tilde, m0 = (torch.from_numpy(numpy.asarray(inputs[k])) for k in ("x", "x_tilde", "m0_logits"))

    def run():
        model.zero_grad()
        model(x, x_tilde, m0).backward()

    return run


EPOCH_IMAGES = 50_000  # the training set of Shapes (and of TextureMNIST)


def device_step_seconds(config, batch, repeats, warmup, draws, rng):
    """Median seconds of training's step on the active device (each step synchronised) and the last cost.
    ``draws``: "host" (the run's NumPy generator, copied over) or "device" (``device_rng``)."""
    from tagger_ref.device import backend
    from tagger_ref.experiments import optimizers
    from tagger_ref.experiments.training import batch_cost_and_grad

    params = backend.to_device(perturb_params(init_params(config, rng), rng, 0.1), config.dtype)
    optimizer = optimizers.get(config.optimizer)
    opt_state = optimizer.init(params)
    if config.input_type == "binary":
        data = (rng.random((2 * batch, config.n_inputs)) < 0.26).astype(config.dtype)
    else:
        data = rng.random((2 * batch, config.n_inputs)).astype(config.dtype)
    if draws == "device":
        data, rng = backend.asarray(data), backend.device_rng(rng)

    def step(i):
        nonlocal params, opt_state
        x = data[(i % 2) * batch : (i % 2 + 1) * batch]  # (B, N)
        cost, grads = batch_cost_and_grad(params, config, x, rng)
        params, opt_state = optimizer.update(params, grads, opt_state, config.lr)
        return float(backend.to_numpy(cost))  # read back, as training does

    for i in range(warmup):
        step(i)
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        cost = step(i)
        backend.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times), cost


def describe_device(xp):
    """The GPU's name, memory, CuPy and CUDA versions (what a stand-in module offers, otherwise)."""
    try:
        props = xp.cuda.runtime.getDeviceProperties(xp.cuda.Device().id)
        name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        cuda = xp.cuda.runtime.runtimeGetVersion()
        return (
            f"{name} ({props['totalGlobalMem'] / 2**30:.0f} GiB), CuPy {xp.__version__}, "
            f"CUDA runtime {cuda // 1000}.{cuda % 1000 // 10}"
        )
    except AttributeError:
        return getattr(xp, "__name__", "?")


def device_main(args, base, preset):
    """--device gpu: training's step on the GPU and on the CPU, per dtype; exit status 2 without a GPU."""
    from tagger_ref.device import backend
    from tagger_ref.errors import DeviceError

    try:
        backend.use_device("gpu")
    except DeviceError as e:
        print(f"step_time: {e}", file=sys.stderr)
        return 2
    print(f"GPU: {describe_device(backend.array_module())}")
    epochs, steps_per_epoch = PRESETS[preset].num_epochs, EPOCH_IMAGES // args.batch
    print(
        f"training's step (batch_cost_and_grad, fast path, then {base.optimizer}): median of {args.repeats} steps; "
        f"epoch: {steps_per_epoch} steps ({EPOCH_IMAGES} images), steps only"
    )
    print(
        f"{'device':6s} {'dtype':8s} {'draws':6s} {'step s':>8s} {'epoch min':>9s} {f'{epochs} ep. h':>9s}  last cost"
    )
    ok, times = True, {}
    runs = [("gpu", d, draws) for d in args.dtypes.split(",") for draws in ("host", "device")]
    runs += [("cpu", d, "host") for d in args.dtypes.split(",")]
    try:
        for where, dtype, draws in runs:
            backend.use_device(where)
            warmup = args.warmup if where == "gpu" else 1
            seconds, cost = device_step_seconds(
                base.replace(dtype=dtype), args.batch, args.repeats, warmup, draws, numpy.random.default_rng(0)
            )
            times[where, dtype, draws] = seconds
            epoch = steps_per_epoch * seconds
            print(
                f"{where:6s} {dtype:8s} {draws:6s} {seconds:8.4f} {epoch / 60:9.1f} {epochs * epoch / 3600:9.2f}"
                f"  {cost:.4f}"
            )
            ok &= bool(numpy.isfinite(cost))
    finally:
        backend.use_device("cpu")
    for dtype in args.dtypes.split(","):
        print(
            f"speed-up, GPU {dtype} (host draws) over CPU {dtype}: "
            f"{times['cpu', dtype, 'host'] / times['gpu', dtype, 'host']:.1f}x"
        )
    if not ok:
        print("error: a step's cost is not finite", file=sys.stderr)
        return 1
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--model",
        choices=sorted(MODELS),
        default="shapes",
        help="shapes: the paper's Shapes model; texture: the TextureMNIST stage-1 model (default shapes)",
    )
    p.add_argument("--repeats", type=int, default=7, help="timed repetitions, medians reported (default 7)")
    p.add_argument("--threads", type=int, help="limit the BLAS threads (default: the library's choice)")
    p.add_argument("--batch", type=int, default=100, help="B (default 100)")
    p.add_argument(
        "--ladder", help="Ladder sizes (default the paper's: 2000,1000,500 for shapes, 3000,2000,1000 for texture)"
    )
    p.add_argument("--dtypes", default="float64,float32", help="dtypes to time (default float64,float32)")
    p.add_argument(
        "--allocator",
        choices=["both", "kept"],
        default="both",
        help="both: time with the default allocator settings, then with freed memory kept "
        "(as tagger-ref runs); kept: only the latter (default both)",
    )
    p.add_argument(
        "--paths",
        default="fast,reference",
        help="derivative paths to time: fast (training's), reference (autograd through the plain "
        "formulas); default both",
    )
    p.add_argument("--no-port", action="store_true", help="do not time the PyTorch port")
    p.add_argument(
        "--device",
        choices=["cpu", "gpu"],
        default="cpu",
        help="gpu: time training's step on the GPU and on the CPU, per dtype and with an epoch "
        "estimate, instead of the table of step and bound (default cpu)",
    )
    p.add_argument(
        "--warmup", type=int, default=3, help="--device gpu: untimed steps before the timed ones on the GPU (default 3)"
    )
    args = p.parse_args(argv)
    from threadpoolctl import threadpool_info, threadpool_limits

    if args.threads:
        threadpool_limits(limits=args.threads, user_api="blas")
    port = None if args.no_port or args.device == "gpu" else load_port()
    port_threads = args.threads or os.cpu_count()
    if port is not None:
        import torch

        torch.set_num_threads(port_threads)
    blas = [
        f"{i.get('internal_api')} {i.get('version')} ({i.get('num_threads')} threads)"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    preset, ladder = MODELS[args.model]
    base = PRESETS[preset].replace(encoder_proj=tuple(int(h) for h in (args.ladder or ladder).split(",")))
    print(
        f"{args.model} model ({preset}, {base.input_type}): N={base.n_inputs}, K={base.n_groups}, "
        f"T={base.n_iterations}, B={args.batch}, "
        f"Ladder {base.encoder_proj}, norm {base.norm}; {os.cpu_count()} CPUs; BLAS: {', '.join(blas) or '?'}"
    )
    if args.device == "gpu":
        return device_main(args, base, preset)
    products = product_list(base, args.batch)
    flop = 2 * sum(a[0] * a[1] * b[1] for a, b, _, _ in products)
    print(f"{len(products)} matrix products per step, {flop / 1e9:.1f} GFLOP")
    paths = args.paths.split(",")
    if not set(paths) <= {"fast", "reference"}:
        p.error(f"--paths takes fast and/or reference, got {args.paths!r}")
    timed = f"{port_threads} threads" if port is not None else "not installed"
    print(f"PyTorch port: {'not timed (--no-port)' if args.no_port else timed}")
    print(
        f"{'dtype':8s} {'path':9s} {'allocator':9s} {'step s':>7s} {'bound s':>7s} {'ratio':>6s} {'port':>6s} "
        f"{'port/bd':>7s} {'prim fw':>7s} {'prim bw':>7s} {'rest s':>7s} "
        f"{'GFLOP/s':>8s} {'faults':>7s} {'peak MB':>7s}  gradient dtypes"
    )
    ok = True
    settings = ["default", "kept"] if args.allocator == "both" else ["kept"]
    for setting in settings:
        if setting == "kept" and not keep_freed_memory():
            print("(this C library is not glibc: the allocator settings are left as they are)")
        for dtype, path in [(d, q) for d in args.dtypes.split(",") for q in paths]:
            config = base.replace(dtype=dtype)
            rng = numpy.random.default_rng(0)
            t = time_step_and_bound(config, products, args.batch, args.repeats, rng, fast=path == "fast", port=port)
            port_text = f"{t.port_ratio:6.2f}" if t.port_ratio is not None else f"{'-':>6s}"
            port_text += f" {t.port_bound_ratio:7.2f}" if t.port_bound_ratio is not None else f" {'-':>7s}"
            if t.primitives is not None:
                fw, bw = t.primitives
                prim_text = f"{fw:7.3f} {bw:7.3f} {t.step - t.bound - fw - bw:7.3f}"
            else:
                prim_text = " ".join(f"{'-':>7s}" for _ in range(3))
            print(
                f"{dtype:8s} {path:9s} {setting:9s} {t.step:7.3f} {t.bound:7.3f} {t.ratio:6.2f} {port_text} "
                f"{prim_text} {flop / t.bound / 1e9:8.1f} {t.faults:7d} {t.peak / 2**20:7.0f}  {', '.join(t.dtypes)}"
            )
            ok &= t.dtypes == [dtype]
    if not ok:
        print("error: gradients came back in another dtype than the parameters", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
