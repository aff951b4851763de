"""A second, differently structured computation: explicit loops over groups, rows and pixels with
scalar math, written from docs/spec.md section 4 alone. It must agree with the vectorised trace."""
import math

import numpy
import pytest

from tagger_ref.maths.model import forward

from conftest import case

pytestmark = pytest.mark.quick   # the fast subset: python -m pytest -m quick


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


def loop_trace(p, cfg, x, xt, m0):
    K, B, N = m0.shape
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
        s2 = noise ** 2 + v_eff ** 2
    for i in range(cfg.n_iterations):
        Lm = {key: numpy.zeros(N) for key in keys}
        dz = {key: numpy.zeros(N) for key in keys}
        for b in range(B):
            for j in range(N):
                xtj = xt[b, j]
                if binary:
                    zetas = [z[(k, b)][j] * (1 - 2 * noise) + noise for k in range(K)]
                    clipped = [q * (1 - 2e-4) + 1e-4 for q in zetas]
                    lik = [q if xtj == 1 else 1 - q for q in clipped]
                    xi = sum(zetas[k] * m[(k, b)][j] for k in range(K))
                    for k in range(K):
                        Lm[(k, b)][j] = lik[k] / sum(lik)
                        dz[(k, b)][j] = (1 - 2 * noise) * m[(k, b)][j] / (xi - 1 + xtj)
                else:
                    dens = [math.exp(-(z[(k, b)][j] - xtj) ** 2 / (2 * s2)) for k in range(K)]
                    for k in range(K):
                        Lm[(k, b)][j] = dens[k] / sum(dens)
                        dz[(k, b)][j] = m[(k, b)][j] * (xtj - z[(k, b)][j])
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
                    total += -math.log(sum(math.exp(-0.5 * (math.log(v_eff) + (x[b, j] - z[(k, b)][j]) ** 2 / v_eff))
                                           * (m[(k, b)][j] + 1e-5) for k in range(K)))
        stack = lambda d: numpy.array([[d[(k, b)] for b in range(B)] for k in range(K)])  # noqa: E731
        out.update({f"L_m_{i}": stack(Lm), f"delta_z_{i}": stack(dz), f"h_{i}": stack(h),
                    f"ladder_top_{i}": stack(top), f"zhat0_{i}": stack(zhat), f"z_{i + 1}": stack(z),
                    f"m_{i + 1}": stack(m), f"cost_{i + 1}": total / (B * N)})
    return out


@pytest.mark.parametrize("preset,norm", [("tiny-binary", "batch"), ("tiny-continuous", "batch"),
                                         ("tiny-binary", "layer"), ("tiny-continuous", "layer")])
def test_loops_agree_with_vectorised(preset, norm):
    config, params, inputs = case(preset, seed=3, norm=norm)
    vec = forward(params, config, inputs)
    loops = loop_trace(params, config, inputs["x"], inputs["x_tilde"], inputs["m0_logits"])
    for key, value in loops.items():
        numpy.testing.assert_allclose(vec[key], value, rtol=1e-12, atol=1e-12, err_msg=key)
