"""tagger-ref train: train a model on a dataset file, with checkpoints that resume exactly."""

import os

from ..config import load_config
from ..errors import CheckpointError, ConfigError
from ..experiments.manifest import Segment
from ..experiments.memory import check_model_fits
from .common import add_config_argument, add_device_argument, apply_device, check_seed, run_training, training_folder


def register(sub):
    p = sub.add_parser(
        "train",
        help="train a model (the config's optimiser, Adam by default; backpropagation through all iterations)",
        description="Train on the 'train' split of a dataset file, validating on its 'valid' split "
        "after every epoch. RUN_DIR receives checkpoint.npz (after every epoch and on "
        "SIGINT/SIGTERM), log.csv, config.json and params.npz. --resume continues a run "
        "so that the result equals an uninterrupted one. A config with a classification "
        "head (class_cost_x > 0) trains semi-supervised on a TextureMNIST file: each step "
        "an unlabeled batch and a batch of the labeled_samples labeled images.",
    )
    add_config_argument(
        p,
        required=False,
        help="a preset name (shapes, shapes-layernorm, shapes-quick, ...) or a JSON file; "
        "with --resume, default: the checkpoint's",
    )
    p.add_argument("--data", required=True, metavar="FILE", help="dataset file (tagger-ref data ...)")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder")
    p.add_argument("--epochs", type=int, help="epochs in total (default: the config's num_epochs)")
    p.add_argument("--seed", type=int, help="seed of the run's generator (default: the config's seed)")
    p.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR from its checkpoint")
    p.add_argument(
        "--init-from",
        metavar="RUN_DIR",
        help="start a new run from the parameters of another run (or a parameter .npz): those of equal "
        "name and shape are copied, the others keep their initial values; the optimiser starts fresh "
        "(the second stage of TextureMNIST training)",
    )
    p.add_argument(
        "--max-minutes",
        type=float,
        metavar="M",
        help="stop after the step that passes M minutes of training (checkpointed; --resume continues)",
    )
    p.add_argument(
        "--max-cpu-minutes",
        type=float,
        metavar="M",
        help="stop after the step that passes M minutes of this process's CPU time (all threads): on a "
        "lightly shared machine about the work that M minutes give on an idle one (not under heavy "
        "load: docs/training.md)",
    )
    p.add_argument("--valid-images", type=int, metavar="N", help="validate on the first N images (default: all)")
    # 200 and epochs/ are experiments.training's VALID_AMI_IMAGES and KEPT_DIR, written out so that
    # the parser imports no maths (test_cli checks that they agree)
    p.add_argument(
        "--valid-ami-images",
        type=int,
        metavar="N",
        help="score the AMI (mean and median over images, last training iteration) on the first N "
        "validation images every epoch, as log.csv's valid_ami columns (default 200; "
        "0: none; a resumed run keeps its number)",
    )
    p.add_argument(
        "--keep-every",
        type=int,
        metavar="E",
        help="keep the parameters after every E-th epoch in RUN_DIR/epochs/ "
        "(tagger-ref evaluate RUN_DIR --epoch N evaluates one)",
    )
    p.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="limit the BLAS threads (on a busy machine one thread per process can be much faster)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar (epoch lines are still printed)")
    add_device_argument(p)  # with --resume and no --dtype: the run's dtype
    p.set_defaults(func=run)


def run(args):
    if args.config is None and not args.resume:
        raise ConfigError("--config is required (a preset name or a JSON file), except with --resume")
    config = load_config(args.config) if args.config is not None else None
    for name in ("epochs", "valid_images", "threads", "valid_ami_images", "keep_every"):
        value = getattr(args, name)
        least = 0 if name in ("epochs", "valid_ami_images") else 1
        if value is not None and value < least:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least {least}, got {value}")
    for name in ("max_minutes", "max_cpu_minutes"):
        value = getattr(args, name)
        if value is not None and not value > 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be positive, got {value}")
    check_seed(args)
    with training_folder(args.out, args.resume):  # locked for the run's life; left as found if it fails early
        return _run_locked(args, config)


def _run_locked(args, config):
    # the machinery here, not at the top: the parser (and --help) imports no maths (test_cli)
    from tqdm import tqdm

    from ..experiments.checkpoint import resume_path
    from ..experiments.training import load_checkpoint, load_split, train

    if args.resume:  # defaults from the checkpoint being continued
        stored = load_checkpoint(resume_path(args.out))[1]
        config = stored if config is None else config
        config = config.replace(
            seed=stored.seed if args.seed is None else args.seed,
            num_epochs=stored.num_epochs if args.epochs is None else args.epochs,
        )
    else:
        config = config.replace(
            seed=config.seed if args.seed is None else args.seed,
            num_epochs=config.num_epochs if args.epochs is None else args.epochs,
        )
    config = apply_device(args, config)
    if args.resume and args.dtype is None:  # a resumed run keeps its dtype on any device
        config = config.replace(dtype=stored.dtype)
    check_model_fits(config, config.batch_size)
    train_data = load_split(args.data, "train", config)
    valid_data = load_split(args.data, "valid", config)
    if args.init_from is not None and not os.path.exists(args.init_from):
        raise CheckpointError(f"--init-from {args.init_from}: no such run folder or parameter file")
    manifest = Segment(args.out, "train", data=args.data)
    return run_training(
        args,
        lambda stop_requested: train(
            config,
            train_data.features,
            valid_data.features,
            args.out,
            resume=args.resume,
            max_seconds=None if args.max_minutes is None else 60.0 * args.max_minutes,
            max_cpu_seconds=None if args.max_cpu_minutes is None else 60.0 * args.max_cpu_minutes,
            valid_images=args.valid_images,
            stop_requested=stop_requested,
            progress=not args.no_progress,
            echo=tqdm.write,
            train_y=train_data.targets,
            valid_y=valid_data.targets,
            init_from=args.init_from,
            valid_mask=valid_data.mask,
            valid_ami_images=args.valid_ami_images,
            keep_every=args.keep_every,
            manifest=manifest,
        ),
    )
