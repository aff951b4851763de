"""The group-removal figure of a trained run: python figures/group_removal.py RUN_DIR --data FILE --out DIR [options].

The same as `tagger-ref figure group-removal ...`; see `tagger-ref figure --help` for the options.
"""

import sys

from tagger_ref.commands.cli import main

if __name__ == "__main__":
    sys.exit(main(["figure", "group-removal"] + sys.argv[1:]))
