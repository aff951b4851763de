"""Load one split of a dataset for training or evaluation.

Two file formats hold the same arrays: this project's ``.npz`` (written by ``tagger-ref data``,
see ``docs/datasets.md``) and the authors' released HDF5 files (Fuel's layout, read with the
optional h5py). The format is told by the file's first bytes, not its name. Every problem (a
missing file, another format, a missing split, arrays of the wrong shape or range, another dataset
than expected) is a :class:`~tagger_ref.errors.DataError` naming the file.

Arrays of a split with ``n`` images, ``N`` pixels, ``G`` ground-truth masks (docs/spec.md sections 5, 9):

| dataset | N | G | input_type | extra |
|---|---|---|---|---|
| ``shapes`` | 400 | 3 | binary | ``groups (n, N)`` uint8 |
| ``texture-mnist1`` | 784 | 2 | continuous | ``targets (n, 1)``, ``codes (n, 2)`` int64 |
| ``texture-mnist2`` | 784 | 3 | continuous | ``targets (n, 2)``, ``codes (n, 3)`` int64 |
"""

import dataclasses
import json
import os
import typing
import zipfile
import zlib

import numpy

from ..errors import DataError
from .fileio import read_head

# The datasets a file may hold, one row each (the table above): name -> (input_type, N, G).
KINDS = {
    "shapes": ("binary", 400, 3),
    "texture-mnist1": ("continuous", 784, 2),
    "texture-mnist2": ("continuous", 784, 3),
}
NAMES = tuple(KINDS)
INPUT_TYPES = {name: kind[0] for name, kind in KINDS.items()}
N_INPUTS = {name: kind[1] for name, kind in KINDS.items()}
N_MASKS = {name: kind[2] for name, kind in KINDS.items()}

_ZIP_SIGNATURE = b"PK\x03\x04"
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    name: str  # "shapes", "texture-mnist1" or "texture-mnist2"
    split: str  # "train", "valid", "test" (or "single" for Shapes)
    input_type: str  # "binary" (Shapes) or "continuous" (TextureMNIST), docs/spec.md section 2
    features: numpy.ndarray  # (n, N) float32: the clean inputs x, in {0, 1} or [0, 1]
    mask: numpy.ndarray  # (n, G, N) float32: ground-truth soft masks, summing to 1 over G
    groups: typing.Optional[numpy.ndarray] = None  # (n, N) uint8, Shapes: 0 unscored, else sprite 1..3
    targets: typing.Optional[numpy.ndarray] = None  # (n, d) int64, TextureMNIST: digit classes
    codes: typing.Optional[numpy.ndarray] = None  # (n, d + 1) int64, TextureMNIST: texture indices
    meta: dict = dataclasses.field(default_factory=dict)  # the file's metadata
    path: str = ""  # the file it was read from

    @property
    def n_images(self):
        return self.features.shape[0]

    @property
    def n_inputs(self):
        return self.features.shape[1]

    @property
    def n_masks(self):
        return self.mask.shape[1]


def _file_format(path):
    path = os.fspath(path)
    head = read_head(path, 8, DataError, what="data file")
    if head.startswith(_ZIP_SIGNATURE):
        return "npz"
    if head == _HDF5_SIGNATURE:
        return "hdf5"
    raise DataError(f"data file {path} is neither a .npz archive (tagger-ref data) nor an HDF5 file (the authors')")


def _name(dataset, digits, path):
    name = "shapes" if dataset == "shapes" else f"{dataset}{digits}"
    if name not in NAMES:
        raise DataError(f"data file {path} holds an unknown dataset {name!r} (known: {', '.join(NAMES)})")
    return name


class _Npz:
    """This project's ``.npz``: keys ``{split}_{array}`` and ``meta_json``, read lazily per key."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self.file = open(self.path, "rb")
        try:
            try:
                self.archive = numpy.load(self.file, allow_pickle=False)
            except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError) as e:
                raise DataError(f"data file {self.path} is not a readable .npz archive: {e}") from None
            self.keys = list(self.archive.files)
            self.meta, self.name = self._metadata()
        except BaseException:
            self.close()
            raise
        self.splits = [k[: -len("_features")] for k in self.keys if k.endswith("_features")]

    def _metadata(self):
        if "meta_json" not in self.keys:
            raise DataError(
                f"data file {self.path} is a .npz but not a dataset written by `tagger-ref data`"
                f" (no meta_json; keys: {', '.join(self.keys[:8])})"
            )
        try:
            meta = json.loads(str(self.archive["meta_json"]))
            dataset, digits = meta["dataset"], meta.get("digits")
        except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, KeyError, TypeError):
            raise DataError(f"data file {self.path} has an unreadable meta_json") from None
        return meta, _name(dataset, digits, self.path)

    def read(self, split):
        prefix = f"{split}_"
        try:
            return {k[len(prefix) :]: self.archive[k] for k in self.keys if k.startswith(prefix)}
        except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError) as e:  # zlib: a damaged --compress file
            raise DataError(f"data file {self.path} is damaged (split {split!r} unreadable): {e}") from None

    def close(self):
        if hasattr(self, "archive"):
            self.archive.close()
        self.file.close()


def dataset_kind(path):
    """The dataset a file holds: ``"shapes"``, ``"texture-mnist1"`` or ``"texture-mnist2"``."""
    if _file_format(path) == "hdf5":
        from . import fuel_h5

        return _name(*fuel_h5.kind(path), path)
    npz = _Npz(path)
    npz.close()
    return npz.name


def dataset_splits(path):
    """The split names a file holds, in its order."""
    if _file_format(path) == "hdf5":
        from . import fuel_h5

        return fuel_h5.splits(path)
    npz = _Npz(path)
    npz.close()
    return npz.splits


def _check(name, arrays, path, split):
    """DataError unless the arrays of one split have the shapes and ranges of dataset ``name``."""
    where = f"data file {path}, split {split!r}"
    required = ("features", "mask") + (("groups",) if name == "shapes" else ("targets", "codes"))
    missing = [k for k in required if k not in arrays]
    if missing:
        raise DataError(f"{where} lacks {', '.join(missing)}")
    features, mask = arrays["features"], arrays["mask"]
    n_inputs, n_masks = N_INPUTS[name], N_MASKS[name]
    if features.ndim == 0:  # a scalar has no images to count
        raise DataError(f"{where}: features has shape (), a {name} file has (n, {n_inputs})")
    n = len(features)
    expected = {"features": (n, n_inputs), "mask": (n, n_masks, n_inputs)}
    if name == "shapes":
        expected["groups"] = (n, n_inputs)
    else:
        expected["targets"] = (n, n_masks - 1)
        expected["codes"] = (n, n_masks)
    for key, shape in expected.items():
        if arrays[key].shape != shape:
            raise DataError(f"{where}: {key} has shape {arrays[key].shape}, a {name} file has {shape}")
        if arrays[key].dtype.kind not in "biuf":
            raise DataError(f"{where}: {key} has dtype {arrays[key].dtype}, not numbers")
    if n == 0:
        return
    if not numpy.isfinite(features).all() or features.min() < 0 or features.max() > 1:
        raise DataError(f"{where}: features outside [0, 1]")
    if name == "shapes" and not numpy.isin(features, (0, 1)).all():
        raise DataError(f"{where}: Shapes features must be 0 or 1")
    if not numpy.allclose(mask.sum(axis=1), 1, rtol=0, atol=1e-4) or mask.min() < 0:
        raise DataError(f"{where}: masks are not non-negative and summing to 1 over their {n_masks} channels")
    limits = {"groups": n_masks, "targets": 9, "codes": 19}
    for key, top in limits.items():
        if key not in expected:
            continue
        values = arrays[key]
        # labels are whole numbers: NaN fails every comparison below, and a float would be cut down
        # (NaN to int64's minimum) where it becomes an index
        if values.dtype.kind == "f" and not (numpy.isfinite(values).all() and (values == numpy.round(values)).all()):
            raise DataError(f"{where}: {key} are not all whole numbers (NaN, infinite or fractional values)")
        if values.min() < 0 or values.max() > top:
            raise DataError(f"{where}: {key} outside 0..{top}")


def _labels(arrays, key, dtype):
    """A label array in its documented dtype (checked whole and in range by ``_check``), or None."""
    return numpy.asarray(arrays[key], dtype=dtype) if key in arrays else None


def load_dataset(path, split, expect=None):
    """Read one split of a dataset file.

    path: a ``.npz`` written by ``tagger-ref data`` or an authors' ``.h5``; split: e.g. "train";
    expect: None, a dataset name of :data:`NAMES`, or "texture-mnist" (either digit count): a
    file holding another dataset is an error. Returns a :class:`Dataset` (float32 features and
    masks).
    """
    path = os.fspath(path)
    if expect is not None and expect not in NAMES + ("texture-mnist",):
        raise DataError(f"unknown dataset {expect!r} (known: {', '.join(NAMES + ('texture-mnist',))})")
    if _file_format(path) == "hdf5":
        from . import fuel_h5

        dataset, digits, arrays = fuel_h5.read_split(path, split)
        name = _name(dataset, digits, path)
        meta = {"dataset": dataset, "digits": digits, "format": "authors' Fuel HDF5", "file": os.path.basename(path)}
    else:
        npz = _Npz(path)
        try:
            name, meta = npz.name, npz.meta
            if split not in npz.splits:
                raise DataError(f"data file {path} has no split {split!r} (has: {', '.join(npz.splits)})")
            arrays = npz.read(split)
        finally:
            npz.close()
    if expect is not None and not name.startswith(expect):
        raise DataError(f"data file {path} holds {name}, not {expect}")
    _check(name, arrays, path, split)
    return Dataset(
        name=name,
        split=split,
        input_type=INPUT_TYPES[name],
        features=numpy.asarray(arrays["features"], dtype=numpy.float32),
        mask=numpy.asarray(arrays["mask"], dtype=numpy.float32),
        groups=_labels(arrays, "groups", numpy.uint8),
        targets=_labels(arrays, "targets", numpy.int64),
        codes=_labels(arrays, "codes", numpy.int64),
        meta=meta,
        path=path,
    )
