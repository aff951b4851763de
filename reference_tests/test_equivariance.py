"""Tagger assumes nothing about the order of groups or of inputs (section 3: "no prior for images")."""

import numpy
import pytest
from conftest import case

from tagger_ref.maths.model import forward

pytestmark = pytest.mark.quick  # the fast subset: python -m pytest -m quick


GROUP_KEYS = ("z_", "m_", "L_m_", "delta_z_", "h_", "ladder_top_", "zhat0_", "z_logit_")


@pytest.mark.parametrize("preset", ["tiny-binary", "tiny-continuous", "tiny-classify"])
def test_permuting_groups_permutes_outputs(preset):
    config, params, inputs = case(preset, seed=5)
    perm = numpy.array([2, 0, 1])
    permuted = dict(inputs, m0_logits=inputs["m0_logits"][perm])
    a, b = forward(params, config, inputs), forward(params, config, permuted)
    for key in a:
        if key.startswith(GROUP_KEYS):
            numpy.testing.assert_allclose(b[key], a[key][perm], rtol=1e-10, atol=1e-12, err_msg=key)
        else:  # costs and class probabilities do not depend on the order of the groups
            numpy.testing.assert_allclose(b[key], a[key], rtol=1e-10, atol=1e-12, err_msg=key)
    assert not numpy.allclose(a["m_1"], a["m_1"][perm])  # the check is not vacuous


@pytest.mark.parametrize("preset", ["tiny-binary", "tiny-continuous"])
def test_permuting_inputs_permutes_outputs(preset):
    config, params, inputs = case(preset, seed=6)
    N = config.n_inputs
    perm = numpy.random.default_rng(0).permutation(N)
    p = dict(params)
    p["W"] = numpy.concatenate([params["W"][block * N : (block + 1) * N][perm] for block in range(4)])
    for name in ("z_u_W", "m_u_W"):
        p[name] = params[name][:, perm]
    for name in ("c1", "b1"):
        p[name] = params[name][perm]
    permuted = {
        "x": inputs["x"][:, perm],
        "x_tilde": inputs["x_tilde"][:, perm],
        "m0_logits": inputs["m0_logits"][:, :, perm],
    }
    a, b = forward(params, config, inputs), forward(p, config, permuted)
    for key in a:
        if key.startswith(("z_", "m_", "L_m_", "delta_z_", "z_logit_")):
            numpy.testing.assert_allclose(b[key], a[key][..., perm], rtol=1e-10, atol=1e-12, err_msg=key)
        else:  # hidden units and costs are unchanged
            numpy.testing.assert_allclose(b[key], a[key], rtol=1e-10, atol=1e-12, err_msg=key)
