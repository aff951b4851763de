"""The convergence figure of a trained run: python figures/convergence.py RUN_DIR --data FILE --out DIR [options].

The same as `tagger-ref figure convergence ...`; see `tagger-ref figure --help` for the options.
"""

import sys

from tagger_ref.commands.cli import main

if __name__ == "__main__":
    sys.exit(main(["figure", "convergence"] + sys.argv[1:]))
