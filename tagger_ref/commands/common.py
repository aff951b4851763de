"""Argument helpers shared by the subcommands."""

import contextlib
import os

from ..config import DTYPES, load_config
from ..config import check_seed as _check_seed
from ..device import DEVICES
from ..errors import OutputError
from ..files.locks import run_folder


def add_config_argument(parser, required=True, help=None, **kwargs):
    """--config, every command's: a preset name or a JSON file of config fields (``help`` says whose)."""
    parser.add_argument(
        "--config",
        required=required,
        help=help or "a preset name (shapes, texture-mnist-pretrain, tiny-binary, ...) or a JSON file of config fields",
        **kwargs,
    )


def config_from_args(args, dtype=None):
    config = load_config(args.config)
    if dtype is not None and dtype != config.dtype:
        config = config.replace(dtype=dtype)
    return config


def check_seed(args):
    """--seed: a NumPy seed is a non-negative integer; refused in one line before anything is made."""
    seed = getattr(args, "seed", None)
    if seed is not None:
        _check_seed(seed, "--seed")


def add_device_argument(parser, gpu_dtype="float32"):
    """--device cpu|gpu and --dtype; without --dtype, float64 on the CPU and ``gpu_dtype`` on the GPU."""
    parser.add_argument(
        "--device",
        choices=DEVICES,
        default="cpu",
        help=f"where the maths runs: cpu (NumPy, default) or gpu (CuPy, {gpu_dtype} unless --dtype)",
    )
    parser.add_argument(
        "--dtype",
        choices=DTYPES,
        help=f"floating type of the computation (default: the config's on cpu, {gpu_dtype} on gpu)",
    )
    parser.set_defaults(gpu_dtype=gpu_dtype)


def apply_device(args, config):
    """Switch to ``args.device`` (DeviceError in one line if the GPU is unavailable) and return
    ``config`` with the dtype to compute in."""
    from ..device.backend import use_device

    use_device(args.device)
    dtype = args.dtype or (args.gpu_dtype if args.device == "gpu" else config.dtype)
    return config if dtype == config.dtype else config.replace(dtype=dtype)


@contextlib.contextmanager
def training_folder(folder, resume):
    """The run folder of ``train`` and ``baseline`` for the run's life (``locks.run_folder``: locked,
    and left as it was found if the command fails before a training step is checkpointed).

    A new run (not ``resume``) takes a folder that is missing, empty (hidden files aside) or holds
    a run (which it then refuses without --resume, naming the checkpoint); a folder with other
    files is refused, so that a run never writes over files it did not make."""
    from ..experiments.checkpoint import CHECKPOINT

    if not resume and os.path.isdir(folder):
        names = sorted(n for n in os.listdir(folder) if not n.startswith("."))
        if names and CHECKPOINT not in names:
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            raise OutputError(
                f"--out {folder} holds files ({shown}) but no {CHECKPOINT}: not a run folder, and a new "
                f"run would write over them; choose a new or empty folder"
            )
    with run_folder(folder, worth_keeping=_trained) as f:
        yield f


def _trained(folder):
    """Whether the run in ``folder`` has a checkpoint after at least one training step."""
    from ..experiments.checkpoint import CHECKPOINT, checkpoint_step

    step = checkpoint_step(os.path.join(folder, CHECKPOINT))
    return isinstance(step, int) and step > 0


def run_training(args, train_fn):
    """Call ``train_fn(stop_requested)`` with the BLAS threads limited to ``args.threads`` (if given)
    and SIGINT/SIGTERM turned into a checkpointed stop; print how training ended and return the
    exit status: 0 done or stopped at the time limit, 130 SIGINT, 143 SIGTERM. ``train_fn``
    returns training's ``{"status", "epoch", "step"}`` (``training.train``)."""
    from ..experiments.checkpoint import CHECKPOINT
    from ..experiments.loop import stop_signals

    limit = None
    if args.threads:
        from threadpoolctl import threadpool_limits

        limit = threadpool_limits(limits=args.threads, user_api="blas")
    try:
        with stop_signals() as stop_requested:
            result = train_fn(stop_requested)
    finally:
        if limit is not None:
            limit.restore_original_limits()
    where = f"{result['epoch']} epochs, {result['step']} steps; checkpoint {os.path.join(args.out, CHECKPOINT)}"
    if result["status"] == "done":
        print(f"training done: {where}")
        return 0
    if result["status"] == "time limit":
        print(f"training stopped at the time limit: {where}; --resume continues")
        return 0
    print(f"training stopped by {result['status']}: {where}; --resume continues")
    return 130 if result["status"] == "SIGINT" else 143
