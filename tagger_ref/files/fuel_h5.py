"""Read the authors' released HDF5 files, so that training can use exactly the published data.

The files (``shapes50k_20x20_compressed_v2.h5``, ``freq20-1MNIST_compressed.h5``,
``freq20-2MNIST_compressed.h5``) are in the layout of Fuel's ``H5PYDataset``: one HDF5 dataset per
*source* (``features``, ``mask``, ``targets``, ``codes``) holding all splits stacked along axis 0,
and a file attribute ``split``, a table with one row per (split, source) pair and the fields
``split``, ``source`` (byte strings), ``start``, ``stop`` (the split's rows), ``indices``,
``available`` and ``comment``. The authors' sources are:

- Shapes: ``features (n, 400)`` float32, ``mask (n, 3, 400)`` float32, and all-zero ``targets
  (n, 1)`` and ``codes (n, 4, 400)`` uint8 placeholders; splits train, valid, test, single;
- TextureMNIST: ``features (n, 1, 28, 28)`` float32, ``mask (n, d + 1, 1, 28, 28)`` float32,
  ``targets (n, d)`` int64, ``codes (n, d + 1)`` int64; splits train, valid, test.

h5py is an optional dependency (``pip install 'tagger-ref[hdf5]'``), imported only here.
"""

import os

import numpy

from ..errors import DataError


def _h5py():
    try:
        import h5py
    except ImportError:
        raise DataError("reading the authors' HDF5 files needs h5py: pip install 'tagger-ref[hdf5]'") from None
    return h5py


def _text(value):
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def _open(path):
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(
            f"data file {path} does not exist" if not os.path.exists(path) else f"data file {path} is not a file"
        )
    h5py = _h5py()
    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise DataError(f"data file {path} is not a readable HDF5 file: {e}") from None


def split_table(f, path):
    """``{split: {source: (start, stop)}}`` from an open file's ``split`` attribute (available rows only)."""
    if "split" not in f.attrs:
        raise DataError(f"data file {path} is HDF5 but not in Fuel's layout (no 'split' attribute)")
    rows = f.attrs["split"]
    names = rows.dtype.names or ()
    if not {"split", "source", "start", "stop"} <= set(names):
        raise DataError(f"data file {path}: its 'split' attribute lacks the fields split, source, start, stop")
    table = {}
    for row in rows:
        if "available" in names and not row["available"]:
            continue
        table.setdefault(_text(row["split"]), {})[_text(row["source"])] = (int(row["start"]), int(row["stop"]))
    return table


def splits(path):
    """The split names of a Fuel-layout file, in the file's order."""
    with _open(path) as f:
        return list(split_table(f, path))


def read_sources(path, split):
    """The raw sources of one split: ``{source: array}`` with the file's shapes and dtypes."""
    with _open(path) as f:
        table = split_table(f, path)
        if split not in table:
            raise DataError(f"data file {path} has no split {split!r} (has: {', '.join(table)})")
        out = {}
        for source, (start, stop) in table[split].items():
            if source not in f:
                raise DataError(f"data file {path}: the split table names source {source!r}, which the file lacks")
            out[source] = f[source][start:stop]
        return out


def kind_of_sources(shapes, path):
    """Which dataset the sources' shapes (``{source: shape without the first axis}``) describe:
    ``("shapes", None)`` or ``("texture-mnist", digits)``."""
    for source in ("features", "mask"):
        if source not in shapes:
            raise DataError(f"data file {path} has no {source!r} source (has: {', '.join(shapes)})")
    pixels = int(numpy.prod(shapes["features"], dtype=numpy.int64))
    if pixels == 400:
        return "shapes", None
    if pixels == 784 and len(shapes["mask"]) >= 1 and shapes["mask"][0] in (2, 3):
        return "texture-mnist", shapes["mask"][0] - 1
    raise DataError(
        f"data file {path} holds features of shape {shapes['features']} and masks of shape"
        f" {shapes['mask']}: neither Shapes (400 pixels) nor TextureMNIST (784 pixels, 2 or 3 masks)"
    )


def kind(path):
    """``("shapes", None)`` or ``("texture-mnist", digits)`` for a Fuel-layout file (reads no data)."""
    with _open(path) as f:
        split_table(f, path)
        return kind_of_sources({name: f[name].shape[1:] for name in f}, path)


def groups_from_mask(mask):
    """Shapes group labels (n, N) uint8 from its mask (n, 3, N): the channel + 1 where the mask is one-hot, else 0."""
    one_hot = mask.max(axis=1) == 1  # (n, N)
    return numpy.where(one_hot, mask.argmax(axis=1) + 1, 0).astype(numpy.uint8)


def read_split(path, split):
    """One split of an authors' file in this project's layout.

    Returns ``(dataset, digits, arrays)``: ``dataset`` "shapes" or "texture-mnist", ``digits`` None
    or 1 or 2, and ``arrays`` with ``features`` (n, N) float32 and ``mask`` (n, G, N) float32, plus
    ``groups`` (n, N) uint8 for Shapes (recovered from the mask; the file has no labels) or
    ``targets`` (n, d) and ``codes`` (n, d + 1) int64 for TextureMNIST.
    """
    sources = read_sources(path, split)
    dataset, digits = kind_of_sources({name: a.shape[1:] for name, a in sources.items()}, path)
    n = len(sources["features"])
    features = numpy.asarray(sources["features"], dtype=numpy.float32).reshape(n, -1)
    mask = numpy.asarray(sources["mask"], dtype=numpy.float32).reshape(n, sources["mask"].shape[1], -1)
    arrays = {"features": features, "mask": mask}
    if dataset == "shapes":
        arrays["groups"] = groups_from_mask(mask)
    else:
        for source in ("targets", "codes"):
            if source not in sources:
                raise DataError(f"data file {path} has no {source!r} source in split {split!r}")
            arrays[source] = numpy.asarray(sources[source], dtype=numpy.int64).reshape(n, -1)
    return dataset, digits, arrays
