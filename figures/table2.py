"""Table 2 of evaluated runs beside the paper's: python figures/table2.py RUN_DIR... --out DIR.

The same as `tagger-ref figure table2 RUN_DIR... --out DIR`: per dataset, method and labels the
mean and sample standard deviation of the runs' class_error, in table2.md and table2.csv.
"""

import sys

from tagger_ref.commands.cli import main

if __name__ == "__main__":
    sys.exit(main(["figure", "table2"] + sys.argv[1:]))
