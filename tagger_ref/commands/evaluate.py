"""tagger-ref evaluate: the paper's Table 1 for a trained run (denoising cost and AMI per iteration),
or Table 2 for a model with a classification head (classification error, class cost, denoising cost, AMI)."""
import os

import numpy

from ..device.backend import to_device
from ..errors import CheckpointError, ConfigError, DataError
from ..experiments.evaluation import chance_error, degenerate_images, evaluate, evaluate_classifier, table1_rows, table2_rows
from ..files.fileio import save_npz, write_json, write_text
from ..experiments.manifest import Segment, data_fingerprint, manifest_reference
from ..files.params import load_params
from ..experiments.baseline_training import evaluate as evaluate_baseline, is_baseline_config, stored_config_dict
from ..experiments.baseline_training import load_run as load_baseline_run
from ..experiments.training import check_targets, kept_epochs, kept_params_path, load_run, load_split
from ..experiments.memory import check_model_fits
from .common import add_device_argument, apply_device, check_output_file, check_seed

TABLE1_COLUMNS = ("iteration", "denoising_cost", "ami", "ami_median")
TABLE2_COLUMNS = ("iteration", "class_error", "class_cost", "denoising_cost", "ami")
PREDICTIONS = "predictions.npz"


def register(sub):
    p = sub.add_parser("evaluate", help="Table 1 (denoising cost, AMI) or Table 2 (classification) of a trained run",
                       description="Evaluate the latest checkpoint of RUN_DIR on a split of a dataset file: per "
                                   "iteration 1..T the denoising cost on corrupted input and the AMI on clean input "
                                   "(docs/spec.md section 5: scored pixels, scikit-learn's AMI with average_method='max', "
                                   "mean and median over images). Prints the table and writes table1.csv. A model "
                                   "with a classification head writes table2.csv instead (class_error in percent on "
                                   "clean input, the top-2 error for two digits; class_cost and denoising_cost on "
                                   "corrupted input; ami) and predictions.npz (class_probs (T, n, C), labels).")
    p.add_argument("run_dir", metavar="RUN_DIR", help="run folder of tagger-ref train")
    p.add_argument("--data", required=True, metavar="FILE", help="dataset file")
    p.add_argument("--split", default="test", help="split to evaluate (default test)")
    p.add_argument("--iterations", type=int, metavar="T",
                   help="iterations (default 5 as the paper's Table 1; a classifier: its training T, as Table 2)")
    p.add_argument("--groups", type=int, metavar="K", help="groups (default: the config's n_groups)")
    p.add_argument("--seed", type=int, default=0, help="seed of the corruption and initial masks (default 0)")
    p.add_argument("--epoch", type=int, metavar="E",
                   help=f"evaluate the parameters kept after epoch E (train --keep-every) instead of the latest "
                        f"checkpoint's; the default table is then RUN_DIR/table1-epoch-E.csv")
    p.add_argument("--out", metavar="FILE", help="table to write (default RUN_DIR/table1.csv, or RUN_DIR/table2.csv; "
                                                 "predictions.npz goes beside it). Beside the table, "
                                                 "<table>.provenance.json names the run's manifest and what was "
                                                 "evaluated")
    add_device_argument(p)
    p.set_defaults(func=run)


def table1_csv(rows):
    """The text of table1.csv."""
    lines = [",".join(TABLE1_COLUMNS)]
    lines += [f"{r['iteration']},{r['denoising_cost']:.6f},{r['ami']:.6f},{r['ami_median']:.6f}" for r in rows]
    return "\n".join(lines) + "\n"


def check_iterations_groups(iterations, groups):
    if iterations < 1:
        raise ConfigError(f"--iterations must be at least 1, got {iterations}")
    if groups is not None and groups < 1:
        raise ConfigError(f"--groups must be at least 1, got {groups}")


def table2_csv(rows):
    """The text of table2.csv."""
    lines = [",".join(TABLE2_COLUMNS)]
    lines += [f"{r['iteration']},{r['class_error']:.2f},{r['class_cost']:.6f},{_number(r['denoising_cost'])},"
              f"{_number(r['ami'])}" for r in rows]
    return "\n".join(lines) + "\n"


def _number(value):
    """A table entry: six decimals, or empty where the model has no such quantity (a baseline's AMI)."""
    return "" if value is None else f"{value:.6f}"


def load_evaluated(run_dir, epoch):
    """(config, params) of the run's latest checkpoint, or of the parameters kept after ``epoch``."""
    config, params = load_run(run_dir)
    if epoch is None:
        return config, params
    path = kept_params_path(run_dir, epoch)
    if not os.path.isfile(path):
        kept = kept_epochs(run_dir)
        raise CheckpointError(f"--epoch {epoch}: {run_dir} keeps no parameters of that epoch (kept: "
                              f"{', '.join(map(str, kept)) if kept else 'none; train with --keep-every'})")
    return config, load_params(path, config)


def provenance_path(out):
    """The record beside a table that names what it scored."""
    return out + ".provenance.json"


def write_provenance(args, out):
    """<table>.provenance.json: the scored run's manifest (manifest.manifest_reference, its path
    relative to the table's folder), the epoch
    (None: the latest checkpoint), the split, seed, iterations, groups and the data file's fingerprint."""
    write_json(provenance_path(out), {
        "run": manifest_reference(args.run_dir, os.path.dirname(os.path.abspath(out))), "epoch": args.epoch, "split": args.split, "seed": args.seed,
        "iterations": args.iterations, "groups": args.groups, "data": data_fingerprint(args.data)})


def run(args):
    check_seed(args)
    if args.epoch is not None and args.epoch < 0:
        raise ConfigError(f"--epoch must be at least 0, got {args.epoch}")
    if is_baseline_config(stored_config_dict(args.run_dir)):
        if args.epoch is not None:
            raise ConfigError("--epoch: baseline runs keep no epochs")
        return run_baseline(args)
    config, params = load_evaluated(args.run_dir, args.epoch)
    classify = config.class_cost_x > 0
    if args.iterations is None:
        args.iterations = config.n_iterations if classify else 5
    check_iterations_groups(args.iterations, args.groups)
    config = apply_device(args, config)
    check_model_fits(config, config.batch_size, args.iterations, args.groups, param_copies=1)
    params = to_device(params, config.dtype)             # the forward passes run on the device; AMI on the host
    name = "table2" if classify else "table1"
    out = args.out or os.path.join(args.run_dir, name + ("" if args.epoch is None else f"-epoch-{args.epoch}") + ".csv")
    check_output_file(out)
    data = load_split(args.data, args.split, config)
    with Segment(args.run_dir, "evaluate", data=args.data):
        if classify:
            return run_table2(args, config, params, data, out)
        return run_table1(args, config, params, data, out)


def run_table1(args, config, params, data, out):
    """Table 1 rows (denoising cost, AMI mean and median per iteration) of a model without a class head."""
    result = evaluate(params, config, data.features, data.mask, numpy.random.default_rng(args.seed),
                      n_iterations=args.iterations, n_groups=args.groups)
    rows = table1_rows(result)
    text = table1_csv(rows)
    write_text(out, text)
    write_provenance(args, out)
    K = args.groups or config.n_groups
    print(f"{args.split} split of {args.data}: {data.n_images} images, K = {K}, T = {args.iterations}; "
          f"{degenerate_images(data.mask)} image(s) have fewer than two scored true groups")
    print(text, end="")
    print(f"wrote {out}")
    return 0


def run_table2(args, config, params, data, out):
    """Table 2 rows for a model with a classification head, and predictions.npz beside the table."""
    if data.targets is None:
        raise DataError(f"data file {args.data} has no class targets: a classifier is evaluated on TextureMNIST")
    check_targets(data.targets, data.features, config.replace(objects_per_sample=data.targets.shape[1]),
                  f"data file {args.data}, split {args.split!r}")
    result = evaluate_classifier(params, config, data.features, data.targets, numpy.random.default_rng(args.seed),
                                 args.iterations, mask=data.mask, n_groups=args.groups)
    text = table2_csv(table2_rows(result))
    predictions = os.path.join(os.path.dirname(os.path.abspath(out)), PREDICTIONS)
    save_npz(predictions, {"class_probs": result["class_probs"], "labels": numpy.asarray(data.targets, numpy.int64)})
    write_text(out, text)
    write_provenance(args, out)
    K = args.groups or config.n_groups
    objects = data.targets.shape[1]
    print(f"{args.split} split of {args.data}: {data.n_images} images with {objects} digit(s), K = {K}, "
          f"T = {args.iterations}; class_error in percent on clean input{' (top-2 error)' if objects == 2 else ''}; "
          f"chance: {chance_error(1, config.n_classes):.0f} % for one digit, "
          f"{chance_error(2, config.n_classes):.0f} % for two")
    print(text, end="")
    print(f"wrote {out} and {predictions}")
    return 0


def run_baseline(args):
    """Table 2's row of a baseline run (tagger-ref baseline): one row, iteration 1; class_error (%) and
    class_cost of the clean network, the Ladder's denoising_cost on corrupted input (empty for the
    others), ami empty; predictions.npz with class_probs (1, n, C) and labels, as a Tagger run's."""
    config, params = load_baseline_run(args.run_dir)
    if args.iterations not in (None, 1) or args.groups is not None:
        raise ConfigError("a baseline has no iterations or groups: --iterations and --groups do not apply")
    if args.device != "cpu":
        raise ConfigError("baselines run on the CPU only")
    out = args.out or os.path.join(args.run_dir, "table2.csv")
    check_output_file(out)
    data = load_split(args.data, args.split, config)
    if data.targets is None:
        raise DataError(f"data file {args.data} has no class targets: a classifier is evaluated on TextureMNIST")
    check_targets(data.targets, data.features, config.replace(objects_per_sample=data.targets.shape[1]),
                  f"data file {args.data}, split {args.split!r}")
    with Segment(args.run_dir, "evaluate", data=args.data):
        return _baseline_table(args, config, params, data, out)


def _baseline_table(args, config, params, data, out):
    result = evaluate_baseline(params, config.replace(dtype=args.dtype or config.dtype), data.features, data.targets,
                               numpy.random.default_rng(args.seed))
    row = {"iteration": 1, "class_error": result["class_error"], "class_cost": result["class_cost"],
           "denoising_cost": result.get("denoising_cost"), "ami": None}
    text = table2_csv([row])
    predictions = os.path.join(os.path.dirname(os.path.abspath(out)), PREDICTIONS)
    save_npz(predictions, {"class_probs": result["class_probs"][None],
                           "labels": numpy.asarray(data.targets, numpy.int64)})
    write_text(out, text)
    write_provenance(args, out)
    objects = data.targets.shape[1]
    print(f"{args.split} split of {args.data}: {data.n_images} images with {objects} digit(s); {config.method}; "
          f"class_error in percent on clean input{' (top-2 error)' if objects == 2 else ''}; "
          f"chance: {chance_error(objects, config.n_classes):.0f} %")
    print(text, end="")
    print(f"wrote {out} and {predictions}")
    return 0
