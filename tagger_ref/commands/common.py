"""Argument helpers shared by the subcommands."""
import os

from ..config import load_config
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
