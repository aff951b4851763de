"""TextureMNIST1/2 (docs/spec.md section 9): texture bank, crops, shifts, stacking order (E14),
compositing, masks, the authors' random streams, digit sources, the CLI.

The oracles are written from docs/spec.md section 9.2: the bank from the closed form of a single Fourier
coefficient, the streams by the calls that section lists in its order, shifts and crops by slicing,
the image by the identity ``x = sum_j M_j t_j`` rather than by layer-by-layer painting.
Most tests use a small synthetic digit source; real MNIST is used when ``../shared/data/mnist``
(beside the repository) exists.
"""

import gzip
import json
import os
import pathlib

import numpy
import pytest

from data_gen import digits as digit_sources
from data_gen import mnist, standin_digits
from data_gen import texture_mnist as tm
from data_gen.errors import DataGenError
from tagger_ref.commands import cli

MNIST_DIR = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
needs_mnist = pytest.mark.skipif(not MNIST_DIR.is_dir(), reason="no MNIST at ../shared/data/mnist")

# docs/spec.md section 9.2, verbatim
SPEC_FREQUENCIES = [
    (4, 0),
    (4, 4),
    (4, 8),
    (4, 12),
    (10, 1),
    (10, 5),
    (10, 9),
    (10, 13),
    (21, 2),
    (21, 6),
    (21, 10),
    (21, 14),
    (32, 3),
    (32, 7),
    (32, 11),
    (32, 15),
    (37, 4),
    (37, 8),
    (37, 12),
    (37, 16),
]
SIZES = {"train": 150, "valid": 50, "test": 60}


def synthetic_source(n_train=240, n_test=80, seed=0):
    """Blobby 'digits' with exact 0s and 1s (so pure background and pure digit pixels exist)."""
    rng = numpy.random.RandomState(seed)

    def images(n):
        u = rng.rand(n, 28, 28).astype(numpy.float32)
        a = numpy.clip((u - numpy.float32(0.55)) * numpy.float32(4), 0, 1)
        a[:, :3] = 0  # some empty rows, as MNIST has
        return a

    return digit_sources.DigitSource(
        "synthetic", images(n_train), rng.randint(0, 10, n_train), images(n_test), rng.randint(0, 10, n_test)
    )


@pytest.fixture(scope="module")
def source():
    return synthetic_source()


@pytest.fixture(scope="module")
def two(source):
    return tm.generate(source, 2, SIZES)


@pytest.fixture(scope="module")
def bank():
    return tm.texture_bank(numpy.random.RandomState(546298))


def shifted(image, s):
    """Oracle: move an image s pixels right and s down (negative: left and up), zero fill, by slicing."""
    out = numpy.zeros_like(image)
    if s >= 0:
        out[s:, s:] = image[: 28 - s, : 28 - s]
    else:
        out[:s, :s] = image[-s:, -s:]
    return out


def spec_stream(n_source, n_images, n_digits, seed):
    """Oracle: the digit generator's draws in the order of docs/spec.md section 9.2: (p1, p2, t),
    then per image the textures."""
    rng = numpy.random.RandomState(seed)
    p1 = p2 = t = None
    if n_digits == 2:
        p1 = rng.permutation(n_source)
        p2 = rng.permutation(n_source)
        t = rng.binomial(1, 0.5, n_source)
    codes = numpy.array([rng.choice(20, size=n_digits + 1, replace=False) for _ in range(n_images)])
    return p1, p2, t, codes.reshape(n_images, n_digits + 1)


def spec_crops(n_images, n_layers, seed=598):
    rnd = numpy.random.RandomState(seed)
    return numpy.array([[rnd.randint(0, 38 - 28 + 1, 2) for _ in range(n_layers)] for _ in range(n_images)])


def train_and_valid(out):
    return {k: numpy.concatenate([out["train"][k], out["valid"][k]]) for k in out["train"]}


# ---------------------------------------------------------------- texture bank


def test_bank_has_20_textures_scaled_to_0_1(bank):
    assert bank.shape == (20, 38, 38) and bank.dtype == numpy.float32
    numpy.testing.assert_array_equal(bank.min(axis=(1, 2)), 0)
    numpy.testing.assert_array_equal(bank.max(axis=(1, 2)), 1)


def test_frequencies_are_the_listed_ones(bank):
    assert [tuple(f) for f in tm.texture_frequencies()] == SPEC_FREQUENCIES
    for texture, (r, c) in zip(bank, SPEC_FREQUENCIES):
        power = numpy.abs(numpy.fft.fft2(texture - texture.mean())) ** 2
        peak = power[r, c] + power[-r % 38, -c % 38]
        assert peak / power.sum() > 0.999, (r, c)


def test_bank_is_the_closed_form_with_the_authors_phases(bank):
    """The inverse DFT of one coefficient a = exp(2 pi i u) at (r, c) is Re(a exp(2 pi i (r i + c j) / 38)) / 38^2.

    Evaluated in float64, cast to float32 and min-max scaled in float32 as docs/spec.md section 9.2 says, it
    agrees with the bank to the last bit except, rarely, where float64 rounding differs between
    the FFT and ``cos`` (a transform run in single precision would differ on most pixels).
    """
    phases = numpy.random.RandomState(546298).rand(20)  # one rand() per texture, in order
    i, j = numpy.meshgrid(numpy.arange(38), numpy.arange(38), indexing="ij")
    for texture, (r, c), u in zip(bank, SPEC_FREQUENCIES, phases):
        a = complex(numpy.complex64(numpy.exp(2j * numpy.pi * u)))  # the coefficient, stored in complex64
        wave = (numpy.real(a * numpy.exp(2j * numpy.pi * (r * i + c * j) / 38)) / 38**2).astype(numpy.float32)
        wave -= wave.min()
        wave /= wave.max()
        numpy.testing.assert_allclose(texture, wave, rtol=0, atol=2e-7)
        assert numpy.mean(texture != wave) < 0.01, (r, c)


def test_periods_and_orientations_span_the_listed_ranges():
    aliased = [(r if r <= 19 else r - 38, c) for r, c in SPEC_FREQUENCIES]
    periods = [38 / numpy.hypot(r, c) for r, c in aliased]
    angles = [numpy.degrees(numpy.arctan2(r, c)) for r, c in aliased]
    assert round(min(periods), 1) == 1.7 and max(periods) == 9.5
    assert round(min(angles)) == -83 and max(angles) == 90


# ---------------------------------------------------------------- composition


def test_masks_sum_to_one_and_lie_in_0_1(two):
    for split, d in two.items():
        assert d["mask"].shape == (SIZES[split], 3, 784) and d["mask"].dtype == numpy.float32
        assert d["mask"].min() >= 0 and d["mask"].max() <= 1
        numpy.testing.assert_allclose(d["mask"].sum(axis=1), 1, rtol=0, atol=1e-6)
        assert d["features"].dtype == numpy.float32 and d["features"].min() >= 0 and d["features"].max() <= 1


def test_image_is_the_mask_weighted_sum_of_the_crops(two, bank):
    d = train_and_valid(two)
    crops = spec_crops(len(d["features"]), 3)
    for i in range(len(d["features"])):
        layers = [bank[code][r : r + 28, c : c + 28].ravel() for code, (r, c) in zip(d["codes"][i], crops[i])]
        numpy.testing.assert_allclose(d["features"][i], numpy.sum(d["mask"][i] * layers, axis=0), atol=2e-6)


def test_painting_arithmetic_is_the_authors(two, source, bank):
    """x = m2 t2 + (1 - m2) (m1 t1 + (1 - m1) t0) in float64, each (1 - m) rounded to float32 first
    (the authors' float32 masks), the result rounded to float32: equal to the last bit."""
    d = train_and_valid(two)
    crops = spec_crops(200, 3)
    p1, p2, _, _ = spec_stream(len(source.train_images), 200, 2, 52698)
    one = numpy.float32(1)
    for i in range(0, 200, 7):
        t0, t1, t2 = [
            bank[code][r : r + 28, c : c + 28].ravel().astype(numpy.float64)
            for code, (r, c) in zip(d["codes"][i], crops[i])
        ]
        m1 = shifted(source.train_images[p2[i]], +2).ravel()  # float32 alphas
        m2 = shifted(source.train_images[p1[i]], -2).ravel()
        x = m2 * t2 + (one - m2) * (m1 * t1 + (one - m1) * t0)
        numpy.testing.assert_array_equal(d["features"][i], x.astype(numpy.float32))


def test_pure_background_pixels_are_a_crop_of_the_background_texture(two, bank):
    d = train_and_valid(two)
    crops = spec_crops(len(d["features"]), 3)
    for i in range(len(d["features"])):
        pure = d["mask"][i, 0] == 1
        assert pure.sum() > 100
        texture = bank[d["codes"][i, 0]]
        found = [
            (r, c)
            for r in range(11)
            for c in range(11)
            if numpy.array_equal(texture[r : r + 28, c : c + 28].ravel()[pure], d["features"][i][pure])
        ]
        assert tuple(crops[i, 0]) in found, (i, found)


def test_top_digit_pixels_are_a_crop_of_its_texture(two, bank):
    d = train_and_valid(two)
    crops = spec_crops(len(d["features"]), 3)
    for i in range(len(d["features"])):
        pure = d["mask"][i, 2] == 1
        r, c = crops[i, 2]
        texture = bank[d["codes"][i, 2]][r : r + 28, c : c + 28].ravel()
        numpy.testing.assert_array_equal(d["features"][i][pure], texture[pure])


def test_codes_are_distinct_and_follow_the_authors_stream(two, source):
    d = train_and_valid(two)
    assert d["codes"].dtype == numpy.int64
    assert all(len(set(row)) == 3 for row in d["codes"]) and d["codes"].min() >= 0 and d["codes"].max() <= 19
    _, _, _, codes = spec_stream(len(source.train_images), 200, 2, 52698)
    numpy.testing.assert_array_equal(d["codes"], codes)
    _, _, _, codes = spec_stream(len(source.test_images), 60, 2, 2938)
    numpy.testing.assert_array_equal(two["test"]["codes"], codes)


def test_two_digits_stack_as_the_authors_did(two, source):
    """E14: p2 (shifted right-down) always drawn first, p1 (left-up) on top; targets ordered by t."""
    d = train_and_valid(two)
    p1, p2, t, _ = spec_stream(len(source.train_images), 200, 2, 52698)
    labels = source.train_labels
    for i in range(200):
        top = shifted(source.train_images[p1[i]], -2)
        bottom = shifted(source.train_images[p2[i]], +2)
        numpy.testing.assert_array_equal(d["mask"][i, 2], top.ravel())
        numpy.testing.assert_array_equal(d["mask"][i, 1], (bottom * (numpy.float32(1) - top)).ravel())
        expected = [labels[p2[i]], labels[p1[i]]] if t[i] == 1 else [labels[p1[i]], labels[p2[i]]]
        assert list(d["targets"][i]) == expected
    assert 0.3 < t[:200].mean() < 0.7  # both target orders occur


def test_random_top_is_the_evident_intent(source):
    out = train_and_valid(tm.generate(source, 2, SIZES, random_top=True))
    p1, p2, t, codes = spec_stream(len(source.train_images), 200, 2, 52698)
    labels = source.train_labels
    numpy.testing.assert_array_equal(out["codes"], codes)  # same draws consumed
    for i in range(200):
        first, second = (p1[i], p2[i]) if t[i] == 1 else (p2[i], p1[i])
        top_shift = +2 if second == p2[i] else -2
        numpy.testing.assert_array_equal(out["mask"][i, 2], shifted(source.train_images[second], top_shift).ravel())
        assert list(out["targets"][i]) == [labels[first], labels[second]]


def test_one_digit_is_unshifted_and_in_source_order(source, bank):
    out = tm.generate(source, 1, SIZES)
    d = train_and_valid(out)
    numpy.testing.assert_array_equal(d["mask"][:, 1], source.train_images[:200].reshape(200, 784))
    numpy.testing.assert_array_equal(d["targets"][:, 0], source.train_labels[:200])
    _, _, _, codes = spec_stream(len(source.train_images), 200, 1, 52698)
    numpy.testing.assert_array_equal(d["codes"], codes)
    numpy.testing.assert_array_equal(out["test"]["targets"][:, 0], source.test_labels[:60])
    assert d["mask"].shape == (200, 2, 784) and d["targets"].shape == (200, 1)


def test_valid_follows_train_and_test_does_not_depend_on_them(source, two):
    other = tm.generate(source, 2, {"train": 200, "valid": 0, "test": 60})
    for key in ("features", "mask", "targets", "codes"):
        numpy.testing.assert_array_equal(other["train"][key][150:], two["valid"][key])
        numpy.testing.assert_array_equal(other["train"][key][:150], two["train"][key])
        numpy.testing.assert_array_equal(other["test"][key], two["test"][key])
    assert len(other["valid"]["features"]) == 0


def test_same_seed_same_arrays_other_seed_other_arrays(source, two):
    again = tm.generate(source, 2, SIZES)
    for split in SIZES:
        for key in two[split]:
            numpy.testing.assert_array_equal(again[split][key], two[split][key])
    assert tm.seeds(None) == {"textures": 546298, "train": 52698, "test": 2938, "crops": 598}
    a = tm.generate(source, 2, SIZES, seed=1)
    b = tm.generate(source, 2, SIZES, seed=2)
    assert not numpy.array_equal(a["train"]["features"], b["train"]["features"])
    assert not numpy.array_equal(a["train"]["features"], two["train"]["features"])
    numpy.testing.assert_array_equal(tm.generate(source, 2, SIZES, seed=1)["test"]["features"], a["test"]["features"])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_digits": 3},
        {"sizes": {"train": 200, "valid": 41, "test": 1}},  # more than the 240 training digits
        {"sizes": {"train": 1, "valid": 1, "test": 81}},  # more than the 80 test digits
        {"sizes": {"train": -1}},
        {"seed": -3},
    ],
)
def test_bad_arguments_are_data_gen_errors(source, kwargs):
    kwargs = {"n_digits": 2, **kwargs}
    with pytest.raises(DataGenError):
        tm.generate(source, **kwargs)


# ---------------------------------------------------------------- digit sources


def write_idx(path, array, compress):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(numpy.uint8).tobytes()
    with (gzip.open if compress else open)(path, "wb") as f:
        f.write(data)


def fake_mnist(folder, dotted=False, compress=True, n_train=7, n_test=3):
    rng = numpy.random.RandomState(1)
    arrays = {
        "train_images": rng.randint(0, 256, (n_train, 28, 28)),
        "train_labels": rng.randint(0, 10, n_train),
        "test_images": rng.randint(0, 256, (n_test, 28, 28)),
        "test_labels": rng.randint(0, 10, n_test),
    }
    names = {
        "train_images": "train-images",
        "train_labels": "train-labels",
        "test_images": "t10k-images",
        "test_labels": "t10k-labels",
    }
    for role, array in arrays.items():
        kind = "idx3-ubyte" if array.ndim == 3 else "idx1-ubyte"
        name = f"{names[role]}{'.' if dotted else '-'}{kind}" + (".gz" if compress else "")
        write_idx(os.path.join(folder, name), array, compress)
    return arrays


@pytest.mark.parametrize("dotted, compress", [(False, True), (False, False), (True, True), (True, False)])
def test_mnist_reader_takes_both_namings_compressed_or_not(tmp_path, dotted, compress):
    arrays = fake_mnist(tmp_path, dotted, compress)
    read = mnist.load_mnist(tmp_path)
    for role, array in arrays.items():
        numpy.testing.assert_array_equal(read[role], array)
    assert read["standard"] is False


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda p: p.write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 5), "truncated"),
        (lambda p: p.write_bytes(b"\x01\x02\x03\x04" + b"\x00" * 20), "not an IDX file"),
        (lambda p: p.write_bytes(b"\x1f\x8b\x08\x00garbage"), "gzip"),
        (
            lambda p: p.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + (5).to_bytes(4, "big") * 3 + b"\x00" * 9)),
            "truncated",
        ),
        (lambda p: p.unlink(), "no train images file"),
    ],
)
def test_mnist_reader_reports_the_broken_file(tmp_path, damage, message):
    fake_mnist(tmp_path, compress=False)
    damage(tmp_path / "train-images-idx3-ubyte")
    with pytest.raises(DataGenError, match=message):
        mnist.load_mnist(tmp_path)


def test_mnist_reader_missing_folder_and_mismatched_counts(tmp_path):
    with pytest.raises(DataGenError, match="does not exist"):
        mnist.load_mnist(tmp_path / "nowhere")
    fake_mnist(tmp_path, compress=False)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", numpy.zeros(4), False)
    with pytest.raises(DataGenError, match="3 test images but 4 test labels"):
        mnist.load_mnist(tmp_path)


def test_standin_is_arranged_like_mnist_and_named_as_a_standin():
    s = digit_sources.load_digits(None)
    assert s.name == digit_sources.STANDIN and "NOT MNIST" in s.name and not s.standard
    assert s.train_images.shape == (60000, 28, 28) and s.test_images.shape == (10000, 28, 28)
    assert s.train_images.dtype == numpy.float32 and s.train_images.min() == 0 and s.train_images.max() == 1
    assert set(numpy.unique(s.train_labels)) == set(range(10)) == set(numpy.unique(s.test_labels))
    border = numpy.ones((28, 28), dtype=bool)
    border[4:24, 4:24] = False
    assert (s.train_images[:, border] == 0).all()  # a 20x20 box in a 28x28 frame
    numpy.testing.assert_array_equal(s.train_images[1500:3000], s.train_images[:1500])  # cyclic
    train_pool = {img.tobytes() for img in s.train_images[:1500]}
    assert not any(img.tobytes() in train_pool for img in s.test_images[:297])  # disjoint pools
    assert standin_digits.N_TRAIN_POOL == 1500


@needs_mnist
def test_real_mnist_is_read_and_composed():
    raw = mnist.load_mnist(MNIST_DIR)
    assert raw["train_images"].shape == (60000, 28, 28) and raw["test_labels"].shape == (10000,)
    assert raw["standard"] is True
    s = digit_sources.load_digits(MNIST_DIR)
    assert s.train_images.min() == 0 and s.train_images.max() == 1 and s.standard
    numpy.testing.assert_array_equal(s.train_images[:5], raw["train_images"][:5] / numpy.float32(255))
    sizes = {"train": 200, "valid": 50, "test": 50}
    out = tm.generate(s, 2, sizes)
    p1, p2, t, _ = spec_stream(60000, 250, 2, 52698)
    d = train_and_valid(out)
    top = numpy.stack([shifted(s.train_images[k], -2) for k in p1[:250]])
    numpy.testing.assert_array_equal(d["mask"][:, 2], top.reshape(250, 784))
    numpy.testing.assert_allclose(d["mask"].sum(axis=1), 1, atol=1e-6)
    assert not tm.metadata(s, 2, sizes, None, False)["released_recipe"]
    assert tm.metadata(s, 2, tm.DEFAULT_SIZES, None, False)["released_recipe"]


# ---------------------------------------------------------------- command line


def run_cli(monkeypatch, argv):
    monkeypatch.setattr(cli, "COMMANDS", ["data"])
    return cli.main(argv)


def test_cli_standin(monkeypatch, tmp_path, capsys):
    out = tmp_path / "t2.npz"
    argv = ["data", "texture-mnist", "--digits", "2", "--out", str(out), "--train=30", "--valid=10", "--test=10"]
    assert run_cli(monkeypatch, argv) == 0
    captured = capsys.readouterr()
    assert "wrote" in captured.out and "NOT MNIST" in captured.err
    with numpy.load(out) as f:
        keys = {f"{s}_{k}" for s in SIZES for k in ("features", "mask", "targets", "codes")}
        assert set(f.files) == keys | {"meta_json"}
        assert f["train_features"].shape == (30, 784) and f["train_features"].dtype == numpy.float32
        assert f["valid_mask"].shape == (10, 3, 784) and f["test_targets"].dtype == numpy.int64
        assert f["test_codes"].shape == (10, 3)
        meta = json.loads(str(f["meta_json"]))
    assert meta["digit_source"] == "sklearn-digits-standin (NOT MNIST)" and meta["digits"] == 2
    assert meta["seeds"] == tm.AUTHORS_SEEDS and meta["released_recipe"] is False


@needs_mnist
def test_cli_real_mnist(monkeypatch, tmp_path, capsys):
    out = tmp_path / "t1.npz"
    argv = [
        "data",
        "texture-mnist",
        "--digits",
        "1",
        "--mnist",
        str(MNIST_DIR),
        "--out",
        str(out),
        "--train",
        "20",
        "--valid",
        "5",
        "--test",
        "5",
        "--seed",
        "7",
    ]
    assert run_cli(monkeypatch, argv) == 0
    with numpy.load(out) as f:
        meta = json.loads(str(f["meta_json"]))
        assert f["train_mask"].shape == (20, 2, 784)
    assert meta["digit_source"] == "mnist" and meta["digit_source_is_standard_mnist"] and meta["seed"] == 7


@pytest.mark.parametrize(
    "extra, culprit",
    [
        (["--mnist", "nowhere"], "nowhere"),
        (["--valid", "-1"], "valid"),
        (["--train", "60000", "--valid", "1"], "60001"),
    ],
)
def test_cli_bad_input_is_one_error_line_and_no_file(monkeypatch, tmp_path, capsys, extra, culprit):
    monkeypatch.chdir(tmp_path)
    argv = ["data", "texture-mnist", "--digits", "1", "--out", "t.npz", "--test", "1"] + extra
    assert run_cli(monkeypatch, argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and culprit in err and len(err.strip().splitlines()) == 1
    assert os.listdir(tmp_path) == []


@pytest.mark.slow
@needs_mnist
def test_full_default_sets_from_real_mnist():
    s = digit_sources.load_digits(MNIST_DIR)
    for n_digits in (1, 2):
        out = tm.generate(s, n_digits)
        assert {k: len(v["features"]) for k, v in out.items()} == tm.DEFAULT_SIZES
        for d in out.values():
            numpy.testing.assert_allclose(d["mask"].sum(axis=1), 1, atol=1e-6)
            assert d["features"].min() >= 0 and d["features"].max() <= 1
            assert d["targets"].min() >= 0 and d["targets"].max() <= 9
        prefix = tm.generate(s, n_digits, {"train": 100, "valid": 0, "test": 0})
        numpy.testing.assert_array_equal(prefix["train"]["features"], out["train"]["features"][:100])
        assert tm.metadata(s, n_digits, tm.DEFAULT_SIZES, None, False)["released_recipe"]
