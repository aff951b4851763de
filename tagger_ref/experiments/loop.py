"""The epoch loop of every training (Tagger's and the baselines') and the signals that stop it."""

import contextlib
import os
import signal
import time

import numpy
from tqdm import tqdm

from ..device.backend import to_numpy
from ..errors import TrainingError
from ..files.fileio import write_text
from . import optimizers
from .checkpoint import CHECKPOINT, LOG, checkpoint_step, log_csv, save_checkpoint
from .streams import steps_per_epoch


@contextlib.contextmanager
def stop_signals(signals=(signal.SIGINT, signal.SIGTERM)):
    """While active, SIGINT and SIGTERM only record their name; yields a function returning the
    first one received (or None), which the training loop polls after every step. A second
    signal aborts at once (KeyboardInterrupt); the last complete checkpoint stays in place."""
    received = []

    def handler(signum, frame):
        received.append(signal.Signals(signum).name)
        if len(received) > 1:
            raise KeyboardInterrupt

    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield lambda: received[0] if received else None
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _check_finite(cost, grads, state, checkpoint_path):
    """Raise TrainingError naming the step if the cost or a gradient is not finite."""
    bad = None
    if not numpy.isfinite(cost):
        bad = f"training cost {float(cost)}"
    else:
        nonfinite = [k for k, g in grads.items() if not numpy.all(numpy.isfinite(g))]
        if nonfinite:
            bad = f"gradient of {', '.join(nonfinite)}"
    if bad:
        raise TrainingError(
            f"non-finite {bad} at step {state.step + 1} (epoch {state.epoch + 1}, batch "
            f"{state.batch + 1}); training stopped, the last good checkpoint {checkpoint_path} "
            f"(step {checkpoint_step(checkpoint_path)}) is kept"
        )


def end_epoch(state, n_batches, validate, clocks, echo=None, after_epoch=None):
    """After an epoch's last batch: its row of the log (``validate()``'s columns, the mean training
    cost, the clocks), the epoch line, ``after_epoch()``; the next epoch starts at batch 0."""
    row, text = validate()
    state.epoch += 1
    seconds, cpu_seconds = clocks()
    row.update(
        epoch=state.epoch,
        step=state.step,
        train_cost=state.cost_sum / n_batches,
        seconds=seconds,
        cpu_seconds=cpu_seconds,
    )
    for column in state.log:
        state.log[column].append(row[column])
    state.batch, state.order, state.cost_sum = 0, numpy.zeros(0, numpy.int64), 0.0
    if echo:
        echo(f"epoch {state.epoch}: train cost {row['train_cost']:.4f}, {text}, {seconds:.0f} s")
    if after_epoch:
        after_epoch()


def run_epochs(
    state,
    config,
    run_dir,
    data_id,
    n_images,
    step,
    validate,
    max_seconds=None,
    max_cpu_seconds=None,
    stop_requested=None,
    progress=False,
    echo=None,
    after_epoch=None,
):
    """The epoch loop of every training (Tagger's and the baselines'), until ``config.num_epochs``.

    Each epoch draws a permutation of the ``n_images`` training images from ``state.rng`` and
    takes ``n // B`` batches of it; ``step(rows)`` returns the cost and gradients of one batch
    (drawing whatever else it needs from ``state.rng``), and the config's optimiser (Adam) updates
    ``state.params``. After
    a complete epoch ``validate()`` returns (validation columns of the log, their words for the
    epoch line). The checkpoint and log.csv are written after every epoch and when training stops
    early (``max_seconds`` of wall clock or ``max_cpu_seconds`` of this process in this session,
    or ``stop_requested()`` returning a name); ``state`` is updated in place. ``after_epoch()``, if
    given, is called after each complete epoch's log row, before that epoch's checkpoint.
    Returns the status: "done", "time limit" or the signal's name.
    """
    B = config.batch_size
    n_batches = steps_per_epoch(n_images, B)
    checkpoint_path = os.path.join(run_dir, CHECKPOINT)
    update = optimizers.get(config.optimizer).update
    started, cpu_started = time.monotonic(), time.process_time()
    seconds_before, cpu_before = state.seconds, state.cpu_seconds

    def clocks():
        """(wall, CPU) seconds of training, over all sessions."""
        return seconds_before + time.monotonic() - started, cpu_before + time.process_time() - cpu_started

    status = "done"
    bar = tqdm(
        total=config.num_epochs * n_batches,
        initial=min(state.step, config.num_epochs * n_batches),
        unit="step",
        disable=not progress,
        dynamic_ncols=True,
        mininterval=1.0,
    )
    try:
        while state.epoch < config.num_epochs and status == "done":
            if state.batch == 0:
                state.order = state.rng.permutation(n_images)
                state.cost_sum = 0.0
            bar.set_description(f"epoch {state.epoch + 1}/{config.num_epochs}")
            while state.batch < n_batches:
                cost, grads = step(state.order[state.batch * B : (state.batch + 1) * B])
                _check_finite(cost, grads, state, checkpoint_path)
                state.params, state.opt_state = update(state.params, grads, state.opt_state, config.lr)
                state.step += 1
                state.batch += 1
                state.cost_sum += float(to_numpy(cost))
                bar.update(1)
                bar.set_postfix(cost=f"{state.cost_sum / state.batch:.4f}", refresh=False)
                stop = stop_requested() if stop_requested else None
                out_of_time = (max_seconds is not None and time.monotonic() - started >= max_seconds) or (
                    max_cpu_seconds is not None and time.process_time() - cpu_started >= max_cpu_seconds
                )
                if stop or out_of_time:
                    status = stop or "time limit"
                    break
            state.seconds, state.cpu_seconds = clocks()
            if state.batch == n_batches:  # the epoch is complete
                end_epoch(state, n_batches, validate, clocks, echo, after_epoch)
            save_checkpoint(checkpoint_path, state, config, data_id)
            write_text(os.path.join(run_dir, LOG), log_csv(state.log))
    finally:
        bar.close()
    return status
