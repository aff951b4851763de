"""TextureMNIST1 and TextureMNIST2 (the authors' Freq20-MNIST), as the authors generated them.

The definition is docs/spec.md section 9.2. An image is a background texture with one or two
digits painted over it, each digit filled with its own texture and used as an alpha mask:

    x = m_d * t_d + (1 - m_d) * ( ... (m_1 * t_1 + (1 - m_1) * t_0))

``t_0`` the background crop, ``t_j`` the crop of layer ``j`` (drawn in order, the last on top),
``m_j`` the digit's intensities in [0, 1]. The ground-truth soft masks are
``M_j = m_j * prod_{l > j} (1 - m_l)`` and ``M_0 = prod_l (1 - m_l)``; they sum to one per pixel.

The random streams are the authors' legacy ``numpy.random.RandomState`` generators, with their seeds
and call order, so that with the standard MNIST files and the default sizes the output equals their
released files (see ``docs/datasets.md`` for what is and is not verified):

- texture bank: ``RandomState(546298)``, one ``rand()`` per texture (the phase);
- training digits ``RandomState(52698)``, test digits ``RandomState(2938)``: for two digits two
  ``permutation(n)`` then ``binomial(1, 0.5, n)`` over all ``n`` source digits, then per image
  ``choice(20, digits + 1, replace=False)`` for the textures;
- crops: a fresh ``RandomState(598)`` for the training and again for the test images, per image
  and layer ``randint(0, 11, 2)``: the row and column offset into the 38x38 texture.

Shapes: ``n`` images, ``d`` digits, ``L = d + 1`` layers (background first), ``S = 28``,
``N = S * S = 784`` pixels, texture bank ``(20, 38, 38)``.
"""

import numpy

from . import GENERATOR_VERSION
from . import check_sizes as _check_sizes
from .chunks import concatenate_chunks
from .errors import DataGenError

IMAGE_SIZE = 28  # S
N_PIXELS = IMAGE_SIZE * IMAGE_SIZE  # N = 784
TEXTURE_SIZE = 38  # grid of the texture bank: largest frequency index + 1
FREQUENCY_ROWS = (4, 10, 21, 32, 37)  # one per block of four textures
FREQUENCY_COLUMNS = (0, 4, 8, 12)  # plus the block index 0..4
N_TEXTURES = len(FREQUENCY_ROWS) * len(FREQUENCY_COLUMNS)  # 20
MAX_CROP = TEXTURE_SIZE - IMAGE_SIZE  # crop offsets 0..10 in each direction
SHIFT = 2  # TextureMNIST2: digits shifted 2 pixels left-up / right-down

# The authors' seeds (docs/spec.md section 9).
AUTHORS_SEEDS = {"textures": 546298, "train": 52698, "test": 2938, "crops": 598}

SPLIT_NAMES = ("train", "valid", "test")
DEFAULT_SIZES = {"train": 50000, "valid": 10000, "test": 10000}


def check_sizes(sizes):
    """Return ``sizes`` as a dict over :data:`SPLIT_NAMES` (missing splits get 0); DataGenError on bad values."""
    return _check_sizes(sizes, SPLIT_NAMES, "TextureMNIST")


def file_bytes(sizes, n_digits):
    """Bytes of the arrays of a TextureMNIST``n_digits`` file of ``sizes`` (features and the ``d + 1``
    masks float32, ``d`` targets and ``d + 1`` codes int64 per image): a lower bound of the memory
    that generating it takes, so that a caller can refuse sizes that cannot fit before anything
    is drawn."""
    layers = n_digits + 1
    return sum(check_sizes(sizes).values()) * (4 * N_PIXELS * (1 + layers) + 8 * (n_digits + layers))


def seeds(seed=None):
    """The four seeds: the authors' with ``seed=None``, else all four derived from ``seed``.

    The derivation is NumPy's ``SeedSequence(seed).generate_state(4)`` in the order textures,
    train, test, crops; the structure (one crop generator restarted for the test images) is kept.
    """
    if seed is None:
        return dict(AUTHORS_SEEDS)
    if isinstance(seed, bool) or not isinstance(seed, (int, numpy.integer)) or seed < 0:
        raise DataGenError(f"TextureMNIST seed must be an integer >= 0 or None, got {seed!r}")
    derived = numpy.random.SeedSequence(int(seed)).generate_state(4)
    return {name: int(s) for name, s in zip(("textures", "train", "test", "crops"), derived)}


def texture_frequencies():
    """(20, 2) int: the Fourier coefficient (row, column) of each texture, in bank order."""
    return numpy.array([(row, col + block) for block, row in enumerate(FREQUENCY_ROWS) for col in FREQUENCY_COLUMNS])


def texture_bank(rng):
    """The 20 textures, (20, 38, 38) float32, each min-max scaled to [0, 1].

    rng: a legacy RandomState (the authors': ``RandomState(546298)``), one ``rand()`` per texture.
    Texture ``t`` is the real part of the 2-D inverse FFT of a grid holding the single coefficient
    ``exp(2 pi i u_t)`` (stored in complex64, as the authors did) at its frequency. The transform
    runs in complex128, as NumPy < 2.0 always did (NumPy >= 2.0 would transform complex64 input in
    single precision and round differently); the result is cast to float32 and scaled in float32.
    """
    freqs = texture_frequencies()
    coeffs = numpy.zeros((N_TEXTURES, TEXTURE_SIZE, TEXTURE_SIZE), dtype=numpy.complex64)  # (20, 38, 38)
    for t, (row, col) in enumerate(freqs):
        coeffs[t, row, col] = numpy.exp(2j * numpy.pi * rng.rand())
    spatial = numpy.fft.ifft2(coeffs.astype(numpy.complex128)).real.astype(numpy.float32)  # (20, 38, 38)
    spatial -= spatial.min(axis=(1, 2), keepdims=True)
    spatial /= spatial.max(axis=(1, 2), keepdims=True)
    return spatial


def draw_layers(n_source, n_digits, rng, random_top=False):
    """Which source digit goes into which layer of each image, for all ``n_source`` source digits.

    rng: the digit generator (the authors': ``RandomState(52698)`` train, ``RandomState(2938)``
    test). Returns, each ``(n_source, d)`` int64 with layers bottom first:
    ``layer_digits`` source index of the digit drawn in each layer, ``layer_shifts`` its shift
    ``s`` (``s`` pixels right and ``s`` down; negative: left and up), ``target_digits`` the source
    index whose label is each target, in the authors' target order.

    One digit: image ``i`` is digit ``i``, unshifted; nothing is drawn. Two digits: ``p1, p2`` two
    permutations and ``t`` a fair coin per image. The authors' code (default) always draws the
    ``p2`` digit (shifted right-down) first and the ``p1`` digit (left-up) on top, and orders the
    targets by ``t``: ``[p2, p1]`` (layer order) where ``t = 1``, ``[p1, p2]`` where ``t = 0``
    (errata E14). ``random_top=True`` is the evident intent instead, a departure from the released
    data: layers ``[p1, p2]`` where ``t = 1``, ``[p2, p1]`` where ``t = 0``, targets in layer order.
    Both consume the same draws.
    """
    if n_digits == 1:
        index = numpy.arange(n_source)[:, None]  # (n, 1)
        return index, numpy.zeros_like(index), index
    if n_digits != 2:
        raise DataGenError(f"TextureMNIST has 1 or 2 digits per image, got {n_digits}")
    p1 = rng.permutation(n_source)  # (n,) shifted left and up
    p2 = rng.permutation(n_source)  # (n,) shifted right and down
    t = rng.binomial(1, 0.5, n_source)[:, None] == 1  # (n, 1)
    left_up = numpy.stack([p1, numpy.full(n_source, -SHIFT)], -1)  # (n, 2): digit, shift
    right_down = numpy.stack([p2, numpy.full(n_source, SHIFT)], -1)
    if random_top:
        bottom = numpy.where(t, left_up, right_down)  # (n, 2)
        top = numpy.where(t, right_down, left_up)
        layers = numpy.stack([bottom, top], 1)  # (n, 2 layers, 2)
        return layers[..., 0], layers[..., 1], layers[..., 0]
    layers = numpy.stack([right_down, left_up], 1)  # (n, 2 layers, 2): p2 below, p1 on top
    targets = numpy.where(t, numpy.stack([p2, p1], 1), numpy.stack([p1, p2], 1))  # (n, 2), E14
    return layers[..., 0], layers[..., 1], targets


def draw_codes(n_images, n_digits, rng):
    """(n, L) int64 texture indices, distinct within an image, background first: per image, in
    order, ``rng.choice(20, d + 1, replace=False)`` (the draws cannot be batched: each is a
    shuffle by rejection sampling)."""
    codes = [rng.choice(N_TEXTURES, size=n_digits + 1, replace=False) for _ in range(n_images)]
    return numpy.array(codes, dtype=numpy.int64).reshape(n_images, n_digits + 1)


def draw_crops(n_images, n_layers, crop_rng):
    """(n, L, 2) int64 crop offsets (row, column) into the 38x38 textures, 0..10 each.

    The authors drew ``randint(0, 11, 2)`` per image and layer; one call for all of them gives the
    same numbers (same bounds, so the same sequence of draws).
    """
    return crop_rng.randint(0, MAX_CROP + 1, size=(n_images, n_layers, 2)).astype(numpy.int64)


def shift_images(images, shifts):
    """Shift each (S, S) image by ``s`` pixels right and ``s`` down (negative: left, up), zero fill.

    images: (n, S, S); shifts: (n,) ints with ``|s| <= 2``. Returns (n, S, S).
    """
    padded = numpy.pad(images, ((0, 0), (SHIFT, SHIFT), (SHIFT, SHIFT)))  # (n, S+4, S+4)
    out = numpy.empty_like(images)
    for s in numpy.unique(shifts):
        start = SHIFT - s  # out[r, c] = images[r - s, c - s]
        out[shifts == s] = padded[shifts == s, start : start + IMAGE_SIZE, start : start + IMAGE_SIZE]
    return out


def crop_textures(bank, codes, crops):
    """Texture crops (n, L, S, S) float32: ``bank[codes[i, j]][r:r+28, c:c+28]`` with ``(r, c) = crops[i, j]``."""
    offsets = numpy.arange(IMAGE_SIZE)
    rows = crops[..., 0, None] + offsets  # (n, L, S)
    cols = crops[..., 1, None] + offsets  # (n, L, S)
    return bank[codes[:, :, None, None], rows[:, :, :, None], cols[:, :, None, :]]


def compose(textures, alphas):
    """Paint the layers over the background. Returns the image (n, S, S) and the masks (n, L, S, S).

    textures: (n, L, S, S) float32 crops, background first; alphas: (n, d, S, S) float32 digit
    masks ``m_j`` in drawing order. ``x = m_j t_j + (1 - m_j) x`` layer by layer, in float64 with
    ``1 - m_j`` rounded to float32 (the authors' arithmetic), the image then rounded to float32.
    Masks ``M_j = m_j prod_{l > j} (1 - m_l)``, ``M_0 = prod_l (1 - m_l)``, in float32, multiplied
    in drawing order as the authors did; they sum to one.
    """
    image = textures[:, 0].astype(numpy.float64)  # (n, S, S) the background
    masks = numpy.ones(textures.shape, dtype=numpy.float32)  # (n, L, S, S)
    for j in range(1, textures.shape[1]):
        m = alphas[:, j - 1]  # (n, S, S) float32
        keep = numpy.float32(1) - m  # (n, S, S) float32: what shows through
        image = m * textures[:, j].astype(numpy.float64) + keep * image
        masks[:, j] = m
        masks[:, :j] *= keep[:, None]
    return image.astype(numpy.float32), masks


def plan_images(n_source, n_images, n_digits, rng, crop_rng, random_top=False):
    """All random draws of one call of the authors' ``prepare_data``, for its first ``n_images`` images.

    Returns a dict of ``layer_digits``, ``layer_shifts``, ``target_digits`` (n, d), ``codes`` (n, L)
    and ``crops`` (n, L, 2). The permutations cover all ``n_source`` digits, so the first images do
    not depend on ``n_images``.
    """
    layer_digits, layer_shifts, target_digits = draw_layers(n_source, n_digits, rng, random_top)
    codes = draw_codes(n_images, n_digits, rng)
    crops = draw_crops(n_images, n_digits + 1, crop_rng)
    return {
        "layer_digits": layer_digits[:n_images],
        "layer_shifts": layer_shifts[:n_images],
        "target_digits": target_digits[:n_images],
        "codes": codes,
        "crops": crops,
    }


def render(bank, images, labels, plan, start, stop):
    """Images ``start:stop`` of a plan. Returns ``features`` (k, N) float32 in [0, 1], ``mask``
    (k, L, N) float32, ``targets`` (k, d) int64 and ``codes`` (k, L) int64.

    images: (n_source, S, S) float32 digit alpha masks in [0, 1]; labels: (n_source,) ints.
    """
    part = {key: value[start:stop] for key, value in plan.items()}
    k, d = part["layer_digits"].shape
    alphas = numpy.empty((k, d, IMAGE_SIZE, IMAGE_SIZE), dtype=numpy.float32)  # (k, d, S, S)
    for j in range(d):
        alphas[:, j] = shift_images(images[part["layer_digits"][:, j]], part["layer_shifts"][:, j])
    features, masks = compose(crop_textures(bank, part["codes"], part["crops"]), alphas)
    return {
        "features": features.reshape(k, N_PIXELS),
        "mask": masks.reshape(k, d + 1, N_PIXELS),
        "targets": numpy.asarray(labels)[part["target_digits"]].astype(numpy.int64),
        "codes": part["codes"],
    }


def check_request(digits, n_digits, sizes):
    """Return the checked sizes; DataGenError unless ``digits`` (a :class:`data_gen.digits.DigitSource`)
    holds usable arrays, ``n_digits`` is 1 or 2, and there are enough digits for ``sizes``."""
    sizes = check_sizes(sizes)
    if n_digits not in (1, 2):
        raise DataGenError(f"TextureMNIST has 1 or 2 digits per image, got {n_digits}")
    for split in ("train", "test"):
        images, labels = getattr(digits, f"{split}_images"), getattr(digits, f"{split}_labels")
        if images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE) or len(labels) != len(images):
            raise DataGenError(
                f"{split} digits must be (n, 28, 28) with n labels, got {images.shape} and {len(labels)}"
            )
        if images.size and (images.min() < 0 or images.max() > 1):
            raise DataGenError(f"{split} digit intensities must lie in [0, 1]")
    n_train_digits, n_test_digits = len(digits.train_images), len(digits.test_images)
    if sizes["train"] + sizes["valid"] > n_train_digits:
        raise DataGenError(
            f"train + valid = {sizes['train'] + sizes['valid']} images need as many training digits;"
            f" the digit source has {n_train_digits}"
        )
    if sizes["test"] > n_test_digits:
        raise DataGenError(
            f"test = {sizes['test']} images need as many test digits; the digit source has {n_test_digits}"
        )
    return sizes


def generate_chunks(digits, n_digits, sizes=None, seed=None, random_top=False, chunk_size=5000):
    """Yield ``(split, images)`` pieces of at most ``chunk_size`` images, train, valid, test in order.

    digits: a :class:`data_gen.digits.DigitSource`; n_digits: 1 or 2; sizes: dict split -> number
    (default 50,000 / 10,000 / 10,000); seed: None for the authors' seeds, else see :func:`seeds`;
    random_top: see :func:`draw_layers`. Train and valid are the first images composed from the
    training digits (valid follows train), test is composed from the test digits, so
    ``train + valid`` may not exceed the number of training digits (60,000 for MNIST).
    """
    sizes = check_request(digits, n_digits, DEFAULT_SIZES if sizes is None else sizes)
    s = seeds(seed)
    bank = texture_bank(numpy.random.RandomState(s["textures"]))
    train_splits = (("train", 0, sizes["train"]), ("valid", sizes["train"], sizes["train"] + sizes["valid"]))
    test_splits = (("test", 0, sizes["test"]),)
    streams = (
        (digits.train_images, digits.train_labels, s["train"], train_splits),
        (digits.test_images, digits.test_labels, s["test"], test_splits),
    )
    for images, labels, digit_seed, splits in streams:
        n_images = splits[-1][2]
        plan = plan_images(
            len(images),
            n_images,
            n_digits,
            numpy.random.RandomState(digit_seed),
            numpy.random.RandomState(s["crops"]),
            random_top,
        )
        for split, first, stop in splits:
            if first == stop:
                yield split, render(bank, images, labels, plan, first, first)
            for start in range(first, stop, chunk_size):
                yield split, render(bank, images, labels, plan, start, min(start + chunk_size, stop))


def generate(digits, n_digits, sizes=None, seed=None, random_top=False):
    """All splits: ``{split: {"features", "mask", "targets", "codes"}}`` (see :func:`generate_chunks`)."""
    return concatenate_chunks(generate_chunks(digits, n_digits, sizes, seed, random_top))


def metadata(digits, n_digits, sizes, seed, random_top):
    """The ``meta_json`` record of a TextureMNIST file."""
    sizes = check_sizes(sizes)
    authors = seed is None and not random_top
    return {
        "dataset": "texture-mnist",
        "digits": int(n_digits),
        "generator": "data_gen.texture_mnist",
        "generator_version": GENERATOR_VERSION,
        "sizes": sizes,
        "seed": None if seed is None else int(seed),
        "seeds": seeds(seed),
        "random_top": bool(random_top),
        "authors_stream": authors,
        "digit_source": digits.name,
        "digit_source_is_standard_mnist": bool(digits.standard),
        # seeds, call order, digits and sizes all as in the authors' run that made the released file
        "released_recipe": bool(authors and digits.standard and sizes == DEFAULT_SIZES),
        "image_shape": [IMAGE_SIZE, IMAGE_SIZE],
        "mask_channels": ["background"] + [f"layer {j}" for j in range(1, n_digits + 1)],
    }


def file_arrays(splits):
    """Flatten :func:`generate`'s result into the file's keys ``{split}_features``, ``_mask``,
    ``_targets``, ``_codes``."""
    return {f"{split}_{key}": value for split, images in splits.items() for key, value in images.items()}
