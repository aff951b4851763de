"""tagger_ref.files.datasets: one loader for this project's .npz files and the authors' Fuel-layout HDF5 files."""

import json
import os
import sys

import numpy
import pytest

from data_gen import shapes
from data_gen import texture_mnist as tm
from data_gen.digits import DigitSource
from tagger_ref.commands import cli
from tagger_ref.errors import DataError
from tagger_ref.files.datasets import Dataset, dataset_kind, dataset_splits, load_dataset

SHAPES_SIZES = {"train": 40, "valid": 10, "test": 10, "single": 10}
TM_SIZES = {"train": 30, "valid": 10, "test": 10}


def run_cli(monkeypatch, argv):
    monkeypatch.setattr(cli, "COMMANDS", ["data"])
    return cli.main(argv)


@pytest.fixture(scope="module")
def shapes_data():
    return shapes.generate(SHAPES_SIZES)


@pytest.fixture(scope="module")
def source():
    rng = numpy.random.RandomState(3)
    images = lambda n: numpy.clip(rng.rand(n, 28, 28).astype(numpy.float32) * 3 - 2, 0, 1)  # noqa: E731
    return DigitSource("synthetic", images(100), rng.randint(0, 10, 100), images(20), rng.randint(0, 10, 20))


@pytest.fixture(scope="module")
def tm2_data(source):
    return tm.generate(source, 2, TM_SIZES)


@pytest.fixture
def shapes_file(monkeypatch, tmp_path):
    path = tmp_path / "shapes.npz"
    argv = ["data", "shapes", "--out", str(path)] + [f"--{k}={v}" for k, v in SHAPES_SIZES.items()]
    assert run_cli(monkeypatch, argv) == 0
    return path


def write_npz(path, arrays, meta):
    numpy.savez(path, meta_json=numpy.array(json.dumps(meta)), **arrays)
    return path


# ---------------------------------------------------------------- our .npz


def test_shapes_npz(shapes_file, shapes_data):
    assert dataset_kind(shapes_file) == "shapes"
    assert dataset_splits(shapes_file) == ["train", "valid", "test", "single"]
    for split, n in SHAPES_SIZES.items():
        d = load_dataset(shapes_file, split, expect="shapes")
        assert isinstance(d, Dataset) and d.name == "shapes" and d.split == split and d.input_type == "binary"
        assert (d.n_images, d.n_inputs, d.n_masks) == (n, 400, 3)
        assert d.targets is None and d.codes is None
        numpy.testing.assert_array_equal(d.features, shapes_data[split]["features"])
        numpy.testing.assert_array_equal(d.mask, shapes_data[split]["mask"])
        numpy.testing.assert_array_equal(d.groups, shapes_data[split]["groups"])
        assert d.meta["seed"] == shapes.SEED and d.path == str(shapes_file)


def test_texture_mnist_npz_from_the_cli(monkeypatch, tmp_path):
    path = tmp_path / "t1.npz"
    argv = ["data", "texture-mnist", "--digits", "1", "--out", str(path)] + [f"--{k}={v}" for k, v in TM_SIZES.items()]
    assert run_cli(monkeypatch, argv) == 0
    assert dataset_kind(path) == "texture-mnist1"
    d = load_dataset(path, "valid", expect="texture-mnist")
    assert d.input_type == "continuous" and d.features.shape == (10, 784) and d.mask.shape == (10, 2, 784)
    assert d.targets.shape == (10, 1) and d.codes.shape == (10, 2) and d.groups is None
    assert "NOT MNIST" in d.meta["digit_source"]


def test_missing_split_names_the_ones_there(tmp_path, tm2_data):
    path = write_npz(
        tmp_path / "t2.npz",
        tm.file_arrays({k: tm2_data[k] for k in ("train", "test")}),
        {"dataset": "texture-mnist", "digits": 2},
    )
    with pytest.raises(DataError, match=r"has no split 'valid' \(has: train, test\)"):
        load_dataset(path, "valid")


def test_wrong_dataset_is_an_error(shapes_file):
    with pytest.raises(DataError, match="holds shapes, not texture-mnist"):
        load_dataset(shapes_file, "train", expect="texture-mnist")
    with pytest.raises(DataError, match="unknown dataset"):
        load_dataset(shapes_file, "train", expect="cifar")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p, "does not exist"),
        (lambda p: (p.write_text("hello"), p)[1], "neither a .npz"),
        (lambda p: (numpy.savez(p, w=numpy.zeros(3)), p)[1], "no meta_json"),
        (lambda p: (p.write_bytes(b"PK\x03\x04 broken"), p)[1], "not a readable .npz"),
        (lambda p: write_npz(p, {}, {"dataset": "mnist"}), "unknown dataset"),
    ],
)
def test_bad_files_are_data_errors(tmp_path, make, message):
    path = make(tmp_path / "x.npz")
    with pytest.raises(DataError, match=message):
        load_dataset(path, "train")


@pytest.mark.parametrize(
    "key, change, message",
    [
        ("mask", lambda a: a[:, :2], "mask has shape"),
        ("features", lambda a: a[:, :399], "features has shape"),
        ("groups", lambda a: a[:-1], "groups has shape"),
        ("features", lambda a: a * 2, "outside"),
        ("mask", lambda a: a * 2, "summing to 1"),
        ("groups", None, "lacks groups"),
    ],
)
def test_damaged_arrays_are_data_errors(tmp_path, shapes_data, key, change, message):
    arrays = shapes.file_arrays({"train": dict(shapes_data["train"])})
    if change is None:
        del arrays[f"train_{key}"]
    else:
        arrays[f"train_{key}"] = change(arrays[f"train_{key}"])
    path = write_npz(tmp_path / "s.npz", arrays, {"dataset": "shapes"})
    with pytest.raises(DataError, match=message):
        load_dataset(path, "train")


# ---------------------------------------------------------------- the authors' HDF5 (Fuel's layout)


def write_fuel(path, splits):
    """Oracle writer of Fuel's H5PYDataset layout, as the authors' files have it: one dataset per
    source with the splits stacked in order, gzip, and a ``split`` attribute table."""
    h5py = pytest.importorskip("h5py")
    sources = list(next(iter(splits.values())))
    rows = []
    with h5py.File(path, "w") as f:
        for source in sources:
            stacked = numpy.concatenate([arrays[source] for arrays in splits.values()])
            f.create_dataset(source, data=stacked, compression="gzip")
        start = 0
        for split, arrays in splits.items():
            stop = start + len(arrays[sources[0]])
            rows += [(split.encode(), source.encode(), start, stop) for source in sources]
            start = stop
        table = numpy.empty(
            len(rows),
            dtype=[
                ("split", "S6"),
                ("source", "S8"),
                ("start", "<i8"),
                ("stop", "<i8"),
                ("indices", h5py.ref_dtype),
                ("available", "?"),
                ("comment", "S1"),
            ],
        )
        for i, (split, source, a, b) in enumerate(rows):
            table[i] = (split, source, a, b, h5py.Reference(), True, b".")
        f.attrs["split"] = table
    return path


def test_authors_shapes_h5(tmp_path, shapes_data):
    # the authors' sources: features (n, 400), mask (n, 3, 400), zero targets (n, 1) and codes (n, 4, 400)
    splits = {
        split: {
            "features": d["features"],
            "mask": d["mask"],
            "targets": numpy.zeros((len(d["features"]), 1), numpy.uint8),
            "codes": numpy.zeros((len(d["features"]), 4, 400), numpy.uint8),
        }
        for split, d in shapes_data.items()
    }
    path = write_fuel(tmp_path / "shapes50k_20x20_compressed_v2.h5", splits)
    assert dataset_kind(path) == "shapes"
    assert dataset_splits(path) == ["train", "valid", "test", "single"]
    for split in SHAPES_SIZES:
        d = load_dataset(path, split, expect="shapes")
        assert d.input_type == "binary"
        numpy.testing.assert_array_equal(d.features, shapes_data[split]["features"])
        numpy.testing.assert_array_equal(d.mask, shapes_data[split]["mask"])
        numpy.testing.assert_array_equal(d.groups, shapes_data[split]["groups"])  # recovered from the mask


def test_authors_texture_mnist_h5(tmp_path, tm2_data):
    # the authors' sources: features (n, 1, 28, 28), mask (n, 3, 1, 28, 28), targets (n, 2), codes (n, 3)
    splits = {
        split: {
            "features": d["features"].reshape(-1, 1, 28, 28),
            "mask": d["mask"].reshape(-1, 3, 1, 28, 28),
            "codes": d["codes"],
            "targets": d["targets"],
        }
        for split, d in tm2_data.items()
    }
    path = write_fuel(tmp_path / "freq20-2MNIST_compressed.h5", splits)
    assert dataset_kind(path) == "texture-mnist2"
    for split in TM_SIZES:
        d = load_dataset(path, split, expect="texture-mnist2")
        assert d.input_type == "continuous" and d.meta["format"] == "authors' Fuel HDF5"
        for key in ("features", "mask", "targets", "codes"):
            numpy.testing.assert_array_equal(getattr(d, key), tm2_data[split][key])
    with pytest.raises(DataError, match=r"has no split 'single' \(has: train, valid, test\)"):
        load_dataset(path, "single")


def test_h5_without_fuel_layout_is_an_error(tmp_path):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("features", data=numpy.zeros((2, 400)))
    with pytest.raises(DataError, match="not in Fuel's layout"):
        load_dataset(path, "train")


def test_missing_h5py_is_a_clear_error(tmp_path, monkeypatch):
    path = tmp_path / "s.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 100)
    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py now fails
    with pytest.raises(DataError, match="needs h5py"):
        load_dataset(path, "train")


def test_cli_info(shapes_file, monkeypatch, capsys):
    assert run_cli(monkeypatch, ["data", "info", str(shapes_file)]) == 0
    out = capsys.readouterr().out
    assert "shapes" in out and "single: 10 images" in out
    assert run_cli(monkeypatch, ["data", "info", os.path.join(str(shapes_file) + ".missing")]) == 2
