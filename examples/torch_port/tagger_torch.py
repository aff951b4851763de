"""Tagger (Greff et al., NIPS 2016) in PyTorch, written from tagger_ref's specification (docs/spec.md) alone.

This is a second, independent implementation: it imports nothing of tagger_ref's maths, uses
PyTorch's own building blocks (``F.batch_norm``, ``F.layer_norm``, ``F.binary_cross_entropy``,
``torch.distributions.Normal``, ``torch.logsumexp``) and PyTorch's autograd for the gradients.
It reads tagger_ref's files (config JSON, parameter and input ``.npz``) and writes a trace
``.npz`` of docs/spec.md section 8, so that ``tagger-ref compare`` can judge it.

    python tagger_torch.py CONFIG.json PARAMS.npz INPUTS.npz TRACE_OUT.npz
    tagger-ref compare REFERENCE_TRACE.npz TRACE_OUT.npz

An inputs file with a labeled batch (``labeled_x``, ``labeled_x_tilde``, ``labeled_m0_logits``
and ``y``) is a semi-supervised step: ``write_trace`` runs the model on each batch and adds the
unlabeled pass's denoising cost and the weighted class cost of the labeled pass.

Shapes: K groups, B batch rows, N inputs, H_l Ladder layer sizes. Arrays over groups are
(K, B, N); the network sees the K*B rows jointly, group-major (row k*B + b).
"""

import json
import sys

import numpy
import torch
import torch.nn.functional as F
from torch import nn

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


class Tagger(nn.Module):
    """The Tagger model: T iterations of (likelihood, modelling error, Ladder, heads).

    Parameters are attributes named as in tagger_ref's files (``W``, ``f_1_W``, ``g_0_a3``, ...),
    so ``load_state_dict`` takes a tagger_ref parameter file as it is.
    """

    def __init__(self, cfg, dtype=torch.float64):
        super().__init__()
        self.cfg = dict(cfg)
        self.binary = cfg["input_type"] == "binary"
        self.n_layers = len(cfg["encoder_proj"])
        self.noise = float(cfg["input_noise"])
        self.norm = cfg.get("norm", "batch")
        self.semantics = cfg.get("semantics", "original")
        for name, shape in parameter_shapes(cfg).items():
            self.register_parameter(name, nn.Parameter(torch.zeros(shape, dtype=dtype)))

    @classmethod
    def from_files(cls, config_path, params_path):
        with open(config_path) as f:
            model = cls(json.load(f))
        with numpy.load(params_path) as data:
            state = {k: torch.from_numpy(numpy.asarray(data[k], dtype=numpy.float64)) for k in data.files}
        model.load_state_dict(state)
        return model

    # -- building blocks -------------------------------------------------------------------
    def normalize(self, a):
        """(a - mean) / sqrt(var + 1e-10): over the K*B rows (batch norm) or each row's features (layer norm)."""
        if self.norm == "batch":
            return F.batch_norm(a, None, None, training=True, eps=NORM_EPS)
        return F.layer_norm(a, a.shape[-1:], eps=NORM_EPS)

    def sigmoid(self, a):
        """1 / (1 + exp(-a)); torch.sigmoid's value and derivative stay finite in both tails."""
        return torch.sigmoid(a)

    def v_eff(self):
        """v_eff = exp(asinh(v)) = v + sqrt(v^2 + 1), written so that a large negative v does not cancel to 0."""
        return torch.exp(torch.asinh(self.v))

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
            p = self.clip(self.xi_k(z))
            return -F.binary_cross_entropy(p, x_tilde.expand_as(p), reduction="none")
        s2 = self.likelihood_variance()
        return -0.5 * torch.log(s2) - (z - x_tilde) ** 2 / (2 * s2)

    def group_likelihood(self, z, x_tilde):
        """L(m): softmax over groups of each group's log-likelihood of x_tilde, eq. (5) (log domain:
        far from x_tilde the densities themselves underflow)."""
        return torch.softmax(self.group_log_likelihood(z, x_tilde), dim=0)

    def mixture_denominator(self, xi, x_tilde):
        """xi - 1 + x_tilde, evaluated as xi - (1 - x_tilde): exact for x_tilde in {0, 1}, where
        (xi - 1) + x_tilde loses a small xi (tiny beta, z = 0)."""
        return xi - (1 - x_tilde)

    def modelling_error(self, z, m, log_m, x_tilde):
        """delta_z: (30)-(31) for binary inputs, (4) for continuous ones; the paper's variants on request.
        log_m: log m from the mask logits (log_softmax), which (28) needs where m underflows to 0."""
        if self.binary:
            xi = (self.xi_k(z) * m).sum(0)
            scale = (1 - 2 * self.noise) if self.semantics == "original" else 1.0
            return scale * m / self.mixture_denominator(xi, x_tilde)
        if self.semantics == "original":
            return m * (x_tilde - z)
        s2 = self.likelihood_variance()
        log_density = torch.distributions.Normal(z, torch.sqrt(s2)).log_prob(x_tilde)
        if self.semantics == "paper":  # eq. (28): the exact gradient, posterior weights in the log domain
            posterior = torch.softmax(log_density + log_m, dim=0)
            return (x_tilde - z) / s2 * posterior
        return (x_tilde - z) * m * log_density.exp()  # eq. (29)

    def masks(self, logits):
        """m = softmax over groups of the mask logits, (9) and (3); torch.softmax subtracts the maximum."""
        return torch.softmax(logits, dim=0)

    def z_input(self, z, z_logit):
        """The z block of the network input: z_i, but for binary inputs from iteration 1 on the
        previous iteration's logits (z_logit is None at iteration 0)."""
        return z if z_logit is None else z_logit

    def network_input(self, z_in, delta_z, m, L_m):
        """The four (K, B, N) blocks side by side, in the order of the rows of W (errata E6)."""
        return torch.cat([z_in, delta_z, m, L_m], dim=-1)

    def input_projection(self, inputs):
        """h = relu(normalize(inputs @ W) + b) on the (K*B, 4N) rows: normalise first, then the bias."""
        return F.relu(self.normalize(inputs @ self.W) + self.b)

    def ladder(self, h):
        """Clean Ladder encoder and decoder; returns (zhat^0, top softmax, top logits)."""
        L = self.n_layers
        laterals = [h]
        for l in range(1, L):
            zl = self.normalize(h @ getattr(self, f"f_{l}_W"))
            laterals.append(zl)
            bias = getattr(self, f"f_{l}_b")
            if l < L - 1:
                h = F.relu(zl + bias)
            else:
                top_logits = self.top_logits(zl, bias, getattr(self, f"f_{l}_c"))
                h = torch.softmax(top_logits, dim=-1)
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
            return F.binary_cross_entropy(self.clip((m * z).sum(0)), x)
        v = self.v_eff()
        log_terms = -0.5 * (torch.log(v) + (x - z) ** 2 / v) + torch.log(m + LOG_M_EPS)
        return -torch.logsumexp(log_terms, dim=0).mean()

    def cost_over_iterations(self, costs):
        """The denoising cost over iterations: their mean (original code), their sum (the paper, E5)."""
        total = torch.stack(costs).sum()
        return total / len(costs) if self.semantics == "original" else total

    def class_log_probabilities(self, top_logits, K, B):
        """log P (B, C), P_c = sum_k h_{k,c} / sum_{k,c'} h_{k,c'} over the first C top units, in the
        log domain from the top logits: finite where the top softmax underflows."""
        C = self.cfg["encoder_proj"][-1] - 1
        log_top = torch.log_softmax(top_logits, dim=-1)[:, :C].reshape(K, B, C)
        log_p = torch.logsumexp(log_top, dim=0)
        return log_p - torch.logsumexp(log_p, dim=-1, keepdim=True)

    def class_targets(self, y):
        """(B, C): the mean of the one-hot codes of each image's digits (y's width is the number of digits)."""
        C = self.cfg["encoder_proj"][-1] - 1
        return F.one_hot(y, C).to(self.W.dtype).mean(dim=1)

    def forward(self, x, x_tilde, m0_logits, y=None, n_iterations=None, record=None):
        """Run the iterations and return the training cost; ``record`` (a dict) receives every
        intermediate under the trace keys of docs/spec.md section 8."""
        K, B, N = m0_logits.shape
        T = n_iterations or self.cfg["n_iterations"]
        rec = record if record is not None else {}
        z = torch.full((K, B, N), float(self.cfg["z_init"]), dtype=x_tilde.dtype)
        m_logits = m0_logits
        m = self.masks(m_logits)
        rec["z_0"], rec["m_0"] = z, m
        z_logit = None
        costs = []
        for i in range(T):
            L_m = self.group_likelihood(z, x_tilde)
            delta_z = self.modelling_error(z, m, torch.log_softmax(m_logits, dim=0), x_tilde)
            z_in = self.z_input(z, z_logit)
            h = self.input_projection(self.network_input(z_in, delta_z, m, L_m).reshape(K * B, 4 * N))
            zhat0, top, top_logits = self.ladder(h)
            z_new = self.c1 * self.normalize(zhat0 @ self.z_u_W) + self.b1
            m_logits = (self.c2 * self.normalize(zhat0 @ self.m_u_W)).reshape(K, B, N)
            m = self.masks(m_logits)
            if self.binary:
                z_logit = z_new.reshape(K, B, N)
                z = self.sigmoid(z_logit)
                rec[f"z_logit_{i + 1}"] = z_logit
            else:
                z = z_new.reshape(K, B, N)
            cost = self.denoising_cost(z, m, x)
            costs.append(cost)
            rec.update(
                {
                    f"L_m_{i}": L_m,
                    f"delta_z_{i}": delta_z,
                    f"h_{i}": h.reshape(K, B, -1),
                    f"ladder_top_{i}": top.reshape(K, B, -1),
                    f"zhat0_{i}": zhat0.reshape(K, B, -1),
                    f"z_{i + 1}": z,
                    f"m_{i + 1}": m,
                    f"cost_{i + 1}": cost,
                }
            )
        total = self.cost_over_iterations(costs)
        weight = float(self.cfg.get("class_cost_x", 0.0))
        if y is not None and weight > 0:
            log_probs = self.class_log_probabilities(top_logits, K, B)  # (B, C), the last iteration
            class_cost = -(self.class_targets(y) * log_probs).sum(1).mean()
            rec["class_probs"], rec["class_cost"] = torch.softmax(log_probs, dim=-1), class_cost
            total = total + weight * class_cost
        rec["total_cost"] = total
        return total


LABELED_KEYS = ("labeled_x", "labeled_x_tilde", "labeled_m0_logits")


def load_inputs(path):
    """x, x_tilde, m0_logits (float64 tensors) and y (int64 or None) from an inputs `.npz`, and the
    labeled batch's labeled_x, labeled_x_tilde, labeled_m0_logits when the file has them."""
    with numpy.load(path) as data:
        out = {
            k: torch.from_numpy(numpy.asarray(data[k], dtype=numpy.float64))
            for k in ("x", "x_tilde", "m0_logits") + LABELED_KEYS
            if k in data.files
        }
        out["y"] = torch.from_numpy(numpy.asarray(data["y"], dtype=numpy.int64)) if "y" in data.files else None
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
    """The trace dict (float64 NumPy arrays): every recorded intermediate and grad_<name> from
    torch's autograd; written to ``path`` as `.npz` when given."""
    model.zero_grad()
    record = {}
    if "labeled_x" in inputs:
        total = semi_supervised_cost(model, inputs, record)
    else:
        total = model(inputs["x"], inputs["x_tilde"], inputs["m0_logits"], inputs.get("y"), record=record)
    total.backward()
    trace = {k: v.detach().numpy().astype(numpy.float64) for k, v in record.items()}
    for name, p in model.named_parameters():
        trace[f"grad_{name}"] = (p.grad if p.grad is not None else torch.zeros_like(p)).detach().numpy()
    if path is not None:
        numpy.savez(path, **trace)
    return trace


def main(argv):
    if len(argv) != 4:
        print("usage: python tagger_torch.py CONFIG.json PARAMS.npz INPUTS.npz TRACE_OUT.npz", file=sys.stderr)
        return 2
    config_path, params_path, inputs_path, out_path = argv
    torch.set_num_threads(1)  # small models: threads cost more than they give, and vary the last digits
    model = Tagger.from_files(config_path, params_path)
    write_trace(model, load_inputs(inputs_path), out_path)
    print(f"wrote {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
