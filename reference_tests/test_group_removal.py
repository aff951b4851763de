"""Group removal (Figure 5, example E2): the removed group's mask is zero at the last iteration."""

import numpy
import pytest
from conftest import case

from tagger_ref.maths.model import forward

pytestmark = pytest.mark.quick  # the fast subset: python -m pytest -m quick


def test_removed_group_gets_no_mass_and_earlier_iterations_are_unchanged():
    config, params, inputs = case("tiny-continuous", seed=9)
    T = config.n_iterations
    full = forward(params, config, inputs)
    removed = forward(params, config, inputs, remove_group=1)
    m = removed[f"m_{T}"]
    assert numpy.all(m[1] == 0.0)
    numpy.testing.assert_allclose(m.sum(0), 1.0, rtol=1e-14)
    # the other groups share the removed group's mass in proportion to their own masks
    keep = full[f"m_{T}"][[0, 2]]
    numpy.testing.assert_allclose(m[[0, 2]], keep / keep.sum(0), rtol=1e-12)
    for key in full:
        if key.endswith(tuple(f"_{i}" for i in range(T))) and not key.startswith("cost"):
            numpy.testing.assert_array_equal(full[key], removed[key], err_msg=key)
