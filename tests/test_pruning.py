"""Channel pruning (METHODS §6): masks, the greedy choice, fine-tuning and the selection over seeds."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.transforms import Bbox

from v1twin import pruning, training
from v1twin.config import check_references, expand_variants
from v1twin.config_schema import ConfigError, with_defaults
from v1twin.data.tensors import MouseTensors, prepare_mouse
from v1twin.files import content_digest
from v1twin.models import build_model
from v1twin.plots import pruning as pruning_plots
from v1twin.training import TrainingConfig

from helpers import (
    Trials,
    assert_figure_files,
    errorbar_curves,
    legend_labels,
    legends_off_the_data,
    mouse_arrays,
    scatter_points,
    tiny_config,
    training_settings,
)

ROTATION_VARIANT = {
    "core": {
        "type": "rotation_equivariant",
        "channels": 3,
        "rotations": 4,
        "layers": 2,
        "input_kernel": 5,
        "hidden_kernel": 3,
    },
    "readout": {"type": "gaussian"},
}
CNN_VARIANT = {
    "core": {"type": "cnn", "channels": 4, "layers": 2, "input_kernel": 5, "hidden_kernel": 3},
    "readout": {"type": "gaussian", "regularizer": "l1", "gamma": 0.1},
}
TRIALS, N_NEURONS = Trials(train=48, validation=24), 12


pytestmark = pytest.mark.usefixtures("one_thread")


def random_mouse(name: str, seed: int, height: int = 12, width: int = 16) -> MouseTensors:
    """Noise images with placeholder responses (tests overwrite them with a teacher model's)."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 255, (TRIALS.count, 1, height, width))
    responses = rng.gamma(2.0, 1.0, (TRIALS.count, N_NEURONS))
    return prepare_mouse(name, mouse_arrays(TRIALS, images, responses, rng), image_scale=1.0)


def new_model(variant: dict, data: dict[str, MouseTensors], seed: int = 0):
    training.seed_everything(seed)
    mice = {name: training.mouse_info(mouse) for name, mouse in data.items()}
    return build_model(variant, mice, next(iter(data.values())).input_shape).eval()


@pytest.fixture(scope="module")
def teacher_data() -> tuple[dict[str, MouseTensors], dict]:
    """Two mice whose responses are a random CNN model's predictions plus noise, and that model's weights."""
    data = {name: random_mouse(name, seed) for seed, name in enumerate(["m1", "m2"])}
    teacher = new_model(CNN_VARIANT, data, seed=5)
    generator = torch.Generator().manual_seed(0)
    for mouse in data.values():
        rates = torch.as_tensor(training.predict(teacher, mouse, np.arange(len(mouse.tiers))))
        mouse.responses = rates + 0.05 * torch.randn(rates.shape, generator=generator)
    return data, teacher.state_dict()


def teacher(teacher_data):
    data, state = teacher_data
    model = new_model(CNN_VARIANT, data)
    model.load_state_dict(state)
    return model


# ----------------------------------------------------------------------------------------------
# Masks


def test_masking_a_feature_zeroes_all_its_rotations_and_nothing_else():
    data = {"m1": random_mouse("m1", 0)}
    model = new_model(ROTATION_VARIANT, data)
    core = model.core
    inputs = data["m1"].inputs(np.arange(6))
    with torch.no_grad():
        full = core(inputs)
        with pruning.feature_masked(core, 1):
            masked = core(inputs)
    channels = [rotation * 3 + 1 for rotation in range(4)]  # rotation-major: index = r·F + f
    assert core.feature_channels(1) == channels
    assert torch.all(masked[:, channels] == 0)
    others = [c for c in range(core.output_channels) if c not in channels]
    assert torch.equal(masked[:, others], full[:, others])
    assert torch.all(full[:, channels] != 0)  # ELU outputs: the mask, not the data, made them zero
    assert torch.equal(core.channel_mask, torch.ones(12))  # restored after the block


def test_masking_removes_exactly_the_features_contribution_to_the_responses():
    """Masking = setting the readout weights of the feature's channels to zero in every mouse."""
    data = {name: random_mouse(name, seed) for seed, name in enumerate(["m1", "m2"])}
    model = new_model(ROTATION_VARIANT, data)
    reference = new_model(ROTATION_VARIANT, data)
    channels = model.core.feature_channels(2)
    with torch.no_grad():
        for readout in reference.readouts.values():
            readout.features[:, channels] = 0.0
    pruning.mask_feature(model.core, 2)
    for name, mouse in data.items():
        np.testing.assert_allclose(
            training.predict(model, mouse, np.arange(10)),
            training.predict(reference, mouse, np.arange(10)),
            rtol=1e-5,
            atol=1e-6,
        )
    assert pruning.remaining_features(model.core) == [0, 1]


def relabelled(state: dict[str, torch.Tensor], order: list[int], rotations: int) -> dict[str, torch.Tensor]:
    """The weights of a rotation-equivariant model (`ROTATION_VARIANT`) with its features relabelled, new
    feature i being old feature order[i]: an exact symmetry of the network, spelt out independently of
    `feature_channels` (channels are rotation-major, r·F + f, in every layer's output and input)."""
    features = len(order)

    def rotation_major(tensor: torch.Tensor, dim: int) -> torch.Tensor:
        shape = tensor.shape
        grouped = tensor.reshape(*shape[:dim], rotations, features, *shape[dim + 1 :])
        return grouped.index_select(dim + 1, torch.tensor(order)).reshape(shape)

    result = {}
    for key, value in state.items():
        if key.endswith("coefficients"):  # (features, input channels, basis)
            value = value[order]
            value = rotation_major(value, 1) if value.shape[1] == rotations * features else value
        elif ".norms." in key and value.dim() == 1:  # one statistic or parameter per feature
            value = value[order]
        elif key.endswith("features") or key == "core.channel_mask":  # readout weights (N, R·F), the mask
            value = rotation_major(value, value.dim() - 1)
        result[key] = value
    return result


def test_the_choice_follows_a_feature_not_its_index():
    """Relabelling the features of a model relabels every masked score: what is removed is the learnt
    feature, wherever it sits (the demo removed feature 3 first in all three seeds: chance, see pruning.py)."""
    data = {name: random_mouse(name, seed) for seed, name in enumerate(["m1", "m2"])}
    model = new_model(ROTATION_VARIANT, data)
    torch.manual_seed(1)
    with torch.no_grad():  # features distinct in every part: batch norm statistics, readout weights
        for name, value in model.state_dict().items():
            if ".norms." in name and value.is_floating_point():
                value.uniform_(0.5, 1.5)
        for readout in model.readouts.values():
            readout.features.normal_()
    order = [2, 0, 1]
    other = new_model(ROTATION_VARIANT, data)
    other.load_state_dict(relabelled(model.state_dict(), order, rotations=4))
    for mouse in data.values():  # the same network
        np.testing.assert_allclose(
            training.predict(other, mouse, np.arange(10)),
            training.predict(model, mouse, np.arange(10)),
            rtol=1e-4,
            atol=1e-5,
        )
    scores = {c["feature"]: c["val_correlation"] for c in pruning.evaluate_candidates(model, data)}
    relabelled_scores = {c["feature"]: c["val_correlation"] for c in pruning.evaluate_candidates(other, data)}
    assert len(set(np.round(list(scores.values()), 4))) == 3  # distinct costs: a relabelling shows
    for new, old in enumerate(order):
        assert relabelled_scores[new] == pytest.approx(scores[old], abs=1e-5)
    choice = pruning.choose_feature(list(pruning.evaluate_candidates(model, data)))["feature"]
    assert order[pruning.choose_feature(pruning.evaluate_candidates(other, data))["feature"]] == choice


def test_candidates_mask_each_remaining_feature_and_leave_the_mask_alone(teacher_data):
    data, _ = teacher_data
    model = teacher(teacher_data)
    pruning.mask_feature(model.core, 1)
    assert pruning.remaining_features(model.core) == [0, 2, 3]
    candidates = pruning.evaluate_candidates(model, data)
    assert [candidate["feature"] for candidate in candidates] == [0, 2, 3]
    assert pruning.remaining_features(model.core) == [0, 2, 3]  # evaluating leaves the mask alone
    with pytest.raises(pruning.PruningError, match="feature 4"):
        pruning.mask_feature(model.core, 4)


# ----------------------------------------------------------------------------------------------
# The greedy choice


def brute_force_choice(model, data) -> tuple[int, dict[int, float]]:
    """Independent reference: zero each feature's readout weights in a copy, keep the best copy."""
    scores = {}
    for feature in pruning.remaining_features(model.core):
        candidate = new_model(CNN_VARIANT, data)
        candidate.load_state_dict(model.state_dict())
        with torch.no_grad():
            for readout in candidate.readouts.values():
                readout.features[:, candidate.core.feature_channels(feature)] = 0.0
        scores[feature] = training.validation_correlation(candidate, data)
    return max(scores, key=scores.get), scores


def test_greedy_choice_matches_brute_force_at_every_step(teacher_data):
    data, _ = teacher_data
    model = teacher(teacher_data)
    while len(pruning.remaining_features(model.core)) > 1:
        candidates = pruning.evaluate_candidates(model, data)
        expected, scores = brute_force_choice(model, data)
        for candidate in candidates:
            assert candidate["val_correlation"] == pytest.approx(scores[candidate["feature"]], abs=1e-6)
        choice = pruning.choose_feature(candidates)
        assert choice["feature"] == expected
        pruning.mask_feature(model.core, choice["feature"])


def test_a_feature_no_neuron_reads_is_removed_first(teacher_data):
    data, _ = teacher_data
    model = teacher(teacher_data)
    with torch.no_grad():
        for readout in model.readouts.values():
            readout.features[:, 3] = 0.0
    full = training.validation_correlation(model, data)
    choice = pruning.choose_feature(pruning.evaluate_candidates(model, data))
    assert choice["feature"] == 3
    assert choice["val_correlation"] == pytest.approx(full, abs=1e-7)  # masking it costs nothing


def test_choose_feature_breaks_ties_by_index_and_never_picks_nan():
    candidates = [
        {"feature": 2, "val_correlation": 0.5},
        {"feature": 0, "val_correlation": 0.5},
        {"feature": 1, "val_correlation": float("nan")},
    ]
    assert pruning.choose_feature(candidates)["feature"] == 0
    assert (
        pruning.choose_feature(
            [{"feature": 1, "val_correlation": float("nan")}, {"feature": 3, "val_correlation": -0.2}]
        )["feature"]
        == 3
    )


# ----------------------------------------------------------------------------------------------
# Fine-tuning


def test_fine_tuning_keeps_the_feature_masked_and_resumes_its_own_run_only(teacher_data, tmp_path):
    data, _ = teacher_data
    config = TrainingConfig.from_dict(training_settings(batch_size=16, lr=0.01, max_epochs=2))
    model = teacher(teacher_data)
    expected = pruning.choose_feature(pruning.evaluate_candidates(model, data))["feature"]

    removal, _ = pruning.prune_and_fine_tune(model, data, config, tmp_path, 1, CNN_VARIANT)
    assert removal["removed_feature"] == expected and removal["removed_features"] == [expected]
    assert (removal["channels_before"], removal["channels"], removal["fine_tune"]["epochs"]) == (4, 3, 2)
    assert [candidate["feature"] for candidate in removal["candidates"]] == [0, 1, 2, 3]
    assert pruning.remaining_features(model.core) == [f for f in range(4) if f != expected]
    assert model.core.channel_mask[expected] == 0
    assert removal["val_correlation"] == pytest.approx(training.validation_correlation(model, data), abs=1e-6)

    resumed = teacher(teacher_data)  # a rerun of the finished step resumes from its checkpoint
    again, _ = pruning.prune_and_fine_tune(resumed, data, config, tmp_path, 1, CNN_VARIANT)
    assert again["val_correlation"] == removal["val_correlation"]
    for key, value in model.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key


def test_a_resumed_step_reuses_its_saved_scores_and_ignores_another_runs(teacher_data, tmp_path):
    """Saved scores decide a resumed step's removal (a GPU rerun could rank a near-tie differently)."""
    data, _ = teacher_data
    config = TrainingConfig.from_dict(training_settings(batch_size=16, lr=0.01, max_epochs=1))
    model = teacher(teacher_data)
    evaluated = pruning.choose_feature(pruning.evaluate_candidates(model, data))["feature"]
    planted = (evaluated + 1) % 4
    source = tmp_path / "source_model.pt"
    source.write_bytes(b"the model being pruned")
    identity = {"variant": CNN_VARIANT, "seed": 1, "remaining": [0, 1, 2, 3], "inputs": [content_digest(source)]}
    scores = [{"feature": f, "val_correlation": float(f == planted)} for f in range(4)]
    (tmp_path / pruning.CANDIDATES_FILE).write_text(json.dumps({"identity": identity, "candidates": scores}))
    removal, _ = pruning.prune_and_fine_tune(
        model, data, config, tmp_path, 1, CNN_VARIANT, input_digests=[content_digest(source)]
    )
    assert removal["removed_feature"] == planted and removal["candidates"] == scores

    other_seed = {**identity, "seed": 2}
    other_model = tmp_path / "other_model.pt"
    other_model.write_bytes(b"another model")
    other_source = {**identity, "inputs": [content_digest(other_model)]}
    for name, stale in {"other_seed": other_seed, "other_source": other_source}.items():
        other_run = tmp_path / name
        other_run.mkdir()
        (other_run / pruning.CANDIDATES_FILE).write_text(json.dumps({"identity": stale, "candidates": scores}))
        removal, _ = pruning.prune_and_fine_tune(
            teacher(teacher_data), data, config, other_run, 1, CNN_VARIANT, input_digests=[content_digest(source)]
        )
        assert removal["removed_feature"] == evaluated, name  # evaluated afresh, and saved for this run
        saved = json.loads((other_run / pruning.CANDIDATES_FILE).read_text())
        assert saved["identity"] == identity and saved["candidates"] == removal["candidates"], name


# ----------------------------------------------------------------------------------------------
# The matched-budget control


@pytest.fixture
def optimizer_steps(monkeypatch) -> list[int]:
    """A counter (its one item) of Adam steps taken while the test runs."""
    count = [0]
    step = torch.optim.Adam.step

    def counted(self, *args, **kwargs):
        count[0] += 1
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", counted)
    return count


def test_the_control_takes_the_pruning_paths_optimizer_steps_and_removes_nothing(
    teacher_data, tmp_path, optimizer_steps
):
    data, _ = teacher_data
    config = TrainingConfig.from_dict(training_settings(batch_size=16, lr=0.01, max_epochs=2))
    pruned = teacher(teacher_data)
    epochs = [
        pruning.prune_and_fine_tune(pruned, data, config, tmp_path / f"step{n}", 1, CNN_VARIANT)[0]["fine_tune"][
            "epochs"
        ]
        for n in (1, 2)
    ]
    pruning_steps, optimizer_steps[0] = optimizer_steps[0], 0
    assert epochs == [2, 2] and pruning_steps == 2 * 2 * 3  # 48 training trials in batches of 16: 3 per epoch

    control = teacher(teacher_data)
    result = pruning.fine_tune_control(control, data, config, epochs, tmp_path / "control", 1, CNN_VARIANT)
    assert optimizer_steps[0] == pruning_steps
    assert pruning.remaining_features(control.core) == [0, 1, 2, 3]
    assert (result.epochs, [row["epoch"] for row in result.history]) == (4, [1, 2, 3, 4])
    assert result.best_score == pytest.approx(training.validation_correlation(control, data), abs=1e-6)
    assert 3 <= result.best_epoch <= 4  # in the last round
    assert any(
        not torch.equal(value, teacher(teacher_data).state_dict()[key]) for key, value in control.state_dict().items()
    )

    optimizer_steps[0] = 0  # a rerun replays its finished rounds from their checkpoints
    again = teacher(teacher_data)
    pruning.fine_tune_control(again, data, config, epochs, tmp_path / "control", 1, CNN_VARIANT)
    assert optimizer_steps[0] == 0
    for key, value in control.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key


def test_each_control_round_trains_its_pruning_steps_epochs(teacher_data, tmp_path, optimizer_steps):
    data, _ = teacher_data
    config = TrainingConfig.from_dict(training_settings(batch_size=16, lr=0.01, max_epochs=5))
    result = pruning.fine_tune_control(teacher(teacher_data), data, config, [1, 2], tmp_path, 1, CNN_VARIANT)
    assert (optimizer_steps[0], result.epochs) == ((1 + 2) * 3, 3)
    unpruned = teacher(teacher_data)  # the selected step 0: nothing to match, the model as trained
    result = pruning.fine_tune_control(unpruned, data, config, [], tmp_path / "none", 1, CNN_VARIANT)
    assert (optimizer_steps[0], result.epochs, result.history) == (9, 0, [])
    assert result.best_score == training.validation_correlation(unpruned, data)


def write_step_summaries(folder: Path, epochs: list[int]) -> list[Path]:
    paths = []
    for step, value in enumerate(epochs, start=1):
        paths.append(folder / f"step{step}.json")
        paths[-1].write_text(json.dumps({"step": step, "fine_tune": {"epochs": value}}))
    return paths


def test_fine_tune_epochs_are_those_of_the_steps_up_to_the_selected_one(tmp_path):
    paths = write_step_summaries(tmp_path, [2, 1, 2])
    assert pruning.fine_tune_epochs(paths, 2) == [2, 1]
    assert pruning.fine_tune_epochs(paths, 0) == []
    with pytest.raises(pruning.PruningError, match="step 4 is not one of the 3"):
        pruning.fine_tune_epochs(paths, 4)
    with pytest.raises(pruning.PruningError, match="expected step 1"):
        pruning.fine_tune_epochs(paths[::-1], 2)


def test_models_table_sets_each_seeds_three_models_side_by_side(tmp_path):
    def metrics(name: str, oracle: float, **extra) -> Path:
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"mean": {"fraction_oracle": oracle}, **extra}))
        return path

    trained = [metrics("g0_1", 0.70, epochs=8)]
    pruned = [metrics("g0-pruned_1", 0.74, pruning={"channels": 2, "n_features": 4, "fine_tune_epochs": [2, 2]})]
    finetuned = [metrics("g0-finetuned_1", 0.76, epochs=4, control={"round_epochs": [2, 2]})]
    table = pruning.models_table([("g0", 1)], trained, pruned, finetuned)
    assert table["model"].tolist() == ["g0", "g0-pruned", "g0-finetuned"]
    assert table["kind"].tolist() == ["trained", "pruned", "finetuned"]
    assert table["channels"].tolist() == [4, 2, 4]
    assert table["fine_tune_epochs"].tolist() == [0, 4, 4]
    assert table["fraction_oracle"].tolist() == [0.70, 0.74, 0.76]
    with pytest.raises(pruning.PruningError, match="g0_1.json is not a pruned model"):
        pruning.models_table([("g0", 1)], trained, trained, finetuned)


# ----------------------------------------------------------------------------------------------
# Curves and the selection rule


def write_removals(folder: Path, seed: int, values: list[float]) -> list[Path]:
    """Step summaries of one seed whose curve is `values` (channels 4, 3, ...)."""
    paths = []
    for step in range(1, len(values)):
        path = folder / f"seed{seed}_step{step}.json"
        path.write_text(
            json.dumps(
                {
                    "channels_before": 5 - step,
                    "channels": 4 - step,
                    "removed_feature": step - 1,
                    "val_correlation_before": values[step - 1],
                    "val_correlation": values[step],
                }
            )
        )
        paths.append(path)
    return paths


HAND_MADE = {  # seed -> validation correlation at 4, 3, 2, 1 channels
    1: [0.60, 0.61, 0.595, 0.40],
    2: [0.62, 0.63, 0.60, 0.45],
    3: [0.58, 0.59, 0.59, 0.35],
}


def hand_made_curves(folder: Path, curves: dict[int, list[float]] = HAND_MADE) -> pd.DataFrame:
    return pd.concat(
        [pruning.pruning_curve(seed, write_removals(folder, seed, values)) for seed, values in curves.items()],
        ignore_index=True,
    )


def test_pruning_curve_starts_at_the_trained_model(tmp_path):
    curve = pruning.pruning_curve(2, write_removals(tmp_path, 2, HAND_MADE[2]))
    assert curve["channels"].tolist() == [4, 3, 2, 1]
    assert curve["step"].tolist() == [0, 1, 2, 3]
    assert curve["val_correlation"].tolist() == HAND_MADE[2]
    assert curve["removed_feature"].tolist() == [-1, 0, 1, 2]
    shuffled = write_removals(tmp_path, 2, HAND_MADE[2])[::-1]
    with pytest.raises(pruning.PruningError, match="steps out of order"):
        pruning.pruning_curve(2, shuffled)


def test_selection_keeps_the_smallest_count_within_one_sd_of_the_best(tmp_path):
    # means: 4 -> 0.60, 3 -> 0.61 (best, sd 0.02, threshold 0.59), 2 -> 0.595 (kept), 1 -> 0.40
    selection = pruning.select_channel_count(hand_made_curves(tmp_path))
    assert selection["best_channels"] == 3
    assert selection["threshold"] == pytest.approx(0.61 - 0.02)
    assert (selection["channels"], selection["step"], selection["n_features"]) == (2, 2, 4)
    assert selection["fraction_removed"] == 0.5
    assert [row["channels"] for row in selection["summary"]] == [4, 3, 2, 1]


def test_selection_with_one_seed_keeps_the_best_count(tmp_path):
    selection = pruning.select_channel_count(hand_made_curves(tmp_path, {3: [0.58, 0.59, 0.59, 0.35]}))
    assert selection["channels"] == 2  # sd 0: the smallest count that ties the best


def test_selection_refuses_curves_over_different_counts(tmp_path):
    curves = hand_made_curves(tmp_path)
    with pytest.raises(pruning.PruningError, match="different channel counts"):
        pruning.select_channel_count(curves[~((curves["seed"] == 3) & (curves["channels"] == 1))])


def test_plan_steps_and_core_features():
    assert pruning.core_features(ROTATION_VARIANT["core"]) == 3
    # R24's 16 features x 8 rotations; the schema's defaults, as the workflow resolves a variant
    rotation = with_defaults({"type": "rotation_equivariant"}, "core")
    assert pruning.core_features(rotation) == 16
    assert pruning.core_features(with_defaults({"type": "cnn"}, "core")) == 64
    config = {"pruning": {"variants": ["r"], "min_channels": 1, "fine_tune_epochs": 5}}
    plan = pruning.plan_variants(config, {"r": {"core": rotation, "training": training_settings(lr=0.01)}})
    assert plan == {"r": {"steps": 15, "training": training_settings(lr=0.01, max_epochs=5)}}


def test_min_channels_must_leave_a_feature_to_prune():
    config = tiny_config()
    config["pruning"].update(variants=["gaussian_g0"], min_channels=4)
    with pytest.raises(ConfigError, match="between 1 and 3"):
        check_references(config, expand_variants(config))


def test_curves_table_marks_the_selected_count(tmp_path):
    curves = hand_made_curves(tmp_path)
    path = tmp_path / "curves.csv"
    curves.to_csv(path, index=False)
    table = pruning.curves_table({"g0": path}, {"g0": {"channels": 2, "n_features": 4}})
    assert table.loc[table["selected"], "channels"].unique().tolist() == [2]
    assert table["fraction_pruned"].max() == 0.75


# ----------------------------------------------------------------------------------------------
# Figures


def hand_made_tradeoff_inputs(folder: Path, points: dict[str, tuple[float, float]]) -> tuple[Path, list, list]:
    """An across-seeds table (ARI at K 2 and 4) and two seeds' metrics.json per variant, centred on `points`
    (variant -> (fraction oracle, ARI at K 4)): seeds ± 0.005 in fraction oracle, ARI sd 0.02."""
    across = pd.DataFrame(
        [
            {"variant": v, "method": "kmeans", "k": k, "ari_mean": ari - 0.01 * (4 - k), "ari_sd": 0.02}
            for v, (_, ari) in points.items()
            for k in (2, 4)
        ]
    )
    across.to_csv(folder / "across.csv", index=False)
    runs, metrics = [], []
    for variant, (oracle, _) in points.items():
        for seed, shift in ((1, -0.005), (2, 0.005)):
            path = folder / f"{variant}_{seed}.json"
            path.write_text(json.dumps({"mean": {"fraction_oracle": oracle + shift}}))
            runs.append((variant, seed))
            metrics.append(str(path))
    return folder / "across.csv", runs, metrics


def label_boxes(ax) -> dict[str, Bbox]:
    """The text box of every non-empty label on `ax` (arrows are empty annotations), the closed figure
    drawn again on a canvas of its own."""
    renderer = FigureCanvasAgg(ax.figure).get_renderer()
    ax.figure.draw(renderer)
    return {text.get_text(): pruning_plots.text_box(text, renderer) for text in ax.texts if text.get_text()}


def assert_labels_readable(ax) -> None:
    """Labels overlap neither each other nor a point, and lie inside the axes."""
    boxes = label_boxes(ax)
    frame = ax.get_window_extent()
    for name, box in boxes.items():
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1, name
        others = [other for key, other in boxes.items() if key != name]
        assert not any(box.overlaps(other) for other in others), name
        for container in ax.containers:
            x, y = ax.transData.transform((container.lines[0].get_xdata()[0], container.lines[0].get_ydata()[0]))
            assert not box.contains(x, y), (name, container.get_label())


PRUNED, FINETUNED = {"g0-pruned": "g0"}, {"g0-finetuned": "g0"}
TRADEOFF = {"fact": (0.70, 0.40), "g0": (0.75, 0.30), "g0-pruned": (0.78, 0.50), "g0-finetuned": (0.785, 0.45)}


def test_the_three_figures_render_from_hand_made_tables(tmp_path):
    curves = hand_made_curves(tmp_path)
    curves.to_csv(tmp_path / "curves.csv", index=False)
    table = pruning.curves_table({"g0": tmp_path / "curves.csv"}, {"g0": {"channels": 2, "n_features": 4}})
    table.to_csv(tmp_path / "pruning.csv", index=False)
    across, runs, metrics = hand_made_tradeoff_inputs(tmp_path, TRADEOFF)

    curves_fig = pruning_plots.pruning_curves(str(tmp_path / "pruning.csv"), str(tmp_path / "a.pdf"), variants=["g0"])
    ari_fig = pruning_plots.pruning_ari(str(across), str(tmp_path / "b.pdf"), pruned=PRUNED, finetuned=FINETUNED)
    variants = list(TRADEOFF)
    tradeoff_fig = pruning_plots.consistency_tradeoff(
        str(across),
        metrics,
        str(tmp_path / "c.pdf"),
        runs=runs,
        variants=variants,
        pruned=PRUNED,
        finetuned=FINETUNED,
        k=4,
    )
    for name in "abc":
        assert_figure_files(tmp_path / f"{name}.pdf")
    for fig in (curves_fig, ari_fig, tradeoff_fig):
        assert legends_off_the_data(fig)
    # a: one curve over every pruning step, a star at the selected one
    (ax,) = curves_fig.axes
    assert len(ax.containers[0].lines[0].get_xdata()) == table["step"].nunique()
    assert scatter_points(ax) == table.loc[table["selected"], "step"].nunique() == 1
    # b: the variant (dashed), its pruned model (solid) and its control (dotted), each over every K
    (ax,) = ari_fig.axes
    assert legend_labels(ax) == ["g0", "g0-pruned", "g0-finetuned"]
    assert [c.lines[0].get_linestyle() for c in ax.containers] == ["--", "-", ":"]
    assert errorbar_curves(ax)["g0-finetuned"][1] == pytest.approx([0.45 - 0.02, 0.45])
    # c: a readable label per variant at (fraction oracle, ARI at K=4); arrows to the pruned model and its control
    (ax,) = tradeoff_fig.axes
    assert sorted(label_boxes(ax)) == sorted(variants)
    assert_labels_readable(ax)
    points = {text.get_text(): text.xy for text in ax.texts if text.get_text()}
    for variant, (oracle, ari) in TRADEOFF.items():
        assert points[variant] == pytest.approx((oracle, ari))
    arrows = [(text.xy, text.xyann) for text in ax.texts if not text.get_text()]
    expected = [(pytest.approx(TRADEOFF[model]), pytest.approx(TRADEOFF["g0"])) for model in (*PRUNED, *FINETUNED)]
    assert arrows == expected
    assert "fine-tuned only (control)" in legend_labels(ax)
    with pytest.raises(ValueError, match="no k-means rows at K=3"):
        pruning_plots.consistency_tradeoff(
            str(across),
            metrics,
            str(tmp_path / "c.pdf"),
            runs=runs,
            variants=variants,
            pruned=PRUNED,
            finetuned=FINETUNED,
            k=3,
        )


def test_tradeoff_labels_of_crowded_points_do_not_overlap(tmp_path):
    """Nine variants within 0.01 of each other and one far off: every label still finds a free place."""
    points = {f"variant_{i}": (0.70 + 0.001 * (i % 3), 0.30 + 0.001 * (i // 3)) for i in range(9)}
    points["far"] = (0.9, 0.7)
    across, runs, metrics = hand_made_tradeoff_inputs(tmp_path, points)
    fig = pruning_plots.consistency_tradeoff(
        str(across), metrics, str(tmp_path / "c.pdf"), runs=runs, variants=list(points), pruned={}, finetuned={}, k=4
    )
    (ax,) = fig.axes
    assert sorted(label_boxes(ax)) == sorted(points)
    assert_labels_readable(ax)
    assert legends_off_the_data(fig)
