"""The baselines of Table 2 (FC MLP, FC Ladder, ConvNet): the convolution and pooling against direct
loops, the costs against hand-written expressions, every gradient against finite differences, and
the command line (baseline, evaluate, figure table2) end to end at a tiny size."""

import csv
import json
import os
import statistics

import numpy
import pytest
from autograd import value_and_grad
from run_helpers import CLOCKS, checkpoint_arrays
from scipy.special import expit, log_softmax

from tagger_ref.baselines import conv, fc_ladder, mlp
from tagger_ref.baselines import models as baselines
from tagger_ref.baselines.config import PRESETS, BaselineConfig, from_dict, rasmus_weights
from tagger_ref.commands.cli import main
from tagger_ref.errors import ConfigError
from tagger_ref.experiments.evaluation import class_errors
from tagger_ref.maths.classification import class_targets
from tagger_ref.oracle.gradcheck import check_gradient

# Small models for the gradient checks (float64): 6 inputs for the FC ones, 19 x 19 images for the ConvNet.
MLP = BaselineConfig(baseline="mlp", hidden=(5, 4), n_inputs=6, n_classes=3, batch_size=5)
LADDER = BaselineConfig(
    baseline="ladder",
    hidden=(5, 4),
    n_inputs=6,
    n_classes=3,
    batch_size=5,
    input_noise=0.3,
    denoising_weights=(1.0, 0.7, 0.5, 0.3),
)
CONVNET = BaselineConfig(baseline="convnet", hidden=(2, 3), n_inputs=361, image_side=19, n_classes=3, batch_size=4)


# ---------------------------------------------------------------------------------------------
# convolution and pooling against direct loops


def conv_by_loops(x, kernel, padding):
    B, H, W, C = x.shape
    k, _, _, O = kernel.shape
    xp = numpy.zeros((B, H + 2 * padding, W + 2 * padding, C))
    xp[:, padding : padding + H, padding : padding + W] = x
    Ho, Wo = H + 2 * padding - k + 1, W + 2 * padding - k + 1
    y = numpy.zeros((B, Ho, Wo, O))
    for b in range(B):
        for p in range(Ho):
            for q in range(Wo):
                for o in range(O):
                    for i in range(k):
                        for j in range(k):
                            y[b, p, q, o] += numpy.dot(xp[b, p + i, q + j, :], kernel[i, j, :, o])
    return y


@pytest.mark.quick
@pytest.mark.parametrize("k, padding", [(3, 1), (3, 0), (1, 0), (2, 2)])
def test_conv2d_against_direct_loops(k, padding):
    rng = numpy.random.default_rng(k + 10 * padding)
    x, kernel = rng.standard_normal((2, 5, 6, 3)), rng.standard_normal((k, k, 3, 4))
    numpy.testing.assert_allclose(
        conv.conv2d(x, kernel, padding), conv_by_loops(x, kernel, padding), rtol=1e-12, atol=1e-12
    )


@pytest.mark.quick
@pytest.mark.parametrize("shape", [(2, 7, 7, 3), (1, 8, 9, 2), (2, 28, 28, 1), (1, 13, 13, 2)])
def test_max_pool_against_direct_loops(shape):
    x = numpy.random.default_rng(sum(shape)).standard_normal(shape)
    B, H, W, C = shape
    Ho, Wo = (H - 3) // 2 + 1, (W - 3) // 2 + 1
    want = numpy.zeros((B, Ho, Wo, C))
    for b in range(B):
        for p in range(Ho):
            for q in range(Wo):
                for c in range(C):
                    want[b, p, q, c] = max(x[b, 2 * p + i, 2 * q + j, c] for i in range(3) for j in range(3))
    numpy.testing.assert_array_equal(conv.max_pool(x, 3, 2), want)
    assert want.shape[1:3] == {28: (13, 13), 13: (6, 6)}.get(H, want.shape[1:3])  # Model C's sizes on 28 x 28


@pytest.mark.quick
def test_channel_batch_norm_against_per_channel_statistics():
    a = numpy.random.default_rng(3).standard_normal((3, 4, 5, 2)) * 3 + 1
    y = conv.batch_norm_channels(a)
    for c in range(2):
        v = a[..., c]
        numpy.testing.assert_allclose(y[..., c], (v - v.mean()) / numpy.sqrt(v.var() + 1e-10), rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# costs against hand-written expressions


def perturbed_params(config, rng):
    """Initial parameters moved off their symmetric start (gamma and the combinators' ones, zero biases)."""
    params = baselines.init_params(config, rng)
    return {k: v + 0.3 * rng.standard_normal(v.shape) for k, v in params.items()}


def bn_by_hand(a):
    out = numpy.zeros_like(a)
    for j in range(a.shape[1]):
        m = sum(a[:, j]) / len(a)
        s = numpy.sqrt(sum((a[:, j] - m) ** 2) / len(a) + 1e-10)
        out[:, j] = (a[:, j] - m) / s
    return out


@pytest.mark.quick
def test_mlp_cost_by_hand():
    rng = numpy.random.default_rng(0)
    params = perturbed_params(MLP, rng)
    x, y = rng.random((5, 6)), numpy.array([[0, 1], [2, 2], [1, 0], [0, 0], [2, 1]])
    h = x
    for l in (1, 2):
        h = numpy.maximum(bn_by_hand(h @ params[f"W_{l}"]) + params[f"beta_{l}"], 0)
    a = params["gamma_3"] * (bn_by_hand(h @ params["W_3"]) + params["beta_3"])
    cost = 0.0
    for n in range(5):
        p = numpy.exp(a[n]) / numpy.sum(numpy.exp(a[n]))
        t = numpy.zeros(3)
        for digit in y[n]:
            t[digit] += 0.5  # the mean of the two one-hots
        cost -= numpy.sum(t * numpy.log(p)) / 5
    got = mlp.mlp_cost(params, x, class_targets(y, 3), 2)
    assert got == pytest.approx(cost, rel=1e-12)


def ladder_denoising_by_hand(params, x, noise, sizes, weights):
    """Rasmus et al. Algorithm 1 written out with loops over layers and units."""
    L = len(sizes) - 1

    def stats(a):
        m = a.mean(axis=0)
        return m, numpy.sqrt(((a - m) ** 2).mean(axis=0) + 1e-10)

    def encode(noisy):
        z = [x + noise[0] if noisy else x]
        mus, sigmas = [0.0], [1.0]
        h = z[0]
        for l in range(1, L + 1):
            pre = h @ params[f"W_{l}"]
            m, s = stats(pre)
            z.append((pre - m) / s + (noise[l] if noisy else 0.0))
            mus.append(m)
            sigmas.append(s)
            if l < L:
                h = numpy.maximum(z[l] + params[f"beta_{l}"], 0.0)
        a = params[f"gamma_{L}"] * (z[L] + params[f"beta_{L}"])
        top = numpy.exp(a) / numpy.exp(a).sum(axis=1, keepdims=True)
        return z, mus, sigmas, top

    z_clean, mus, sigmas, _ = encode(False)
    z_corr, _, _, top = encode(True)
    cost, zhat_above = 0.0, None
    for l in range(L, -1, -1):
        u = bn_by_hand(top if l == L else zhat_above @ params[f"V_{l + 1}"])
        a = [params[f"a_{l}_{j}"] for j in range(1, 11)]
        zhat = numpy.zeros_like(u)
        for n in range(u.shape[0]):
            for i in range(u.shape[1]):
                mu = a[0][i] * expit(a[1][i] * u[n, i] + a[2][i]) + a[3][i] * u[n, i] + a[4][i]
                v = a[5][i] * expit(a[6][i] * u[n, i] + a[7][i]) + a[8][i] * u[n, i] + a[9][i]
                zhat[n, i] = (z_corr[l][n, i] - mu) * v + mu
        zhat_bn = (zhat - mus[l]) / sigmas[l]
        squared = sum(numpy.sum((z_clean[l][n] - zhat_bn[n]) ** 2) for n in range(len(x)))
        cost += weights[l] / sizes[l] * squared / len(x)
        zhat_above = zhat
    return cost


@pytest.mark.quick
def test_ladder_denoising_cost_against_a_hand_written_expression():
    rng = numpy.random.default_rng(1)
    params = perturbed_params(LADDER, rng)
    x = rng.random((5, 6))
    noise = fc_ladder.draw_noise(rng, LADDER.sizes, 5, 0.3)
    assert [a.shape for a in noise] == [(5, 6), (5, 5), (5, 4), (5, 3)]
    want = ladder_denoising_by_hand(params, x, noise, LADDER.sizes, LADDER.denoising_weights)
    got = fc_ladder.unsupervised_cost(params, x, noise, 3, LADDER.denoising_weights)
    assert got == pytest.approx(want, rel=1e-12)
    # the semi-supervised step adds the corrupted labeled pass's class cost
    y = numpy.array([[0, 1], [2, 2], [1, 0], [0, 0], [2, 1]])
    noise_l = fc_ladder.draw_noise(rng, LADDER.sizes, 5, 0.3)
    corrupted = fc_ladder.encoder(params, x[::-1], 3, noise_l)
    step = fc_ladder.ladder_cost(params, x[::-1], class_targets(y, 3), noise_l, x, noise, 3, LADDER.denoising_weights)
    class_cost = -numpy.mean(numpy.sum(class_targets(y, 3) * log_softmax(corrupted["logits"], axis=-1), axis=1))
    assert step == pytest.approx(want + class_cost, rel=1e-12)


@pytest.mark.quick
def test_clean_encoder_is_the_noiseless_corrupted_one_and_predicts():
    rng = numpy.random.default_rng(2)
    params = baselines.init_params(LADDER, rng)
    x = rng.random((5, 6))
    zeros = [numpy.zeros((5, h)) for h in LADDER.sizes]
    clean, corrupted = fc_ladder.encoder(params, x, 3), fc_ladder.encoder(params, x, 3, zeros)
    numpy.testing.assert_array_equal(clean["logits"], corrupted["logits"])
    numpy.testing.assert_allclose(baselines.class_probabilities(params, LADDER, x).sum(axis=1), 1.0, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# gradients against finite differences


@pytest.mark.quick
@pytest.mark.parametrize(
    "config, elements",
    [(MLP, ("beta_1", "gamma_3")), (LADDER, ("a_2_1", "beta_1", "V_3")), (CONVNET, ("beta_1", "gamma_8"))],
    ids=["mlp", "ladder", "convnet"],
)
def test_gradient_against_finite_differences(config, elements):
    rng = numpy.random.default_rng(5)
    params = perturbed_params(config, rng)
    x = rng.random((config.batch_size, config.n_inputs))
    y = rng.integers(0, config.n_classes, (config.batch_size, 2))
    inputs = baselines.step_inputs(config, x, y, rng.random((config.batch_size, config.n_inputs)), rng)
    cost, grads = value_and_grad(baselines.step_cost)(params, config, inputs)
    checks = check_gradient(lambda p: baselines.step_cost(p, config, inputs), params, grads, rng, directions=2)
    checks += check_gradient(
        lambda p: baselines.step_cost(p, config, inputs),
        params,
        grads,
        rng,
        elementwise=True,
        directions=0,
        names=elements,
    )
    failed = [c for c in checks if c.status == "FAIL"]
    assert not failed, failed[:3]
    assert sum(c.status == "ok" for c in checks) >= 0.9 * len(checks)  # kinks (ReLU, max) are rare
    assert set(grads) == set(baselines.param_shapes(config))


# ---------------------------------------------------------------------------------------------
# configs


@pytest.mark.quick
def test_presets_have_the_papers_sizes():
    assert PRESETS["mlp-1k"].hidden == (1000, 1000) and PRESETS["mlp-1k"].labeled_samples == 1000
    assert PRESETS["mlp-50k"].hidden == (2000, 2000, 2000) and not PRESETS["mlp-50k"].labeled_samples
    ladder = PRESETS["ladder"]
    assert ladder.hidden == (3000, 2000, 1000, 500, 250) and ladder.input_noise == 0.3
    assert ladder.denoising_weights == (1000, 10, 0.1, 0.1, 0.1, 0.1, 0.1) == rasmus_weights(6)
    assert PRESETS["convnet"].hidden == (96, 192)
    shapes = baselines.param_shapes(PRESETS["convnet"])
    assert shapes["W_1"] == (3, 3, 1, 96) and shapes["W_5"] == (3, 3, 192, 192) and shapes["W_7"] == (1, 1, 192, 10)
    assert shapes["W_8"] == (4 * 4 * 10, 10)  # 28 -> 28 -> 13 -> 13 -> 6 -> 4
    for name, config in PRESETS.items():
        assert from_dict(json.loads(json.dumps(config.to_dict()))) == config, name


@pytest.mark.quick
@pytest.mark.parametrize(
    "changes, field",
    [
        (dict(baseline="rnn"), "baseline"),
        (dict(hidden=()), "hidden"),
        (dict(lr=0), "lr"),
        (dict(input_noise=0.3), "input_noise"),
        (dict(denoising_weights=(1.0,)), "denoising_weights"),
        (dict(baseline="convnet", hidden=(2, 3, 4)), "hidden"),
        (dict(baseline="convnet", hidden=(2, 3), image_side=20), "image_side"),
        (dict(baseline="ladder", input_noise=0.3), "denoising_weights"),
        (dict(batch_size=1), "batch_size"),
        (dict(dtype="float16"), "dtype"),
        (dict(labeled_samples=-1), "labeled_samples"),
    ],
)
def test_bad_config_fields_are_named(changes, field):
    with pytest.raises(ConfigError, match=f"'{field}'"):
        BaselineConfig(**changes)
    with pytest.raises(ConfigError, match="unknown field"):
        from_dict({"baseline": "mlp", "encoder_proj": [3]})


# ---------------------------------------------------------------------------------------------
# the command line


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("baselines")
    path = str(d / "tm2.npz")
    assert (
        main(
            ["data", "texture-mnist", "--digits", "2", "--out", path, "--train", "40", "--valid", "10", "--test", "20"]
        )
        == 0
    )
    return d, path


def read_table(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("kind", ["mlp", "ladder", "convnet"])
def test_train_and_evaluate_each_baseline(data, kind, capsys):
    d, path = data
    run = str(d / f"run-{kind}")
    assert main(["baseline", kind, "--config", f"{kind}-tiny", "--data", path, "--out", run, "--no-progress"]) == 0
    log = read_table(os.path.join(run, "log.csv"))
    assert list(log[0]) == [
        "epoch",
        "step",
        "train_cost",
        "valid_class_cost",
        "valid_class_error",
        "seconds",
        "cpu_seconds",
    ]
    assert [r["step"] for r in log] == ["4"]  # 40 images, batches of 10: one epoch, 4 steps
    assert json.load(open(os.path.join(run, "config.json")))["baseline"] == kind
    assert main(["evaluate", run, "--data", path]) == 0
    assert "top-2 error" in capsys.readouterr().out
    rows = read_table(os.path.join(run, "table2.csv"))
    assert list(rows[0]) == ["iteration", "class_error", "class_cost", "denoising_cost", "ami"] and len(rows) == 1
    assert rows[0]["iteration"] == "1" and rows[0]["ami"] == ""
    assert (rows[0]["denoising_cost"] != "") == (kind == "ladder")
    with numpy.load(os.path.join(run, "table2.predictions.npz")) as f:
        probs, labels = f["class_probs"], f["labels"]
    assert probs.shape == (1, 20, 10) and labels.shape == (20, 2)
    numpy.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=1e-9)
    error = float(rows[0]["class_error"])
    assert 0 <= error <= 100 and error == pytest.approx(100 * class_errors(probs[0], labels).mean(), abs=0.006)


def test_resume_equals_an_uninterrupted_run(data):
    d, path = data
    straight, split = str(d / "straight"), str(d / "split")
    common = ["--config", "ladder-tiny", "--data", path, "--no-progress"]
    assert main(["baseline", "ladder", *common, "--out", straight, "--epochs", "2"]) == 0
    assert main(["baseline", "ladder", *common, "--out", split, "--epochs", "1"]) == 0
    assert (
        main(["baseline", "ladder", "--data", path, "--out", split, "--resume", "--epochs", "2", "--no-progress"]) == 0
    )
    a, b = checkpoint_arrays(straight), checkpoint_arrays(split)
    assert set(a) == set(b) and int(a["step"]) == 8
    for k in a:
        if k not in CLOCKS:
            numpy.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_bad_input_is_one_error_line(data, capsys, tmp_path):
    d, path = data
    run = str(d / "run-mlp-bad")
    cases = [
        (["baseline", "mlp", "--config", "nope", "--data", path, "--out", run], "unknown baseline config"),
        (["baseline", "mlp", "--config", "ladder-tiny", "--data", path, "--out", run], "ladder baseline's"),
        (["baseline", "mlp", "--config", "mlp-tiny", "--labels", "15", "--data", path, "--out", run], "not a multiple"),
        (["baseline", "mlp", "--config", "mlp-tiny", "--labels", "x", "--data", path, "--out", run], "--labels"),
        (
            ["baseline", "mlp", "--config", "mlp-tiny", "--data", str(tmp_path / "none.npz"), "--out", run],
            "does not exist",
        ),
    ]
    for argv, message in cases:
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err
    shapes = str(tmp_path / "shapes.npz")  # a data file without digit classes
    assert (
        main(["data", "shapes", "--out", shapes, "--train", "12", "--valid", "4", "--test", "4", "--single", "0"]) == 0
    )
    capsys.readouterr()
    assert main(["baseline", "mlp", "--config", "mlp-tiny", "--data", shapes, "--out", run]) == 2
    assert capsys.readouterr().err.startswith("error: data file")
    assert not os.path.exists(os.path.join(run, "checkpoint.npz"))
    ok = str(d / "run-refuse")
    assert main(["baseline", "mlp", "--config", "mlp-tiny", "--data", path, "--out", ok, "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["baseline", "mlp", "--config", "mlp-tiny", "--data", path, "--out", ok]) == 2
    assert "already holds a training checkpoint" in capsys.readouterr().err


def test_figure_table2_mean_and_sample_sd(data, tmp_path):
    d, path = data
    runs = []
    for seed in (1, 2):
        run = str(tmp_path / f"seed{seed}")
        assert (
            main(
                [
                    "baseline",
                    "mlp",
                    "--config",
                    "mlp-tiny",
                    "--labels",
                    "all",
                    "--seed",
                    str(seed),
                    "--data",
                    path,
                    "--out",
                    run,
                    "--no-progress",
                ]
            )
            == 0
        )
        assert main(["evaluate", run, "--data", path]) == 0
        runs.append(run)
    errors = [float(read_table(os.path.join(r, "table2.csv"))[0]["class_error"]) for r in runs]
    out = str(tmp_path / "table")
    assert main(["figure", "table2", *runs, "--out", out]) == 0
    rows = {(r["dataset"], r["method"], r["labels"]): r for r in read_table(os.path.join(out, "table2.csv"))}
    row = rows[("TextureMNIST2", "FC MLP", "50k")]
    assert row["runs"] == "2" and (row["paper_mean"], row["paper_sd"]) == ("55.2", "1.0")
    assert float(row["mean"]) == pytest.approx(statistics.mean(errors), abs=0.006)
    assert float(row["sd"]) == pytest.approx(statistics.stdev(errors), abs=0.006)
    assert rows[("TextureMNIST2", "Tagger", "1k")]["paper_mean"] == "24.9" and len(rows) == 16
    md = open(os.path.join(out, "table2.md")).read()
    assert (
        f"| TextureMNIST2 | FC MLP | 50k | 2 | {statistics.mean(errors):.2f} ± {statistics.stdev(errors):.2f} "
        f"| 55.2 ± 1.0 |" in md
    )
