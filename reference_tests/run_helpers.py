"""Small Shapes files, a tiny Shapes config and command-line runs, shared by the training,
figure and demo tests."""

import json
import os
import subprocess
import sys

import numpy

from tagger_ref.commands.cli import main
from tagger_ref.config import TaggerConfig
from tagger_ref.experiments.training import CHECKPOINT

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A Shapes model (N = 400) small enough for a step in milliseconds: K=3, T=2, Ladder (8, 6, 4).
TINY_SHAPES = TaggerConfig(
    n_groups=3, n_iterations=2, encoder_proj=(8, 6, 4), norm="layer", lr=1e-3, batch_size=10, num_epochs=2, seed=0
)


# The checkpoint entries that hold clock readings: the only ones that may differ between two
# runs that must be equal.
CLOCKS = {"seconds", "cpu_seconds", "log/seconds", "log/cpu_seconds"}


def load_repo_script(*path):
    """A script of this checkout that is not part of the package (benchmarks/, maintainer/), imported as a module."""
    import importlib.util

    full = os.path.join(REPO, *path)
    spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(full))[0], full)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def checkpoint_arrays(run_dir):
    """Every entry of RUN_DIR's checkpoint, as arrays."""
    with numpy.load(os.path.join(run_dir, CHECKPOINT)) as f:
        return {k: f[k] for k in f.files}


def shapes_file(folder, train=60, valid=20, test=30):
    """Write a small Shapes .npz with `tagger-ref data shapes`; returns its path."""
    path = os.path.join(folder, "shapes-small.npz")
    assert (
        main(
            [
                "data",
                "shapes",
                "--out",
                path,
                "--train",
                str(train),
                "--valid",
                str(valid),
                "--test",
                str(test),
                "--single",
                "0",
            ]
        )
        == 0
    )
    return path


def config_file(folder, config=TINY_SHAPES, name="tiny-shapes.json"):
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        json.dump(config.to_dict(), f)
    return path


def cli(*args, **popen):
    """Start `tagger-ref ARGS` as a subprocess of this Python (the package need not be installed)."""
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen(
        [sys.executable, "-m", "tagger_ref.commands.cli", *map(str, args)],
        cwd=popen.pop("cwd", REPO),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def run_cli(*args, timeout=120):
    """Run `tagger-ref ARGS` to the end; returns (exit status, stdout, stderr)."""
    proc = cli(*args)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err
