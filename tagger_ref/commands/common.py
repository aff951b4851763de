"""Argument helpers shared by the subcommands."""
import os

from ..backend import DEVICES, use_device
from ..config import DTYPES, load_config
from ..errors import OutputError


def add_config_argument(parser, required=True):
    parser.add_argument("--config", required=required,
                        help="a preset name (shapes, texture-mnist-pretrain, tiny-binary, ...) or a JSON file of config fields")


def config_from_args(args, dtype=None):
    config = load_config(args.config)
    if dtype is not None and dtype != config.dtype:
        config = config.replace(dtype=dtype)
    return config


def check_output_file(path):
    """Fail early, before any work, when ``path`` cannot be written."""
    folder = os.path.dirname(os.path.abspath(path)) or "."
    if os.path.isdir(path):
        raise OutputError(f"output {path} is a folder")
    if not os.path.isdir(folder):
        raise OutputError(f"cannot write {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"cannot write {path}: folder {folder} is not writable")


def add_device_argument(parser, gpu_dtype="float32"):
    """--device cpu|gpu and --dtype; without --dtype, float64 on the CPU and ``gpu_dtype`` on the GPU."""
    parser.add_argument("--device", choices=DEVICES, default="cpu",
                        help=f"where the maths runs: cpu (NumPy, default) or gpu (CuPy, {gpu_dtype} unless --dtype)")
    parser.add_argument("--dtype", choices=DTYPES,
                        help=f"floating type of the computation (default: the config's on cpu, {gpu_dtype} on gpu)")
    parser.set_defaults(gpu_dtype=gpu_dtype)


def apply_device(args, config):
    """Switch to ``args.device`` (DeviceError in one line if the GPU is unavailable) and return
    ``config`` with the dtype to compute in."""
    use_device(args.device)
    dtype = args.dtype or (args.gpu_dtype if args.device == "gpu" else config.dtype)
    return config if dtype == config.dtype else config.replace(dtype=dtype)
