"""Joining the pieces that the generators yield split by split."""

import numpy


def concatenate_chunks(chunks):
    """Join the pieces of :func:`generate_chunks` into ``{split: {key: array}}``."""
    parts = {}
    for split, images in chunks:
        parts.setdefault(split, []).append(images)
    return {
        split: {key: numpy.concatenate([p[key] for p in pieces]) for key in pieces[0]}
        for split, pieces in parts.items()
    }
