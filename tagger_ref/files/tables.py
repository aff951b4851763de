"""The CSV tables that the project writes and reads back, each format in one place: its columns, its
writer (rows -> the file's text) and its reader.

- ``table1.csv`` (``tagger-ref evaluate``, a model without a class head): the paper's Table 1 per
  iteration, :data:`TABLE1_COLUMNS`;
- ``table2.csv`` (``tagger-ref evaluate``, a classifier or a baseline): Table 2 per iteration,
  :data:`TABLE2_COLUMNS`, empty where the model has no such quantity (a baseline's AMI);
- a seed's tables read alike by :func:`read_table` (first column the row's key), for a sweep's
  ``summary.csv`` (:data:`SUMMARY_COLUMNS`) of statistics over the seeds;
- a sweep's ``seeds.csv`` (:data:`SEEDS_COLUMNS`): every seed's state from its seed.json;
- ``figure table2``'s ``table2.csv`` (:data:`TABLE2_COMPARISON_COLUMNS`): runs' mean and sd per
  cell of the paper's Table 2, beside the paper's numbers.

``log.csv`` (one row per epoch) is written by ``experiments.checkpoint.log_csv``.
"""

import csv
import math

import numpy

from ..errors import DataError

TABLE1_COLUMNS = ("iteration", "denoising_cost", "ami", "ami_median")
TABLE2_COLUMNS = ("iteration", "class_error", "class_cost", "denoising_cost", "ami")
SUMMARY_COLUMNS = ("table", "key", "row", "column", "n", "median", "mean", "std", "min", "max")
STATISTICS = SUMMARY_COLUMNS[5:]
SEEDS_COLUMNS = ("seed", "state", "epoch", "step", "seconds", "host", "error")
TABLE2_COMPARISON_COLUMNS = ("dataset", "method", "labels", "runs", "mean", "sd", "paper_mean", "paper_sd")


def _text(lines):
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# table1.csv and table2.csv of an evaluated run


def table1_csv(rows):
    """The text of table1.csv."""
    lines = [",".join(TABLE1_COLUMNS)]
    lines += [f"{r['iteration']},{r['denoising_cost']:.6f},{r['ami']:.6f},{r['ami_median']:.6f}" for r in rows]
    return _text(lines)


def read_table1(path):
    """Rows of a table1.csv as dicts of numbers."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        rows = [
            {
                "iteration": int(r["iteration"]),
                "denoising_cost": float(r["denoising_cost"]),
                "ami": float(r["ami"]),
                "ami_median": float(r["ami_median"]),
            }
            for r in rows
        ]
    except UnicodeDecodeError:
        raise DataError(f"cannot read table {path}: not a text file (a table1.csv of tagger-ref evaluate?)") from None
    except IsADirectoryError:
        raise DataError(f"cannot read table {path}: it is a folder, not a table1.csv") from None
    except (OSError, KeyError, ValueError, TypeError, csv.Error) as e:
        raise DataError(f"cannot read table {path}: {e}") from None
    if not rows:
        raise DataError(
            f"cannot read table {path}: no rows (a table1.csv of tagger-ref evaluate has one per iteration)"
        )
    if not all(numpy.isfinite(list(r.values())).all() for r in rows):
        raise DataError(f"cannot read table {path}: it holds non-finite values")
    return rows


def table2_csv(rows):
    """The text of table2.csv."""
    lines = [",".join(TABLE2_COLUMNS)]
    lines += [
        f"{r['iteration']},{r['class_error']:.2f},{r['class_cost']:.6f},{_entry(r['denoising_cost'])},"
        f"{_entry(r['ami'])}"
        for r in rows
    ]
    return _text(lines)


def _entry(value):
    """A table entry: six decimals, or empty where the model has no such quantity (a baseline's AMI)."""
    return "" if value is None else f"{value:.6f}"


def read_table2_errors(path):
    """The class_error (%) of every row of a table2.csv, in file order. Raises what reading raises
    (OSError; KeyError for a file without the column; ValueError for a value that is no number)."""
    with open(path, newline="") as f:
        return [float(r["class_error"]) for r in csv.DictReader(f)]


# ---------------------------------------------------------------------------------------------
# a sweep's tables


def read_table(path):
    """(key name, rows) of a seed's table: rows are (key value, {column: float or None}) in file order."""
    try:
        with open(path, newline="") as f:
            lines = list(csv.reader(f))
    except OSError as e:
        raise DataError(f"cannot read table {path}: {e.strerror}") from None
    if not lines or len(lines[0]) < 2:
        raise DataError(f"table {path} has no header with a key and a quantity")
    header = lines[0]
    rows = []
    for line in lines[1:]:
        if not line:
            continue
        if len(line) != len(header):
            raise DataError(f"table {path}: a row has {len(line)} fields, the header {len(header)}")
        rows.append((line[0], {c: _number(v) for c, v in zip(header[1:], line[1:])}))
    return header[0], rows


def _number(text):
    try:
        return float(text)
    except ValueError:
        return None


def _significant(value):
    return "" if isinstance(value, float) and math.isnan(value) else f"{value:.6g}"


def summary_csv(rows):
    """The text of summary.csv: one line per table, row and quantity, its statistics to 6 significant digits."""
    lines = [",".join(SUMMARY_COLUMNS)]
    for r in rows:
        lines.append(
            ",".join(
                [r["table"], r["key"], r["row"], r["column"], str(r["n"])] + [_significant(r[s]) for s in STATISTICS]
            )
        )
    return _text(lines)


def seeds_csv(records):
    """The text of seeds.csv from ``[(seed, seed.json's record or None)]``: state, epoch, step and
    training seconds so far, host, and the error or stop reason (commas and line breaks replaced)."""
    lines = [",".join(SEEDS_COLUMNS)]
    for seed, record in records:
        record = record or {"state": "not started"}
        error = str(record.get("error") or record.get("reason") or "").replace("\n", " ").replace(",", ";")
        seconds = record.get("seconds")
        lines.append(
            ",".join(
                [
                    str(seed),
                    record["state"],
                    str(record.get("epoch", "")),
                    str(record.get("step", "")),
                    "" if seconds is None else f"{seconds:.1f}",
                    str(record.get("host", "")),
                    error,
                ]
            )
        )
    return _text(lines)


# ---------------------------------------------------------------------------------------------
# figure table2: the runs beside the paper's Table 2


def _fixed(value, digits=2):
    return "" if value is None else f"{value:.{digits}f}"


def table2_comparison_csv(rows):
    """The text of figure table2's table2.csv: means and sds to 2 decimals, the paper's to 1."""
    lines = [",".join(TABLE2_COMPARISON_COLUMNS)]
    for r in rows:
        lines.append(
            ",".join(
                [
                    r["dataset"],
                    r["method"],
                    r["labels"],
                    str(r["runs"]),
                    _fixed(r["mean"]),
                    _fixed(r["sd"]),
                    _fixed(r["paper_mean"], 1),
                    _fixed(r["paper_sd"], 1),
                ]
            )
        )
    return _text(lines)
