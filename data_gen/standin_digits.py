"""An offline stand-in for MNIST built from scikit-learn's bundled 8x8 digits. It is NOT MNIST.

Without an MNIST folder, TextureMNIST is composed from these digits, so that the pipeline runs
anywhere (tests, demos) without a download. The result is a different, easier-to-tell-apart and far
less varied dataset: numbers obtained on it say nothing about the paper's TextureMNIST results, and
every file made from it says so in its metadata (``digit_source``).

Construction (deterministic, no randomness):
- the 1,797 images of ``sklearn.datasets.load_digits()`` (intensities 0..16, 8x8), in their order;
- each scaled by 2.5 to 20x20 with a cubic spline (``scipy.ndimage.zoom``, order 3), divided by 16
  and clipped to [0, 1] (the spline overshoots a little), then centred in a 28x28 frame with a
  4-pixel empty border, which is where MNIST puts its digits' 20x20 box;
- the first 1,500 images form the training pool and the last 297 the test pool (disjoint), and
  the pools are repeated cyclically to MNIST's sizes: training image ``i`` is pool image
  ``i mod 1500`` (60,000 images), test image ``i`` is test-pool image ``i mod 297`` (10,000).
"""

import numpy

N_TRAIN_POOL = 1500  # sklearn digits 0..1499: training pool; 1500..1796: test pool
N_TRAIN = 60000  # MNIST's sizes
N_TEST = 10000
IMAGE_SIZE = 28
BOX = 20  # MNIST centres each digit's 20x20 box in the 28x28 frame
SCALE = BOX / 8


def scaled_digits():
    """All 1,797 sklearn digits as 28x28 float32 alpha masks in [0, 1], and their labels (int64)."""
    from scipy import ndimage
    from sklearn.datasets import load_digits

    digits = load_digits()
    border = (IMAGE_SIZE - BOX) // 2
    images = numpy.zeros((len(digits.images), IMAGE_SIZE, IMAGE_SIZE), dtype=numpy.float32)  # (1797, 28, 28)
    for i, small in enumerate(digits.images):  # small: (8, 8)
        box = ndimage.zoom(small, SCALE, order=3)  # (20, 20)
        images[i, border : border + BOX, border : border + BOX] = numpy.clip(box / 16.0, 0.0, 1.0)
    return images, digits.target.astype(numpy.int64)


def load_standin():
    """The stand-in arranged like MNIST: a dict of ``train_images`` (60000, 28, 28) float32 in [0, 1],
    ``train_labels`` (60000,) int64, ``test_images`` (10000, 28, 28), ``test_labels`` (10000,)."""
    images, labels = scaled_digits()
    train_pool = numpy.arange(N_TRAIN_POOL)
    test_pool = numpy.arange(N_TRAIN_POOL, len(images))
    train = train_pool[numpy.arange(N_TRAIN) % len(train_pool)]
    test = test_pool[numpy.arange(N_TEST) % len(test_pool)]
    return {
        "train_images": images[train],
        "train_labels": labels[train],
        "test_images": images[test],
        "test_labels": labels[test],
    }
