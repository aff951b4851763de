"""Table 2 side by side: the classification errors of several evaluated runs (Tagger and the
baselines) collected into the paper's table, dataset x method x labels, beside the paper's numbers.

A run's number is the class_error (%) of the last row of its ``table2.csv`` (``tagger-ref evaluate``:
a Tagger run's last iteration, a baseline's one row). Its method comes from its config.json
("Tagger" for a Tagger run, else the baseline's Table 2 name), its dataset from objects_per_sample
(1: TextureMNIST1, 2: TextureMNIST2), its labels from labeled_samples (1000: "1k"; 0 or null, every
training image: "50k", the paper's training set; another N: "N"). Per cell: the number of runs,
their mean and sample standard deviation (ddof = 1, the paper's statistic; blank for one run).
"""

import math
import os

from ..errors import DataError
from ..experiments.checkpoint import read_run_config
from ..files.fileio import write_text
from ..files.tables import TABLE2_COMPARISON_COLUMNS, read_table2_errors, table2_comparison_csv
from .paper import PAPER_TABLE2, labels_name


def read_run(run_dir):
    """(dataset, method, labels, class_error) of one evaluated run folder."""
    config = read_run_config(run_dir)
    try:
        method = (
            {"mlp": "FC MLP", "ladder": "FC Ladder", "convnet": "ConvNet"}[config["baseline"]]
            if "baseline" in config
            else "Tagger"
        )
        dataset = f"TextureMNIST{int(config['objects_per_sample'])}"
        labels = labels_name(config.get("labeled_samples"))
    except KeyError as e:
        raise DataError(
            f"{run_dir}/config.json has no field {e.args[0]!r}: not the config of a tagger-ref "
            f"train or baseline run on TextureMNIST"
        ) from None
    except (ValueError, TypeError) as e:
        raise DataError(f"{run_dir}/config.json has an unusable value ({e})") from None
    path = os.path.join(run_dir, "table2.csv")
    if not os.path.isfile(path):
        raise DataError(f"{run_dir} holds no table2.csv: run tagger-ref evaluate on it first")
    try:
        error = read_table2_errors(path)[-1]
    except (OSError, KeyError, ValueError, IndexError) as e:
        raise DataError(f"cannot read table {path}: {e}") from None
    return dataset, method, labels, error


def mean_sd(values):
    """(mean, sample standard deviation with ddof = 1, None for a single value)."""
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
    return mean, sd


def collect(run_dirs):
    """Rows of the comparison: one per cell of the paper's table, then one per cell only we have."""
    cells = {}
    for d in run_dirs:
        dataset, method, labels, error = read_run(d)
        cells.setdefault((dataset, method, labels), []).append(error)
    keys = list(PAPER_TABLE2) + sorted(k for k in cells if k not in PAPER_TABLE2)
    rows = []
    for key in keys:
        values = cells.get(key, [])
        mean, sd = mean_sd(values) if values else (None, None)
        paper_mean, paper_sd = PAPER_TABLE2.get(key, (None, None))
        rows.append(dict(zip(TABLE2_COMPARISON_COLUMNS, key + (len(values), mean, sd, paper_mean, paper_sd))))
    return rows


def _fmt(value, digits=2):
    return "" if value is None else f"{value:.{digits}f}"


def table2_markdown(rows):
    lines = [
        "Test error in percent (top-2 error for TextureMNIST2): mean ± sample sd over runs.",
        "",
        "| dataset | method | labels | runs | ours | paper (5 runs) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        ours = "-" if not r["runs"] else _fmt(r["mean"]) + ("" if r["sd"] is None else f" ± {_fmt(r['sd'])}")
        paper = "-" if r["paper_mean"] is None else f"{r['paper_mean']:.1f} ± {r['paper_sd']:.1f}"
        lines.append(f"| {r['dataset']} | {r['method']} | {r['labels']} | {r['runs']} | {ours} | {paper} |")
    return "\n".join(lines) + "\n"


def table2_comparison(run_dirs, out):
    """Write ``table2.md`` and ``table2.csv`` into ``out`` for the evaluated runs; returns the two paths."""
    rows = collect(run_dirs)
    md_path, csv_path = os.path.join(out, "table2.md"), os.path.join(out, "table2.csv")
    write_text(md_path, table2_markdown(rows))
    write_text(csv_path, table2_comparison_csv(rows))
    return md_path, csv_path
