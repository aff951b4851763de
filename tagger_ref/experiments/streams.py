"""The data streams of semi-supervised training (section 3.3), as the authors built them.

- The **unlabeled stream** is the whole training split without its labels (the labeled images
  are in it too): every epoch a fresh permutation, cut into ``n // B`` batches (a last partial
  batch is dropped). One epoch is one pass over it, so an epoch has ``n // B`` steps whatever the
  number of labels (500 for 50,000 images and B = 100).
- The **labeled stream** cycles through a fixed labeled subset: ``labeled_samples = L`` images,
  ``L / C`` of each class judged by the first target column, the first ones of each class in the
  training split shuffled by ``default_rng([seed, LABEL_STREAM])``. The subset depends on the seed
  and the data alone, so both stages of a run with the same seed see the same labels. Each pass
  over it is a fresh permutation, drawn from the run's generator when its first batch is taken,
  cut into ``L // B`` batches. ``L = 0`` (or None) labels every training image, unbalanced.

Each step takes one batch of each; ``LabeledStream`` holds where the labeled stream stands, and
training keeps it in the checkpoint so that a resumed run takes the same batches.
"""

import dataclasses

import numpy

from ..errors import DataError

LABEL_STREAM = 2  # default_rng([seed, LABEL_STREAM]) shuffles the training split before the labeled subset is taken


def steps_per_epoch(n_images, batch_size):
    """Steps of one epoch: full batches of one pass over the unlabeled stream."""
    return n_images // batch_size


def labeled_subset(targets, labeled_samples, n_classes, seed):
    """Indices (L,) into the training split of the labeled images, in the shuffled order.

    targets: (n, objects) int class labels; the first column decides an image's class.
    labeled_samples: L, a multiple of n_classes; 0 or None: every image, in order.
    """
    targets = numpy.asarray(targets).reshape(len(targets), -1)
    n = len(targets)
    if not labeled_samples:
        return numpy.arange(n)
    if labeled_samples % n_classes:
        raise DataError(
            f"labeled_samples = {labeled_samples} is not a multiple of the {n_classes} classes: "
            f"the labeled subset takes as many images of each class"
        )
    per_class = labeled_samples // n_classes
    order = numpy.random.default_rng([seed, LABEL_STREAM]).permutation(n)  # (n,)
    first = targets[order, 0]  # class of each shuffled image
    chosen = []
    for c in range(n_classes):
        positions = numpy.flatnonzero(first == c)[:per_class]
        if len(positions) < per_class:
            raise DataError(
                f"labeled_samples = {labeled_samples} needs {per_class} training images of class {c}, "
                f"the training split has {len(positions)}"
            )
        chosen.append(positions)
    return order[numpy.sort(numpy.concatenate(chosen))]


@dataclasses.dataclass
class LabeledStream:
    """Where the labeled stream stands: the subset, the current pass's order, batches taken from it."""

    index: numpy.ndarray  # (L,) indices of the labeled images in the training split
    order: numpy.ndarray = dataclasses.field(default_factory=lambda: numpy.zeros(0, numpy.int64))  # this pass
    position: int = 0  # batches taken from this pass

    def next_rows(self, rng, batch_size):
        """The next labeled batch's indices (B,); a new pass (a permutation from ``rng``) when the
        current one has no full batch left."""
        if len(self.index) < batch_size:
            raise DataError(f"the labeled subset has {len(self.index)} images, fewer than one batch of {batch_size}")
        if len(self.order) == 0 or (self.position + 1) * batch_size > len(self.order):
            self.order = self.index[rng.permutation(len(self.index))]
            self.position = 0
        rows = self.order[self.position * batch_size : (self.position + 1) * batch_size]
        self.position += 1
        return rows

    def arrays(self):
        """The stream's state as arrays, for a checkpoint (``from_arrays`` reads them back)."""
        return {
            "index": numpy.asarray(self.index, numpy.int64),
            "order": numpy.asarray(self.order, numpy.int64),
            "position": numpy.int64(self.position),
        }

    @classmethod
    def from_arrays(cls, arrays):
        return cls(
            index=numpy.asarray(arrays["index"]), order=numpy.asarray(arrays["order"]), position=int(arrays["position"])
        )
