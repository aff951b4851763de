"""``tagger-ref data``: generate the paper's datasets, or describe a dataset file.

    tagger-ref data shapes --out shapes.npz [--seed S] [--train N] [--valid N] [--test N] [--single N]
    tagger-ref data texture-mnist --digits {1,2} --out tmnist2.npz [--mnist DIR] [--seed S]
                                  [--train N] [--valid N] [--test N] [--random-top]
    tagger-ref data info FILE

The generators are in ``data_gen``; this module adds the file writing (atomic, so a failed or
interrupted run leaves no file), the timing and the progress bar. See ``docs/datasets.md``.
"""

import json
import os
import sys
import time

import numpy

from data_gen import digits, shapes, texture_mnist

from ..errors import DataError, OutputError
from ..experiments.memory import check_fits
from ..files.fileio import check_output_file, save_npz


def register(subparsers):
    parser = subparsers.add_parser(
        "data",
        help="generate Shapes or TextureMNIST1/2, or describe a dataset file",
        description="Generate the datasets of the Tagger paper exactly as the authors did (docs/datasets.md).",
    )
    sub = parser.add_subparsers(dest="data_command", metavar="DATASET", parser_class=type(parser))
    sub.required = True

    p = sub.add_parser(
        "shapes",
        help="Shapes: 20x20 binary images of three sprites (docs/spec.md section 9)",
        description="Write Shapes to a .npz. Defaults: the authors' split and random stream.",
    )
    p.add_argument("--out", required=True, metavar="FILE.npz", help="output file")
    p.add_argument(
        "--seed",
        type=int,
        default=shapes.SEED,
        help=f"seed of the legacy RandomState (default {shapes.SEED}, the authors'; another seed gives other data)",
    )
    for split, size, _ in shapes.SPLITS:
        p.add_argument(f"--{split}", type=int, default=size, metavar="N", help=f"{split} images (default {size})")
    p.add_argument("--compress", action="store_true", help="zip-compress the .npz (smaller, slower to write)")
    p.set_defaults(func=run_shapes)

    p = sub.add_parser(
        "texture-mnist",
        help="TextureMNIST1/2: textured digits on a textured background",
        description="Write TextureMNIST1 or TextureMNIST2 to a .npz. Defaults: the authors' seeds, "
        "call order and split.",
    )
    p.add_argument("--digits", type=int, choices=(1, 2), required=True, help="digits per image")
    p.add_argument("--out", required=True, metavar="FILE.npz", help="output file")
    p.add_argument(
        "--mnist",
        metavar="DIR",
        help="folder with the four MNIST IDX files (.gz or not); without it, an offline stand-in made "
        "from scikit-learn's 8x8 digits is used, which is NOT MNIST",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="default: the authors' four seeds (52698, 2938, 598, 546298); a seed derives all four from it",
    )
    for split, size in texture_mnist.DEFAULT_SIZES.items():
        p.add_argument(f"--{split}", type=int, default=size, metavar="N", help=f"{split} images (default {size})")
    p.add_argument(
        "--random-top",
        action="store_true",
        help="two digits: random top digit, targets in layer order (the evident intent; departs from "
        "the released data, errata E14)",
    )
    p.add_argument("--compress", action="store_true", help="zip-compress the .npz (smaller, slower to write)")
    p.set_defaults(func=run_texture_mnist)

    p = sub.add_parser("info", help="name, splits, sizes and metadata of a dataset file (.npz or the authors' .h5)")
    p.add_argument("file", metavar="FILE")
    p.set_defaults(func=run_info)


def check_out(path):
    """Fail early, before a long generation, on an output path that cannot be written."""
    if not path.endswith(".npz"):
        raise OutputError(f"--out {path}: the output file name must end in .npz")
    check_output_file(path)
    return path


def _progress(total, what):
    from tqdm import tqdm

    return tqdm(total=total, desc=what, unit="img", file=sys.stderr, delay=2, leave=False)


def _collect(chunks, total, what):
    """Run a generator of ``(split, images)`` pieces under a progress bar, shown if it takes over 2 s."""
    pieces = []
    with _progress(total, what) as bar:
        for split, images in chunks:
            pieces.append((split, images))
            bar.update(len(images["features"]))
    return pieces


def _write(path, arrays, meta, compress):
    arrays = dict(arrays, meta_json=numpy.array(json.dumps(meta)))
    save_npz(path, arrays, compressed=compress)


def _report(path, what, sizes, started):
    counts = ", ".join(f"{split} {n}" for split, n in sizes.items())
    megabytes = os.path.getsize(path) / 2**20
    print(f"wrote {path}: {what}, {counts} ({megabytes:.0f} MiB) in {time.perf_counter() - started:.1f} s")


def run_shapes(args):
    started = time.perf_counter()
    sizes = shapes.check_sizes({split: getattr(args, split) for split in shapes.SPLIT_NAMES})
    if not 0 <= args.seed < 2**32:
        raise DataError(f"--seed must be in 0..2**32-1, got {args.seed}")
    check_out(args.out)
    check_fits(shapes.file_bytes(sizes), f"Shapes of {sum(sizes.values())} images")  # before drawing any
    pieces = _collect(shapes.generate_chunks(sizes, args.seed), sum(sizes.values()), "Shapes")
    splits = shapes.concatenate_chunks(pieces)
    _write(args.out, shapes.file_arrays(splits), shapes.metadata(sizes, args.seed), args.compress)
    _report(
        args.out,
        "Shapes" + (" (the authors' stream)" if args.seed == shapes.SEED else f" (seed {args.seed})"),
        sizes,
        started,
    )
    return 0


def run_texture_mnist(args):
    started = time.perf_counter()
    sizes = texture_mnist.check_sizes({split: getattr(args, split) for split in texture_mnist.SPLIT_NAMES})
    texture_mnist.seeds(args.seed)  # validates the seed
    check_out(args.out)
    check_fits(
        texture_mnist.file_bytes(sizes, args.digits),
        f"TextureMNIST{args.digits} of {sum(sizes.values())} images",  # before the digits are read
    )
    source = digits.load_digits(args.mnist)
    texture_mnist.check_request(source, args.digits, sizes)
    if source.name != digits.MNIST:
        print(
            f"note: no --mnist DIR given: using the offline stand-in, {source.name}; this is not the paper's dataset",
            file=sys.stderr,
        )
    elif not source.standard:
        print(
            f"note: the files in {args.mnist} are not the standard MNIST files; "
            "the result cannot equal the authors' released data",
            file=sys.stderr,
        )
    chunks = texture_mnist.generate_chunks(source, args.digits, sizes, args.seed, args.random_top)
    pieces = _collect(chunks, sum(sizes.values()), f"TextureMNIST{args.digits}")
    splits = texture_mnist.concatenate_chunks(pieces)
    meta = texture_mnist.metadata(source, args.digits, sizes, args.seed, args.random_top)
    _write(args.out, texture_mnist.file_arrays(splits), meta, args.compress)
    what = f"TextureMNIST{args.digits} from {source.name}"
    if meta["released_recipe"]:
        what += " (the authors' recipe)"
    _report(args.out, what, sizes, started)
    return 0


def run_info(args):
    from ..files.datasets import dataset_kind, dataset_splits, load_dataset

    name = dataset_kind(args.file)
    print(f"{args.file}: {name}")
    meta = None
    for split in dataset_splits(args.file):
        d = load_dataset(args.file, split)
        meta = d.meta
        extra = "groups" if d.groups is not None else "targets, codes"
        print(f"  {split}: {d.n_images} images, features {d.features.shape}, mask {d.mask.shape}, {extra}")
    if meta is not None:
        print("  meta: " + json.dumps(meta, sort_keys=True))
    return 0
