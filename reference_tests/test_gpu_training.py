"""Training, resuming and evaluating on the GPU path, checked on the CPU through the CuPy stand-in
(reference_tests/fake_gpu.py; see test_gpu_mechanism.py).

Every step must run on the device (the inputs of cost_and_grad, the gradients and the parameters
and moments Adam returns are all stand-in arrays: nothing fell back to NumPy), and since the
draws are made on the host by the run's generator and copied over (docs/gpu.md, "Random draws"),
a float64 run on the device must equal the CPU run: losses, parameters, moments and Table 1 to
1e-12 (the stand-in computes with NumPy, so they agree to the bit in practice).
"""

import dataclasses
import os

import fake_gpu
import numpy
import pytest
from run_helpers import CLOCKS, TINY_SHAPES, checkpoint_arrays, config_file, shapes_file

from tagger_ref.commands.cli import main
from tagger_ref.config import PRESETS
from tagger_ref.device import backend
from tagger_ref.experiments import evaluation, optimizers, training
from tagger_ref.experiments.training import CHECKPOINT, load_checkpoint, train
from tagger_ref.maths.init import init_params, perturb_params

fake_gpu.register()
TOL = 1e-12
FakeGPUArray = fake_gpu.FakeGPUArray
TINY = PRESETS["tiny-binary"].replace(n_inputs=16, batch_size=8, num_epochs=2, seed=4)  # 5 steps an epoch


def tiny_data(n=40, seed=1, N=16):
    x = (numpy.random.default_rng(seed).random((n, N)) < 0.3).astype(numpy.float32)
    return x, x[:10]


def all_on_device(arrays, what):
    wrong = {k: type(v).__name__ for k, v in arrays.items() if not isinstance(v, FakeGPUArray)}
    assert wrong == {}, f"{what} not on the device: {wrong}"


@pytest.fixture
def fake_device(monkeypatch):
    """The stand-in as the active device, with spies that require every step to stay on it."""
    seen = {"steps": 0}
    cost_and_grad, adam_update = training.cost_and_grad, optimizers.ADAM.update

    def spy_cost_and_grad(params, config, inputs, **kwargs):
        if backend.array_module() is not fake_gpu:  # a CPU run inside the test
            return cost_and_grad(params, config, inputs, **kwargs)
        all_on_device(params, "parameters")
        all_on_device(inputs, "inputs")
        cost, grads = cost_and_grad(params, config, inputs, **kwargs)
        assert isinstance(cost, FakeGPUArray)
        all_on_device(grads, "gradients")
        return cost, grads

    def spy_adam_update(params, grads, state, lr):
        if backend.array_module() is not fake_gpu:
            return adam_update(params, grads, state, lr)
        all_on_device(state["m"], "Adam's m")
        params, state = adam_update(params, grads, state, lr)
        all_on_device(params, "updated parameters")
        all_on_device(state["m"], "updated m")
        all_on_device(state["v"], "updated v")
        seen["steps"] += 1
        return params, state

    monkeypatch.setattr(training, "cost_and_grad", spy_cost_and_grad)
    spy_adam = dataclasses.replace(optimizers.ADAM, update=spy_adam_update)
    monkeypatch.setitem(optimizers.OPTIMIZERS, "adam", spy_adam)  # the epoch loop's update
    previous = (backend.device(), backend.array_module())
    backend.use_array_module("fake", fake_gpu)
    try:
        yield seen
    finally:
        backend.use_array_module(*previous)


def assert_close_runs(device_dir, cpu_dir):
    dev, cpu = checkpoint_arrays(device_dir), checkpoint_arrays(cpu_dir)
    assert set(dev) == set(cpu)
    for key in cpu:
        if key in CLOCKS:
            continue
        assert type(dev[key]) is numpy.ndarray and dev[key].dtype == cpu[key].dtype, key
        if cpu[key].dtype.kind == "f":
            numpy.testing.assert_allclose(dev[key], cpu[key], rtol=TOL, atol=TOL, err_msg=key)
        else:
            numpy.testing.assert_array_equal(dev[key], cpu[key], err_msg=key)
    with numpy.load(os.path.join(device_dir, "params.npz")) as d, numpy.load(os.path.join(cpu_dir, "params.npz")) as c:
        for key in c.files:
            numpy.testing.assert_allclose(d[key], c[key], rtol=TOL, atol=TOL, err_msg=key)


def test_training_and_resume_on_the_device_equal_the_cpu_run(tmp_path, fake_device):
    x, v = tiny_data()
    previous = (backend.device(), backend.array_module())
    backend.use_array_module("cpu", numpy)
    try:
        train(TINY, x, v, tmp_path / "cpu")
    finally:
        backend.use_array_module(*previous)
    assert fake_device["steps"] == 0  # the spies saw nothing of the CPU run
    assert train(TINY, x, v, tmp_path / "device")["step"] == 10
    assert fake_device["steps"] == 10
    assert_close_runs(tmp_path / "device", tmp_path / "cpu")
    # stopped mid-epoch, resumed onto the device from the NumPy checkpoint
    stopped = train(TINY, x, v, tmp_path / "parts", stop_requested=iter([None, None, "SIGTERM"] + [None] * 99).__next__)
    assert stopped["step"] == 3 and load_checkpoint(tmp_path / "parts" / CHECKPOINT)[0].step == 3
    assert train(TINY, x, v, tmp_path / "parts", resume=True)["step"] == 10
    assert_close_runs(tmp_path / "parts", tmp_path / "cpu")


def test_evaluation_on_the_device_equals_the_cpu(monkeypatch):
    config = PRESETS["tiny-binary"].replace(n_inputs=16, batch_size=8)
    rng = numpy.random.default_rng(2)
    params = perturb_params(init_params(config, rng), rng)
    x = (rng.random((20, 16)) < 0.3).astype(numpy.float64)  # 3 batches, the last one short
    mask = numpy.zeros((20, 2, 16))
    mask[:, 0, :8], mask[:, 1, 8:] = 1.0, 1.0
    host = evaluation.evaluate(params, config, x, mask, numpy.random.default_rng(9), n_iterations=3)

    forward = evaluation.forward
    calls = []

    def spy_forward(params, config, inputs, **kwargs):
        all_on_device(params, "parameters")
        all_on_device(inputs, "inputs")
        trace = forward(params, config, inputs, **kwargs)
        all_on_device(trace, "forward pass")
        calls.append(1)
        return trace

    monkeypatch.setattr(evaluation, "forward", spy_forward)
    previous = (backend.device(), backend.array_module())
    backend.use_array_module("fake", fake_gpu)
    try:
        device = evaluation.evaluate(
            backend.to_device(params), config, x, mask, numpy.random.default_rng(9), n_iterations=3
        )
    finally:
        backend.use_array_module(*previous)
    assert len(calls) == 6  # 3 batches for the costs, 3 for the AMI
    for key in ("denoising_cost", "ami"):
        assert type(device[key]) is numpy.ndarray
        numpy.testing.assert_allclose(device[key], host[key], rtol=TOL, atol=TOL, err_msg=key)


def test_cli_train_and_evaluate_on_device_gpu_equal_cpu(monkeypatch, tmp_path):
    """`train --device gpu --dtype float64` and `evaluate --device gpu --dtype float64` with the
    stand-in answering for cupy, against the same commands on the CPU; float32 by default; and
    `figure --device gpu` runs."""
    data, config = shapes_file(str(tmp_path), train=20, valid=10, test=10), config_file(str(tmp_path))
    runs = {d: str(tmp_path / d) for d in ("cpu", "gpu", "gpu32")}
    common = ["--config", config, "--data", data, "--epochs", "1", "--no-progress"]
    assert main(["train", *common, "--out", runs["cpu"]]) == 0
    assert main(["evaluate", runs["cpu"], "--data", data, "--iterations", "2"]) == 0
    monkeypatch.setitem(__import__("sys").modules, "cupy", fake_gpu.cupy_module())
    try:
        assert main(["train", *common, "--out", runs["gpu"], "--device", "gpu", "--dtype", "float64"]) == 0
        assert backend.device() == "gpu" and backend.array_module().ndarray is FakeGPUArray
        assert (
            main(
                ["evaluate", runs["gpu"], "--data", data, "--iterations", "2", "--device", "gpu", "--dtype", "float64"]
            )
            == 0
        )
        assert main(["train", *common, "--out", runs["gpu32"], "--device", "gpu"]) == 0
        assert (
            main(
                [
                    "figure",
                    "group-removal",
                    runs["gpu"],
                    "--data",
                    data,
                    "--out",
                    str(tmp_path / "fig"),
                    "--iterations",
                    "2",
                    "--device",
                    "gpu",
                ]
            )
            == 0
        )
    finally:
        backend.use_device("cpu")
    assert_close_runs(runs["gpu"], runs["cpu"])
    gpu_table = numpy.loadtxt(os.path.join(runs["gpu"], "table1.csv"), delimiter=",", skiprows=1)
    cpu_table = numpy.loadtxt(os.path.join(runs["cpu"], "table1.csv"), delimiter=",", skiprows=1)
    numpy.testing.assert_allclose(gpu_table, cpu_table, rtol=TOL, atol=TOL)
    stored = load_checkpoint(os.path.join(runs["gpu32"], CHECKPOINT))[1]
    assert TINY_SHAPES.dtype == "float64" and stored.dtype == "float32"  # the GPU's default dtype
    assert (tmp_path / "fig" / "group_removal.png").exists()
    # a float32 GPU run resumes on the CPU in float32 (without --dtype a resume keeps the run's dtype)
    assert main(["train", "--data", data, "--out", runs["gpu32"], "--resume", "--epochs", "2", "--no-progress"]) == 0
    assert load_checkpoint(os.path.join(runs["gpu32"], CHECKPOINT))[0].step == 4


@pytest.mark.parametrize(
    "command", [["train", "--config", "tiny-binary", "--data", "none.npz", "--out", "RUN"], ["demo", "--out", "RUN"]]
)
def test_cli_device_gpu_without_cupy_fails_in_one_line(tmp_path, capsys, command):
    try:
        import cupy  # noqa: F401

        pytest.skip("CuPy is installed here")
    except ImportError:
        pass
    argv = [str(tmp_path / "run") if a == "RUN" else a for a in command] + ["--device", "gpu"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: --device gpu requested but CuPy is not installed")
    assert not (tmp_path / "run").exists()
    assert backend.device() == "cpu"


def test_semi_supervised_training_and_table2_on_the_device_equal_the_cpu(tmp_path, fake_device):
    config = PRESETS["tiny-classify"].replace(batch_size=5, labeled_samples=10, n_iterations=2)  # 4 steps
    rng = numpy.random.default_rng(3)
    x = rng.random((20, 6)).astype(numpy.float32)
    y = numpy.stack([numpy.arange(20) % 10, rng.integers(0, 10, 20)], axis=1)
    previous = (backend.device(), backend.array_module())
    backend.use_array_module("cpu", numpy)
    try:
        train(config, x, x[:10], tmp_path / "cpu", train_y=y, valid_y=y[:10])
    finally:
        backend.use_array_module(*previous)
    assert train(config, x, x[:10], tmp_path / "device", train_y=y, valid_y=y[:10])["step"] == 4
    assert fake_device["steps"] == 4
    assert_close_runs(tmp_path / "device", tmp_path / "cpu")
    params = load_checkpoint(tmp_path / "cpu" / CHECKPOINT)[0].params
    mask = numpy.zeros((20, 2, 6))
    mask[:, 0, :3], mask[:, 1, 3:] = 1.0, 1.0
    host_config = config.replace(dtype="float64")
    backend.use_array_module("cpu", numpy)
    try:
        host = evaluation.evaluate_classifier(params, host_config, x, y, numpy.random.default_rng(4), 2, mask=mask)
    finally:
        backend.use_array_module(*previous)
    device = evaluation.evaluate_classifier(
        backend.to_device(params), host_config, x, y, numpy.random.default_rng(4), 2, mask=mask
    )
    for key in ("denoising_cost", "class_cost", "class_probs", "class_error", "ami"):
        assert type(device[key]) is numpy.ndarray
        numpy.testing.assert_allclose(device[key], host[key], rtol=TOL, atol=TOL, err_msg=key)
