"""tagger-ref trace: compute a trace (docs/spec.md section 8) and write it as .npz."""

import os

import numpy

from ..errors import ConfigError, InputError, OutputError
from ..experiments.memory import check_model_fits
from ..files.fileio import check_outputs, write_json
from .common import add_config_argument, add_device_argument, apply_device, check_seed, config_from_args

SAVED = ("config.json", "params.npz", "inputs.npz")  # what --save-inputs DIR receives, in this order


def register(sub):
    p = sub.add_parser(
        "trace",
        help="compute every intermediate tensor and gradient of one forward pass",
        description="Compute a trace: z, m, L(m), delta_z, Ladder activations, costs and "
        "gradients of one pass (docs/spec.md section 8), written as float64 .npz. "
        "Without --params/--inputs they are drawn from --seed.",
    )
    add_config_argument(p)
    p.add_argument(
        "--params", help="parameter .npz (docs/spec.md section 3 names); default: perturbed initial values from --seed"
    )
    p.add_argument("--inputs", help="inputs .npz with x, x_tilde, m0_logits [, y]; default: random from --seed")
    p.add_argument("--out", required=True, help="trace .npz to write")
    p.add_argument("--seed", type=int, default=0, help="seed of what is drawn (default 0)")
    p.add_argument("--batch", type=int, help="batch size of drawn inputs (default: the config's batch_size)")
    p.add_argument("--iterations", type=int, help="T (default: the config's n_iterations)")
    p.add_argument(
        "--save-inputs",
        metavar="DIR",
        help="also write DIR/config.json, DIR/params.npz, DIR/inputs.npz so that anyone can recompute the trace",
    )
    add_device_argument(p, gpu_dtype="float64")  # a trace is the float64 exchange format
    p.set_defaults(func=run)


def run(args):
    # the maths here, not at the top: the parser (and --help) imports no autograd (test_cli)
    from ..experiments.checkpoint import CHECKPOINT
    from ..files.inputs import load_inputs, prepare_inputs, save_inputs
    from ..files.params import load_params, prepare_params, save_params
    from ..oracle.random_case import random_inputs, random_params
    from ..oracle.trace import compute_trace, save_trace

    check_seed(args)
    config = apply_device(args, config_from_args(args))
    saved = [os.path.join(args.save_inputs, name) for name in SAVED] if args.save_inputs else []
    # no output replaces an input or another output (a --save-inputs folder not yet made holds neither)
    existing = saved if args.save_inputs and os.path.isdir(args.save_inputs) else []
    if existing and os.path.exists(os.path.join(args.save_inputs, CHECKPOINT)):
        raise OutputError(
            f"--save-inputs {args.save_inputs} is a run folder (it holds {CHECKPOINT}): its config.json and "
            f"params.npz are the run's; choose another folder"
        )
    check_outputs([args.out] + existing, [args.config, args.params, args.inputs])
    if args.batch is not None and args.batch < 1:
        raise InputError(f"--batch must be at least 1, got {args.batch}")
    if args.iterations is not None and args.iterations < 1:
        raise ConfigError(f"--iterations must be at least 1, got {args.iterations}")
    check_model_fits(config, args.batch or config.batch_size, args.iterations, param_copies=2)
    if args.save_inputs:
        try:
            os.makedirs(args.save_inputs, exist_ok=True)
        except OSError as e:
            raise OutputError(f"cannot create folder {args.save_inputs}: {e.strerror}") from None
    rng = numpy.random.default_rng(args.seed)
    if args.params:
        params = load_params(args.params, config)
    else:
        params = prepare_params(random_params(config, rng), config)
    if args.inputs:
        inputs = load_inputs(args.inputs, config)
    else:
        inputs = prepare_inputs(random_inputs(config, rng, args.batch), config)
    trace = compute_trace(params, config, inputs, args.iterations)
    save_trace(args.out, trace)
    if args.save_inputs:
        d = args.save_inputs
        write_json(saved[0], config.to_dict())
        save_params(saved[1], params)
        save_inputs(saved[2], inputs)
        print(f"wrote {d}/config.json, params.npz, inputs.npz")
    print(f"wrote {args.out}: {len(trace)} arrays, total_cost {float(trace['total_cost']):.12g}")
    return 0
