"""How far a campaign run has got, from its log.csv: epochs and steps done, training time so far, the
recent seconds per epoch, and the expected finish if it trains without a break from now.

    python3 progress.py RUN/log.csv [--epochs 100] [--markdown]

Standard library only, so that it runs beside a training process without its environment.
"""

import argparse
import csv
import datetime
import signal
import statistics


def read_log(path):
    with open(path, newline="") as f:
        return [row for row in csv.DictReader(f)]


def epoch_seconds(rows):
    """Seconds each epoch took (log.csv's `seconds` is the training time so far, kept over resumes)."""
    times = [float(r["seconds"]) for r in rows]
    return [b - a for a, b in zip([0.0] + times[:-1], times)]


def summary(rows, epochs):
    done = int(rows[-1]["epoch"])
    steps = int(rows[-1]["step"])
    per_epoch = epoch_seconds(rows)
    recent = statistics.median(per_epoch[-5:])
    left = max(epochs - done, 0) * recent
    finish = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=left)
    return {
        "epochs": done,
        "steps": steps,
        "hours_so_far": float(rows[-1]["seconds"]) / 3600,
        "seconds_per_epoch": recent,
        "seconds_per_step": recent / (steps / done),
        "hours_left": left / 3600,
        "finish": finish.strftime("%Y-%m-%d %H:%M UTC"),
        "valid_cost": float(rows[-1]["valid_cost"]),
        "valid_ami": rows[-1].get("valid_ami", ""),
        "best_valid_ami": max((float(r["valid_ami"]) for r in rows if r.get("valid_ami")), default=float("nan")),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("log")
    p.add_argument("--epochs", type=int, default=100, help="epochs the run is to reach (default 100)")
    p.add_argument("--markdown", action="store_true", help="a markdown note with a table of every epoch")
    args = p.parse_args()
    rows = read_log(args.log)
    if not rows:
        print("no epoch finished yet")
        return
    s = summary(rows, args.epochs)
    line = (
        f"{s['epochs']} of {args.epochs} epochs ({s['steps']} steps), {s['hours_so_far']:.2f} h of training; "
        f"recent {s['seconds_per_epoch']:.0f} s an epoch ({s['seconds_per_step']:.2f} s a step); "
        f"{s['hours_left']:.1f} h of training left, finish about {s['finish']} if it trains without a break; "
        f"last valid cost {s['valid_cost']:.4f}, valid AMI {s['valid_ami']} (best {s['best_valid_ami']:.4f})"
    )
    if not args.markdown:
        print(line)
        return
    print("# Progress\n")
    print(f"Written {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC from log.csv: {line}.\n")
    print("The seconds are those of the epoch as logged; what ran beside the run is in the results README.\n")
    print("| epoch | step | train cost | valid cost | valid AMI (mean, 200 images) | seconds |")
    print("|---|---|---|---|---|---|")
    for r, sec in zip(rows, epoch_seconds(rows)):
        ami = r.get("valid_ami", "")
        print(f"| {r['epoch']} | {r['step']} | {r['train_cost']} | {r['valid_cost']} | {ami} | {sec:.0f} |")


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `campaign.sh status | head -1` ends quietly
    main()
