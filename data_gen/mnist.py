"""Read the four standard MNIST files (IDX format, gzip-compressed or not).

IDX: two zero bytes, a type byte (``0x08``: unsigned byte), the number of dimensions, then each
dimension as a big-endian uint32, then the values in C order. Images are ``(n, 28, 28)``, labels
``(n,)``. Both common namings are accepted: ``train-images-idx3-ubyte`` (LeCun's site) and
``train-images.idx3-ubyte`` (some mirrors), each with or without ``.gz``; compression is detected
from the file's first bytes, not its name.
"""

import gzip
import hashlib
import os
import zlib

import numpy

from .errors import DataGenError

# file role -> accepted names, first match wins (without and with ".gz")
FILE_NAMES = {
    "train_images": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "train_labels": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "test_images": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "test_labels": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}

# SHA-256 of the standard (uncompressed) files. With these, and the default sizes and seeds,
# data_gen.texture_mnist reproduces the authors' TextureMNIST files.
STANDARD_SHA256 = {
    "train_images": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train_labels": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "test_images": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "test_labels": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

_GZIP_MAGIC = b"\x1f\x8b"
_UBYTE = 0x08


def find_file(folder, role):
    """Path of the MNIST file ``role`` (a key of :data:`FILE_NAMES`) in ``folder``; DataGenError if absent."""
    candidates = [name + ext for name in FILE_NAMES[role] for ext in ("", ".gz")]
    for name in candidates:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    raise DataGenError(
        f"MNIST folder {folder} has no {role.replace('_', ' ')} file (looked for {', '.join(candidates)})"
    )


def read_bytes(path):
    """The uncompressed content of ``path`` (gunzipped if it starts with the gzip magic)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise DataGenError(f"cannot read MNIST file {path}: {e.strerror}") from None
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise DataGenError(f"MNIST file {path} is a corrupt or truncated gzip file: {e}") from None


def parse_idx(data, path, ndim):
    """Decode IDX bytes into a uint8 array with ``ndim`` dimensions; DataGenError on any inconsistency."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataGenError(f"MNIST file {path} is not an IDX file (bad magic number)")
    if data[2] != _UBYTE:
        raise DataGenError(f"MNIST file {path} holds IDX type 0x{data[2]:02x}, expected 0x08 (unsigned bytes)")
    if data[3] != ndim:
        raise DataGenError(f"MNIST file {path} has {data[3]} dimensions, expected {ndim}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataGenError(f"MNIST file {path} is truncated (incomplete header)")
    shape = tuple(int(d) for d in numpy.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    size = int(numpy.prod(shape, dtype=numpy.int64))
    if len(data) - header != size:
        raise DataGenError(
            f"MNIST file {path} has {len(data) - header} data bytes, its header {shape} says {size}"
            " (truncated or corrupt)"
        )
    return numpy.frombuffer(data, dtype=numpy.uint8, offset=header).reshape(shape)


def load_mnist(folder):
    """Read the four MNIST files in ``folder``.

    Returns a dict: ``train_images`` (n, 28, 28) uint8, ``train_labels`` (n,) uint8, ``test_images``,
    ``test_labels``, and ``standard`` (True when all four files are byte for byte the standard
    ones, the condition for reproducing the authors' TextureMNIST files).
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise DataGenError(
            f"MNIST folder {folder} does not exist"
            if not os.path.exists(folder)
            else f"MNIST path {folder} is not a folder"
        )
    out = {}
    standard = True
    for role in FILE_NAMES:
        path = find_file(folder, role)
        data = read_bytes(path)
        standard &= hashlib.sha256(data).hexdigest() == STANDARD_SHA256[role]
        array = parse_idx(data, path, 3 if role.endswith("images") else 1)
        if role.endswith("images") and array.shape[1:] != (28, 28):
            raise DataGenError(f"MNIST file {path} holds {array.shape[1]}x{array.shape[2]} images, expected 28x28")
        if role.endswith("labels") and array.size and array.max() > 9:
            raise DataGenError(f"MNIST file {path} holds label {array.max()}, expected digits 0..9")
        out[role] = array
    for split in ("train", "test"):
        n_images, n_labels = len(out[f"{split}_images"]), len(out[f"{split}_labels"])
        if n_images != n_labels:
            raise DataGenError(f"MNIST folder {folder}: {n_images} {split} images but {n_labels} {split} labels")
    out["standard"] = bool(standard)
    return out


def to_alpha(images):
    """MNIST intensities as alpha masks in [0, 1], float32: ``x / 255`` (maximum exactly 1).

    Computed as a float32 division, which for the values 0..255 equals the float32 rounding of
    the float64 quotient, so it matches whichever way the authors' Fuel copy was converted.
    """
    return images.astype(numpy.float32) / numpy.float32(255)
