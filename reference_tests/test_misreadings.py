"""The golden set rejects every plausible misreading of the docs: a catalogue of mistakes, each
made on purpose in the NumPy port (examples/numpy_port, a second implementation written from the
docs on autograd.numpy, so that the catalogue runs in the base install, without torch), each of
which must make at least two shipped golden cases fail ``compare`` at its float64 defaults.
docs/porting.md ("Mistakes the golden set catches") lists the same catalogue with the cases that
reject each mistake; a test checks the two agree.

Each mistake is a subclass of the port's ``Tagger`` that overrides one method (or a module-level
function or constant of the port, patched for the duration). The quick tests run every mistake on
the two cases named as its witnesses; ``-m slow`` runs every mistake on every case and requires
the set of rejecting cases to be the one docs/porting.md lists.
"""

import dataclasses
import math
import os
import re
import typing

import autograd.numpy as anp
import numpy
import pytest
from autograd.scipy.special import logit, logsumexp
from run_helpers import load_repo_script

from tagger_ref.oracle import golden
from tagger_ref.oracle.compare import compare_traces

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORTING = os.path.join(REPO, "docs", "porting.md")
HEADING = "## 7. Mistakes the golden set catches"
MIN_REJECTING = 2


@pytest.fixture(scope="module")
def port():
    return load_repo_script("examples", "numpy_port", "tagger_numpy.py")  # a fresh module: its patches stay here


# -- the mistakes ------------------------------------------------------------------------------
# Each ``make(port, base)`` returns a model class derived from ``base`` (the port's Tagger), or a
# pair (class, {name: value}) of port module attributes to patch while the trace is written.


def _softmax(a, axis):
    return anp.exp(a - logsumexp(a, axis=axis, keepdims=True))


def _relu(a):
    return a * (a > 0)


def _naive_normalize(eps=None, std_plus_eps=False, unbiased=False):
    def normalize(self, a):
        axis = 0 if self.norm == "batch" else -1
        mean = anp.mean(a, axis=axis, keepdims=True)
        var = anp.var(a, axis=axis, keepdims=True, ddof=1 if unbiased else 0)
        if std_plus_eps:
            return (a - mean) / (anp.sqrt(var) + 1e-10)
        return (a - mean) / anp.sqrt(var + eps)

    return normalize


def _class_plain(self, top_logits, K, B):
    C = self.cfg["encoder_proj"][-1] - 1
    pred = anp.reshape(_softmax(top_logits, axis=-1)[:, :C], (K, B, C))
    return anp.log(anp.sum(pred / anp.sum(pred, axis=(0, 2), keepdims=True), axis=0))


def _class_per_group(self, top_logits, K, B):
    C = self.cfg["encoder_proj"][-1] - 1
    per_group = anp.reshape(_softmax(top_logits[:, :C], axis=-1), (K, B, C))
    return anp.log(anp.mean(per_group, axis=0))


def _class_with_no_class_unit(self, top_logits, K, B):
    C = self.cfg["encoder_proj"][-1] - 1
    log_top = anp.reshape(top_logits - logsumexp(top_logits, axis=-1, keepdims=True), (K, B, C + 1))
    log_p = logsumexp(log_top, axis=0)  # over groups, all C + 1 units
    return (log_p - logsumexp(log_p, axis=-1, keepdims=True))[:, :C]


def _binary_delta(factor_kept, sign_slip=False, clipped_xi=False):
    def modelling_error(self, z, m, log_m, x_tilde):
        if not self.binary:
            return self.__class__.__mro__[1].modelling_error(self, z, m, log_m, x_tilde)
        xi_k = self.clip(self.xi_k(z)) if clipped_xi else self.xi_k(z)
        delta = m / self.mixture_denominator((xi_k * m).sum(0), x_tilde)
        if factor_kept or (factor_kept is None and self.semantics == "original"):
            delta = (1 - 2 * self.noise) * delta
        if sign_slip:  # the printed line for x_tilde = 1
            delta = anp.where(x_tilde == 1, -delta, delta)
        return delta

    return modelling_error


def _continuous_delta(kind):
    def modelling_error(self, z, m, log_m, x_tilde):
        base = self.__class__.__mro__[1]
        if self.binary:
            return base.modelling_error(self, z, m, log_m, x_tilde)
        if kind == "log(m)":
            return base.modelling_error(self, z, m, anp.log(m), x_tilde)
        if kind == "z - x" and self.semantics == "original":
            return m * (z - x_tilde)
        if self.semantics == "original":
            return base.modelling_error(self, z, m, log_m, x_tilde)
        s2 = self.likelihood_variance()
        log_density = -0.5 * anp.log(2 * math.pi * s2) - (x_tilde - z) ** 2 / (2 * s2)
        if kind == "plain posterior" and self.semantics == "paper":
            weighted = anp.exp(log_density) * m
            return (x_tilde - z) / s2 * weighted / anp.sum(weighted, axis=0, keepdims=True)
        if kind == "no 2 pi" and self.semantics == "paper-eq29":
            return (x_tilde - z) * m * anp.exp(log_density) * math.sqrt(2 * math.pi)
        if kind == "unnormalised density" and self.semantics == "paper-eq29":
            return (x_tilde - z) * m * anp.exp(-((z - x_tilde) ** 2) / (2 * s2))
        return base.modelling_error(self, z, m, log_m, x_tilde)

    return modelling_error


def _plain_likelihood(self, z, x_tilde):
    density = anp.exp(self.group_log_likelihood(z, x_tilde))
    return density / anp.sum(density, axis=0, keepdims=True)


def _unclipped_likelihood(self, z, x_tilde):
    if not self.binary:
        return self.__class__.__mro__[1].group_likelihood(self, z, x_tilde)
    p = self.xi_k(z)
    return _softmax(x_tilde * anp.log(p) + (1 - x_tilde) * anp.log(1 - p), axis=0)


def _continuous_cost(kind):
    def denoising_cost(self, z, m, x):
        base = self.__class__.__mro__[1]
        if self.binary:
            return base.denoising_cost(self, z, m, x)
        v = self.likelihood_variance() if kind == "s2" else self.v_eff()
        terms = -0.5 * (anp.log(v) + (x - z) ** 2 / v) + anp.log(m + 1e-5)
        if kind == "unshifted":
            return -anp.mean(anp.log(anp.sum(anp.exp(terms), axis=0)))
        if kind == "log 2 pi":
            terms = terms - 0.5 * math.log(2 * math.pi)
        return -anp.mean(logsumexp(terms, axis=0))

    return denoising_cost


def _inputs_changed(kind):
    def forward(self, x, x_tilde, m0_logits, y=None, n_iterations=None, record=None):
        base = self.__class__.__mro__[1]
        if kind == "uniform m0":
            m0_logits = numpy.zeros_like(m0_logits)
        elif kind == "cost against x_tilde":
            x = x_tilde
        elif kind == "clean input":
            x_tilde = x
        return base.forward(self, x, x_tilde, m0_logits, y, n_iterations, record)

    return forward


def _gate(kind):
    def combinator(self, lateral, u, a):
        mu = a[0] * self.sigmoid(a[1] * u + a[2]) + a[3] * u + a[4]
        gate = a[5] * self.sigmoid(a[6] * u + a[7]) + a[8] * u + a[9]
        if kind == "always":
            gate = self.sigmoid(gate)
        return (lateral - mu) * gate + mu

    return combinator


def _per_group_batch_norm(base):
    class PerGroup(base):
        def forward(self, x, x_tilde, m0_logits, *args, **kwargs):
            self.groups = m0_logits.shape[0]
            return base.forward(self, x, x_tilde, m0_logits, *args, **kwargs)

        def normalize(self, a):
            if self.norm != "batch":
                return base.normalize(self, a)
            parts = anp.reshape(a, (self.groups, -1, a.shape[-1]))
            centred = parts - anp.mean(parts, axis=1, keepdims=True)
            out = centred / anp.sqrt(anp.var(parts, axis=1, keepdims=True) + 1e-10)
            return anp.reshape(out, a.shape)

    return PerGroup


def _semi(kind):
    def semi_supervised_cost(model, inputs, record):
        denoising = model(inputs["x"], inputs["x_tilde"], inputs["m0_logits"], record=record)
        labeled = {}
        model(inputs["labeled_x"], inputs["labeled_x_tilde"], inputs["labeled_m0_logits"], inputs["y"], record=labeled)
        for key, value in labeled.items():
            if key in ("class_probs", "class_cost"):
                record[key] = value
            elif key != "total_cost":
                record["labeled_" + key] = value
        labeled_denoising = model.cost_over_iterations(
            [labeled[f"cost_{i + 1}"] for i in range(model.cfg["n_iterations"])]
        )
        if kind == "both denoising costs":
            denoising = denoising + labeled_denoising
        elif kind == "labeled denoising cost":
            denoising = labeled_denoising
        record["denoising_cost"] = denoising
        total = denoising + float(model.cfg["class_cost_x"]) * labeled["class_cost"]
        record["total_cost"] = total
        return total

    return semi_supervised_cost


def _override(**methods):
    return lambda port, base: type("Misread", (base,), methods)


@dataclasses.dataclass(frozen=True)
class Mistake:
    name: str
    what: str
    make: typing.Callable
    witnesses: typing.Tuple[str, str]  # two cases that must reject it (the quick test)


MISTAKES = [
    # numerical tricks (docs/numerics.md)
    Mistake(
        "class-plain-probabilities",
        "P and log P from the top softmax's probabilities, not its logits",
        _override(class_log_probabilities=_class_plain),
        ("edge-class-saturated", "edge-semi-supervised-saturated"),
    ),
    Mistake(
        "log-m-of-masks",
        "(28) with log(m) of the masks instead of log_softmax of the mask logits",
        _override(modelling_error=_continuous_delta("log(m)")),
        ("edge-masks-zero", "edge-masks-zero-layer"),
    ),
    Mistake(
        "eq28-plain-posterior",
        "(28)'s posterior weights as z_tilde m / sum z_tilde m, not in the log domain",
        _override(modelling_error=_continuous_delta("plain posterior")),
        ("edge-masks-zero", "edge-masks-zero-layer"),
    ),
    Mistake(
        "likelihood-plain-ratio",
        "L(m) as z_tilde / sum z_tilde of densities, not a softmax of log-densities",
        _override(group_likelihood=_plain_likelihood),
        ("edge-masks-zero", "edge-v-negative"),
    ),
    Mistake(
        "sigmoid-as-written",
        "sigmoid as 1 / (1 + exp(-a)), differentiated as written",
        _override(sigmoid=lambda self, a: 1 / (1 + anp.exp(-a))),
        ("edge-binary-saturated", "edge-binary-saturated-paper"),
    ),
    Mistake(
        "z-in-logit-of-z",
        "binary z_in from iteration 1 on as logit(z) of the probabilities",
        _override(z_input=lambda self, z, z_logit: z if z_logit is None else logit(z)),
        ("edge-binary-saturated", "edge-binary-saturated-paper"),
    ),
    Mistake(
        "z-in-logit-at-iteration-0",
        "binary z_in at iteration 0 as logit(z_init) instead of z_init",
        _override(z_input=lambda self, z, z_logit: (logit(z) if self.binary else z) if z_logit is None else z_logit),
        ("binary-layer-original", "edge-beta-tiny"),
    ),
    Mistake(
        "denominator-left-to-right",
        "the denominator of (30)-(31) as (xi - 1) + x_tilde",
        _override(mixture_denominator=lambda self, xi, x_tilde: xi - 1 + x_tilde),
        ("edge-beta-tiny", "edge-beta-tiny-layer"),
    ),
    Mistake(
        "v-eff-as-written",
        "v_eff = v + sqrt(v^2 + 1), which cancels for large negative v",
        _override(v_eff=lambda self: self.v + anp.sqrt(self.v**2 + 1)),
        ("edge-v-negative", "edge-v-negative-paper"),
    ),
    Mistake(
        "cost-logsumexp-unshifted",
        "the continuous cost as -log(sum_K exp(terms)), without the max shift",
        _override(denoising_cost=_continuous_cost("unshifted")),
        ("edge-v-negative", "edge-v-negative-paper"),
    ),
    Mistake(
        "mask-softmax-unshifted",
        "the masks as exp(a) / sum_K exp(a), without subtracting the maximum",
        _override(masks=lambda self, a: anp.exp(a) / anp.sum(anp.exp(a), axis=0, keepdims=True)),
        ("edge-masks-zero", "edge-masks-zero-layer"),
    ),
    Mistake(
        "norm-floor-1e-12",
        "1e-12 under the square root of normalize instead of 1e-10",
        _override(normalize=_naive_normalize(1e-12)),
        ("edge-norm-floor", "edge-norm-floor-layer"),
    ),
    Mistake(
        "norm-floor-1e-5",
        "PyTorch's default batch-norm epsilon 1e-5",
        _override(normalize=_naive_normalize(1e-5)),
        ("binary-batch-original", "edge-norm-floor"),
    ),
    Mistake(
        "norm-floor-on-std",
        "the floor added to the standard deviation: (a - mean) / (std + 1e-10)",
        _override(normalize=_naive_normalize(std_plus_eps=True)),
        ("edge-norm-floor", "edge-norm-floor-layer"),
    ),
    Mistake(
        "norm-unbiased-variance",
        "the unbiased variance (divided by n - 1) in normalize",
        _override(normalize=_naive_normalize(1e-10, unbiased=True)),
        ("binary-batch-original", "edge-norm-floor"),
    ),
    Mistake(
        "norm-per-group",
        "batch statistics per group instead of over all K*B rows",
        lambda port, base: _per_group_batch_norm(base),
        ("binary-batch-original", "continuous-batch-original"),
    ),
    Mistake(
        "no-soft-clip",
        "the binary likelihood and cost without the soft clip p (1 - 2e) + e",
        _override(clip=lambda self, p: p),
        ("binary-batch-original", "edge-binary-saturated"),
    ),
    Mistake(
        "hard-clip",
        "a hard clip of p to [1e-4, 1 - 1e-4] instead of the soft clip",
        _override(clip=lambda self, p: anp.clip(p, 1e-4, 1 - 1e-4)),
        ("binary-batch-original", "edge-binary-saturated"),
    ),
    Mistake(
        "log-m-without-1e-5",
        "the continuous cost with log m instead of log(m + 1e-5)",
        lambda port, base: (base, {"LOG_M_EPS": 0.0}),
        ("continuous-batch-original", "edge-masks-zero"),
    ),
    Mistake(
        "likelihood-unclipped-xi",
        "the binary L(m) from the unclipped xi_k",
        _override(group_likelihood=_unclipped_likelihood),
        ("binary-batch-original", "binary-batch-paper"),
    ),
    Mistake(
        "delta-z-clipped-xi",
        "the binary delta_z from the soft-clipped xi_k",
        _override(modelling_error=_binary_delta(factor_kept=None, clipped_xi=True)),
        ("binary-batch-original", "deep-binary"),
    ),
    # paper versus code (docs/spec.md section 7)
    Mistake(
        "e1-factor-dropped",
        "the original semantics' binary delta_z without (1 - 2 beta) (the paper's E1)",
        _override(modelling_error=_binary_delta(factor_kept=False)),
        ("binary-batch-original", "k1-binary"),
    ),
    Mistake(
        "e1-factor-kept-in-paper",
        "semantics paper with the code's (1 - 2 beta) kept",
        lambda port, base: _paper_only(base, _binary_delta(factor_kept=True)),
        ("binary-batch-paper", "edge-binary-saturated-paper"),
    ),
    Mistake(
        "e1-sign-slip",
        "semantics paper with the printed sign slip: -m_k / xi where x_tilde = 1",
        lambda port, base: _paper_only(base, _binary_delta(factor_kept=False, sign_slip=True)),
        ("binary-batch-paper", "edge-beta-tiny"),
    ),
    Mistake(
        "eq29-without-2-pi",
        "(29) with the density lacking its 1 / sqrt(2 pi)",
        _override(modelling_error=_continuous_delta("no 2 pi")),
        ("continuous-batch-paper-eq29", "edge-v-large"),
    ),
    Mistake(
        "eq29-unnormalised-density",
        "(29) with exp(-(x_tilde - z)^2 / (2 s2)) alone, no 1 / sqrt(2 pi s2)",
        _override(modelling_error=_continuous_delta("unnormalised density")),
        ("continuous-batch-paper-eq29", "edge-v-large"),
    ),
    Mistake(
        "e3-code-variance-in-paper",
        "semantics paper with the code's variance sigma^2 + v_eff^2",
        _override(likelihood_variance=lambda self: self.noise**2 + self.v_eff() ** 2),
        ("continuous-layer-paper", "edge-v-large"),
    ),
    Mistake(
        "e3-paper-variance-in-original",
        "the original semantics with the paper's variance sigma^2 + v_eff",
        _override(likelihood_variance=lambda self: self.noise**2 + self.v_eff()),
        ("continuous-batch-original", "two-layer-continuous"),
    ),
    Mistake(
        "cost-variance-s2",
        "the continuous cost with L(m)'s variance s2 instead of v_eff",
        _override(denoising_cost=_continuous_cost("s2")),
        ("continuous-batch-original", "classify"),
    ),
    Mistake(
        "cost-with-log-2-pi",
        "the continuous cost with the constant log(2 pi) / 2 kept",
        _override(denoising_cost=_continuous_cost("log 2 pi")),
        ("continuous-batch-original", "classify"),
    ),
    Mistake(
        "e5-mean-and-sum-swapped",
        "the cost over iterations summed under original, averaged under paper",
        _override(
            cost_over_iterations=lambda self, costs: (
                anp.sum(anp.stack(costs)) / (len(costs) if self.semantics != "original" else 1)
            )
        ),
        ("binary-batch-original", "binary-batch-paper"),
    ),
    Mistake(
        "e6-paper-input-order",
        "the network input in the paper's order [z, m, delta_z, L(m)]",
        _override(network_input=lambda self, z_in, delta_z, m, L_m: anp.concatenate([z_in, m, delta_z, L_m], axis=-1)),
        ("binary-batch-original", "continuous-batch-original"),
    ),
    Mistake(
        "z-in-probabilities",
        "binary z_in from iteration 1 on as the probabilities z, not the logits",
        _override(z_input=lambda self, z, z_logit: z),
        ("binary-batch-original", "binary-layer-original"),
    ),
    Mistake(
        "e7-bias-before-normalisation",
        "h = relu(normalize(inp @ W + b)): the bias before the normalisation",
        _override(input_projection=lambda self, inp: _relu(self.normalize(inp @ self.W + self.b))),
        ("binary-batch-original", "binary-layer-original"),
    ),
    Mistake(
        "top-scale-before-bias",
        "the top logits as zl * c + b instead of (zl + b) * c",
        _override(top_logits=lambda self, zl, bias, scale: zl * scale + bias),
        ("binary-batch-original", "continuous-batch-original"),
    ),
    Mistake(
        "e11-gate-sigmoid-binary",
        "the combinator's sigmoid on the gate for binary inputs too",
        _override(combinator=_gate("always")),
        ("binary-batch-original", "deep-binary"),
    ),
    Mistake(
        "e11-no-gate-sigmoid",
        "no sigmoid on the gate for continuous inputs",
        _override(combinator=_gate("never")),
        ("continuous-batch-original", "two-layer-continuous"),
    ),
    Mistake(
        "m0-uniform",
        "m_0 = 1/K instead of the softmax of the given m0_logits",
        _override(forward=_inputs_changed("uniform m0")),
        ("binary-batch-original", "continuous-batch-original"),
    ),
    Mistake(
        "cost-against-x-tilde",
        "the denoising cost against the corrupted x_tilde, not the clean x",
        _override(forward=_inputs_changed("cost against x_tilde")),
        ("binary-batch-original", "continuous-batch-original"),
    ),
    Mistake(
        "likelihood-of-clean-x",
        "L(m) and delta_z from the clean x instead of x_tilde",
        _override(forward=_inputs_changed("clean input")),
        ("binary-batch-original", "continuous-batch-original"),
    ),
    Mistake(
        "delta-z-sign",
        "the continuous delta_z of (4) as m (z - x_tilde)",
        _override(modelling_error=_continuous_delta("z - x")),
        ("continuous-batch-original", "two-layer-continuous"),
    ),
    # classification and the semi-supervised step
    Mistake(
        "class-targets-summed",
        "class targets as the sum of the digits' one-hot codes, not their mean",
        _override(class_targets=lambda self, y: numpy.eye(self.cfg["encoder_proj"][-1] - 1)[y].sum(axis=1)),
        ("classify", "edge-class-saturated"),
    ),
    Mistake(
        "class-targets-first-digit",
        "class targets from the first digit only (objects_per_sample ignored)",
        _override(class_targets=lambda self, y: numpy.eye(self.cfg["encoder_proj"][-1] - 1)[y[:, 0]]),
        ("classify", "edge-class-saturated"),
    ),
    Mistake(
        "class-per-group-softmax",
        "P as the mean over groups of a softmax over each group's class units",
        _override(class_log_probabilities=_class_per_group),
        ("classify", "semi-supervised"),
    ),
    Mistake(
        "class-with-no-class-unit",
        "P normalised over all C + 1 units, the 'no class' unit included",
        _override(class_log_probabilities=_class_with_no_class_unit),
        ("classify", "semi-supervised"),
    ),
    Mistake(
        "semi-both-denoising-costs",
        "the semi-supervised total with the labeled pass's denoising cost added",
        lambda port, base: (base, {"semi_supervised_cost": _semi("both denoising costs")}),
        ("semi-supervised", "edge-semi-supervised-saturated"),
    ),
    Mistake(
        "semi-labeled-denoising-cost",
        "the semi-supervised total with the labeled pass's denoising cost instead",
        lambda port, base: (base, {"semi_supervised_cost": _semi("labeled denoising cost")}),
        ("semi-supervised", "edge-semi-supervised-saturated"),
    ),
]


def _paper_only(base, modelling_error):
    """A model whose binary delta_z is ``modelling_error`` under the paper's semantics only."""

    def chosen(self, z, m, log_m, x_tilde):
        if self.binary and self.semantics != "original":
            return modelling_error(self, z, m, log_m, x_tilde)
        return base.modelling_error(self, z, m, log_m, x_tilde)

    return type("Misread", (base,), {"modelling_error": chosen})


# -- running a mistake -------------------------------------------------------------------------


def misread_trace(port, mistake, name, monkeypatch):
    """The port's trace of golden case ``name`` with ``mistake`` made."""
    made = mistake.make(port, port.Tagger)
    cls, patches = made if isinstance(made, tuple) else (made, {})
    folder = golden.case_dir(name)
    with monkeypatch.context() as patch:
        for attribute, value in patches.items():
            patch.setattr(port, attribute, value)
        model = cls.from_files(os.path.join(folder, "config.json"), os.path.join(folder, "params.npz"))
        with numpy.errstate(all="ignore"):
            return port.write_trace(model, port.load_inputs(os.path.join(folder, "inputs.npz")))


def rejected_by(port, mistake, names, monkeypatch):
    """{case: the key compare names first} for the cases among ``names`` that reject the mistake."""
    out = {}
    for name in names:
        report = compare_traces(golden.load_case(name)[3], misread_trace(port, mistake, name, monkeypatch))
        if not report.ok:
            out[name] = report.first_divergence.key if report.first_divergence else "(missing or extra keys)"
    return out


def documented_catalogue():
    """{mistake name: set of case names} from the table under HEADING in docs/porting.md; "every
    case" stands for all shipped cases."""
    with open(PORTING, encoding="utf-8") as f:
        text = f.read()
    assert HEADING in text, f"docs/porting.md has no heading {HEADING!r}"
    section = text.split(HEADING, 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        match = re.match(r"^\| `([a-z0-9-]+)` \|.*\| (.+?) \|$", line)
        if match:
            cell = match.group(2)
            rows[match.group(1)] = (
                set(golden.CASES) if cell.startswith("every case") else set(re.findall(r"`([a-z0-9-]+)`", cell))
            )
    return rows


def test_catalogue_is_large_and_named_once():
    names = [m.name for m in MISTAKES]
    assert len(names) >= 25 and len(set(names)) == len(names)
    for m in MISTAKES:
        assert len(set(m.witnesses)) == MIN_REJECTING and set(m.witnesses) <= set(golden.CASES), m.name


def test_porting_guide_lists_the_catalogue():
    documented = documented_catalogue()
    assert sorted(documented) == sorted(m.name for m in MISTAKES)
    for m in MISTAKES:
        assert len(documented[m.name]) >= MIN_REJECTING, m.name
        assert set(m.witnesses) <= documented[m.name], m.name


def test_the_port_itself_passes_the_witness_cases(port, monkeypatch):
    """The harness has no false alarm: without a mistake every witness case passes."""
    unchanged = Mistake("none", "", lambda port, base: base, ("", ""))
    witnesses = sorted({name for m in MISTAKES for name in m.witnesses})
    assert rejected_by(port, unchanged, witnesses, monkeypatch) == {}


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: m.name)
def test_mistake_is_rejected_by_its_two_witnesses(port, mistake, monkeypatch):
    rejecting = rejected_by(port, mistake, mistake.witnesses, monkeypatch)
    assert set(rejecting) == set(mistake.witnesses), (
        f"{mistake.name} ({mistake.what}) passes {sorted(set(mistake.witnesses) - set(rejecting))}"
    )


@pytest.mark.slow
def test_every_case_rejecting_each_mistake_is_documented(port, monkeypatch):
    """Every mistake on every shipped case: at least two reject it, and docs/porting.md lists
    exactly the rejecting cases."""
    documented = documented_catalogue()
    wrong = []
    for mistake in MISTAKES:
        rejecting = rejected_by(port, mistake, list(golden.CASES), monkeypatch)
        if len(rejecting) < MIN_REJECTING:
            wrong.append(f"{mistake.name}: rejected by {sorted(rejecting)} only")
        elif set(rejecting) != documented.get(mistake.name):
            wrong.append(
                f"{mistake.name}: rejected by {sorted(rejecting)}, "
                f"documented {sorted(documented.get(mistake.name, ()))}"
            )
    assert not wrong, "\n".join(wrong)
