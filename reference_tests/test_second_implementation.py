"""A second, differently structured computation: explicit loops over groups, rows and pixels with
scalar math, written from docs/spec.md sections 4 and 7 alone. It must agree with the vectorised
trace for every semantics (the original code's, the paper's with the exact (28), the paper's with
(29)), both normalisations, and the class head."""

import math

import numpy
import pytest
from conftest import case

from tagger_ref.maths.model import forward

pytestmark = pytest.mark.quick  # the fast subset: python -m pytest -m quick


def sig(a):
    return 1 / (1 + math.exp(-a)) if a > -700 else 0.0


def normalise_rows(rows, norm):
    """rows: dict (k, b) -> 1-d vector. Batch norm: statistics over all rows per feature;
    layer norm: over the features of each row. Biased variance, 1e-10 floor."""
    keys = list(rows)
    if norm == "layer":
        out = {}
        for key in keys:
            v = rows[key]
            mean = sum(v) / len(v)
            var = sum((a - mean) ** 2 for a in v) / len(v)
            out[key] = numpy.array([(a - mean) / math.sqrt(var + 1e-10) for a in v])
        return out
    n_feat = len(rows[keys[0]])
    out = {key: numpy.zeros(n_feat) for key in keys}
    for f in range(n_feat):
        col = [rows[key][f] for key in keys]
        mean = sum(col) / len(col)
        var = sum((a - mean) ** 2 for a in col) / len(col)
        for key in keys:
            out[key][f] = (rows[key][f] - mean) / math.sqrt(var + 1e-10)
    return out


def gauss(d, s2):
    """N(d; 0, s2), the whole density."""
    return math.exp(-d * d / (2 * s2)) / math.sqrt(2 * math.pi * s2)


def loop_trace(p, cfg, x, xt, m0, y=None):
    K, B, N = m0.shape
    paper = cfg.semantics != "original"
    L = len(cfg.encoder_proj)
    binary = cfg.input_type == "binary"
    noise = cfg.input_noise
    keys = [(k, b) for k in range(K) for b in range(B)]
    z = {key: numpy.full(N, cfg.z_init) for key in keys}
    m = {}
    for b in range(B):
        for j in range(N):
            e = [math.exp(m0[k, b, j]) for k in range(K)]
            for k in range(K):
                m.setdefault((k, b), numpy.zeros(N))[j] = e[k] / sum(e)
    zlog = None
    out = {}
    if not binary:
        v_eff = math.exp(math.asinh(float(p["v"])))
        s2 = noise**2 + (v_eff if paper else v_eff**2)  # E3
    for i in range(cfg.n_iterations):
        Lm = {key: numpy.zeros(N) for key in keys}
        dz = {key: numpy.zeros(N) for key in keys}
        for b in range(B):
            for j in range(N):
                xtj = xt[b, j]
                if binary:
                    xi_ks = [z[(k, b)][j] * (1 - 2 * noise) + noise for k in range(K)]  # (17)
                    clipped = [q * (1 - 2e-4) + 1e-4 for q in xi_ks]
                    lik = [q if xtj == 1 else 1 - q for q in clipped]
                    xi = sum(xi_ks[k] * m[(k, b)][j] for k in range(K))
                    factor = 1.0 if paper else 1 - 2 * noise  # E1
                    for k in range(K):
                        Lm[(k, b)][j] = lik[k] / sum(lik)
                        dz[(k, b)][j] = factor * m[(k, b)][j] / (xi - 1 + xtj)
                else:
                    dens = [gauss(z[(k, b)][j] - xtj, s2) for k in range(K)]
                    mixture = sum(dens[k] * m[(k, b)][j] for k in range(K))
                    for k in range(K):
                        Lm[(k, b)][j] = dens[k] / sum(dens)
                        d = xtj - z[(k, b)][j]
                        if cfg.semantics == "original":  # (4)
                            dz[(k, b)][j] = m[(k, b)][j] * d
                        elif cfg.semantics == "paper":  # (28)
                            dz[(k, b)][j] = d / s2 * dens[k] * m[(k, b)][j] / mixture
                        else:  # (29)
                            dz[(k, b)][j] = d * m[(k, b)][j] * dens[k]
        zin = zlog if (binary and zlog is not None) else z
        pre = {key: numpy.concatenate([zin[key], dz[key], m[key], Lm[key]]) @ p["W"] for key in keys}
        pre = normalise_rows(pre, cfg.norm)
        h = {key: numpy.array([max(a, 0.0) for a in pre[key] + p["b"]]) for key in keys}
        # Ladder encoder
        lat, act = [h], h
        for l in range(1, L):
            zl = normalise_rows({key: act[key] @ p[f"f_{l}_W"] for key in keys}, cfg.norm)
            lat.append(zl)
            if l < L - 1:
                act = {key: numpy.array([max(a, 0.0) for a in zl[key] + p[f"f_{l}_b"]]) for key in keys}
            else:
                act = {}
                for key in keys:
                    s = (zl[key] + p[f"f_{l}_b"]) * p[f"f_{l}_c"]
                    e = numpy.array([math.exp(a - max(s)) for a in s])
                    act[key] = e / e.sum()
        top = act
        out["top"] = top
        # decoder
        zhat = None
        for l in reversed(range(L)):
            u = top if l == L - 1 else {key: zhat[key] @ p[f"g_{l}_W"] for key in keys}
            u = normalise_rows(u, cfg.norm)
            a = [p[f"g_{l}_a{j}"] for j in range(1, 11)]
            new = {}
            for key in keys:
                vals = numpy.zeros(len(u[key]))
                for f, uf in enumerate(u[key]):
                    mu = a[0][f] * sig(a[1][f] * uf + a[2][f]) + a[3][f] * uf + a[4][f]
                    vg = a[5][f] * sig(a[6][f] * uf + a[7][f]) + a[8][f] * uf + a[9][f]
                    if not binary:
                        vg = sig(vg)
                    vals[f] = (lat[l][key][f] - mu) * vg + mu
                new[key] = vals
            zhat = new
        zz = normalise_rows({key: zhat[key] @ p["z_u_W"] for key in keys}, cfg.norm)
        mm = normalise_rows({key: zhat[key] @ p["m_u_W"] for key in keys}, cfg.norm)
        znew = {key: p["c1"] * zz[key] + p["b1"] for key in keys}
        if binary:
            zlog = znew
            z = {key: numpy.array([sig(a) for a in znew[key]]) for key in keys}
        else:
            z = znew
        m = {key: numpy.zeros(N) for key in keys}
        for b in range(B):
            for j in range(N):
                e = [math.exp(float(p["c2"]) * mm[(k, b)][j]) for k in range(K)]
                for k in range(K):
                    m[(k, b)][j] = e[k] / sum(e)
        total = 0.0
        for b in range(B):
            for j in range(N):
                if binary:
                    q = sum(m[(k, b)][j] * z[(k, b)][j] for k in range(K)) * (1 - 2e-4) + 1e-4
                    total += -math.log(q if x[b, j] == 1 else 1 - q)
                else:
                    total += -math.log(
                        sum(
                            math.exp(-0.5 * (math.log(v_eff) + (x[b, j] - z[(k, b)][j]) ** 2 / v_eff))
                            * (m[(k, b)][j] + 1e-5)
                            for k in range(K)
                        )
                    )
        stack = lambda d: numpy.array([[d[(k, b)] for b in range(B)] for k in range(K)])  # noqa: E731
        out.update(
            {
                f"L_m_{i}": stack(Lm),
                f"delta_z_{i}": stack(dz),
                f"h_{i}": stack(h),
                f"ladder_top_{i}": stack(top),
                f"zhat0_{i}": stack(zhat),
                f"z_{i + 1}": stack(z),
                f"m_{i + 1}": stack(m),
                f"cost_{i + 1}": total / (B * N),
            }
        )
    costs = [out[f"cost_{i + 1}"] for i in range(cfg.n_iterations)]
    out["total_cost"] = sum(costs) if paper else sum(costs) / len(costs)  # E5
    top = out.pop("top")
    if y is not None and cfg.class_cost_x > 0:
        C = cfg.encoder_proj[-1] - 1  # the last unit: no class
        probs = numpy.zeros((B, C))
        class_cost = 0.0
        for b in range(B):
            mass = sum(top[(k, b)][c] for k in range(K) for c in range(C))
            for c in range(C):
                probs[b, c] = sum(top[(k, b)][c] for k in range(K)) / mass
            digits = list(y[b])
            for c in range(C):
                target = digits.count(c) / len(digits)
                if target:
                    class_cost -= target * math.log(probs[b, c])
        out["class_probs"] = probs
        out["class_cost"] = class_cost / B
        out["total_cost"] += cfg.class_cost_x * out["class_cost"]
    return out


POINTS = [
    ("tiny-binary", "batch", "original"),
    ("tiny-continuous", "batch", "original"),
    ("tiny-binary", "layer", "original"),
    ("tiny-continuous", "layer", "original"),
    ("tiny-binary", "batch", "paper"),
    ("tiny-binary", "layer", "paper-eq29"),
    ("tiny-continuous", "batch", "paper"),
    ("tiny-continuous", "layer", "paper"),
    ("tiny-continuous", "batch", "paper-eq29"),
    ("tiny-continuous", "layer", "paper-eq29"),
    ("tiny-classify", "batch", "original"),
    ("tiny-classify", "layer", "paper"),
]


@pytest.mark.parametrize("preset,norm,semantics", POINTS)
def test_loops_agree_with_vectorised(preset, norm, semantics):
    config, params, inputs = case(preset, seed=3, norm=norm, semantics=semantics)
    vec = forward(params, config, inputs)
    loops = loop_trace(params, config, inputs["x"], inputs["x_tilde"], inputs["m0_logits"], inputs.get("y"))
    assert ("class_cost" in loops) == (config.class_cost_x > 0) == ("class_cost" in vec)
    for key, value in loops.items():
        numpy.testing.assert_allclose(vec[key], value, rtol=1e-12, atol=1e-12, err_msg=key)


def test_the_semantics_differ_where_section_7_says():
    """The loops are not blind to the switch: E1 scales the binary delta_z by 1 / (1 - 2 beta), E5
    turns the mean over iterations into the sum, and (4), (28) and (29) give three delta_z."""
    config, params, inputs = case("tiny-binary", seed=3)
    args = (inputs["x"], inputs["x_tilde"], inputs["m0_logits"])
    original = loop_trace(params, config, *args)
    paper = loop_trace(params, config.replace(semantics="paper"), *args)
    beta, T = config.input_noise, config.n_iterations
    numpy.testing.assert_allclose(paper["delta_z_0"] * (1 - 2 * beta), original["delta_z_0"], rtol=1e-13)
    numpy.testing.assert_allclose(paper["total_cost"], sum(paper[f"cost_{i + 1}"] for i in range(T)), rtol=1e-13)
    config, params, inputs = case("tiny-continuous", seed=3)
    args = (inputs["x"], inputs["x_tilde"], inputs["m0_logits"])
    errors = [
        loop_trace(params, config.replace(semantics=s), *args)["delta_z_0"] for s in ("original", "paper", "paper-eq29")
    ]
    assert all(not numpy.allclose(a, b) for i, a in enumerate(errors) for b in errors[i + 1 :])
