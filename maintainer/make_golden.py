"""Write the golden cases shipped with the package (a maintainer's tool, not installed).

    python maintainer/make_golden.py            # rewrites tagger_ref/oracle/golden/<name>/ in this checkout
    python maintainer/make_golden.py --out DIR  # somewhere else, e.g. to compare
    python maintainer/make_golden.py NAME ...   # only these cases

The cases' recipe is ``tagger_ref.oracle.golden.make_case``. A change of the maths that moves a trace makes
reference_tests/test_golden.py fail; the shipped files are then regenerated on purpose, with this.
"""

import argparse
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)  # this checkout's code, installed or not

from tagger_ref.files.fileio import write_json  # noqa: E402
from tagger_ref.files.inputs import save_inputs  # noqa: E402
from tagger_ref.files.params import save_params  # noqa: E402
from tagger_ref.oracle.golden import CASES, GOLDEN_DIR, make_case  # noqa: E402
from tagger_ref.oracle.trace import save_trace  # noqa: E402


def write_case(name, folder):
    """Write the four files of case ``name`` into ``folder`` (created if missing)."""
    cfg, params, inputs, trace = make_case(CASES[name])
    os.makedirs(folder, exist_ok=True)
    write_json(os.path.join(folder, "config.json"), cfg.to_dict())
    save_params(os.path.join(folder, "params.npz"), params)
    save_inputs(os.path.join(folder, "inputs.npz"), inputs)
    save_trace(os.path.join(folder, "trace.npz"), trace)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python maintainer/make_golden.py", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--out", default=GOLDEN_DIR, help="destination folder (default: the checkout's tagger_ref/oracle/golden/)"
    )
    parser.add_argument("names", nargs="*", help="cases to write (default: all)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(CASES)}")
    for name in args.names or CASES:
        write_case(name, os.path.join(args.out, name))
        print(f"wrote {os.path.join(args.out, name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
