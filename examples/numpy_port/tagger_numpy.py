"""Tagger (Greff et al., NIPS 2016) in NumPy and autograd, written from tagger_ref's specification (docs/spec.md).

A third implementation beside tagger_ref and the PyTorch port of examples/torch_port, with the
same classes and method names as the PyTorch port, one small method per step, so that
reference_tests/test_misreadings.py can make each mistake of its catalogue by overriding one
method. It imports nothing of tagger_ref: the normalisations, the binary cross-entropy, the
Gaussian log-density, softmax and log-softmax are written here, on ``autograd.numpy``, and
autograd's reverse mode gives the gradients. It reads tagger_ref's files (config JSON, parameter
and input ``.npz``) and writes a trace ``.npz`` of docs/spec.md section 8, so that
``tagger-ref compare`` can judge it.

    python tagger_numpy.py CONFIG.json PARAMS.npz INPUTS.npz TRACE_OUT.npz
    tagger-ref compare REFERENCE_TRACE.npz TRACE_OUT.npz

An inputs file with a labeled batch (``labeled_x``, ``labeled_x_tilde``, ``labeled_m0_logits``
and ``y``) is a semi-supervised step: ``write_trace`` runs the model on each batch and adds the
unlabeled pass's denoising cost and the weighted class cost of the labeled pass.

Shapes: K groups, B batch rows, N inputs, H_l Ladder layer sizes. Arrays over groups are
(K, B, N); the network sees the K*B rows jointly, group-major (row k*B + b).
"""

import json
import math
import sys

import autograd.numpy as anp
import numpy
from autograd import value_and_grad
from autograd.scipy.special import expit, logsumexp
from autograd.tracer import getval

NORM_EPS = 1e-10  # under the square root of every normalisation
PROB_CLIP = 1e-4  # soft clip p (1 - 2e) + e before a binary log-likelihood
LOG_M_EPS = 1e-5  # inside log(m + 1e-5) in the continuous cost


def parameter_shapes(cfg):
    """Name -> shape of every parameter (docs/spec.md section 3); matrices are (in, out), used as x @ W."""
    N, H = cfg["n_inputs"], list(cfg["encoder_proj"])
    L = len(H)
    shapes = {
        "W": (4 * N, H[0]),
        "b": (H[0],),
        "z_u_W": (H[0], N),
        "c1": (N,),
        "b1": (N,),
        "m_u_W": (H[0], N),
        "c2": (),
    }
    if cfg["input_type"] == "continuous":
        shapes["v"] = ()
    for i in range(1, L):
        shapes[f"f_{i}_W"] = (H[i - 1], H[i])
        shapes[f"f_{i}_b"] = (H[i],)
    shapes[f"f_{L - 1}_c"] = (H[-1],)
    for i in range(L - 1):
        shapes[f"g_{i}_W"] = (H[i + 1], H[i])
    for i in range(L):
        for j in range(1, 11):
            shapes[f"g_{i}_a{j}"] = (H[i],)
    return shapes


# -- functions the PyTorch port takes from torch -----------------------------------------------
def shifted(a, axis):
    """a - max(a): the maximum subtracted as a constant (getval), exact for softmax and log_softmax,
    which do not depend on the shift; so nothing overflows and no gradient reaches the maximum."""
    return a - getval(a).max(axis=axis, keepdims=True)


def log_softmax(a, axis):
    """(a - max) - log sum exp(a - max): finite where the softmax underflows, and exact to the ulp of
    a - max (a - logsumexp(a) would round at the ulp of a, 1e-11 where a is near -1e5)."""
    s = shifted(a, axis)
    return s - anp.log(anp.sum(anp.exp(s), axis=axis, keepdims=True))


def softmax(a, axis):
    """exp(a - max) / sum exp(a - max)."""
    e = anp.exp(shifted(a, axis))
    return e / anp.sum(e, axis=axis, keepdims=True)


def relu(a):
    """max(a, 0), with derivative 0 at a = 0."""
    return a * (a > 0)


def binary_cross_entropy(p, t):
    """-(t log p + (1 - t) log(1 - p)), elementwise."""
    return -(t * anp.log(p) + (1 - t) * anp.log(1 - p))


def normal_log_density(x, mean, variance):
    """log N(x; mean, variance) = -log(2 pi variance) / 2 - (x - mean)^2 / (2 variance)."""
    return -0.5 * anp.log(2 * math.pi * variance) - (x - mean) ** 2 / (2 * variance)


class Tagger:
    """The Tagger model: T iterations of (likelihood, modelling error, Ladder, heads).

    ``params`` is a dict named as in tagger_ref's files (``W``, ``f_1_W``, ``g_0_a3``, ...); each
    parameter also reads as an attribute (``self.W``), as in the PyTorch port. ``write_trace``
    puts autograd's boxed copies in ``params`` while it differentiates.
    """

    def __init__(self, cfg):
        self.cfg = dict(cfg)
        self.binary = cfg["input_type"] == "binary"
        self.n_layers = len(cfg["encoder_proj"])
        self.noise = float(cfg["input_noise"])
        self.norm = cfg.get("norm", "batch")
        self.semantics = cfg.get("semantics", "original")
        self.params = {name: numpy.zeros(shape) for name, shape in parameter_shapes(cfg).items()}

    def __getattr__(self, name):
        params = self.__dict__.get("params", {})
        if name in params:
            return params[name]
        raise AttributeError(name)

    @classmethod
    def from_files(cls, config_path, params_path):
        with open(config_path) as f:
            model = cls(json.load(f))
        with numpy.load(params_path) as data:
            model.load_params({k: data[k] for k in data.files})
        return model

    def load_params(self, params):
        """Take every parameter of ``parameter_shapes`` from ``params`` as float64, checking its shape."""
        for name, shape in parameter_shapes(self.cfg).items():
            value = numpy.asarray(params[name], dtype=numpy.float64)
            if value.shape != shape:
                raise ValueError(f"parameter {name} has shape {value.shape}, expected {shape}")
            self.params[name] = value

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # -- building blocks -------------------------------------------------------------------
    def normalize(self, a):
        """(a - mean) / sqrt(var + 1e-10): over the K*B rows (batch norm) or each row's features (layer norm);
        var is the biased variance (divided by n)."""
        axis = 0 if self.norm == "batch" else -1
        centred = a - anp.mean(a, axis=axis, keepdims=True)
        var = anp.mean(centred**2, axis=axis, keepdims=True)
        return centred / anp.sqrt(var + NORM_EPS)

    def sigmoid(self, a):
        """1 / (1 + exp(-a)) as scipy's expit: its value and derivative (s (1 - s)) stay finite in both tails."""
        return expit(a)

    def v_eff(self):
        """v_eff = exp(asinh(v)) = v + sqrt(v^2 + 1), written so that a large negative v does not cancel to 0."""
        return anp.exp(anp.arcsinh(self.v))

    def likelihood_variance(self):
        """Variance of x_tilde given a group: sigma^2 + v_eff^2 (code) or sigma^2 + v_eff (paper, E3)."""
        v = self.v_eff()
        return self.noise**2 + (v * v if self.semantics == "original" else v)

    # -- one TAG iteration -----------------------------------------------------------------
    def clip(self, p):
        """The soft clip p (1 - 2e) + e, e = 1e-4, before a binary log-likelihood: [0, 1] onto [e, 1 - e]."""
        return p * (1 - 2 * PROB_CLIP) + PROB_CLIP

    def xi_k(self, z):
        """xi_k = z_k (1 - 2 beta) + beta, the probability of x_tilde = 1 given group k, eq. (17)."""
        return z * (1 - 2 * self.noise) + self.noise

    def group_log_likelihood(self, z, x_tilde):
        """log q(x_tilde | group k), up to a constant: the soft-clipped Bernoulli (18), or the Gaussian (19)-(20)."""
        if self.binary:
            return -binary_cross_entropy(self.clip(self.xi_k(z)), x_tilde)  # (K, B, N)
        s2 = self.likelihood_variance()
        return -0.5 * anp.log(s2) - (z - x_tilde) ** 2 / (2 * s2)  # (K, B, N)

    def group_likelihood(self, z, x_tilde):
        """L(m): softmax over groups of each group's log-likelihood of x_tilde, eq. (5) (log domain:
        far from x_tilde the densities themselves underflow)."""
        return softmax(self.group_log_likelihood(z, x_tilde), axis=0)

    def mixture_denominator(self, xi, x_tilde):
        """xi - 1 + x_tilde, evaluated as xi - (1 - x_tilde): exact for x_tilde in {0, 1}, where
        (xi - 1) + x_tilde loses a small xi (tiny beta, z = 0)."""
        return xi - (1 - x_tilde)

    def modelling_error(self, z, m, log_m, x_tilde):
        """delta_z: (30)-(31) for binary inputs, (4) for continuous ones; the paper's variants on request.
        log_m: log m from the mask logits (log_softmax), which (28) needs where m underflows to 0."""
        if self.binary:
            xi = anp.sum(self.xi_k(z) * m, axis=0)  # (B, N)
            scale = (1 - 2 * self.noise) if self.semantics == "original" else 1.0
            return scale * m / self.mixture_denominator(xi, x_tilde)
        if self.semantics == "original":
            return m * (x_tilde - z)
        s2 = self.likelihood_variance()
        log_density = normal_log_density(x_tilde, z, s2)  # (K, B, N)
        if self.semantics == "paper":  # eq. (28): the exact gradient, posterior weights in the log domain
            posterior = softmax(log_density + log_m, axis=0)
            return (x_tilde - z) / s2 * posterior
        return (x_tilde - z) * m * anp.exp(log_density)  # eq. (29)

    def masks(self, logits):
        """m = softmax over groups of the mask logits, (9) and (3)."""
        return softmax(logits, axis=0)

    def z_input(self, z, z_logit):
        """The z block of the network input: z_i, but for binary inputs from iteration 1 on the
        previous iteration's logits (z_logit is None at iteration 0)."""
        return z if z_logit is None else z_logit

    def network_input(self, z_in, delta_z, m, L_m):
        """The four (K, B, N) blocks side by side, in the order of the rows of W (errata E6)."""
        return anp.concatenate([z_in, delta_z, m, L_m], axis=-1)

    def input_projection(self, inputs):
        """h = relu(normalize(inputs @ W) + b) on the (K*B, 4N) rows: normalise first, then the bias."""
        return relu(self.normalize(inputs @ self.W) + self.b)

    def ladder(self, h):
        """Clean Ladder encoder and decoder; returns (zhat^0, top softmax, top logits)."""
        L = self.n_layers
        laterals = [h]
        for l in range(1, L):
            zl = self.normalize(h @ getattr(self, f"f_{l}_W"))
            laterals.append(zl)
            bias = getattr(self, f"f_{l}_b")
            if l < L - 1:
                h = relu(zl + bias)
            else:
                top_logits = self.top_logits(zl, bias, getattr(self, f"f_{l}_c"))
                h = softmax(top_logits, axis=-1)
        top = h
        zhat = None
        for l in reversed(range(L)):
            u = top if l == L - 1 else zhat @ getattr(self, f"g_{l}_W")
            u = self.normalize(u)
            zhat = self.combinator(laterals[l], u, [getattr(self, f"g_{l}_a{j}") for j in range(1, 11)])
        return zhat, top, top_logits

    def top_logits(self, zl, bias, scale):
        """The top layer's logits (zl + b) * c: the bias first, then the scale."""
        return (zl + bias) * scale

    def combinator(self, lateral, u, a):
        """zhat = (lateral - mu) * gate + mu, mu and gate from the normalised top-down u and a1..a10;
        the gate through a sigmoid for continuous inputs only (errata E11)."""
        mu = a[0] * self.sigmoid(a[1] * u + a[2]) + a[3] * u + a[4]
        gate = a[5] * self.sigmoid(a[6] * u + a[7]) + a[8] * u + a[9]
        if not self.binary:
            gate = self.sigmoid(gate)
        return (lateral - mu) * gate + mu

    def denoising_cost(self, z, m, x):
        """-log q(x) of the mixture, mean over batch and inputs, eqs. (2) and (6)."""
        if self.binary:
            return anp.mean(binary_cross_entropy(self.clip(anp.sum(m * z, axis=0)), x))
        v = self.v_eff()
        log_terms = -0.5 * (anp.log(v) + (x - z) ** 2 / v) + anp.log(m + LOG_M_EPS)  # (K, B, N)
        return -anp.mean(logsumexp(log_terms, axis=0))

    def cost_over_iterations(self, costs):
        """The denoising cost over iterations: their mean (original code), their sum (the paper, E5)."""
        total = anp.sum(anp.stack(costs))
        return total / len(costs) if self.semantics == "original" else total

    def class_log_probabilities(self, top_logits, K, B):
        """log P (B, C), P_c = sum_k h_{k,c} / sum_{k,c'} h_{k,c'} over the first C top units, in the
        log domain from the top logits: finite where the top softmax underflows."""
        C = self.cfg["encoder_proj"][-1] - 1
        log_top = anp.reshape(log_softmax(top_logits, axis=-1)[:, :C], (K, B, C))
        log_p = logsumexp(log_top, axis=0)  # (B, C)
        return log_p - logsumexp(log_p, axis=-1, keepdims=True)

    def class_targets(self, y):
        """(B, C): the mean of the one-hot codes of each image's digits (y's width is the number of digits)."""
        C = self.cfg["encoder_proj"][-1] - 1
        return numpy.eye(C)[y].mean(axis=1)

    def forward(self, x, x_tilde, m0_logits, y=None, n_iterations=None, record=None):
        """Run the iterations and return the training cost; ``record`` (a dict) receives every
        intermediate under the trace keys of docs/spec.md section 8."""
        K, B, N = m0_logits.shape
        T = n_iterations or self.cfg["n_iterations"]
        rec = record if record is not None else {}
        z = numpy.full((K, B, N), float(self.cfg["z_init"]))
        m_logits = m0_logits
        m = self.masks(m_logits)
        rec["z_0"], rec["m_0"] = z, m
        z_logit = None
        costs = []
        for i in range(T):
            L_m = self.group_likelihood(z, x_tilde)
            delta_z = self.modelling_error(z, m, log_softmax(m_logits, axis=0), x_tilde)
            z_in = self.z_input(z, z_logit)
            h = self.input_projection(anp.reshape(self.network_input(z_in, delta_z, m, L_m), (K * B, 4 * N)))
            zhat0, top, top_logits = self.ladder(h)
            z_new = self.c1 * self.normalize(zhat0 @ self.z_u_W) + self.b1  # (K*B, N)
            m_logits = anp.reshape(self.c2 * self.normalize(zhat0 @ self.m_u_W), (K, B, N))
            m = self.masks(m_logits)
            if self.binary:
                z_logit = anp.reshape(z_new, (K, B, N))
                z = self.sigmoid(z_logit)
                rec[f"z_logit_{i + 1}"] = z_logit
            else:
                z = anp.reshape(z_new, (K, B, N))
            cost = self.denoising_cost(z, m, x)
            costs.append(cost)
            rec.update(
                {
                    f"L_m_{i}": L_m,
                    f"delta_z_{i}": delta_z,
                    f"h_{i}": anp.reshape(h, (K, B, -1)),
                    f"ladder_top_{i}": anp.reshape(top, (K, B, -1)),
                    f"zhat0_{i}": anp.reshape(zhat0, (K, B, -1)),
                    f"z_{i + 1}": z,
                    f"m_{i + 1}": m,
                    f"cost_{i + 1}": cost,
                }
            )
        total = self.cost_over_iterations(costs)
        weight = float(self.cfg.get("class_cost_x", 0.0))
        if y is not None and weight > 0:
            log_probs = self.class_log_probabilities(top_logits, K, B)  # (B, C), the last iteration
            class_cost = -anp.mean(anp.sum(self.class_targets(y) * log_probs, axis=1))
            rec["class_probs"], rec["class_cost"] = softmax(log_probs, axis=-1), class_cost
            total = total + weight * class_cost
        rec["total_cost"] = total
        return total


LABELED_KEYS = ("labeled_x", "labeled_x_tilde", "labeled_m0_logits")


def load_inputs(path):
    """x, x_tilde, m0_logits (float64 arrays) and y (int64 or None) from an inputs `.npz`, and the
    labeled batch's labeled_x, labeled_x_tilde, labeled_m0_logits when the file has them."""
    with numpy.load(path) as data:
        out = {
            k: numpy.asarray(data[k], dtype=numpy.float64)
            for k in ("x", "x_tilde", "m0_logits") + LABELED_KEYS
            if k in data.files
        }
        out["y"] = numpy.asarray(data["y"], dtype=numpy.int64) if "y" in data.files else None
    return out


def semi_supervised_cost(model, inputs, record):
    """The semi-supervised step: the unlabeled batch's denoising cost plus class_cost_x times the
    labeled batch's class cost, each batch its own forward pass (own batch statistics)."""
    denoising = model(inputs["x"], inputs["x_tilde"], inputs["m0_logits"], record=record)
    labeled = {}
    model(inputs["labeled_x"], inputs["labeled_x_tilde"], inputs["labeled_m0_logits"], inputs["y"], record=labeled)
    for key, value in labeled.items():
        if key in ("class_probs", "class_cost"):
            record[key] = value
        elif key != "total_cost":
            record["labeled_" + key] = value
    record["denoising_cost"] = denoising
    total = denoising + float(model.cfg["class_cost_x"]) * labeled["class_cost"]
    record["total_cost"] = total
    return total


def write_trace(model, inputs, path=None):
    """The trace dict (float64 arrays): every recorded intermediate and grad_<name> from autograd's
    reverse mode; written to ``path`` as `.npz` when given."""
    record = {}

    def total_cost(params):
        model.params = params  # autograd's boxes, so that every use of a parameter is traced
        record.clear()
        if "labeled_x" in inputs:
            return semi_supervised_cost(model, inputs, record)
        return model(inputs["x"], inputs["x_tilde"], inputs["m0_logits"], inputs.get("y"), record=record)

    params = dict(model.params)
    try:
        _, grads = value_and_grad(total_cost)(params)
    finally:
        model.params = params
    trace = {k: numpy.asarray(getval(v), dtype=numpy.float64) for k, v in record.items()}
    for name, g in grads.items():
        trace[f"grad_{name}"] = numpy.asarray(g, dtype=numpy.float64)
    if path is not None:
        numpy.savez(path, **trace)
    return trace


def main(argv):
    if len(argv) != 4:
        print("usage: python tagger_numpy.py CONFIG.json PARAMS.npz INPUTS.npz TRACE_OUT.npz", file=sys.stderr)
        return 2
    config_path, params_path, inputs_path, out_path = argv
    model = Tagger.from_files(config_path, params_path)
    write_trace(model, load_inputs(inputs_path), out_path)
    print(f"wrote {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
