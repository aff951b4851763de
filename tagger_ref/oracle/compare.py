"""Comparing a candidate trace with a reference trace, key by key (docs/spec.md section 8).

This is the oracle in use: someone with their own Tagger writes a trace of the same config,
parameters and inputs, and compares it with ours. For every key of the reference the candidate
must have the key, the same shape, and every element within tolerance:

    |candidate - reference| <= atol + atol_scale * max|reference of that key| + rtol * |reference|

``atol_scale`` is a *scale-relative* absolute tolerance: a fraction of the largest magnitude in
the key. It is there because some elements are small differences of large terms (a gradient
element of 1e-4 summed from terms of 1e-1), whose rounding error is set by the key's scale and
not by their own size; an elementwise ``rtol`` alone would call such an element wrong in a
correct implementation.

Defaults (float64): ``rtol = 1e-9``, ``atol_scale = 1e-10``, ``atol = 0``. For a float32
implementation :data:`FLOAT32` (``rtol = 1e-4``, ``atol_scale = 1e-3``), or ``--float32`` on the
command line. docs/porting.md ("Tolerances") says which tolerance each test applies and what
margin correct code keeps; the tests check those margins.

The report also names the quantity that diverged first in the order of computation (``z_0``,
``m_0``, then per iteration ``L_m``, ``delta_z``, ``h``, the Ladder, ``z``, ``m``, the cost; a
semi-supervised trace's labeled pass, keys prefixed ``labeled_``, in the same order after the
unlabeled one; then the classification, the denoising and total costs and the gradients): an
error early in iteration 0 explains everything after it, so that is where to look. Each key is
named with its step as docs/spec.md section 4 numbers it and the paper's equations, from one table,
:data:`TRACE_STEPS`.
"""

import dataclasses
import fnmatch
import os
import re
import typing

import numpy

from ..errors import TaggerError, TraceError
from ..files.fileio import load_npz

DEFAULT_RTOL = 1e-9
DEFAULT_ATOL = 0.0
DEFAULT_ATOL_SCALE = 1e-10
MAX_LINES = 20  # keys listed per kind of problem in a report (all with verbose)
# A preset for candidates computed in float32 (single precision rounds at about 6e-8, and the
# error grows through T iterations, the normalisations and backpropagation through time).
# tagger_ref run in float32 stays within 1e-4 of each key's scale of its float64 trace on every
# golden case outside the float64 edges (reference_tests/test_compare.py): 1e-3 leaves a margin for
# another summation order.
FLOAT32 = {"rtol": 1e-4, "atol": 0.0, "atol_scale": 1e-3}


class TraceStep(typing.NamedTuple):
    """Where docs/spec.md section 4 computes a trace key, and the paper's equations for it."""

    key: str  # as section 4 writes it: `z_0`, `L_m_i` (i the iteration), `z_{i+1}`, `class_cost`
    step: str  # section 4's place: "initialisation", "step 1" .. "step 8", "after the last iteration"
    title: str  # the title of that step there
    paper: str  # the paper's equations: (n), Alg. n its pseudocode, A.n its appendix


# The one table of where every key of a trace (docs/spec.md section 8; the gradients apart) is
# computed, in the order it is: compare's report names the step of a diverging key from it, and
# docs/porting.md section 2 numbers the steps as here. reference_tests/test_compare.py reads
# docs/spec.md section 4 and checks every row against it.
TRACE_STEPS = (
    TraceStep("z_0", "initialisation", "z_0 = z_init", "A.4"),
    TraceStep("m_0", "initialisation", "m_0 = softmax_K(m0_logits)", "(8)-(9)"),
    TraceStep("L_m_i", "step 1", "group likelihood L(m_i)", "(5); binary (17)-(18), continuous (19)-(20)"),
    TraceStep(
        "delta_z_i",
        "step 2",
        "modelling error delta_z_i",
        "binary (30)-(31), continuous (4); semantics paper: (28), paper-eq29: (29)",
    ),
    TraceStep("h_i", "step 4", "projection, h = relu(normalize(inp @ W) + b)", "Alg. 1-3, f(W_h [...])"),
    TraceStep("ladder_top_i", "step 5", "Ladder encoder, its top softmax", "A.6"),
    TraceStep("zhat0_i", "step 6", "Ladder decoder, its output zhat^0", "A.6, Rasmus et al. eq. 2"),
    TraceStep("z_logit_{i+1}", "step 7", "heads, z before the sigmoid", "(11)"),
    TraceStep("z_{i+1}", "step 7", "heads, z", "(11)"),
    TraceStep("m_{i+1}", "step 7", "heads, m", "(3), (7)"),
    TraceStep("cost_{i+1}", "step 8", "cost of iteration i+1", "binary (2), continuous (6)"),
    TraceStep("class_probs", "after the last iteration", "classification, P", "section 3.3"),
    TraceStep("class_cost", "after the last iteration", "classification, its cost", "section 3.3"),
    TraceStep("denoising_cost", "after the last iteration", "denoising cost", "(1)"),
    TraceStep("total_cost", "after the last iteration", "training cost", "(1)"),
)
_SUFFIX = {"_0": None, "_i": 0, "_{i+1}": 1}  # a key's iteration suffix: none (z_0, m_0), i, or i + 1
_KEY_RE = re.compile(r"^(labeled_)?(L_m|delta_z|h|ladder_top|zhat0|z_logit|z|m|cost)_(\d+)$")


def _row(key):
    """(rank in TRACE_STEPS, the row, the iteration or None, in the labeled pass?) of a key; None if it has none."""
    match = _KEY_RE.match(key)
    name, index = (match.group(2), int(match.group(3))) if match else (key, None)
    for rank, row in enumerate(TRACE_STEPS):
        suffix = next((s for s in _SUFFIX if row.key.endswith(s)), "")
        if row.key[: len(row.key) - len(suffix)] != name:
            continue
        if suffix == "":
            if index is None:
                return rank, row, None, False
        elif suffix == "_0":  # z_0, m_0: listed before z_{i+1}, m_{i+1}
            if index == 0:
                return rank, row, None, bool(match.group(1))
        elif index is not None and index - _SUFFIX[suffix] >= 0:
            return rank, row, index - _SUFFIX[suffix], bool(match.group(1))
    return None


def computation_rank(key, position=0):
    """A sort key placing trace keys in the order they are computed; ``position`` breaks ties
    (the gradients, and keys outside docs/spec.md section 8, keep the reference's order after the rest)."""
    found = _row(key)
    if found is None:
        return (5 if key.startswith("grad_") else 6, 0, 0, position)
    rank, row, iteration, labeled = found
    if row.step == "after the last iteration":
        return (4, 0, rank, position)
    pass_ = 2 if labeled else 0  # the labeled pass after the unlabeled one
    if iteration is None:  # the initialisation
        return (pass_, 0, rank, position)
    return (pass_ + 1, iteration, rank, position)


def describe_key(key):
    """Where a key is computed, in words: "iteration 0, docs/spec.md section 4 step 4 (projection,
    h = ...); paper: Alg. 1-3, f(W_h [...])"."""
    found = _row(key)
    if found is None:
        if key.startswith("grad_"):
            return f"gradient of the training cost with respect to {key[5:]}"
        return "not a key of the trace format (docs/spec.md section 8)"
    _, row, iteration, labeled = found
    where = ("labeled pass, " if labeled else "") + ("" if iteration is None else f"iteration {iteration}, ")
    return f"{where}docs/spec.md section 4 {row.step} ({row.title}); paper: {row.paper}"


def step_label(key):
    """The report table's short name of a key's step: "init", "1" .. "8", "end", "grad" ("" for others)."""
    found = _row(key)
    if found is None:
        return "grad" if key.startswith("grad_") else ""
    step = found[1].step
    return {"initialisation": "init", "after the last iteration": "end"}.get(step, step.replace("step ", ""))


@dataclasses.dataclass
class KeyResult:
    """The comparison of one key. ``status``: "ok", "mismatch" (elements out of tolerance),
    "missing" (absent from the candidate), "shape" (another shape) or "dtype" (not real numbers)."""

    key: str
    status: str
    shape: tuple = ()
    candidate_shape: typing.Optional[tuple] = None
    candidate_dtype: str = ""
    max_abs: float = 0.0  # max |cand - ref|
    max_rel: float = 0.0  # max |cand - ref| / |ref| (inf where ref is 0 and cand is not)
    max_scaled: float = 0.0  # max |cand - ref| / max|ref|: the error relative to the key's scale
    n_bad: int = 0  # elements out of tolerance
    size: int = 0  # elements compared
    worst_index: tuple = ()  # the element furthest out of (or closest to) its tolerance
    worst_reference: float = 0.0
    worst_candidate: float = 0.0
    worst_ratio: float = 0.0  # |cand - ref| / tolerance at that element (> 1: out of tolerance)

    @property
    def ok(self):
        return self.status == "ok"


@dataclasses.dataclass
class Report:
    """The comparison of a candidate trace with a reference trace: one KeyResult per compared
    reference key, in computation order, plus the candidate's extra keys."""

    results: typing.List[KeyResult]
    extra: typing.List[str]
    rtol: float
    atol: float
    atol_scale: float

    @property
    def ok(self):
        return all(r.ok for r in self.results)

    @property
    def failures(self):
        return [r for r in self.results if not r.ok]

    @property
    def first_divergence(self):
        """The first present key, in computation order, that is out of tolerance or of another
        shape or type (missing keys are listed apart: a candidate may not write every key)."""
        for r in self.results:
            if r.status in ("mismatch", "shape", "dtype"):
                return r
        return None

    def __getitem__(self, key):
        for r in self.results:
            if r.key == key:
                return r
        raise KeyError(key)

    def worst(self, attribute="max_rel"):
        """The compared key with the largest value of ``attribute`` (e.g. max_rel, max_scaled)."""
        compared = [r for r in self.results if r.status in ("ok", "mismatch")]
        return max(compared, key=lambda r: getattr(r, attribute)) if compared else None

    def format(self, verbose=False):
        """The report as text: summary, first divergence, problem keys (every key if verbose)."""
        lines = [
            f"tolerance: |candidate - reference| <= {_g(self.atol)} + {_g(self.atol_scale)} * max|reference| "
            f"+ {_g(self.rtol)} * |reference|, per key"
        ]
        n = len(self.results)
        by_status = {s: [r for r in self.results if r.status == s] for s in ("mismatch", "missing", "shape", "dtype")}
        if self.ok:
            lines.append(f"OK: all {n} keys of the reference agree")
        else:
            parts = [
                f"{len(by_status['mismatch'])} out of tolerance" if by_status["mismatch"] else "",
                f"{len(by_status['missing'])} missing" if by_status["missing"] else "",
                f"{len(by_status['shape'])} of another shape" if by_status["shape"] else "",
                f"{len(by_status['dtype'])} not real numbers" if by_status["dtype"] else "",
            ]
            lines.append(f"FAILED: {len(self.failures)} of {n} keys differ: " + ", ".join(p for p in parts if p))
            first = self.first_divergence
            if first is not None:
                lines.append(f"first divergence in computation order: {first.key}, {describe_key(first.key)}")
        limit = None if verbose else MAX_LINES
        if by_status["missing"]:
            lines.append("missing from the candidate: " + ", ".join(r.key for r in by_status["missing"]))
        lines += _head(
            [
                f"{r.key}: shape {r.candidate_shape} in the candidate, {r.shape} in the reference"
                for r in by_status["shape"]
            ],
            limit,
        )
        lines += _head(
            [f"{r.key}: dtype {r.candidate_dtype} in the candidate, expected real numbers" for r in by_status["dtype"]],
            limit,
        )
        if self.extra:
            lines.append("in the candidate only (not compared): " + ", ".join(self.extra))
        shown = [r for r in self.results if r.status in ("ok", "mismatch") and (verbose or not r.ok)]
        if shown:
            table = _table(shown).split("\n")
            lines += [table[0]] + _head(table[1:], limit)
            lines.append("step: of docs/spec.md section 4 (init: the initialisation, end: after the last iteration)")
        worst = self.worst("max_scaled")
        if worst is not None:
            lines.append(
                f"largest error relative to a key's scale: {_g(worst.max_scaled)} ({worst.key}); "
                f"largest elementwise relative error: {_g(self.worst('max_rel').max_rel)} "
                f"({self.worst('max_rel').key})"
            )
        return "\n".join(lines)

    def __str__(self):
        return self.format()


def _head(lines, limit):
    """The first ``limit`` report lines (all if None), and a line counting the rest."""
    if limit is None or len(lines) <= limit:
        return lines
    return lines[:limit] + [f"... {len(lines) - limit} more (all of them with verbose=True or --verbose)"]


def _g(x):
    return f"{x:.3g}"


def _table(results):
    header = ("key", "step", "shape", "max abs", "max rel", "scaled", "bad/total", "worst at", "reference", "candidate")
    rows = [header]
    for r in results:
        rows.append(
            (
                r.key,
                step_label(r.key),
                "x".join(map(str, r.shape)) or "()",
                _g(r.max_abs),
                _g(r.max_rel),
                _g(r.max_scaled),
                f"{r.n_bad}/{r.size}",
                str(tuple(int(i) for i in r.worst_index)),
                repr(float(r.worst_reference)),
                repr(float(r.worst_candidate)),
            )
        )
    widths = [max(len(row[j]) for row in rows) for j in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def _as_patterns(keys):
    if keys is None:
        return None
    if isinstance(keys, str):
        keys = keys.split(",")
    patterns = [k.strip() for k in keys if k.strip()]
    return patterns or None


def _compare_arrays(key, ref, cand, rtol, atol, atol_scale):
    """One key of matching shape: the elementwise errors and the worst element."""
    r = numpy.asarray(ref, dtype=numpy.float64)
    c = numpy.asarray(cand, dtype=numpy.float64)
    same = (r == c) | (numpy.isnan(r) & numpy.isnan(c))  # equal infinities and NaN pairs agree
    with numpy.errstate(invalid="ignore", over="ignore", divide="ignore"):
        diff = numpy.where(same, 0.0, numpy.abs(c - r))
        diff = numpy.where(numpy.isnan(diff), numpy.inf, diff)  # NaN against a number, or inf - inf
        finite = numpy.isfinite(r)
        scale = float(numpy.max(numpy.abs(r[finite]))) if finite.any() else 0.0
        tol = atol + atol_scale * scale + rtol * numpy.where(finite, numpy.abs(r), 0.0)
        bad = (diff > tol) | ~numpy.isfinite(diff)
        rel = numpy.where(diff == 0, 0.0, diff / numpy.where(finite & (r != 0), numpy.abs(r), 0.0))
        rel = numpy.where(numpy.isnan(rel), numpy.inf, rel)
        ratio = numpy.where(diff == 0, 0.0, diff / tol)
    flat = int(numpy.argmax(ratio)) if r.size else 0
    worst = numpy.unravel_index(flat, r.shape) if r.size else ()
    max_abs = float(diff.max()) if r.size else 0.0
    return KeyResult(
        key=key,
        status="mismatch" if bad.any() else "ok",
        shape=r.shape,
        candidate_shape=c.shape,
        candidate_dtype=str(numpy.asarray(cand).dtype),
        max_abs=max_abs,
        max_rel=float(rel.max()) if r.size else 0.0,
        max_scaled=(max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else numpy.inf)),
        n_bad=int(bad.sum()),
        size=int(r.size),
        worst_index=tuple(int(i) for i in worst),
        worst_reference=float(r[worst]) if r.size else 0.0,
        worst_candidate=float(c[worst]) if r.size else 0.0,
        worst_ratio=float(ratio.reshape(-1)[flat]) if r.size else 0.0,
    )


def _is_real(a):
    a = numpy.asarray(a)
    return a.dtype.kind in "biuf"


def compare_traces(
    reference, candidate, rtol=DEFAULT_RTOL, atol=DEFAULT_ATOL, atol_scale=DEFAULT_ATOL_SCALE, keys=None
):
    """Compare two trace dicts (key -> array) and return a :class:`Report`.

    Every key of ``reference`` (or those matching ``keys``: glob patterns as a list or a
    comma-separated string, e.g. ``"z_*,m_*"``) must be in ``candidate`` with the same shape and
    every element within ``atol + atol_scale * max|ref| + rtol * |ref|``. Values are compared in
    float64; NaN agrees only with NaN and an infinity only with itself. Keys only in the
    candidate are listed, not judged.
    """
    for name, value in (("rtol", rtol), ("atol", atol), ("atol_scale", atol_scale)):
        if not (isinstance(value, (int, float)) and numpy.isfinite(value) and value >= 0):
            raise TaggerError(f"{name} must be a finite number >= 0, got {value!r}")
    patterns = _as_patterns(keys)

    def wanted(key):
        return patterns is None or any(fnmatch.fnmatchcase(key, p) for p in patterns)

    if not reference:
        raise TaggerError("the reference trace holds no arrays: nothing to compare against")
    ref_keys = [k for k in reference if wanted(k)]
    if patterns is not None and not ref_keys:
        raise TaggerError(f"no key of the reference matches {', '.join(patterns)}")
    results = []
    for key in ref_keys:
        ref = numpy.asarray(reference[key])
        if not _is_real(ref):
            raise TaggerError(f"reference key {key} has dtype {ref.dtype}, not real numbers")
        if key not in candidate:
            results.append(KeyResult(key=key, status="missing", shape=ref.shape, size=int(ref.size)))
            continue
        cand = numpy.asarray(candidate[key])
        if not _is_real(cand):
            results.append(
                KeyResult(
                    key=key,
                    status="dtype",
                    shape=ref.shape,
                    candidate_shape=cand.shape,
                    candidate_dtype=str(cand.dtype),
                    size=int(ref.size),
                )
            )
        elif cand.shape != ref.shape:
            results.append(
                KeyResult(
                    key=key,
                    status="shape",
                    shape=ref.shape,
                    candidate_shape=cand.shape,
                    candidate_dtype=str(cand.dtype),
                    size=int(ref.size),
                )
            )
        else:
            results.append(_compare_arrays(key, ref, cand, rtol, atol, atol_scale))
    position = {k: i for i, k in enumerate(ref_keys)}
    results.sort(key=lambda r: computation_rank(r.key, position[r.key]))
    extra = sorted((k for k in candidate if k not in reference and wanted(k)), key=lambda k: computation_rank(k))
    return Report(results=results, extra=extra, rtol=float(rtol), atol=float(atol), atol_scale=float(atol_scale))


def _load(trace_or_path):
    if isinstance(trace_or_path, (str, os.PathLike)):
        return load_npz(trace_or_path, TraceError, what="trace file")
    return trace_or_path


def assert_traces_close(
    reference, candidate, rtol=DEFAULT_RTOL, atol=DEFAULT_ATOL, atol_scale=DEFAULT_ATOL_SCALE, keys=None, verbose=False
):
    """For another project's test suite: raise AssertionError with the report unless every key of
    ``reference`` agrees. Either argument may be a trace dict or the path of a trace `.npz`.
    Returns the report when all agree."""
    report = compare_traces(_load(reference), _load(candidate), rtol=rtol, atol=atol, atol_scale=atol_scale, keys=keys)
    if not report.ok:
        raise AssertionError("traces differ\n" + report.format(verbose=verbose))
    return report
