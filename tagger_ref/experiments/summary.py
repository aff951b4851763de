"""Statistics over the seeds of a sweep: ``SWEEP_DIR/summary.csv`` (docs/sweeps.md).

Each finished seed's evaluation wrote one or more tables (``table1.csv``: a row per iteration;
``table2.csv`` for the two-stage TextureMNIST runs). They are read generically: the first column
is the row's key (``iteration``), every other column with numbers is a quantity. For every table,
row and quantity, ``summary.csv`` holds one line:

    table, key, row, column, n, median, mean, std, min, max

with n the number of seeds with a finite value, the median (the paper's Table 1 statistic), the
mean and the sample standard deviation (ddof = 1, the paper's Table 2 statistic; empty for one
seed), the minimum and the maximum, each written with 6 significant digits. The format, and the
reading of a seed's tables, are ``files.tables``'.
"""

import math
import os

import numpy

from ..errors import DataError
from ..files.fileio import write_text
from ..files.tables import STATISTICS, read_table, summary_csv
from .sweep import read_seed_json, tables

SUMMARY = "summary.csv"


def statistics(values):
    """n, median, mean, sample std (ddof 1; NaN for n < 2), min, max of the finite ``values``."""
    a = numpy.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=numpy.float64)
    if len(a) == 0:
        return {"n": 0, **{s: math.nan for s in STATISTICS}}
    return {
        "n": len(a),
        "median": float(numpy.median(a)),
        "mean": float(a.mean()),
        "std": float(a.std(ddof=1)) if len(a) > 1 else math.nan,
        "min": float(a.min()),
        "max": float(a.max()),
    }


def finished_seeds(sweep_dir, seeds=None):
    """{seed: run folder} of the seeds in ``sweep_dir`` whose seed.json says finished (only ``seeds`` if given)."""
    found = {}
    try:
        names = os.listdir(sweep_dir)
    except OSError as e:
        raise DataError(f"cannot read sweep folder {sweep_dir}: {e.strerror}") from None
    for name in names:
        seed = name[len("seed-") :]
        if not (name.startswith("seed-") and seed.isdigit()) or (seeds is not None and int(seed) not in seeds):
            continue
        record = read_seed_json(os.path.join(sweep_dir, name))
        if record is not None and record.get("state") == "finished":
            found[int(seed)] = os.path.join(sweep_dir, name)
    return dict(sorted(found.items()))


def collect(sweep_dir, seeds=None):
    """The finished seeds' tables: {table name: {"key": key name, "rows": [row keys in order],
    "values": {(row, column): {seed: value}}, "seeds": [seeds]}}."""
    collected = {}
    for seed, run_dir in finished_seeds(sweep_dir, seeds).items():
        for name in tables(run_dir):
            key, rows = read_table(os.path.join(run_dir, name))
            table = collected.setdefault(name[:-4], {"key": key, "rows": [], "columns": [], "values": {}, "seeds": []})
            table["seeds"].append(seed)
            for row, values in rows:
                if row not in table["rows"]:
                    table["rows"].append(row)
                for column, value in values.items():
                    if column not in table["columns"]:
                        table["columns"].append(column)
                    table["values"].setdefault((row, column), {})[seed] = value
    return collected


def summary_rows(collected):
    """One dict per table, row and quantity column (in the tables' order), with :func:`statistics`."""
    out = []
    for name, table in collected.items():
        for row in table["rows"]:
            for column in table["columns"]:
                values = table["values"].get((row, column), {})
                if not any(v is not None for v in values.values()):
                    continue  # not a column of numbers
                out.append(
                    {"table": name, "key": table["key"], "row": row, "column": column, **statistics(values.values())}
                )
    return out


def write_summary(sweep_dir, seeds=None):
    """Write SWEEP_DIR/summary.csv over the finished seeds (only ``seeds`` if given); returns (path, seeds used)."""
    collected = collect(sweep_dir, seeds)
    path = os.path.join(sweep_dir, SUMMARY)
    write_text(path, summary_csv(summary_rows(collected)))
    used = sorted({s for t in collected.values() for s in t["seeds"]})
    return path, used
