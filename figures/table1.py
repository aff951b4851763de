"""Table 1 (b) of evaluated runs beside the paper's: python figures/table1.py RUN_DIR... --out DIR [--epoch E ...].

The same as `tagger-ref figure table1 RUN_DIR... --out DIR`: for each run its AMI (mean and median
over images) and denoising cost at iteration 5 beside the paper's median over 20 seeds, in
table1.md, and the AMI against the iteration in table1.png; with --epoch E, from the run's
table1-epoch-E.csv (`tagger-ref evaluate RUN_DIR --epoch E`), a row for each E.
"""

import sys

from tagger_ref.commands.cli import main

if __name__ == "__main__":
    sys.exit(main(["figure", "table1"] + sys.argv[1:]))
