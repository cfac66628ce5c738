"""The trainer on a toy problem: 2 mice x 10 neurons, tiny 12x16 images, a known linear-nonlinear truth."""

import itertools
import logging
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from v1twin import checkpoint, metrics, model_run, training, walltime
from v1twin.data.tensors import MouseTensors, prepare_mouse
from v1twin.files import content_digest
from v1twin.models import build_model
from v1twin.training import EarlyStopping, TrainingConfig, TrainingError

from helpers import TOY_TRIALS, toy_mouse, training_settings

VARIANT = {
    "core": {"type": "cnn", "channels": 4, "layers": 2, "input_kernel": 5, "hidden_kernel": 3},
    "readout": {"type": "gaussian"},
}
N_TRAIN = TOY_TRIALS.train


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def toy() -> tuple[dict[str, MouseTensors], dict[str, np.ndarray]]:
    data, rates = {}, {}
    for seed, name in enumerate(["mouse_a", "mouse_b"]):
        arrays, rates[name] = toy_mouse(seed)
        data[name] = prepare_mouse(name, arrays, image_scale=1.0)
    return data, rates


def new_model(data: dict[str, MouseTensors], seed: int = 0):
    training.seed_everything(seed)
    mice = {name: training.mouse_info(mouse) for name, mouse in data.items()}
    return build_model(VARIANT, mice, next(iter(data.values())).input_shape)


def config(**overrides) -> TrainingConfig:
    return TrainingConfig.from_dict(training_settings(**{"batch_size": 16, "lr": 0.01, "max_epochs": 4, **overrides}))


def without_seconds(history: list[dict]) -> list[dict]:
    return [{key: value for key, value in row.items() if key != "seconds"} for row in history]


def assert_same_weights(first: torch.nn.Module, second: torch.nn.Module) -> None:
    second_state = second.state_dict()
    for key, value in first.state_dict().items():
        assert torch.equal(value, second_state[key]), key


# ---------------------------------------------------------------------------------------------
# Configuration and loss


def test_config_defaults_come_from_the_schema_and_every_key_is_required() -> None:
    defaults = TrainingConfig.from_dict(training_settings())
    assert (defaults.batch_size, defaults.lr, defaults.max_epochs, defaults.patience) == (64, 0.005, 100, 5)
    assert (defaults.lr_decay_factor, defaults.lr_decay_steps, defaults.min_lr) == (0.3, 4, 1e-4)
    assert defaults.position_network_lr_factor == 1.0  # L21's full rate
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['learning_rate'\]"):
        TrainingConfig.from_dict(training_settings(learning_rate=0.1))
    settings = training_settings()
    del settings["patience"]
    with pytest.raises(ValueError, match=r"missing key\(s\) \['patience'\]"):
        TrainingConfig.from_dict(settings)


def test_poisson_loss_by_hand() -> None:
    # (1 − 0·log 1) + (2 − 3·log 2) + (0.5 − 1·log 0.5) = 3.5 − 3 log 2 + log 2 = 3.5 − 2 log 2
    prediction = torch.tensor([[1.0, 2.0], [0.5, 1.0]])
    target = torch.tensor([[0.0, 3.0], [1.0, 0.0]])
    expected = 1.0 + (2 - 3 * math.log(2)) + (0.5 - math.log(0.5)) + 1.0
    assert training.poisson_loss(prediction, target).item() == pytest.approx(expected, rel=1e-6)


def test_loss_scale_by_hand() -> None:
    assert training.loss_scale(6400, 64) == pytest.approx(10.0)
    assert training.loss_scale(80, 20) == pytest.approx(2.0)


def test_mouse_objective_is_scaled_poisson_plus_regularizer(toy) -> None:
    data, _ = toy
    model = new_model(data).eval()  # evaluation mode: the readout reads at μ, so the objective is deterministic
    mouse = data["mouse_b"]
    idx = torch.arange(10)
    with torch.no_grad():
        prediction = model(mouse.inputs(idx), "mouse_b", mouse.pupil_center[idx])
        poisson = training.poisson_loss(prediction, mouse.responses[idx])
        regularizer = model.regularizer("mouse_b")
        objective = training.mouse_objective(model, mouse, idx, N_TRAIN, torch.device("cpu"))
    assert objective.item() == pytest.approx((math.sqrt(N_TRAIN / 10) * poisson + regularizer).item(), rel=1e-6)


# ---------------------------------------------------------------------------------------------
# Early stopping


def test_early_stopping_tolerance_and_lr_floor() -> None:
    model = torch.nn.Linear(1, 1)
    settings = config(lr=1e-3, patience=1, tolerance=0.01, lr_decay_steps=3, min_lr=5e-4)
    optimizer = training.make_optimizer(model, settings)
    stopper = EarlyStopping(settings, model)
    assert not stopper.update(0.5, 1, model, optimizer)
    assert not stopper.update(0.505, 2, model, optimizer)  # within tolerance: not an improvement
    assert stopper.best_epoch == 1
    assert optimizer.param_groups[0]["lr"] == pytest.approx(5e-4)  # 1e-3·0.3 floored at min_lr
    assert not stopper.update(0.4, 3, model, optimizer)
    assert stopper.update(0.4, 4, model, optimizer)  # third decay step: stop


def test_position_networks_learn_at_a_fraction_of_the_rate_through_every_decay(toy) -> None:
    data, _ = toy
    training.seed_everything(0)
    mice = {name: training.mouse_info(mouse) for name, mouse in data.items()}
    variant = {**VARIANT, "readout": {"type": "gaussian", "position_network": True}}
    model = build_model(variant, mice, next(iter(data.values())).input_shape)
    factor = 0.05
    settings = config(patience=1, lr_decay_steps=9, min_lr=1e-3, position_network_lr_factor=factor)
    optimizer = training.make_optimizer(model, settings)
    main, network = optimizer.param_groups
    assert len(network["params"]) == 4 * len(data)  # two Linear layers per mouse
    assert len(main["params"]) + len(network["params"]) == len(list(model.parameters()))
    assert network["lr"] == pytest.approx(0.01 * factor)
    stopper = EarlyStopping(settings, model)
    stopper.update(0.5, 1, model, optimizer)
    for epoch in range(2, 5):  # three decays: 0.01 -> 3e-3 -> 1e-3 (floor) -> 1e-3
        stopper.update(0.4, epoch, model, optimizer)
        assert network["lr"] == pytest.approx(main["lr"] * factor)
    assert main["lr"] == pytest.approx(1e-3)
    # the default is L21's full rate; without a position network there is one group
    assert training.make_optimizer(model, config()).param_groups[1]["lr"] == pytest.approx(0.01)
    assert len(training.make_optimizer(new_model(data), config()).param_groups) == 1


def test_early_stopping_restores_best_weights_and_decays_lr(toy, tmp_path: Path, monkeypatch) -> None:
    data, _ = toy
    scores = iter([0.1, 0.3, 0.2, 0.2, 0.25, 0.29, 0.9])
    monkeypatch.setattr(training, "validation_correlation", lambda model, data: next(scores))
    snapshots = {}
    model = new_model(data)

    def snapshot(epoch: int) -> None:
        snapshots[epoch] = {key: value.clone() for key, value in model.state_dict().items()}

    cfg = config(patience=2, lr_decay_steps=2, max_epochs=20)
    result = training.train(model, data, cfg, tmp_path, 0, VARIANT, on_epoch_end=snapshot)
    # epochs 3-4 exhaust patience: restore epoch 2, lr·0.3; epochs 5-6 exhaust it again: stop
    assert result.epochs == 6
    assert (result.best_epoch, result.best_score) == (2, 0.3)
    assert [row["lr"] for row in result.history] == pytest.approx([0.01] * 4 + [0.003] * 2)
    for key, value in model.state_dict().items():
        assert torch.equal(value, snapshots[2][key]), key
    # the restore at epoch 4 undid training: epoch 4 ends with epoch 2's weights, epoch 3 had moved on
    assert torch.equal(snapshots[4]["core.input_conv.weight"], snapshots[2]["core.input_conv.weight"])
    assert not torch.equal(snapshots[3]["core.input_conv.weight"], snapshots[2]["core.input_conv.weight"])


def test_non_finite_objective_aborts_naming_epoch_and_mouse(toy, tmp_path: Path) -> None:
    data, _ = toy
    broken = dict(data)
    mouse = data["mouse_b"]
    broken["mouse_b"] = MouseTensors(**{**vars(mouse), "responses": torch.full_like(mouse.responses, float("nan"))})
    with pytest.raises(TrainingError, match=r"non-finite objective .* epoch 1, step 0, mouse mouse_b"):
        training.train(new_model(data), broken, config(), tmp_path, 0, VARIANT)


# ---------------------------------------------------------------------------------------------
# Reproducibility and resuming


def test_same_seed_gives_identical_results(toy, tmp_path: Path) -> None:
    data, _ = toy
    runs = []
    for run in ("first", "second"):
        model = new_model(data, seed=3)
        result = training.train(model, data, config(max_epochs=3), tmp_path / run, 3, VARIANT)
        runs.append((without_seconds(result.history), training.evaluate(model, data, "test")))
    assert runs[0] == runs[1]


def test_killed_and_resumed_run_matches_uninterrupted_run(toy, tmp_path: Path) -> None:
    data, _ = toy
    cfg = config(max_epochs=6, patience=1, lr_decay_steps=3)
    reference = new_model(data)
    uninterrupted = training.train(reference, data, cfg, tmp_path / "uninterrupted", 0, VARIANT)

    class Killed(Exception):
        pass

    def kill_after_epoch_3(epoch: int) -> None:
        if epoch == 3:
            raise Killed

    workdir = tmp_path / "killed"
    with pytest.raises(Killed):
        training.train(new_model(data), data, cfg, workdir, 0, VARIANT, on_epoch_end=kill_after_epoch_3)
    assert (workdir / training.STATE_FILE).exists()
    resumed_model = new_model(data, seed=123)  # a different init: everything must come from the checkpoint
    resumed = training.train(resumed_model, data, cfg, workdir, 0, VARIANT, history_path=tmp_path / "log.csv")

    assert without_seconds(resumed.history) == without_seconds(uninterrupted.history)
    assert (resumed.epochs, resumed.best_epoch) == (uninterrupted.epochs, uninterrupted.best_epoch)
    assert_same_weights(reference, resumed_model)
    lines = (tmp_path / "log.csv").read_text().splitlines()
    assert lines[0] == "epoch,train_loss,val_correlation,lr,seconds"
    assert len(lines) == 1 + resumed.epochs


def test_stop_signal_checkpoints_mid_epoch_and_the_rerun_matches_an_uninterrupted_run(
        toy, tmp_path: Path, monkeypatch, caplog, send_stop_signal) -> None:
    data, _ = toy
    cfg = config(max_epochs=3)
    reference = new_model(data)
    uninterrupted = training.train(reference, data, cfg, tmp_path / "uninterrupted", 0, VARIANT)

    objective, calls = training.mouse_objective, itertools.count(1)

    def signal_in_epoch_2(*args):
        if next(calls) == 17:  # 5 steps x 2 mice per epoch: epoch 2, step 4, first mouse
            send_stop_signal()
        return objective(*args)

    monkeypatch.setattr(training, "mouse_objective", signal_in_epoch_2)
    workdir = tmp_path / "stopped"
    with pytest.raises(walltime.StopRequested, match="in epoch 2 after step 4 of 5"):
        training.train(new_model(data), data, cfg, workdir, 0, VARIANT)
    monkeypatch.setattr(training, "mouse_objective", objective)
    monkeypatch.setattr(walltime, "_requested", False)  # the retry is a new process

    caplog.set_level(logging.INFO, logger="v1twin.training")
    resumed_model = new_model(data, seed=123)  # a different init: everything must come from the checkpoint
    resumed = training.train(resumed_model, data, cfg, workdir, 0, VARIANT)
    assert "after epoch 1 and step 4 of epoch 2" in caplog.text
    assert without_seconds(resumed.history) == without_seconds(uninterrupted.history)
    assert_same_weights(reference, resumed_model)


def test_finished_state_is_reused_without_training(toy, tmp_path: Path, monkeypatch) -> None:
    # a job killed after training but before model.pt was written: the rerun must not train again
    data, _ = toy
    first_model = new_model(data)
    first = training.train(first_model, data, config(max_epochs=2), tmp_path, 0, VARIANT)
    monkeypatch.setattr(training, "_train_epoch", lambda *args: pytest.fail("trained again"))
    second_model = new_model(data, seed=5)
    second = training.train(second_model, data, config(max_epochs=2), tmp_path, 0, VARIANT)
    assert second.history == first.history
    assert_same_weights(first_model, second_model)


def test_state_of_another_run_is_refused(toy, tmp_path: Path) -> None:
    data, _ = toy
    training.train(new_model(data), data, config(max_epochs=1), tmp_path, 0, VARIANT)
    with pytest.raises(checkpoint.CheckpointError, match="different run.*Delete the file"):
        training.train(new_model(data), data, config(max_epochs=1), tmp_path, 1, VARIANT)


def test_state_left_by_a_run_on_other_input_contents_is_refused(toy, tmp_path: Path) -> None:
    """Snakemake reruns a killed job after its inputs changed: the old state must not be resumed."""
    data, _ = toy
    cache = tmp_path / "mouse.cache"
    cache.mkdir()
    (cache / "responses.npy").write_bytes(b"first simulation")
    workdir = tmp_path / "run"
    training.train(new_model(data), data, config(max_epochs=1), workdir, 0, VARIANT,
                   input_digests=[content_digest(cache)])

    moved = tmp_path / "moved" / "mouse.cache"  # the same contents elsewhere: still this run
    moved.parent.mkdir()
    cache.rename(moved)
    training.train(new_model(data), data, config(max_epochs=1), workdir, 0, VARIANT,
                   input_digests=[content_digest(moved)])

    (moved / "responses.npy").write_bytes(b"second simulation")
    with pytest.raises(checkpoint.CheckpointError, match="contents of its input files differ"):
        training.train(new_model(data), data, config(max_epochs=1), workdir, 0, VARIANT,
                       input_digests=[content_digest(moved)])


# ---------------------------------------------------------------------------------------------
# Learning, evaluation, saving


def test_training_improves_validation_correlation(toy, tmp_path: Path) -> None:
    data, rates = toy
    model = new_model(data)
    before = training.validation_correlation(model, data)
    result = training.train(model, data, config(max_epochs=20), tmp_path, 0, VARIANT)
    after = training.validation_correlation(model, data)
    assert after == pytest.approx(result.best_score)  # the best weights are the final ones
    assert after > before + 0.2
    scores = training.evaluate(model, data, "test", ground_truth=rates)["mean"]
    assert scores["ground_truth_correlation"] > 0.5


def test_evaluate_matches_metrics_on_predictions(toy) -> None:
    data, rates = toy
    model = new_model(data)
    result = training.evaluate(model, data, "test", ground_truth=rates)
    mouse = data["mouse_a"]
    idx = mouse.indices("test")
    responses = mouse.responses[idx].numpy()
    predictions = training.predict(model, mouse, idx, batch_size=7)
    measures = result["per_mouse"]["mouse_a"]
    correlation = metrics.correlation(responses, predictions)
    assert measures["single_trial_correlation"] == pytest.approx(correlation.mean())
    assert measures["oracle"] == pytest.approx(metrics.jackknife_oracle(responses, mouse.image_ids[idx]).mean())
    assert measures["ground_truth_correlation"] == pytest.approx(
        metrics.correlation(rates["mouse_a"][idx], predictions).mean()
    )
    both = [result["per_mouse"][name]["single_trial_correlation"] for name in data]
    assert result["mean"]["single_trial_correlation"] == pytest.approx(np.mean(both))
    assert result["mean"]["n_neurons"] == 20
    # the validation tier has no repeats: repeat-based measures are undefined there
    assert np.isnan(training.evaluate(model, data, "validation")["mean"]["oracle"])


def test_saved_model_round_trip(toy, tmp_path: Path) -> None:
    data, _ = toy
    model = new_model(data)
    training.train(model, data, config(max_epochs=1), tmp_path, 0, VARIANT)
    mice = {name: training.mouse_info(mouse) for name, mouse in data.items()}
    unit_ids = {name: np.arange(10) + 100 for name in data}
    path = tmp_path / "model.pt"
    model_run.save_model(path, model, VARIANT, mice, data["mouse_a"].input_shape, {"seed": 0, "unit_ids": unit_ids})

    loaded = model_run.load_model(path)
    assert_same_weights(model, loaded)
    idx = data["mouse_b"].indices("test")
    np.testing.assert_array_equal(
        training.predict(model, data["mouse_b"], idx), training.predict(loaded, data["mouse_b"], idx)
    )
    content = model_run.read_model_file(path)
    assert content["extras"]["seed"] == 0
    np.testing.assert_array_equal(content["extras"]["unit_ids"]["mouse_a"], unit_ids["mouse_a"])
    np.testing.assert_array_equal(content["mice"]["mouse_a"]["mean_response"], mice["mouse_a"].mean_response)
