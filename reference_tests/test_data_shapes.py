"""Shapes (docs/spec.md section 9): sprites, composition, masks, the authors' random stream, sizes, the CLI.

The oracles are written from the text of docs/spec.md section 9.1, independently of
data_gen.shapes: the sprites from its bit strings, the images by a slicing loop, the stream by
decoding MT19937's raw 32-bit output with the masked rejection sampling that legacy ``randint`` uses.
"""

import json
import os

import numpy
import pytest

from data_gen import shapes
from data_gen.errors import DataGenError
from tagger_ref.commands import cli

# docs/spec.md section 9.1, verbatim
SPEC_SQUARE = ["1111111", "1111111", "1100011", "1100011", "1100011", "1111111", "1111111"]
SPEC_TRIANGLE = [
    "000001100000",
    "000011110000",
    "000111111000",
    "001110011100",
    "011100001110",
    "111111111111",
    "111111111111",
]


def bits(rows):
    return numpy.array([[int(c) for c in row] for row in rows])


SPEC_SPRITES = [bits(SPEC_SQUARE), bits(SPEC_TRIANGLE), bits(SPEC_TRIANGLE)[::-1]]
SMALL = {"train": 1500, "valid": 300, "test": 300, "single": 400}


@pytest.fixture(scope="module")
def small():
    return shapes.generate(SMALL)


def paint(kinds, rows, cols):
    """Oracle: images and group labels by drawing each sprite into a 20x20 canvas with slices."""
    n = len(kinds)
    images = numpy.zeros((n, 20, 20))
    labels = numpy.zeros((n, 20, 20), dtype=int)
    for i in range(n):
        count = numpy.zeros((20, 20), dtype=int)
        label = numpy.zeros((20, 20), dtype=int)
        for s, (k, y, x) in enumerate(zip(kinds[i], rows[i], cols[i])):
            sprite = SPEC_SPRITES[k]
            h, w = sprite.shape
            count[y : y + h, x : x + w] += sprite
            label[y : y + h, x : x + w][sprite == 1] = s + 1
        label[count != 1] = 0
        images[i] = count > 0
        labels[i] = label
    return images.reshape(n, 400), labels.reshape(n, 400)


def test_sprites_are_the_specified_bitmaps():
    assert [s.shape for s in shapes.SPRITES] == [(7, 7), (7, 12), (7, 12)]
    for ours, spec in zip(shapes.SPRITES, SPEC_SPRITES):
        numpy.testing.assert_array_equal(ours.astype(int), spec)
    assert [int(s.sum()) for s in shapes.SPRITES] == [40, 48, 48]
    assert not shapes.SQUARE[2:5, 2:5].any()  # the empty 3x3 centre


def test_images_and_groups_equal_a_slicing_loop(small):
    for split in SMALL:
        d = small[split]
        images, labels = paint(d["kinds"], d["rows"], d["cols"])
        numpy.testing.assert_array_equal(d["features"], images, err_msg=split)
        numpy.testing.assert_array_equal(d["groups"], labels, err_msg=split)


def test_every_scored_group_is_one_sprite_at_one_position_minus_overlaps(small):
    d = small["train"]
    for i in range(200):
        footprints = []
        for k, y, x in zip(d["kinds"][i], d["rows"][i], d["cols"][i]):
            canvas = numpy.zeros((20, 20), dtype=bool)
            sprite = SPEC_SPRITES[k]
            canvas[y : y + sprite.shape[0], x : x + sprite.shape[1]] = sprite == 1
            footprints.append(canvas.ravel())
        for s, own in enumerate(footprints):
            others = numpy.any([f for t, f in enumerate(footprints) if t != s], axis=0)
            numpy.testing.assert_array_equal(d["groups"][i] == s + 1, own & ~others)
        numpy.testing.assert_array_equal(d["features"][i] == 1, numpy.any(footprints, axis=0))


def test_positions_lie_inside_the_image(small):
    d = small["train"]
    widths = numpy.array([7, 12, 12])[d["kinds"]]
    assert (d["cols"] >= 0).all() and (d["cols"] + widths <= 20).all()
    assert (d["rows"] >= 0).all() and (d["rows"] + 7 <= 20).all()
    for k, w in enumerate((7, 12, 12)):  # every position is reachable
        assert d["cols"][d["kinds"] == k].max() == 20 - w
        assert d["rows"][d["kinds"] == k].max() == 13


def test_mask_is_one_hot_exactly_on_scored_pixels(small):
    for split in SMALL:
        d = small[split]
        mask, groups = d["mask"], d["groups"]
        assert mask.dtype == numpy.float32 and mask.shape == (SMALL[split], 3, 400)
        scored = groups > 0
        numpy.testing.assert_array_equal(mask.max(axis=1) == 1, scored)
        for g in (1, 2, 3):
            numpy.testing.assert_array_equal(mask[:, g - 1] == 1, groups == g)
            numpy.testing.assert_array_equal(mask[:, g - 1][scored & (groups != g)], 0)
        numpy.testing.assert_array_equal(mask.transpose(0, 2, 1)[~scored], numpy.float32(1 / 3))
        numpy.testing.assert_allclose(mask.sum(axis=1), 1, atol=1e-6)


def test_dtypes_and_shapes(small):
    for split, n in SMALL.items():
        d = small[split]
        assert d["features"].dtype == numpy.float32 and d["features"].shape == (n, 400)
        assert d["groups"].dtype == numpy.uint8 and d["groups"].shape == (n, 400)
        assert set(numpy.unique(d["features"])) <= {0.0, 1.0}


def _decode_authors_stream(sizes, seed=shapes.SEED):
    """Oracle: docs/spec.md section 9.1's call order, decoded from the generator's raw 32-bit output.

    Legacy ``randint(0, high)`` takes 32-bit words, masks each with the smallest all-ones mask
    covering ``high - 1`` and rejects values above ``high - 1``.
    """
    words = iter(numpy.random.RandomState(seed).randint(0, 2**32, size=2_000_000, dtype=numpy.uint32).tolist())

    def randint(high):
        mask = (1 << (high - 1).bit_length()) - 1
        while True:
            value = next(words) & mask
            if value < high:
                return value

    out = {}
    for split, n_sprites in (("train", 3), ("valid", 3), ("test", 3), ("single", 1)):
        draws = []
        for _ in range(sizes[split] * n_sprites):
            kind = randint(3)
            h, w = SPEC_SPRITES[kind].shape
            x = randint(20 - w + 1)
            y = randint(20 - h + 1)
            draws.append((kind, y, x))
        out[split] = numpy.array(draws).reshape(sizes[split], n_sprites, 3)
    return out


def test_placements_are_the_authors_stream(small):
    expected = _decode_authors_stream(SMALL)
    for split in SMALL:
        d = small[split]
        numpy.testing.assert_array_equal(
            numpy.stack([d["kinds"], d["rows"], d["cols"]], -1), expected[split], err_msg=split
        )


def test_first_images_do_not_depend_on_the_size_but_later_splits_do(small):
    fewer = shapes.generate({"train": 100, "valid": 300, "test": 0, "single": 0})
    numpy.testing.assert_array_equal(fewer["train"]["features"], small["train"]["features"][:100])
    numpy.testing.assert_array_equal(fewer["train"]["groups"], small["train"]["groups"][:100])
    # valid continues the one stream, so it starts where train stopped
    assert not numpy.array_equal(fewer["valid"]["features"], small["valid"]["features"])
    numpy.testing.assert_array_equal(fewer["valid"]["features"][:100], small["train"]["features"][100:200])


def test_chunking_does_not_change_the_stream(small):
    pieces = list(shapes.generate_chunks(SMALL, chunk_size=333))
    joined = shapes.concatenate_chunks(pieces)
    for split in SMALL:
        numpy.testing.assert_array_equal(joined[split]["groups"], small[split]["groups"])


def expected_pixel_mean():
    """E[pixel] from the definition: 1 - (1 - q_p)^3 averaged over pixels, q_p the chance that one
    uniformly drawn sprite at a uniform position covers pixel p."""
    q = numpy.zeros((20, 20))
    for sprite in SPEC_SPRITES:
        h, w = sprite.shape
        cover = numpy.zeros((20, 20))
        for y in range(20 - h + 1):
            for x in range(20 - w + 1):
                cover[y : y + h, x : x + w] += sprite
        q += cover / ((20 - h + 1) * (20 - w + 1)) / 3
    return float(numpy.mean(1 - (1 - q) ** 3))


def test_pixel_mean_is_what_the_definition_implies():
    expected = expected_pixel_mean()
    assert abs(expected - 0.2844) < 1e-4
    sample = shapes.generate({"train": 10000})["train"]["features"]
    assert abs(sample.mean() - 0.284) < 0.01
    # standard error of the mean over 10,000 images is about 0.0004
    assert abs(sample.mean() - expected) < 0.002


def test_single_split_has_one_shape(small):
    d = small["single"]
    assert d["kinds"].shape == (SMALL["single"], 1)
    assert set(numpy.unique(d["groups"])) == {0, 1}
    numpy.testing.assert_array_equal(d["features"], d["groups"] == 1)
    sizes = d["features"].sum(axis=1)
    numpy.testing.assert_array_equal(sizes, numpy.array([40, 48, 48])[d["kinds"][:, 0]])
    assert (d["mask"][:, 1:][d["mask"][:, 1:] != numpy.float32(1 / 3)] == 0).all()


def test_same_seed_same_arrays_other_seed_other_arrays(small):
    again = shapes.generate(SMALL)
    for split in SMALL:
        for key in ("features", "mask", "groups"):
            numpy.testing.assert_array_equal(again[split][key], small[split][key])
    other = shapes.generate(SMALL, seed=1)
    assert not numpy.array_equal(other["train"]["features"], small["train"]["features"])


@pytest.mark.parametrize("sizes", [{"train": -1}, {"train": 1.5}, {"bogus": 3}])
def test_bad_sizes_are_data_gen_errors(sizes):
    with pytest.raises(DataGenError):
        shapes.generate(sizes)


@pytest.mark.slow
def test_full_default_set():
    full = shapes.generate()
    assert {k: len(v["features"]) for k, v in full.items()} == shapes.DEFAULT_SIZES
    prefix = shapes.generate({"train": 100})
    numpy.testing.assert_array_equal(prefix["train"]["features"], full["train"]["features"][:100])
    assert abs(full["train"]["features"].mean() - expected_pixel_mean()) < 0.002


# ---------------------------------------------------------------- command line


def run_cli(monkeypatch, argv):
    monkeypatch.setattr(cli, "COMMANDS", ["data"])
    return cli.main(argv)


def test_cli_writes_the_issue_keys(monkeypatch, tmp_path, capsys, small):
    out = tmp_path / "shapes.npz"
    argv = ["data", "shapes", "--out", str(out)] + [f"--{split}={n}" for split, n in SMALL.items()]
    assert run_cli(monkeypatch, argv) == 0
    assert "wrote" in capsys.readouterr().out
    with numpy.load(out) as f:
        expected = {f"{s}_{k}" for s in SMALL for k in ("features", "mask", "groups")} | {"meta_json"}
        assert set(f.files) == expected
        for split in SMALL:
            for key in ("features", "mask", "groups"):
                assert f[f"{split}_{key}"].dtype == small[split][key].dtype
                numpy.testing.assert_array_equal(f[f"{split}_{key}"], small[split][key])
        meta = json.loads(str(f["meta_json"]))
    assert meta["dataset"] == "shapes" and meta["seed"] == 265076 and meta["sizes"] == SMALL


@pytest.mark.parametrize(
    "argv, culprit",
    [
        (["--train", "-5"], "train"),
        (["--seed", "-1"], "--seed"),
    ],
)
def test_cli_bad_input_is_one_error_line_and_no_file(monkeypatch, tmp_path, capsys, argv, culprit):
    out = tmp_path / "shapes.npz"
    assert run_cli(monkeypatch, ["data", "shapes", "--out", str(out)] + argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and culprit in err
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("name", ["missing/shapes.npz", "shapes.h5"])
def test_cli_unwritable_out_is_an_error(monkeypatch, tmp_path, capsys, name):
    out = tmp_path / name
    assert run_cli(monkeypatch, ["data", "shapes", "--out", str(out), "--train", "5"]) == 2
    assert str(out) in capsys.readouterr().err
    assert os.listdir(tmp_path) == []
