"""tagger-ref gradcheck: autograd's gradients against finite differences, and the derivative identities."""

import numpy

from ..errors import ConfigError
from ..experiments.memory import check_model_fits
from ..oracle.gradcheck import STEPS, check_gradient, check_second_order
from .common import add_config_argument, check_seed, config_from_args

IDENTITY_RTOL = 1e-10


def register(sub):
    p = sub.add_parser(
        "gradcheck",
        help="check autograd's gradients against finite differences",
        description="Check the gradient of the total cost for every parameter: along random "
        "directions for every config, element by element for the tiny presets "
        "(or with --elementwise), plus the derivative identities of docs/spec.md section 4. Exits 1 "
        "on any failure. Steps and tolerances per dtype: "
        + "; ".join(f"{k}: h={v['h']}, rtol={v['rtol']}" for k, v in STEPS.items()),
    )
    add_config_argument(p)
    p.add_argument("--seed", type=int, default=0, help="seed of the parameters, inputs and directions (default 0)")
    p.add_argument(
        "--batch", type=int, default=None, help="batch size of the check (default: min(the config's batch_size, 8))"
    )
    p.add_argument("--dtype", choices=sorted(STEPS), help="override the config's dtype")
    p.add_argument("--directions", type=int, default=2, help="random directions per parameter (default 2)")
    p.add_argument(
        "--elementwise",
        action="store_true",
        default=None,
        help="check every element (default: only for the tiny presets)",
    )
    p.add_argument(
        "--second-order",
        action="store_true",
        help="also check the second derivative along a random direction (autograd over autograd "
        "against differences of the first derivative)",
    )
    p.set_defaults(func=run)


def _fmt_index(idx):
    return "dir" if idx == () else "[" + ",".join(map(str, idx)) + "]"


def run(args):
    # the maths here, not at the top: the parser (and --help) imports no autograd (test_cli)
    from ..files.inputs import prepare_inputs
    from ..files.params import prepare_params
    from ..maths.gradients import cost_and_grad, step_cost
    from ..oracle.identities import identity_errors
    from ..oracle.random_case import random_inputs, random_params

    check_seed(args)
    for option, value in (("--batch", args.batch), ("--directions", args.directions)):
        if value is not None and value < 1:
            raise ConfigError(f"{option} must be at least 1, got {value}")
    config = config_from_args(args, args.dtype)
    dtype = config.dtype
    elementwise = args.elementwise if args.elementwise is not None else str(args.config).startswith("tiny-")
    batch = args.batch if args.batch is not None else min(config.batch_size, 8)
    check_model_fits(config.replace(dtype="float64"), batch, param_copies=2)  # the differences are taken in float64
    rng = numpy.random.default_rng(args.seed)
    params = prepare_params(random_params(config, rng), config)
    inputs = prepare_inputs(random_inputs(config, rng, batch), config)

    _, grads = cost_and_grad(params, config, inputs)
    config64 = config.replace(dtype="float64")
    inputs64 = prepare_inputs(inputs, config64)
    checks = check_gradient(
        lambda p: step_cost(p, config64, inputs64),
        params,
        grads,
        rng,
        elementwise=elementwise,
        directions=args.directions,
    )

    print(
        f"gradcheck {args.config}: {dtype} gradients against float64 differences, h={STEPS[dtype]['h']}, "
        f"rtol={STEPS[dtype]['rtol']}, atol={STEPS[dtype]['atol_rms']} x rms(grad), "
        f"batch {batch}, {'every element and ' if elementwise else ''}{args.directions} "
        "random direction(s) per parameter"
    )
    failed = _print_parameter_table(params, checks)
    print()
    identities = identity_errors(numpy.random.default_rng(args.seed))
    for name, (err, a, b, idx) in identities.items():
        ok = err <= IDENTITY_RTOL
        failed += not ok
        print(
            f"identity {name}: worst rel {err:.2e} at {list(map(int, idx))} ({a:.6e} vs autograd {b:.6e})  "
            f"{'ok' if ok else 'FAIL'}"
        )
    if args.second_order:
        c = check_second_order(
            lambda p: step_cost(p, config64, inputs64),
            {k: numpy.asarray(v, dtype="float64") for k, v in params.items()},
            rng,
        )
        failed += c.status == "FAIL"
        checks.append(c)
        print(
            f"second derivative along a random direction: autograd {c.analytic:.10e}, "
            f"differences {c.numeric:.10e}, rel {c.rel_error:.2e}  {c.status}"
        )
    total = len(checks) + len(identities)
    print(
        f"\n{failed} of {total} checks FAILED"
        if failed
        else f"\nall {total} checks passed "
        f"({sum(c.status == 'kink' for c in checks)} at a ReLU kink, judged by one-sided differences)"
    )
    return 1 if failed else 0


def _print_parameter_table(params, checks):
    """One line per parameter: its checks, kinks and worst relative error. Returns the failures."""
    header = (
        f"{'parameter':<14} {'checks':>6} {'kinks':>5} {'worst rel':>10} {'at':>12} {'analytic':>14} "
        f"{'numeric':>14}  result"
    )
    print(header)
    print("-" * len(header))
    failed = 0
    for name in params:
        mine = [c for c in checks if c.name == name]
        worst = max(mine, key=lambda c: c.rel_error if c.status != "kink" else -1)
        fails = sum(c.status == "FAIL" for c in mine)
        kinks = sum(c.status == "kink" for c in mine)
        failed += fails
        print(
            f"{name:<14} {len(mine):>6} {kinks:>5} {worst.rel_error:>10.2e} {_fmt_index(worst.index):>12} "
            f"{worst.analytic:>14.6e} {worst.numeric:>14.6e}  {'FAIL x' + str(fails) if fails else 'ok'}"
        )
    return failed
