"""Video models through the shared trainer: crops and burn-in, ρ_st, resume, determinism, learning, model files.

A tiny simulated video mouse (30 neurons, 18x32 frames, 40-frame trials) written as a Sensorium 2023 tree
and cached, as the workflow does.
"""

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from v1twin import metrics, model_run, training, walltime
from v1twin.data import DataError
from v1twin.data.dynamic_cache import build_dynamic_cache, is_dynamic_cache
from v1twin.data.sensorium_dynamic import write_dynamic_mouse
from v1twin.data.simulate_dynamic import simulate_dynamic_mouse
from v1twin.data.video_tensors import load_video_mice
from v1twin.models import build_model
from v1twin.models.dynamic_cores import PerFrameReadout
from v1twin.training import TrainingConfig
from v1twin.video_training import VideoClips, VideoSettings, crop_loss, crop_starts, video_objective

from helpers import training_settings

MOUSE = "video_mouse"
SIMULATION = {"neurons": 30, "n_train": 24, "n_oracle_clips": 2, "n_test_clips": 1, "test_repeats": 2,
              "trial_length": 40, "padded_length": 48, "image_height": 18, "image_width": 32, "n_types": 2}
VARIANT = {
    "core": {"type": "rotation_equivariant_3d", "channels": 4, "rotations": 4, "layers": 2, "input_kernel": 5,
             "hidden_kernel": 3, "input_kernel_time": 5, "hidden_kernel_time": 3, "gamma_input": 1.0},
    "readout": {"type": "gaussian", "shifter": True},
}
SETTINGS = VideoSettings(scored_from=10, crop_frames=20, burn_in_frames=6)
KIND = VideoClips(SETTINGS)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """The mouse's cache folder, its arrays as simulated and the ground truth."""
    folder = tmp_path_factory.mktemp("video")
    arrays, truth = simulate_dynamic_mouse(SIMULATION, seed=1, stimulus_seed=0)
    write_dynamic_mouse(folder / MOUSE, arrays)
    build_dynamic_cache(folder / MOUSE, folder / "cache")
    return folder / "cache", arrays, truth


@pytest.fixture(scope="module")
def data(simulated):
    return load_video_mice({MOUSE: simulated[0]})


def new_model(data, seed: int = 0, variant=VARIANT):
    training.seed_everything(seed)
    mice = {name: KIND.mouse_info(mouse) for name, mouse in data.items()}
    return build_model(variant, mice, next(iter(data.values())).input_shape)


def config(**overrides) -> TrainingConfig:
    return TrainingConfig.from_dict(training_settings(**{"batch_size": 8, "lr": 0.01, "max_epochs": 3, **overrides}))


def without_seconds(history):
    return [{key: value for key, value in row.items() if key != "seconds"} for row in history]


def assert_same_weights(first, second) -> None:
    second_state = second.state_dict()
    for key, value in first.state_dict().items():
        assert torch.equal(value, second_state[key]), key


# ---------------------------------------------------------------------------------------------
# Metrics: known answers


def test_video_correlation_scores_the_frames_from_scored_from_on_of_all_trials() -> None:
    # neuron 0: scored frames 1, 2, 3 against 2, 4, 6 -> 1; neuron 1: 1, 2, 3 against 3, 2, 1 -> -1
    responses = [np.array([[9, 9], [9, 9], [1, 1], [2, 2]]), np.array([[9, 9], [9, 9], [3, 3]])]
    predictions = [np.array([[0, 0], [0, 0], [2, 3], [4, 2]]), np.array([[5, 5], [5, 5], [6, 1]])]
    np.testing.assert_allclose(metrics.video_correlation(responses, predictions, 2), [1.0, -1.0])
    np.testing.assert_array_equal(metrics.scored_frames(responses, 2)[:, 0], [1, 2, 3])
    with pytest.raises(ValueError, match="no frames from frame 5"):
        metrics.scored_frames(responses, 5)


def test_repeated_frame_ids_pair_the_same_frame_of_every_repeat() -> None:
    ids = metrics.repeated_frame_ids(np.array([7, 5, 7]), np.array([4, 3, 4]), scored_from=1)
    np.testing.assert_array_equal(ids, [5, 6, 7, 1, 2, 5, 6, 7])
    with pytest.raises(ValueError, match="repeats of clip 7 differ in length"):
        metrics.repeated_frame_ids(np.array([7, 7]), np.array([4, 3]), scored_from=0)
    # clip A shown twice (frames: 1 3 and 3 5 -> average 2 4), clip B once (frames 6 8): averages 2 4 6 8
    responses = np.array([[1.0], [3.0], [3.0], [5.0], [6.0], [8.0]])
    predictions = np.array([[0.0], [1.0], [0.0], [1.0], [2.0], [3.0]])
    ids = metrics.repeated_frame_ids(np.array([0, 0, 1]), np.array([2, 2, 2]), scored_from=0)
    np.testing.assert_allclose(metrics.correlation_to_average(responses, predictions, ids), [1.0])


# ---------------------------------------------------------------------------------------------
# Data view, crops and loss


def test_the_view_reads_trials_at_their_true_length_and_finds_repeats_by_content(simulated, data) -> None:
    cache, arrays, truth = simulated
    mouse = data[MOUSE]
    assert is_dynamic_cache(cache)
    assert mouse.input_shape == (5, 18, 32)
    np.testing.assert_array_equal(mouse.lengths, arrays.lengths)
    trial = int(mouse.indices("oracle")[0])
    np.testing.assert_allclose(mouse.responses(trial), arrays.responses[trial].T / mouse.units.response_scale,
                               rtol=1e-6)
    # repeats: identical content hash exactly where the simulator showed the same clip
    same_hash = mouse.clip_ids[:, None] == mouse.clip_ids[None, :]
    np.testing.assert_array_equal(same_hash, truth["clip_id"][:, None] == truth["clip_id"][None, :])


def test_crops_stay_within_each_trial_and_never_read_padding(data) -> None:
    mouse = data[MOUSE]
    schedule = KIND.schedule(data, 8, torch.Generator().manual_seed(0))[MOUSE]
    assert len(schedule) == 3
    for trials, starts in schedule:
        assert set(trials) <= set(mouse.indices("train"))
        assert np.all(starts >= 0) and np.all(starts + SETTINGS.crop_frames <= mouse.lengths[trials])
        batch = mouse.crops(trials, starts, SETTINGS.crop_frames)
        assert batch.inputs.shape == (len(trials), 5, SETTINGS.crop_frames, 18, 32)
        assert batch.responses.shape == (len(trials), SETTINGS.crop_frames, 30)
        for tensor in (batch.inputs, batch.responses, batch.pupil_center):
            assert torch.isfinite(tensor).all()
    # uniform over the possible starts: a 40-frame trial allows starts 0..20
    starts = crop_starts(np.full(4000, 40), 20, torch.Generator().manual_seed(1))
    assert starts.min() == 0 and starts.max() == 20
    with pytest.raises(ValueError, match="leaves trials"):
        mouse.crops(mouse.indices("train")[:1], np.array([30]), 20)


def test_a_training_trial_shorter_than_a_crop_is_refused_naming_mouse_and_trial(data) -> None:
    with pytest.raises(DataError, match=rf"mouse {MOUSE}: training trial \d+ has only 40 frames, fewer than "
                                        r"crop_frames = 41"):
        VideoClips(VideoSettings(scored_from=10, crop_frames=41, burn_in_frames=6)).check(data)


def test_crop_loss_and_objective_by_hand(data) -> None:
    generator = torch.Generator().manual_seed(0)
    prediction = torch.rand(2, 5, 3, generator=generator) + 0.1
    target = torch.rand(2, 5, 3, generator=generator)
    by_hand = sum(float(prediction[b, t, n]) - float(target[b, t, n]) * np.log(float(prediction[b, t, n]) + 1e-8)
                  for b in range(2) for t in range(2, 5) for n in range(3))
    assert float(crop_loss(prediction, target, 2)) == pytest.approx(by_hand, rel=1e-5)

    mouse, model = data[MOUSE], new_model(data)
    trials, starts = mouse.indices("train")[:4], np.array([0, 3, 20, 7])
    with torch.no_grad():
        objective = video_objective(model.eval(), mouse, trials, starts, SETTINGS, 24, torch.device("cpu"))
    batch = mouse.crops(trials, starts, SETTINGS.crop_frames)
    with torch.no_grad():
        output = model(batch.inputs, MOUSE, batch.pupil_center)
        expected = (np.sqrt(24 / 4) * crop_loss(output, batch.responses, SETTINGS.burn_in_frames)
                    + model.regularizer(MOUSE))
    assert output.shape == (4, SETTINGS.crop_frames, 30) and bool((output > 0).all())
    assert float(objective) == pytest.approx(float(expected), rel=1e-6)


# ---------------------------------------------------------------------------------------------
# The trainer: determinism, resume, learning


def test_same_seed_gives_identical_runs(data, tmp_path: Path) -> None:
    runs = []
    for run in ("first", "second"):
        model = new_model(data, seed=3)
        result = training.train(model, data, config(max_epochs=2), tmp_path / run, 3, VARIANT, kind=KIND)
        runs.append((without_seconds(result.history), model))
    assert runs[0][0] == runs[1][0]
    assert_same_weights(runs[0][1], runs[1][1])


def test_a_stop_inside_an_epoch_resumes_to_the_uninterrupted_run(data, tmp_path: Path, monkeypatch,
                                                                  send_stop_signal) -> None:
    reference = new_model(data)
    uninterrupted = training.train(reference, data, config(), tmp_path / "uninterrupted", 0, VARIANT, kind=KIND)

    objective, calls = KIND.objective, itertools.count(1)

    def signal_in_epoch_2(*args):
        if next(calls) == 5:  # 3 steps per epoch: epoch 2, step 2
            send_stop_signal()
        return objective(*args)

    monkeypatch.setattr(KIND, "objective", signal_in_epoch_2)
    workdir = tmp_path / "stopped"
    with pytest.raises(walltime.StopRequested, match="in epoch 2 after step 2 of 3"):
        training.train(new_model(data), data, config(), workdir, 0, VARIANT, kind=KIND)
    monkeypatch.setattr(KIND, "objective", objective)
    monkeypatch.setattr(walltime, "_requested", False)  # the retry is a new process

    resumed_model = new_model(data, seed=123)  # a different init: everything must come from the checkpoint
    resumed = training.train(resumed_model, data, config(), workdir, 0, VARIANT, kind=KIND)
    assert without_seconds(resumed.history) == without_seconds(uninterrupted.history)
    assert_same_weights(reference, resumed_model)


def test_other_video_settings_refuse_the_state(data, tmp_path: Path) -> None:
    training.train(new_model(data), data, config(max_epochs=1), tmp_path, 0, VARIANT, kind=KIND)
    other = VideoClips(VideoSettings(scored_from=10, crop_frames=16, burn_in_frames=6))
    with pytest.raises(Exception, match="different run"):
        training.train(new_model(data), data, config(max_epochs=1), tmp_path, 0, VARIANT, kind=other)


def test_a_trained_run_improves_rho_and_its_files_round_trip(simulated, data, tmp_path: Path) -> None:
    _, _, truth = simulated
    model = new_model(data)
    before = KIND.validation_score(model, data)
    cfg = config(max_epochs=12, lr=0.02)
    result = training.train(model, data, cfg, tmp_path, 0, VARIANT, kind=KIND)
    assert result.best_score > before + 0.1, (before, result.best_score)
    files = model_run.RunFiles(tmp_path / "model.pt", tmp_path / "log.csv", tmp_path / "metrics.json")
    model_run.finish_run(files, model, data, VARIANT, seed=0, image_scale=1.0, config=cfg, result=result,
                         rates={MOUSE: truth["rates"]}, kind=KIND)
    mean = json.loads(files.metrics.read_text())["mean"]
    for key in ("single_trial_correlation", "correlation_to_average", "oracle", "fraction_oracle",
                "ground_truth_correlation", "validation_single_trial_correlation"):
        assert np.isfinite(mean[key]), key
    assert not (tmp_path / training.STATE_FILE).exists()

    run = model_run.load_run(files.model, torch.device("cpu"))
    assert isinstance(run.model.readouts[MOUSE], PerFrameReadout)
    assert run.model.readouts[MOUSE].features.shape == (30, 16)
    assert (run.model.core.n_features, run.model.core.rotations) == (4, 4)
    assert_same_weights(model, run.model)
    batch = data[MOUSE].trial(int(data[MOUSE].indices("oracle")[0]))
    with torch.no_grad():
        np.testing.assert_array_equal(run.model(batch.inputs, MOUSE, batch.pupil_center).numpy(),
                                      model.eval()(batch.inputs, MOUSE, batch.pupil_center).numpy())


def test_a_video_core_needs_the_gaussian_readout(data) -> None:
    with pytest.raises(ValueError, match="needs a gaussian readout"):
        new_model(data, variant={**VARIANT, "readout": {"type": "factorized"}})
    factorized = {**VARIANT, "core": {**VARIANT["core"], "type": "rotation_equivariant_factorized"}}
    assert new_model(data, variant=factorized).core.__class__.__name__ == "RotationEquivariantFactorizedCore"


def test_zeroed_test_responses_give_nan_single_trial_correlation(data, monkeypatch, caplog) -> None:
    mouse = data[MOUSE]
    test = set(mouse.indices("final_test_main").tolist())
    responses = mouse.responses
    monkeypatch.setattr(mouse, "responses", lambda t: responses(t) * (t not in test))  # a competition mouse
    measures = KIND.evaluate(new_model(data), data, None)["per_mouse"][MOUSE]
    assert np.isnan(measures["single_trial_correlation"])
    assert np.isfinite(measures["validation_single_trial_correlation"])
    assert "responses are all zero" in caplog.text
