"""``tagger-ref compare REFERENCE.npz CANDIDATE.npz``: judge a candidate trace against a reference.

Exit status 0 when every key of the reference agrees, 1 when any is missing, of another shape or
out of tolerance, 2 when a file cannot be read, the reference holds no arrays, NaN or infinities, or an option is bad.
"""

import numpy

from ..errors import TraceError
from ..files.fileio import load_npz
from ..oracle import compare as _compare


def register(subparsers):
    p = subparsers.add_parser(
        "compare",
        help="compare a candidate trace with a reference trace, key by key",
        description="Compare every key of a reference trace (docs/spec.md section 8) with a candidate trace: present, "
        "same shape, and every element within "
        "atol + atol_scale * max|reference of the key| + rtol * |reference|. "
        "Reports per key the largest absolute and relative error, the elements out of tolerance and "
        "the worst one, and the quantity that diverged first in computation order. "
        f"Defaults suit float64: --rtol {_compare.DEFAULT_RTOL:g} --atol-scale "
        f"{_compare.DEFAULT_ATOL_SCALE:g} --atol {_compare.DEFAULT_ATOL:g}; for a float32 "
        f"implementation use --float32 (--rtol {_compare.FLOAT32['rtol']:g} --atol-scale "
        f"{_compare.FLOAT32['atol_scale']:g}). Exit status 0 when all agree, 1 otherwise.",
    )
    p.add_argument("reference", metavar="REFERENCE.npz", help="the reference trace (e.g. from `tagger-ref trace`)")
    p.add_argument("candidate", metavar="CANDIDATE.npz", help="the trace written by the implementation under test")
    p.add_argument(
        "--rtol", type=float, default=None, help=f"elementwise relative tolerance (default {_compare.DEFAULT_RTOL:g})"
    )
    p.add_argument("--atol", type=float, default=None, help=f"absolute tolerance (default {_compare.DEFAULT_ATOL:g})")
    p.add_argument(
        "--atol-scale",
        type=float,
        default=None,
        help="absolute tolerance as a fraction of the largest |reference| of each key "
        f"(default {_compare.DEFAULT_ATOL_SCALE:g})",
    )
    p.add_argument(
        "--float32",
        action="store_true",
        help="defaults for a float32 candidate: " + ", ".join(f"{k} {v:g}" for k, v in _compare.FLOAT32.items()),
    )
    p.add_argument(
        "--keys",
        metavar="PATTERN",
        default=None,
        help="compare only the reference keys matching these glob patterns, comma-separated "
        "(e.g. 'z_*,m_*' or 'grad_*')",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="list every key, not only those that differ")
    p.set_defaults(func=run)


def run(args):
    preset = (
        _compare.FLOAT32
        if args.float32
        else {"rtol": _compare.DEFAULT_RTOL, "atol": _compare.DEFAULT_ATOL, "atol_scale": _compare.DEFAULT_ATOL_SCALE}
    )
    tolerances = {
        name: preset[name] if getattr(args, name) is None else getattr(args, name)
        for name in ("rtol", "atol", "atol_scale")
    }
    reference = load_npz(args.reference, TraceError, what="reference trace")
    if not reference:  # "all 0 keys agree" would pass any candidate
        raise TraceError(f"reference trace {args.reference} holds no arrays: nothing to compare against")
    nonfinite = [k for k, v in reference.items() if v.dtype.kind in "fc" and not numpy.all(numpy.isfinite(v))]
    if nonfinite:  # a reference is a trace of a computation that went right: NaN there is bad input, not a mismatch
        raise TraceError(
            f"reference trace {args.reference} holds non-finite values ({', '.join(nonfinite[:5])}"
            f"{' ...' if len(nonfinite) > 5 else ''}): not a usable reference"
        )
    candidate = load_npz(args.candidate, TraceError, what="candidate trace")
    report = _compare.compare_traces(reference, candidate, keys=args.keys, **tolerances)
    print(f"reference: {args.reference}\ncandidate: {args.candidate}")
    print(report.format(verbose=args.verbose))
    return 0 if report.ok else 1
