"""Training: learning on tiny data, float32 kept in the gradients, bit-identical runs and resumes,
time limits, non-finite costs and the clear errors of bad data, folders and resumes."""

import numpy
import pytest
from run_helpers import CLOCKS, checkpoint_arrays

from tagger_ref.config import PRESETS
from tagger_ref.errors import CheckpointError, DataError, OutputError, TrainingError
from tagger_ref.experiments import training
from tagger_ref.experiments.adam import adam_init, adam_update
from tagger_ref.experiments.training import CHECKPOINT, load_checkpoint, train
from tagger_ref.maths.corruption import make_inputs
from tagger_ref.maths.gradients import cost_and_grad
from tagger_ref.maths.init import init_params, perturb_params
from tagger_ref.maths.model import forward

# 16 inputs, K=3, T=3, Ladder (7, 5, 4); 40 images in batches of 8: 5 steps an epoch.
TINY = PRESETS["tiny-binary"].replace(n_inputs=16, batch_size=8, num_epochs=3, seed=4)


def tiny_data(n=40, seed=1, N=16):
    x = (numpy.random.default_rng(seed).random((n, N)) < 0.3).astype(numpy.float32)
    return x, x[:10]


def assert_same_run(a, b):
    ca, cb = checkpoint_arrays(a), checkpoint_arrays(b)
    assert set(ca) == set(cb)
    different = [k for k in ca if k not in CLOCKS and not numpy.array_equal(ca[k], cb[k])]
    assert different == [], f"checkpoint entries differ: {different}"


def stop_at(step):
    calls = iter(range(1, 10**6))
    return lambda: "SIGTERM" if next(calls) == step else None


def test_cost_on_a_fixed_batch_falls():
    config = PRESETS["tiny-binary"].replace(norm="layer")
    rng = numpy.random.default_rng(0)
    params = perturb_params(init_params(config, rng), rng, 0.1)
    x = (rng.random((config.batch_size, config.n_inputs)) < 0.4).astype(float)
    inputs = make_inputs(config, x, rng)
    state = adam_init(params)
    costs = []
    for _ in range(60):
        cost, grads = cost_and_grad(params, config, inputs)
        costs.append(float(cost))
        params, state = adam_update(params, grads, state, lr=1e-2)
    assert costs[-1] < 0.7 * costs[0], costs[::10]


@pytest.mark.parametrize("input_type", ["binary", "continuous"])
@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_float32_stays_float32_in_forward_and_gradients(input_type, norm):
    """autograd's backward of mean (int64 count), maximum and where can turn float32 into float64."""
    config = PRESETS[f"tiny-{input_type}"].replace(norm=norm, dtype="float32")
    rng = numpy.random.default_rng(0)
    params = perturb_params(init_params(config, rng), rng)
    x = rng.random((config.batch_size, config.n_inputs)).astype(numpy.float32)
    if input_type == "binary":
        x = (x < 0.5).astype(numpy.float32)
    inputs = make_inputs(config, x, rng)
    cost, grads = cost_and_grad(params, config, inputs)
    assert numpy.asarray(cost).dtype == numpy.float32
    wrong = {k: g.dtype for k, g in grads.items() if numpy.asarray(g).dtype != numpy.float32}
    assert wrong == {}
    trace = forward(params, config, inputs)
    wrong = {k: v.dtype for k, v in trace.items() if numpy.asarray(v).dtype != numpy.float32}
    assert wrong == {}


def test_validation_cost_falls_over_epochs(tmp_path):
    x, v = tiny_data(80)
    train(TINY.replace(norm="layer", lr=1e-2, num_epochs=6), x, v, tmp_path / "run")
    with open(tmp_path / "run" / "log.csv") as f:
        rows = [line.split(",") for line in f.read().split()[1:]]
    assert len(rows) == 6 and [int(r[1]) for r in rows] == [10, 20, 30, 40, 50, 60]
    assert float(rows[-1][3]) < float(rows[0][3]) - 0.02


def test_runs_are_bit_identical(tmp_path):
    x, v = tiny_data()
    a = train(TINY, x, v, tmp_path / "a")
    b = train(TINY, x, v, tmp_path / "b")
    assert a["status"] == b["status"] == "done" and a["step"] == 15
    assert_same_run(tmp_path / "a", tmp_path / "b")
    assert (tmp_path / "a" / "log.csv").exists() and (tmp_path / "a" / "params.npz").exists()


@pytest.mark.parametrize("stop_step", [3, 5, 12])  # mid-epoch, at an epoch's end, in the last epoch
def test_resume_equals_an_uninterrupted_run(tmp_path, stop_step):
    x, v = tiny_data()
    train(TINY, x, v, tmp_path / "whole")
    stopped = train(TINY, x, v, tmp_path / "parts", stop_requested=stop_at(stop_step))
    assert stopped["status"] == "SIGTERM" and stopped["step"] == stop_step
    assert load_checkpoint(tmp_path / "parts" / CHECKPOINT)[0].step == stop_step
    done = train(TINY, x, v, tmp_path / "parts", resume=True)
    assert done["status"] == "done" and done["step"] == 15
    assert_same_run(tmp_path / "whole", tmp_path / "parts")


def test_more_epochs_on_resume_equal_a_longer_run(tmp_path):
    x, v = tiny_data()
    train(TINY.replace(num_epochs=4), x, v, tmp_path / "long")
    train(TINY.replace(num_epochs=2), x, v, tmp_path / "short")
    train(TINY.replace(num_epochs=4), x, v, tmp_path / "short", resume=True)
    assert_same_run(tmp_path / "long", tmp_path / "short")


def test_time_limit_stops_after_a_step_with_a_checkpoint(tmp_path):
    x, v = tiny_data()
    result = train(TINY, x, v, tmp_path / "run", max_cpu_seconds=0.0)
    assert result["status"] == "time limit" and result["step"] == 1
    result = train(TINY, x, v, tmp_path / "run", resume=True, max_seconds=0.0)
    assert result["status"] == "time limit" and result["step"] == 2
    train(TINY, x, v, tmp_path / "run", resume=True)
    train(TINY, x, v, tmp_path / "whole")
    assert_same_run(tmp_path / "whole", tmp_path / "run")


def test_checkpoint_restores_the_generator(tmp_path):
    x, v = tiny_data()
    train(TINY.replace(num_epochs=1), x, v, tmp_path / "run")
    state, config, data_id = load_checkpoint(tmp_path / "run" / CHECKPOINT)
    again, _, _ = load_checkpoint(tmp_path / "run" / CHECKPOINT)
    assert config == TINY.replace(num_epochs=1) and data_id["images"] == 40
    numpy.testing.assert_array_equal(state.rng.standard_normal(5), again.rng.standard_normal(5))
    assert state.params["W"].dtype == numpy.float64 and state.opt_state["t"] == 5


def test_non_finite_cost_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    x, v = tiny_data()
    real = training.cost_and_grad
    calls = iter(range(1, 100))

    def poisoned(params, config, inputs, **kwargs):
        cost, grads = real(params, config, inputs, **kwargs)
        return (numpy.nan if next(calls) == 8 else cost), grads

    monkeypatch.setattr(training, "cost_and_grad", poisoned)
    with pytest.raises(TrainingError, match=r"non-finite training cost nan at step 8 \(epoch 2, batch 3\).*step 5"):
        train(TINY, x, v, tmp_path / "run")
    assert load_checkpoint(tmp_path / "run" / CHECKPOINT)[0].step == 5


def test_bad_data_folders_and_resumes_are_clear_errors(tmp_path):
    x, v = tiny_data()
    with pytest.raises(DataError, match="N = 16"):
        train(TINY, numpy.zeros((40, 20), numpy.float32), v, tmp_path / "a")
    with pytest.raises(DataError, match="not binary"):
        train(TINY, x + 0.5, v, tmp_path / "a")
    with pytest.raises(DataError, match="fewer than one batch"):
        train(TINY, x[:5], v, tmp_path / "a")
    with pytest.raises(CheckpointError, match="no checkpoint.npz"):
        train(TINY, x, v, tmp_path / "none", resume=True)
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match="is a file"):
        train(TINY, x, v, tmp_path / "file")
    train(TINY.replace(num_epochs=1), x, v, tmp_path / "run")
    with pytest.raises(CheckpointError, match="already holds a training checkpoint"):
        train(TINY, x, v, tmp_path / "run")
    with pytest.raises(CheckpointError, match="lr: 0.0004 in the checkpoint, 0.001 now"):
        train(TINY.replace(lr=1e-3), x, v, tmp_path / "run", resume=True)
    with pytest.raises(CheckpointError, match="other training data"):
        train(TINY, 1.0 - x, v, tmp_path / "run", resume=True)


def test_one_checkpoint_format_refuses_the_other_kind_of_run(tmp_path):
    """Tagger's runs and the baselines' share one checkpoint layout (experiments.checkpoint); each
    reader refuses the other kind in one line instead of reading parameters of another model."""
    from tagger_ref.experiments import baseline_training

    train_x, valid_x = tiny_data()
    train(TINY.replace(num_epochs=1), train_x, valid_x, tmp_path / "tagger")
    path = tmp_path / "tagger" / CHECKPOINT
    state, config, _ = load_checkpoint(path)
    assert state.epoch == 1 and config == TINY.replace(num_epochs=1)
    with pytest.raises(CheckpointError, match=r"is a Tagger run's \(tagger-ref train\), not a baseline's"):
        baseline_training.load_checkpoint(path)
