"""Semi-supervised Tagger (section 3.3): the streams, the two-pass cost against separate forward
passes, the top-2 error on hand-made cases, --init-from, and a bit-exact resume."""

import json
import os

import numpy
import pytest
from autograd import grad
from run_helpers import CLOCKS, checkpoint_arrays

from tagger_ref.config import TaggerConfig
from tagger_ref.errors import CheckpointError, DataError, InputError
from tagger_ref.experiments import training
from tagger_ref.experiments.evaluation import class_error, class_errors, evaluate_classifier
from tagger_ref.experiments.streams import LABEL_STREAM, LabeledStream, labeled_subset, steps_per_epoch
from tagger_ref.files.inputs import prepare_inputs
from tagger_ref.maths.corruption import make_semi_supervised_inputs
from tagger_ref.maths.gradients import cost_and_grad
from tagger_ref.maths.init import init_params
from tagger_ref.maths.model import forward
from tagger_ref.maths.semi_supervised import semi_supervised_forward
from tagger_ref.oracle.random_case import random_params

# Continuous, N = 6, K = 3, T = 2; stage 1 Ladder (7, 5, 4), stage 2 grown to (7, 5, 4, 6, 11).
STAGE1 = TaggerConfig(
    input_type="continuous",
    n_inputs=6,
    n_groups=3,
    n_iterations=2,
    encoder_proj=(7, 5, 4),
    z_init=0.5,
    objects_per_sample=2,
    lr=1e-3,
    batch_size=5,
    num_epochs=1,
    labeled_samples=10,
    seed=3,
)
STAGE2 = STAGE1.replace(encoder_proj=(7, 5, 4, 6, 11), class_cost_x=0.1, n_iterations=3, lr=5e-4)


# ---------------------------------------------------------------- streams


def test_labeled_subset_is_balanced_and_the_first_of_each_class_after_the_shuffle():
    targets = numpy.random.default_rng(0).integers(0, 4, size=(200, 2))
    subset = labeled_subset(targets, 12, 4, seed=7)
    counts = numpy.bincount(targets[subset, 0], minlength=4)
    assert counts.tolist() == [3, 3, 3, 3] and len(set(subset.tolist())) == 12
    # the same walk written as a plain loop over the shuffled split
    taken, expected = [0] * 4, []
    for i in numpy.random.default_rng([7, LABEL_STREAM]).permutation(200):
        c = targets[i, 0]
        if taken[c] < 3:
            taken[c] += 1
            expected.append(int(i))
    assert subset.tolist() == expected
    assert labeled_subset(targets, 12, 4, seed=8).tolist() != expected  # another seed, other images
    assert labeled_subset(targets, 0, 4, seed=7).tolist() == list(range(200))
    assert labeled_subset(targets, None, 4, seed=7).tolist() == list(range(200))


def test_labeled_subset_errors():
    targets = numpy.array([[0, 1]] * 5 + [[1, 0]] * 2)
    with pytest.raises(DataError, match="not a multiple of the 2 classes"):
        labeled_subset(targets, 5, 2, seed=0)
    with pytest.raises(DataError, match="3 training images of class 1, the training split has 2"):
        labeled_subset(targets, 6, 2, seed=0)


def test_labeled_stream_cycles_in_reshuffled_passes():
    stream = LabeledStream(numpy.array([10, 11, 12, 13, 14, 15, 16]))
    rng = numpy.random.default_rng(1)
    batches = [stream.next_rows(rng, 2).tolist() for _ in range(9)]  # 3 batches a pass, 1 image left over
    passes = [sum(batches[3 * p : 3 * p + 3], []) for p in range(3)]
    for taken in passes:
        assert len(set(taken)) == 6 and set(taken) <= set(range(10, 17))
    assert len({tuple(p) for p in passes}) == 3  # reshuffled every pass
    again = LabeledStream(numpy.array([10, 11, 12, 13, 14, 15, 16]))
    expected = [10 + int(i) for i in numpy.random.default_rng(1).permutation(7)[:6]]
    rng2 = numpy.random.default_rng(1)
    assert [again.next_rows(rng2, 2).tolist() for _ in range(3)] == [expected[:2], expected[2:4], expected[4:]]
    restored = LabeledStream.from_arrays(stream.arrays())  # the checkpoint's copy continues alike
    assert (
        restored.next_rows(numpy.random.default_rng(5), 2).tolist()
        == stream.next_rows(numpy.random.default_rng(5), 2).tolist()
    )
    with pytest.raises(DataError, match="fewer than one batch"):
        LabeledStream(numpy.arange(3)).next_rows(rng, 4)


def test_epoch_length_is_one_pass_over_the_unlabeled_stream():
    assert steps_per_epoch(50000, 100) == 500 and steps_per_epoch(109, 10) == 10


# ---------------------------------------------------------------- the step


def step_case(seed=0, unlabeled=5, labeled=4):
    config = STAGE2.replace(n_iterations=2)
    rng = numpy.random.default_rng(seed)
    params = random_params(config, rng)
    inputs = make_semi_supervised_inputs(
        config, rng.random((unlabeled, 6)), rng.random((labeled, 6)), rng.integers(0, 10, size=(labeled, 2)), rng
    )
    return config, params, prepare_inputs(inputs, config)


def test_step_cost_is_two_separate_forward_passes():
    config, params, inputs = step_case()
    unlabeled = {k: inputs[k] for k in ("x", "x_tilde", "m0_logits")}
    labeled = {"x": inputs["labeled_x"], "x_tilde": inputs["labeled_x_tilde"], "m0_logits": inputs["labeled_m0_logits"]}
    u, l_ = forward(params, config, unlabeled), forward(params, config, labeled)  # two passes, no targets
    denoising = (u["cost_1"] + u["cost_2"]) / 2  # mean over iterations (E5)
    # class cost of the labeled pass's last iteration, from its top softmax in the probability domain
    B, C = 4, 10  # K = 3 groups, summed below
    pred = l_["ladder_top_1"][:, :, :C]  # (K, B, C)
    P = (pred / pred.sum(axis=(0, 2), keepdims=True)).sum(axis=0)  # (B, C)
    t = numpy.zeros((B, C))
    for b, (y1, y2) in enumerate(inputs["y"]):
        t[b, y1] += 0.5
        t[b, y2] += 0.5
    class_cost = -numpy.mean(numpy.sum(t * numpy.log(P), axis=1))
    trace = semi_supervised_forward(params, config, inputs)
    assert trace["denoising_cost"] == pytest.approx(denoising, rel=1e-13)
    assert trace["class_cost"] == pytest.approx(class_cost, rel=1e-12)
    assert trace["total_cost"] == pytest.approx(denoising + 0.1 * class_cost, rel=1e-12)
    numpy.testing.assert_allclose(trace["class_probs"], P, rtol=1e-12)
    for key in ("z_2", "m_2", "h_1", "cost_2"):
        numpy.testing.assert_array_equal(trace[key], u[key])
        numpy.testing.assert_array_equal(trace["labeled_" + key], l_[key])
    assert not {"labeled_total_cost", "labeled_class_cost", "labeled_class_probs"} & set(trace)


def test_step_gradient_is_the_sum_of_the_two_passes_gradients():
    config, params, inputs = step_case(1)
    unlabeled = {k: inputs[k] for k in ("x", "x_tilde", "m0_logits")}
    labeled = {
        "x": inputs["labeled_x"],
        "x_tilde": inputs["labeled_x_tilde"],
        "m0_logits": inputs["labeled_m0_logits"],
        "y": inputs["y"],
    }
    g_u = grad(lambda p: forward(p, config, unlabeled)["total_cost"])(params)
    g_l = grad(lambda p: forward(p, config, labeled)["class_cost"])(params)
    cost, grads = cost_and_grad(params, config, inputs)
    for name in params:
        numpy.testing.assert_allclose(grads[name], g_u[name] + 0.1 * g_l[name], rtol=1e-10, atol=1e-13, err_msg=name)
    # and along a random direction by central differences
    direction = {k: numpy.random.default_rng(2).standard_normal(v.shape) for k, v in params.items()}
    eps = 1e-6
    shifted = [
        semi_supervised_forward({k: v + s * eps * direction[k] for k, v in params.items()}, config, inputs)[
            "total_cost"
        ]
        for s in (1, -1)
    ]
    numeric = (shifted[0] - shifted[1]) / (2 * eps)
    analytic = sum(float(numpy.sum(grads[k] * direction[k])) for k in params)
    assert numeric == pytest.approx(analytic, rel=1e-6)


def test_each_pass_has_its_own_batch_statistics():
    """Another labeled batch leaves the unlabeled pass untouched (no statistics shared between passes)."""
    config, params, inputs = step_case(2)
    other = dict(inputs, labeled_x=inputs["labeled_x"][::-1].copy(), labeled_x_tilde=inputs["labeled_x_tilde"] + 0.3)
    a, b = semi_supervised_forward(params, config, inputs), semi_supervised_forward(params, config, other)
    numpy.testing.assert_array_equal(a["denoising_cost"], b["denoising_cost"])
    assert a["class_cost"] != b["class_cost"]


def test_labeled_inputs_are_checked():
    config, params, inputs = step_case()
    with pytest.raises(InputError, match="missing labeled_m0_logits"):
        prepare_inputs({k: v for k, v in inputs.items() if k != "labeled_m0_logits"}, config)
    with pytest.raises(InputError, match="classification head"):
        prepare_inputs(inputs, config.replace(class_cost_x=0.0, encoder_proj=(7, 5, 4)))
    with pytest.raises(InputError, match=r"y has shape \(3, 2\), expected \(labeled B=4"):
        prepare_inputs(dict(inputs, y=inputs["y"][:3]), config)
    with pytest.raises(InputError, match="labeled_x_tilde has shape"):
        prepare_inputs(dict(inputs, labeled_x_tilde=inputs["labeled_x_tilde"][:2]), config)


# ---------------------------------------------------------------- the top-2 error


def test_top2_error_on_hand_made_cases():
    p = numpy.array(
        [
            [0.40, 0.30, 0.20, 0.10],  # top-2 {0, 1}
            [0.40, 0.30, 0.20, 0.10],
            [0.40, 0.30, 0.20, 0.10],
            [0.40, 0.30, 0.20, 0.10],
            [0.10, 0.20, 0.30, 0.40],  # top-1 3
            [0.10, 0.20, 0.30, 0.40],
        ]
    )
    y = numpy.array(
        [
            [1, 0],  # different labels, both in the top 2: 0
            [2, 0],  # one of the two: 0.5
            [3, 2],  # neither: 1
            [0, 1],  # order does not matter: 0
            [3, 3],  # equal labels, top-1 right: 0
            [2, 2],
        ]
    )  # equal labels, the second most probable: wrong, 1
    numpy.testing.assert_array_equal(class_errors(p, y), [0, 0.5, 1, 0, 0, 1])
    assert class_error(p, y) == pytest.approx(2.5 / 6)
    numpy.testing.assert_array_equal(class_errors(p, y[:, :1]), [1, 1, 1, 0, 0, 1])  # one digit: argmax


# ---------------------------------------------------------------- training, --init-from, resume


def tiny_digits(n, seed):
    """n images of N = 6 in [0, 1] and two labels each, every class present in the first column."""
    rng = numpy.random.default_rng(seed)
    y = numpy.stack([numpy.arange(n) % 10, rng.integers(0, 10, n)], axis=1)
    return rng.random((n, 6)).astype(numpy.float32), y


def test_stage_two_starts_from_stage_one(tmp_path):
    x, y = tiny_digits(40, 0)
    vx, vy = tiny_digits(10, 1)
    training.train(STAGE1, x, vx, tmp_path / "one", train_y=y, valid_y=vy)
    source = training.load_run(tmp_path / "one")[1]
    training.train(STAGE2, x, vx, tmp_path / "two", train_y=y, valid_y=vy, init_from=tmp_path / "one")
    with open(tmp_path / "two" / training.INIT_FROM) as f:
        plan = json.load(f)
    new = {"f_3_W", "f_3_b", "f_4_W", "f_4_b", "f_4_c", "g_2_W", "g_3_W"} | {
        f"g_{l}_a{j}" for l in (3, 4) for j in range(1, 11)
    }
    assert set(plan["new"]) == new and plan["dropped"] == ["f_2_c"]
    assert set(plan["copied"]) == set(source) - {"f_2_c"} and "g_2_a1" in plan["copied"] and "v" in plan["copied"]
    first = training.load_checkpoint(tmp_path / "two" / training.CHECKPOINT)
    # the step-0 checkpoint was overwritten by training: start again, zero epochs, to see the start
    training.train(
        STAGE2.replace(num_epochs=0), x, vx, tmp_path / "start", train_y=y, valid_y=vy, init_from=tmp_path / "one"
    )
    start = training.load_checkpoint(tmp_path / "start" / training.CHECKPOINT)[0]
    fresh = init_params(STAGE2, numpy.random.default_rng(STAGE2.seed))
    for k in plan["copied"]:
        numpy.testing.assert_array_equal(start.params[k], source[k])
    for k in plan["new"]:
        numpy.testing.assert_array_equal(start.params[k], fresh[k])
    assert start.opt_state["t"] == 0 and all(not m.any() for m in start.opt_state["m"].values())
    assert first[0].step == 8 and first[0].labeled is not None


def test_init_from_with_another_shape_names_the_parameter(tmp_path):
    x, y = tiny_digits(40, 0)
    training.train(STAGE1.replace(num_epochs=0), x, x[:10], tmp_path / "one", train_y=y, valid_y=y[:10])
    with pytest.raises(CheckpointError, match=r"f_1_W has shape \(7, 5\) there, \(7, 6\) in this model"):
        training.train(
            STAGE2.replace(encoder_proj=(7, 6, 4, 6, 11)),
            x,
            x[:10],
            tmp_path / "two",
            train_y=y,
            valid_y=y[:10],
            init_from=tmp_path / "one",
        )
    assert not os.path.exists(tmp_path / "two")
    with pytest.raises(CheckpointError, match="cannot be combined with --resume"):
        training.train(
            STAGE1, x, x[:10], tmp_path / "one", resume=True, train_y=y, valid_y=y[:10], init_from=tmp_path / "one"
        )


def test_semi_supervised_resume_is_bit_exact_and_logs_the_class_columns(tmp_path):
    x, y = tiny_digits(40, 2)
    vx, vy = tiny_digits(10, 3)
    config = STAGE2.replace(num_epochs=2, n_iterations=2)
    training.train(config, x, vx, tmp_path / "whole", train_y=y, valid_y=vy)
    calls = iter(range(1, 100))
    result = training.train(
        config,
        x,
        vx,
        tmp_path / "part",
        train_y=y,
        valid_y=vy,
        stop_requested=lambda: "SIGTERM" if next(calls) == 11 else None,
    )  # mid-pass, epoch 2
    assert result["status"] == "SIGTERM" and result["step"] == 11
    training.train(config, x, vx, tmp_path / "part", resume=True, train_y=y, valid_y=vy)
    a, b = checkpoint_arrays(tmp_path / "whole"), checkpoint_arrays(tmp_path / "part")
    assert set(a) == set(b) and {"labeled/index", "labeled/order", "labeled/position"} <= set(a)
    assert [k for k in a if k not in CLOCKS and not numpy.array_equal(a[k], b[k])] == []
    log = (tmp_path / "whole" / "log.csv").read_text().split()
    assert log[0] == (
        "epoch,step,train_cost,valid_cost,valid_cost_last,valid_class_cost,valid_class_error,"
        "train_class_error,seconds,cpu_seconds"
    )
    assert [row.split(",")[1] for row in log[1:]] == ["8", "16"]  # 40 // 5 steps an epoch
    assert 0 <= float(log[2].split(",")[6]) <= 100
    # the training class error: the final parameters scored again on the labeled subset, clean input
    state = training.load_checkpoint(tmp_path / "whole" / "checkpoint.npz")[0]
    labeled = state.labeled.index
    again = evaluate_classifier(
        state.params, config, x[labeled], y[labeled], numpy.random.default_rng([config.seed, 3]), config.n_iterations
    )
    assert float(log[2].split(",")[7]) == pytest.approx(float(again["class_error"][-1]), abs=0.006)
    assert len(numpy.unique(training.load_checkpoint(tmp_path / "whole" / "checkpoint.npz")[0].labeled.index)) == 10
    with pytest.raises(DataError, match="no class targets"):
        training.train(config, x, vx, tmp_path / "none")
    with pytest.raises(DataError, match="objects_per_sample is 2"):
        training.train(config, x, vx, tmp_path / "one", train_y=y[:, :1], valid_y=vy[:, :1])


# ---------------------------------------------------------------- trace and compare


def test_trace_command_recomputes_the_semi_supervised_golden_case(tmp_path, capsys):
    from tagger_ref.commands.cli import main
    from tagger_ref.oracle import golden
    from tagger_ref.oracle.compare import compare_traces, describe_key

    folder = golden.case_dir("semi-supervised")
    out = tmp_path / "trace.npz"
    assert (
        main(
            [
                "trace",
                "--config",
                os.path.join(folder, "config.json"),
                "--params",
                os.path.join(folder, "params.npz"),
                "--inputs",
                os.path.join(folder, "inputs.npz"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert main(["compare", os.path.join(folder, "trace.npz"), str(out)]) == 0
    reference = golden.load_case("semi-supervised")[3]
    assert reference["labeled_z_3"].shape == (3, 3, 10) and reference["z_3"].shape == (3, 4, 10)
    broken = dict(reference, labeled_delta_z_1=reference["labeled_delta_z_1"] * 1.01)
    report = compare_traces(reference, broken)
    assert report.first_divergence.key == "labeled_delta_z_1"
    assert describe_key("labeled_delta_z_1").startswith(
        "labeled pass, iteration 1, docs/spec.md section 4 step 2 (modelling error delta_z_i)"
    )
    earlier = dict(broken, cost_2=reference["cost_2"] + 1e-3)  # the unlabeled pass comes first
    assert compare_traces(reference, earlier).first_divergence.key == "cost_2"


def test_a_bad_label_budget_is_an_error_before_the_run_folder_exists(tmp_path):
    x, y = tiny_digits(20, 0)
    with pytest.raises(DataError, match="not a multiple of the 10 classes"):
        training.train(STAGE2.replace(labeled_samples=15), x, x[:5], tmp_path / "a", train_y=y, valid_y=y[:5])
    with pytest.raises(DataError, match="fewer labeled images than one batch of 20"):
        training.train(
            STAGE2.replace(labeled_samples=10, batch_size=20), x, x[:5], tmp_path / "a", train_y=y, valid_y=y[:5]
        )
    assert not os.path.exists(tmp_path / "a")


def test_per_iteration_class_probabilities_against_the_top_softmax():
    """Table 2's P at every iteration (from the top logits the trace keeps, log domain) equals the
    authors' formula on the trace's top softmax, and the last one the forward pass's class_probs."""
    from tagger_ref.experiments.evaluation import iteration_class_log_probs
    from tagger_ref.maths.classification import class_probabilities

    config, params, inputs = step_case(3)
    labeled = {
        "x": inputs["labeled_x"],
        "x_tilde": inputs["labeled_x_tilde"],
        "m0_logits": inputs["labeled_m0_logits"],
        "y": inputs["y"],
    }
    trace = forward(params, config, labeled)
    log_p = iteration_class_log_probs(config, trace, 2)
    assert log_p.shape == (2, 4, 10)
    for i in range(2):
        top = trace[f"ladder_top_{i}"].reshape(12, 11)  # (K*B, C+1)
        numpy.testing.assert_allclose(numpy.exp(log_p[i]), class_probabilities(top, 3, 10), rtol=1e-12)
    numpy.testing.assert_allclose(numpy.exp(log_p[-1]), trace["class_probs"], rtol=1e-12)
