"""Generate the golden cases shipped with the package (tagger_ref/golden/<name>/).

Each case is a small (config, params, inputs, trace) set in the exchange format of spec
section 8, made from a fixed seed: parameters are the initial values of section 3 perturbed
(``init_params`` then ``perturb_params``; at the exact initial values a binary model's Ladder
output is zero, which hides most of the computation), inputs come from ``make_inputs`` over
random clean data, and the trace is ``compute_trace``. Regenerate them all with

    python -m tagger_ref.golden_gen            # writes tagger_ref/golden/<name>/
    python -m tagger_ref.golden_gen --out DIR  # somewhere else, e.g. to compare

The test suite regenerates them in a temporary folder and requires every array of the four files
to match the shipped ones to 1e-12. A change of the maths that moves a trace therefore shows up
as a failing test, and the shipped files are regenerated on purpose, never silently.
"""
import argparse
import dataclasses
import os
import sys
import typing

import numpy

from .config import TaggerConfig
from .fileio import write_json
from .inputs import make_inputs, prepare_inputs, save_inputs
from .params import prepare_params, save_params
from .random_case import random_params
from .trace import compute_trace, save_trace

GOLDEN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
FILES = ("config.json", "params.npz", "inputs.npz", "trace.npz")


@dataclasses.dataclass(frozen=True)
class GoldenCase:
    description: str
    config: TaggerConfig
    seed: int                                  # numpy.random.Generator seed for params, data and inputs
    n_classes_in_y: typing.Optional[int] = None  # classification: draw y from 0..C-1


def _cfg(input_type, n_inputs, n_groups, batch, n_iterations, ladder, **changes):
    continuous = input_type == "continuous"
    return TaggerConfig(input_type=input_type, n_inputs=n_inputs, n_groups=n_groups, n_iterations=n_iterations,
                        encoder_proj=ladder, batch_size=batch, input_noise=0.2, z_init=0.5 if continuous else 0.26,
                        num_epochs=1, seed=0, **changes)


# The shipped cases, in the order `tagger-ref golden list` shows them.
CASES = {
    "binary-batch-original": GoldenCase(
        "binary inputs, batch norm, the original code's semantics (the Shapes model, small)",
        _cfg("binary", 12, 3, 4, 3, (10, 8, 6)), seed=101),
    "binary-layer-original": GoldenCase(
        "binary inputs, layer norm (Tagger*), original semantics",
        _cfg("binary", 12, 3, 4, 3, (10, 8, 6), norm="layer"), seed=102),
    "binary-batch-paper": GoldenCase(
        "binary inputs, batch norm, the paper's semantics (E1: delta_z without (1-2 beta); E5: cost summed)",
        _cfg("binary", 12, 3, 4, 3, (10, 8, 6), semantics="paper"), seed=103),
    "continuous-batch-original": GoldenCase(
        "continuous inputs, batch norm, original semantics (the TextureMNIST pretraining model, small)",
        _cfg("continuous", 10, 3, 4, 3, (9, 7, 5)), seed=104),
    "continuous-layer-paper": GoldenCase(
        "continuous inputs, layer norm, the paper's semantics (E2 via the exact (28), E3 variance v + sigma^2, E5 sum)",
        _cfg("continuous", 10, 3, 4, 3, (9, 7, 5), norm="layer", semantics="paper"), seed=105),
    "continuous-batch-paper-eq29": GoldenCase(
        "continuous inputs, batch norm, the paper's semantics with E2 via (29) / Alg. 1",
        _cfg("continuous", 10, 3, 4, 3, (9, 7, 5), semantics="paper-eq29"), seed=106),
    "deep-binary": GoldenCase(
        "binary inputs, a five-layer Ladder, T = 2",
        _cfg("binary", 8, 2, 3, 2, (10, 9, 8, 7, 6)), seed=107),
    "two-layer-continuous": GoldenCase(
        "continuous inputs, the smallest Ladder (L = 2), K = 4",
        _cfg("continuous", 8, 4, 3, 3, (7, 5)), seed=108),
    "k1-binary": GoldenCase(
        "binary inputs, a single group (K = 1: masks are all ones, L(m) is one)",
        _cfg("binary", 8, 1, 5, 2, (8, 6, 5)), seed=109),
    "classify": GoldenCase(
        "continuous inputs, classification: top layer 10 classes + 'no class', class_cost_x 0.1, two digits per image",
        _cfg("continuous", 10, 3, 5, 3, (12, 9, 11), class_cost_x=0.1, objects_per_sample=2), seed=110,
        n_classes_in_y=10),
}


def make_case(case):
    """(config, params, inputs, trace) of one golden case, all from its seed."""
    cfg = case.config
    rng = numpy.random.default_rng(case.seed)
    params = prepare_params(random_params(cfg, rng), cfg)
    B, N = cfg.batch_size, cfg.n_inputs
    if cfg.input_type == "binary":
        x = (rng.random((B, N)) < 0.3).astype("float64")       # sparse on-pixels, like Shapes
    else:
        x = rng.random((B, N))                                 # intensities in [0, 1), like TextureMNIST
    y = None
    if case.n_classes_in_y is not None:
        y = rng.integers(0, case.n_classes_in_y, size=(B, cfg.objects_per_sample))
    inputs = prepare_inputs(make_inputs(cfg, x, rng, corrupted=True, y=y), cfg)
    return cfg, params, inputs, compute_trace(params, cfg, inputs)


def write_case(name, folder):
    """Write the four files of case ``name`` into ``folder`` (created if missing)."""
    cfg, params, inputs, trace = make_case(CASES[name])
    os.makedirs(folder, exist_ok=True)
    write_json(os.path.join(folder, "config.json"), cfg.to_dict())
    save_params(os.path.join(folder, "params.npz"), params)
    save_inputs(os.path.join(folder, "inputs.npz"), inputs)
    save_trace(os.path.join(folder, "trace.npz"), trace)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tagger_ref.golden_gen", description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=GOLDEN_DIR, help="destination folder (default: the package's golden/)")
    parser.add_argument("names", nargs="*", help="cases to write (default: all)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(CASES)}")
    for name in args.names or CASES:
        write_case(name, os.path.join(args.out, name))
        print(f"wrote {os.path.join(args.out, name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
