"""Regenerate the datasets of the Tagger paper (Greff et al., NIPS 2016) from their definitions.

The authors' released files can no longer be downloaded, so this package rebuilds them:

- :mod:`data_gen.shapes`: Shapes, 20x20 binary images of three sprites (docs/spec.md section 9.1);
- :mod:`data_gen.texture_mnist`: TextureMNIST1 and TextureMNIST2 (Freq20-MNIST), textured digits
  on a textured background (docs/spec.md section 9.2);
- :mod:`data_gen.mnist` reads the standard MNIST IDX files, :mod:`data_gen.standin_digits` builds an
  offline stand-in from scikit-learn's 8x8 digits (clearly not MNIST), :mod:`data_gen.digits` picks
  one of the two.

The generators are pure functions of their arguments (sizes, seeds, digit arrays) and return NumPy
arrays; they depend on nothing but NumPy (scipy and scikit-learn for the stand-in digits only) and
raise :class:`data_gen.errors.DataGenError` on a bad argument or file. Writing files, timing and
progress bars live in ``tagger_ref.commands.data``; reading any of these files for training, and
the authors' released HDF5 files (Fuel's layout), is ``tagger_ref.files.datasets``.
"""

import numpy

from .errors import DataGenError

# Bumped whenever a change to a generator changes its output for the same arguments; recorded in
# every file's metadata.
GENERATOR_VERSION = 1


def check_sizes(sizes, split_names, dataset):
    """Return ``sizes`` as a dict over ``split_names`` (missing splits get 0); DataGenError on a bad value.

    sizes: dict split -> number of images; dataset: its name, for the messages.
    """
    unknown = sorted(set(sizes) - set(split_names))
    if unknown:
        raise DataGenError(f"unknown {dataset} split(s) {', '.join(unknown)} (splits: {', '.join(split_names)})")
    checked = {}
    for name in split_names:
        n = sizes.get(name, 0)
        if isinstance(n, bool) or not isinstance(n, (int, numpy.integer)) or n < 0:
            raise DataGenError(f"size of the {dataset} {name} split must be an integer >= 0, got {n!r}")
        checked[name] = int(n)
    return checked
