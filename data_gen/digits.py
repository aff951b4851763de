"""The digit source of TextureMNIST: the real MNIST files, or the offline stand-in."""

import dataclasses

import numpy

from . import mnist, standin_digits

MNIST = "mnist"
STANDIN = "sklearn-digits-standin (NOT MNIST)"


@dataclasses.dataclass(frozen=True, eq=False)
class DigitSource:
    name: str  # MNIST or STANDIN: recorded in every output file's metadata
    train_images: numpy.ndarray  # (n_train, 28, 28) float32 alpha masks in [0, 1]
    train_labels: numpy.ndarray  # (n_train,) int64 digit classes 0..9
    test_images: numpy.ndarray  # (n_test, 28, 28) float32
    test_labels: numpy.ndarray  # (n_test,) int64
    standard: bool = False  # True only for byte-identical standard MNIST files


def load_digits(mnist_dir=None):
    """MNIST from ``mnist_dir`` (the four IDX files), or the stand-in when ``mnist_dir`` is None."""
    if mnist_dir is None:
        d = standin_digits.load_standin()
        return DigitSource(STANDIN, d["train_images"], d["train_labels"], d["test_images"], d["test_labels"])
    d = mnist.load_mnist(mnist_dir)
    return DigitSource(
        MNIST,
        mnist.to_alpha(d["train_images"]),
        d["train_labels"].astype(numpy.int64),
        mnist.to_alpha(d["test_images"]),
        d["test_labels"].astype(numpy.int64),
        d["standard"],
    )
