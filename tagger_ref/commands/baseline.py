"""tagger-ref baseline: train one of Table 2's baselines (FC MLP, FC Ladder, ConvNet), as train does Tagger."""

from ..baselines.config import DEFAULT_PRESETS, KINDS, load_baseline_config
from ..errors import ConfigError
from ..experiments.manifest import Segment
from ..experiments.memory import check_model_fits
from .common import add_config_argument, check_seed, run_training, training_folder


def register(sub):
    p = sub.add_parser(
        "baseline",
        help="train a baseline of Table 2 (FC MLP, FC Ladder, ConvNet)",
        description="Train a baseline of the paper's Table 2 on the 'train' split of a TextureMNIST "
        "file, validating on its 'valid' split after every epoch, with train's run folder "
        "(checkpoint.npz, log.csv, config.json, params.npz) and --resume. mlp and convnet "
        "are supervised on the labeled images; ladder (Rasmus et al.'s Ladder) also takes "
        "an unlabeled batch per step. An epoch is n_train // B steps for every method. "
        "Evaluate with tagger-ref evaluate RUN_DIR (table2.csv). docs/baselines.md.",
    )
    p.add_argument("kind", choices=KINDS, help="which baseline")
    p.add_argument("--data", required=True, metavar="FILE", help="TextureMNIST file (tagger-ref data texture-mnist)")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder")
    add_config_argument(
        p,
        required=False,
        help="a preset (mlp-1k, mlp-50k, ladder, convnet, mlp-quick, ladder-quick, "
        "convnet-quick, ...) or a JSON file; default: the paper's sizes (mlp: mlp-1k, or "
        "mlp-50k with --labels all; ladder; convnet); with --resume, the checkpoint's",
    )
    p.add_argument("--labels", metavar="N|all", help="labeled training images (default: the config's, 1000)")
    p.add_argument("--epochs", type=int, help="epochs in total (default: the config's num_epochs)")
    p.add_argument("--seed", type=int, help="seed of the run's generator (default: the config's seed)")
    p.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR from its checkpoint")
    p.add_argument(
        "--max-minutes",
        type=float,
        metavar="M",
        help="stop after the step that passes M minutes of training (checkpointed; --resume continues)",
    )
    p.add_argument("--valid-images", type=int, metavar="N", help="validate on the first N images (default: all)")
    p.add_argument("--threads", type=int, metavar="N", help="limit the BLAS threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (epoch lines are still printed)")
    p.set_defaults(func=run)


def parse_labels(text):
    """--labels: a non-negative integer, or "all" (0: every training image)."""
    if text is None:
        return None
    if text == "all":
        return 0
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"--labels must be a number of images or 'all', got {text!r}") from None
    if value < 1:
        raise ConfigError(f"--labels must be at least 1 (or 'all'), got {value}")
    return value


def run(args):
    labels = parse_labels(args.labels)
    for name in ("epochs", "valid_images", "threads"):
        value = getattr(args, name)
        if value is not None and value < (0 if name == "epochs" else 1):
            least = 0 if name == "epochs" else 1
            raise ConfigError(f"--{name.replace('_', '-')} must be at least {least}, got {value}")
    if args.max_minutes is not None and not args.max_minutes > 0:
        raise ConfigError(f"--max-minutes must be positive, got {args.max_minutes}")
    check_seed(args)
    with training_folder(args.out, args.resume):  # locked for the run's life; left as found if it fails early
        return _run_locked(args, labels)


def _run_locked(args, labels):
    # the machinery here, not at the top: the parser (and --help) imports no maths (test_cli)
    from tqdm import tqdm

    from ..experiments.baseline_training import load_checkpoint, train
    from ..experiments.checkpoint import resume_path
    from ..experiments.training import load_split

    if args.resume:
        stored = load_checkpoint(resume_path(args.out))[1]
        config = load_baseline_config(args.config) if args.config else stored
        seed = stored.seed
    else:
        preset = DEFAULT_PRESETS[args.kind] if args.kind != "mlp" or labels != 0 else "mlp-50k"
        config = load_baseline_config(args.config or preset)
        seed = config.seed
    if config.baseline != args.kind:
        raise ConfigError(
            f"the config is a {config.baseline} baseline's, not a {args.kind}'s "
            f"(config {args.config or 'of the checkpoint'})"
        )
    changes = {"seed": seed if args.seed is None else args.seed}
    if args.epochs is not None:
        changes["num_epochs"] = args.epochs
    elif args.resume:
        changes["num_epochs"] = stored.num_epochs
    if labels is not None:
        changes["labeled_samples"] = labels
    config = config.replace(**changes)
    check_model_fits(config, config.batch_size)
    train_data = load_split(args.data, "train", config)
    valid_data = load_split(args.data, "valid", config)
    return run_training(
        args,
        lambda stop_requested: train(
            config,
            train_data.features,
            valid_data.features,
            train_data.targets,
            valid_data.targets,
            args.out,
            resume=args.resume,
            max_seconds=None if args.max_minutes is None else 60.0 * args.max_minutes,
            valid_images=args.valid_images,
            stop_requested=stop_requested,
            progress=not args.no_progress,
            echo=tqdm.write,
            manifest=Segment(args.out, "baseline", data=args.data),
        ),
    )
