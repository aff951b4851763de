"""The figure5 figure of a trained run: python figures/figure5.py RUN_DIR --data FILE --out DIR [options].

The same as `tagger-ref figure figure5 ...`; see `tagger-ref figure --help` for the options.
"""

import sys

from tagger_ref.commands.cli import main

if __name__ == "__main__":
    sys.exit(main(["figure", "figure5"] + sys.argv[1:]))
