"""Shapes: 20x20 binary images of three sprites, as the authors generated them (docs/spec.md section 9).

Each image holds ``S`` sprites (3; 1 in the ``single`` split), each chosen uniformly from a
square and two triangles and placed uniformly at random fully inside the image. The image is the
union of their pixels. A pixel covered by exactly one sprite is *scored* and labelled with that
sprite's index ``1..S`` in drawing order; background and overlaps are unscored (label 0).

The random stream is the authors': one legacy ``numpy.random.RandomState(265076)``, consumed split
after split (train, valid, test, single), image after image, and per sprite
``randint(0, 3)`` (kind), ``randint(0, 20 - w + 1)`` (column offset x), ``randint(0, 20 - h + 1)``
(row offset y). Because the bounds of x depend on the kind just drawn, and legacy ``randint`` draws
by masked rejection sampling, the draws cannot be batched across sprites without changing the
stream; they are made one by one (one to two seconds for the default 80,000 images). Everything after
the draws (painting, labels, masks) is vectorised.

Shapes of the arrays, with ``n`` images, ``S`` sprites per image, ``G = 3`` mask channels,
``N = 400`` pixels: placements ``(n, S)``, features and groups ``(n, N)``, mask ``(n, G, N)``.
"""

import numpy

from . import GENERATOR_VERSION
from . import check_sizes as _check_sizes
from .chunks import concatenate_chunks

HEIGHT = 20
WIDTH = 20
N_PIXELS = HEIGHT * WIDTH  # N = 400
N_GROUPS = 3  # G: mask channels, the 3 sprites of a full image
SEED = 265076  # the authors' seed of the legacy global generator

# The authors' split, in the order the stream is consumed: (name, default size, sprites per image).
SPLITS = (
    ("train", 50000, 3),
    ("valid", 10000, 3),
    ("test", 10000, 3),
    ("single", 10000, 1),
)
SPLIT_NAMES = tuple(name for name, _, _ in SPLITS)
DEFAULT_SIZES = {name: size for name, size, _ in SPLITS}
SPRITES_PER_IMAGE = {name: s for name, _, s in SPLITS}


def _bitmap(rows):
    return numpy.array([[c == "1" for c in row] for row in rows], dtype=bool)


# The three sprites, in the order of the kind index that randint(0, 3) draws (docs/spec.md section 9).
SQUARE = _bitmap(["1111111", "1111111", "1100011", "1100011", "1100011", "1111111", "1111111"])  # 7x7
TRIANGLE = _bitmap(
    [
        "000001100000",
        "000011110000",
        "000111111000",
        "001110011100",
        "011100001110",
        "111111111111",
        "111111111111",
    ]
)  # 7 rows x 12 columns
FLIPPED_TRIANGLE = TRIANGLE[::-1].copy()  # upside down
SPRITES = (SQUARE, TRIANGLE, FLIPPED_TRIANGLE)
SPRITE_NAMES = ("square", "triangle", "flipped triangle")


def check_sizes(sizes):
    """Return ``sizes`` as a dict over :data:`SPLIT_NAMES` (missing splits get 0); DataError on bad values."""
    return _check_sizes(sizes, SPLIT_NAMES, "Shapes")


def file_bytes(sizes):
    """Bytes of the arrays of a file of ``sizes`` (features and mask float32, groups uint8, per image
    ``N * (4 + 4 G + 1)``): a lower bound of the memory that generating it takes, so that a caller
    can refuse sizes that cannot fit before anything is drawn."""
    return sum(check_sizes(sizes).values()) * N_PIXELS * (4 + 4 * N_GROUPS + 1)


def draw_placements(rng, n_images, n_sprites=3):
    """Draw the sprites of ``n_images`` images from ``rng`` in the authors' call order.

    rng: a legacy ``numpy.random.RandomState`` (the call order below defines the stream).
    Returns ``kinds, rows, cols``, each ``(n, S)`` int64: the sprite kind (index into
    :data:`SPRITES`) and the row (y) and column (x) of its top-left corner.
    """
    n_kinds = len(SPRITES)
    x_high = [WIDTH - sprite.shape[1] + 1 for sprite in SPRITES]  # randint's exclusive bound, per kind
    y_high = [HEIGHT - sprite.shape[0] + 1 for sprite in SPRITES]
    randint = rng.randint
    draws = []
    for _ in range(n_images * n_sprites):
        kind = randint(0, n_kinds)
        x = randint(0, x_high[kind])  # column offset, x in [0, 20 - w]
        y = randint(0, y_high[kind])  # row offset, y in [0, 20 - h]
        draws += (kind, y, x)
    placements = numpy.array(draws, dtype=numpy.int64).reshape(n_images, n_sprites, 3)
    return placements[..., 0], placements[..., 1], placements[..., 2]


def _placement_table():
    """(3, 20, 20, N) bool: entry [kind, y, x] is the 20x20 image of that sprite at row y, column x.

    Positions that do not fit stay empty; :func:`draw_placements` never produces them.
    """
    table = numpy.zeros((len(SPRITES), HEIGHT, WIDTH, HEIGHT, WIDTH), dtype=bool)
    for kind, sprite in enumerate(SPRITES):
        h, w = sprite.shape
        for y in range(HEIGHT - h + 1):
            for x in range(WIDTH - w + 1):
                table[kind, y, x, y : y + h, x : x + w] = sprite
    return table.reshape(len(SPRITES), HEIGHT, WIDTH, N_PIXELS)


_TABLE = _placement_table()


def render(kinds, rows, cols):
    """Paint placed sprites. Returns ``features`` (n, N) float32 in {0, 1} and ``groups`` (n, N) uint8.

    ``groups`` is 0 on background and on pixels covered by two or more sprites, else the index
    ``1..S`` of the one sprite covering the pixel (docs/spec.md section 9; the authors wrote later sprites
    over earlier ones and then cleared every pixel covered more than once, which is the same).
    """
    cover = _TABLE[kinds, rows, cols]  # (n, S, N) bool
    count = cover.sum(axis=1, dtype=numpy.uint8)  # (n, N) sprites per pixel
    label = numpy.zeros(count.shape, dtype=numpy.uint8)  # (n, N) label where count == 1
    for s in range(cover.shape[1]):
        label += cover[:, s].astype(numpy.uint8) * numpy.uint8(s + 1)
    features = (count > 0).astype(numpy.float32)  # (n, N)
    groups = numpy.where(count == 1, label, numpy.uint8(0))  # (n, N) uint8
    return features, groups


def mask_from_groups(groups, n_groups=N_GROUPS):
    """Ground-truth mask (n, G, N) float32: one-hot on scored pixels, ``1/G`` in every channel elsewhere."""
    labels = numpy.arange(1, n_groups + 1, dtype=groups.dtype)  # (G,)
    mask = (groups[:, None, :] == labels[None, :, None]).astype(numpy.float32)  # (n, G, N) one-hot
    numpy.copyto(mask, numpy.float32(1.0 / n_groups), where=(groups == 0)[:, None, :])  # unscored: 1/G
    return mask


def generate_images(rng, n_images, n_sprites=3):
    """Draw and paint ``n_images`` images. Returns a dict of ``features``, ``mask``, ``groups``,
    ``kinds``, ``rows``, ``cols`` (see :func:`draw_placements`, :func:`render`)."""
    kinds, rows, cols = draw_placements(rng, n_images, n_sprites)
    features, groups = render(kinds, rows, cols)
    return {
        "features": features,
        "mask": mask_from_groups(groups),
        "groups": groups,
        "kinds": kinds,
        "rows": rows,
        "cols": cols,
    }


def generate_chunks(sizes=None, seed=SEED, chunk_size=5000):
    """Yield ``(split, images)`` pieces of at most ``chunk_size`` images, in stream order.

    sizes: dict split -> number of images (default: the authors' 50,000/10,000/10,000/10,000);
    seed: of the legacy ``RandomState`` (default the authors' 265076). Concatenating the pieces
    of each split gives :func:`generate`'s arrays; a caller may show progress between pieces.
    """
    sizes = check_sizes(DEFAULT_SIZES if sizes is None else sizes)
    rng = numpy.random.RandomState(seed)
    for split in SPLIT_NAMES:
        n = sizes[split]
        if n == 0:
            yield split, generate_images(rng, 0, SPRITES_PER_IMAGE[split])
        for start in range(0, n, chunk_size):
            yield split, generate_images(rng, min(chunk_size, n - start), SPRITES_PER_IMAGE[split])


def generate(sizes=None, seed=SEED):
    """All splits: ``{split: {"features", "mask", "groups", "kinds", "rows", "cols"}}``.

    With the default sizes and seed this is the authors' dataset. The stream is consumed in
    order, so the first images of a split do not depend on its size, but every later split
    does depend on the sizes of the splits before it.
    """
    return concatenate_chunks(generate_chunks(sizes, seed))


def metadata(sizes, seed):
    """The ``meta_json`` record of a Shapes file."""
    return {
        "dataset": "shapes",
        "generator": "data_gen.shapes",
        "generator_version": GENERATOR_VERSION,
        "sizes": check_sizes(sizes),
        "seed": int(seed),
        "authors_stream": int(seed) == SEED,
        "image_shape": [HEIGHT, WIDTH],
        "sprites": list(SPRITE_NAMES),
        "sprites_per_image": dict(SPRITES_PER_IMAGE),
    }


def file_arrays(splits):
    """Flatten :func:`generate`'s result into the file's keys ``{split}_features``, ``_mask``, ``_groups``."""
    arrays = {}
    for split, images in splits.items():
        for key in ("features", "mask", "groups"):
            arrays[f"{split}_{key}"] = images[key]
    return arrays
