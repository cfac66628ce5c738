"""The transfer stage (L21): splits, the plan of runs, frozen and shared model parts, the table."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from v1twin import model_run, training
from v1twin.config import check_references, expand_variants
from v1twin.config_schema import ConfigError
from v1twin.data.tensors import MouseTensors
from v1twin.plots import transfer as plots
from v1twin.plots.transfer import condition_curves, experiment_rows
from v1twin.transfer import (
    FEATURE_SHARING,
    TransferRun,
    build_run_model,
    common_positions,
    fraction_oracle_on,
    image_subset,
    load_core,
    neuron_subset,
    plan_jobs,
    plan_runs,
    pseudo_sessions,
    run_data,
    run_schedule,
    split_neurons,
    steps_per_epoch,
    training_images,
    transfer_table,
)

from helpers import (
    Trials,
    assert_figure_files,
    errorbar_curves,
    legends_off_the_data,
    panels,
    tiny_config,
    toy_tensors,
    training_settings,
)

CORE = {"type": "cnn", "channels": 3, "layers": 2, "input_kernel": 5, "hidden_kernel": 3}
GAUSSIAN = {"type": "gaussian", "shifter": True, "position_network": True}
TRIALS = Trials(train=60, validation=12, test_images=4, repeats=3)
N_TRAIN, TEST_IMAGES, REPEATS = TRIALS.train, TRIALS.test_images, TRIALS.repeats


pytestmark = pytest.mark.usefixtures("one_thread")


def toy_mouse() -> MouseTensors:
    """The learnable toy mouse in the training view, with repeated test images."""
    return toy_tensors("m1", 0, TRIALS, n_neurons=12, height=10, width=12)


def settings(**changes) -> dict:
    base = {
        "seeds": [1],
        "split_seed": 0,
        "image_counts": [20, 60],
        "neuron_counts": [6],
        "sessions": 2,
        "transfer_fraction": 0.5,
        "within_mouse": "m1",
        "held_out_mouse": "m2",
        "core_sets": {"m1-core-set": {"mice": ["m1"], "neurons": "core_set"}, "m1": {"mice": ["m1"], "neurons": "all"}},
        "scale_epochs": True,
        "core": CORE,
        "readouts": {"gaussian": GAUSSIAN, "factorized": {"type": "factorized", "gamma": 0.01}},
        "training": training_settings(batch_size=16, lr=0.01, max_epochs=2),
    }
    return {**base, **changes}


# ----------------------------------------------------------------------------------------------
# Splits


def test_neuron_split_is_disjoint_complete_and_deterministic():
    core_set, transfer_set = split_neurons(101, 0.3, seed=4)
    assert len(transfer_set) == 30 and len(core_set) == 71
    assert not set(core_set) & set(transfer_set)
    np.testing.assert_array_equal(np.sort(np.concatenate([core_set, transfer_set])), np.arange(101))
    again = split_neurons(101, 0.3, seed=4)
    np.testing.assert_array_equal(again[0], core_set)
    np.testing.assert_array_equal(again[1], transfer_set)
    assert not np.array_equal(split_neurons(101, 0.3, seed=5)[1], transfer_set)


@pytest.mark.parametrize("fraction", [0.0, 1.0, 0.001])
def test_a_split_with_an_empty_set_is_refused(fraction):
    with pytest.raises(ValueError, match="transfer_fraction"):
        split_neurons(100, fraction, seed=0)


def test_neuron_subsets_are_nested():
    small, large = neuron_subset(50, 10, seed=1), neuron_subset(50, 30, seed=1)
    assert len(small) == 10 and set(small) <= set(large)
    with pytest.raises(ValueError, match="cannot take 60 of 50"):
        neuron_subset(50, 60, seed=1)


def test_image_subsets_are_nested_and_keep_validation_and_test_whole():
    mouse = toy_mouse()
    small, large = image_subset(mouse, 15, seed=2), image_subset(mouse, 40, seed=2)
    assert len(small.indices("train")) == 15 and len(large.indices("train")) == 40
    assert set(training_images(small)) <= set(training_images(large))
    for tier in ("validation", "test"):
        np.testing.assert_array_equal(small.image_ids[small.indices(tier)], mouse.image_ids[mouse.indices(tier)])
    # the kept trials carry their own images and responses
    trial = small.indices("train")[0]
    original = np.flatnonzero(mouse.image_ids == small.image_ids[trial])[0]
    torch.testing.assert_close(small.images[trial], mouse.images[original])
    torch.testing.assert_close(small.responses[trial], mouse.responses[original])
    assert len(image_subset(mouse, 10_000, seed=2).indices("train")) == N_TRAIN  # more than the tier: all of it


def test_pseudo_sessions_partition_the_training_images_of_the_same_neurons():
    sessions = pseudo_sessions(toy_mouse(), 3, seed=0)
    assert list(sessions) == ["m1-session1", "m1-session2", "m1-session3"]
    parts = [set(training_images(session)) for session in sessions.values()]
    assert sum(len(part) for part in parts) == N_TRAIN and len(set.union(*parts)) == N_TRAIN
    for session in sessions.values():
        assert session.name in sessions and session.n_neurons == 12
        assert len(session.indices("test")) == TEST_IMAGES * REPEATS


def test_run_data_selects_the_transfer_set_and_the_images():
    mouse = toy_mouse()
    run = TransferRun("r", ("m1",), "transfer_set", 20, GAUSSIAN, seed=1)
    data = run_data(run, {"m1": mouse}, transfer_fraction=0.5, split_seed=0)
    _, transfer_set = split_neurons(12, 0.5, 0)
    np.testing.assert_array_equal(data["m1"].unit_ids, mouse.unit_ids[transfer_set])
    torch.testing.assert_close(
        data["m1"].responses[:, 0], mouse.responses[np.isin(mouse.image_ids, data["m1"].image_ids), transfer_set[0]]
    )
    assert len(data["m1"].indices("train")) == 20


# ----------------------------------------------------------------------------------------------
# The plan


def test_plan_has_every_point_and_trains_each_model_once():
    plan = plan_runs(settings())
    points = pd.DataFrame([vars(point) for point in plan.points])
    per_experiment = points.groupby("experiment").size().to_dict()
    # cores: the within core set with 20 and 60 images (the latter also core set "m1-core-set"), and "m1"
    assert per_experiment == {"readouts": 3 * (2 + 1), "within": 4 * 2, "across": 5 * 2, "cores": 3}
    assert not points.duplicated().any()
    # diff-core/best-readout with all images is best-core/diff-readout with all images: one run
    both = points[
        (points["experiment"] == "within")
        & (points["n_images"] == 60)
        & points["condition"].isin(["best-core/diff-readout", "diff-core/best-readout"])
    ]
    assert both["run"].nunique() == 1
    # the within core set with all images is also the first core set of the across experiment
    assert plan.runs["across/core-m1-core-set/images20/seed1"].core_run == "cores/m1-core-set/images60/seed1"
    assert len(plan.runs) == len({run.content() for run in plan.runs.values()})


def test_plan_orders_cores_first_and_never_trains_on_the_held_out_mouse():
    plan = plan_runs(settings())
    names = list(plan.runs)
    for run in plan.runs.values():
        if run.core_run is not None:
            assert names.index(run.core_run) < names.index(run.name)
            assert "m2" not in plan.runs[run.core_run].mice
        assert (run.core == "frozen") == (run.core_run is not None)
    assert plan.runs["within/diff-core/images20/seed1"].images == 60
    assert plan.runs["cores/m1-core-set/images20/seed1"].images == 20
    assert plan.runs["across/position-network-ablation/images20/seed1"].readout["position_network"] is False
    free = plan_runs(settings(readouts={"gaussian": {"type": "gaussian"}, "factorized": {"type": "factorized"}}))
    assert free.runs["across/position-network-ablation/images20/seed1"].readout["position_network"] is True
    assert "core: m1-core-set, with position network" in {point.condition for point in free.points}
    assert plan.runs["readouts/gaussian-feature-sharing/images20/seed1"].share_features


def test_every_seed_repeats_the_plan_with_its_own_cores():
    one, two = plan_runs(settings()), plan_runs(settings(seeds=[1, 2]))
    assert len(two.runs) == 2 * len(one.runs) and len(two.points) == 2 * len(one.points)
    for name, run in two.runs.items():
        assert name.endswith(f"/seed{run.seed}")
        if run.core_run is not None:  # a transferred core is the one trained with the same seed
            assert two.runs[run.core_run].seed == run.seed
    first = {name.removesuffix("/seed1"): run for name, run in two.runs.items() if run.seed == 1}
    second = {name.removesuffix("/seed2"): run for name, run in two.runs.items() if run.seed == 2}
    assert first.keys() == second.keys()
    assert {point.seed for point in two.points} == {1, 2}


def test_fixed_budgets_give_the_arms_compared_with_a_frozen_core_twice_the_steps():
    plan = plan_runs(settings())
    budgets = {(point.experiment, point.condition): plan.runs[point.run].budget for point in plan.points}
    assert budgets[("within", "direct")] == budgets[("within", "random core")] == 2
    assert budgets[("across", "direct")] == budgets[("across", "random core")] == 2
    assert {
        budget
        for (experiment, _), budget in budgets.items()
        if experiment != "across" and _ not in ("direct", "random core")
    } == {1}
    converged = plan_runs(settings(scale_epochs=False))  # early stopping decides: no budgets
    assert {run.budget for run in converged.runs.values()} == {1}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"held_out_mouse": "m1"}, "must differ"),
        ({"within_mouse": "m9"}, "not a dataset mouse"),
        ({"core_sets": {"both": {"mice": ["m1", "m2"], "neurons": "all"}}}, "held-out mouse"),
    ],
)
def test_bad_transfer_settings_are_refused_when_the_workflow_is_parsed(changes, message):
    config = tiny_config()
    config["transfer"].update(changes)
    with pytest.raises(ConfigError, match=message):
        check_references(config, expand_variants(config))


def test_two_runs_of_one_name_are_refused():
    with pytest.raises(ValueError, match="both named"):
        plan_runs(settings(core_sets={"m1-core-set": {"mice": ["m1"], "neurons": "all"}}))


def test_every_job_gets_the_run_and_the_merged_training_settings():
    config = tiny_config()
    jobs = plan_jobs(config)
    assert list(jobs) == list(plan_runs(config["transfer"]).runs)
    for name, job in jobs.items():
        assert TransferRun.from_dict(job["run"]).name == name
        assert job["settings"]["training"] == {**config["training"], "max_epochs": 1}  # tiny transfer.training
        assert job["settings"]["core"] == config["transfer"]["core"]


# ----------------------------------------------------------------------------------------------
# Models


def _toy_data(run: TransferRun) -> dict[str, MouseTensors]:
    return run_data(run, {"m1": toy_mouse()}, transfer_fraction=0.5, split_seed=0)


def _train(model, data, tmp_path: Path, epochs: int = 2) -> None:
    config = training.TrainingConfig.from_dict(training_settings(batch_size=16, lr=0.02, max_epochs=epochs))
    training.train(model, data, config, tmp_path, seed=0, variant_config={"test": str(tmp_path)})


def _saved_core_model(tmp_path: Path) -> Path:
    """A model trained end to end on the core set, saved as a transfer core."""
    run = TransferRun("core", ("m1",), "core_set", 60, GAUSSIAN, seed=3)
    data = _toy_data(run)
    model = build_run_model(run, data, CORE)
    _train(model, data, tmp_path / "core")
    path = tmp_path / "core" / "model.pt"
    info = {name: training.mouse_info(mouse) for name, mouse in data.items()}
    model_run.save_model(path, model, {"core": CORE, "readout": GAUSSIAN}, info, data["m1"].input_shape)
    return path


def test_a_frozen_core_is_bitwise_unchanged_by_readout_training(tmp_path):
    core_path = _saved_core_model(tmp_path)
    run = TransferRun("transfer", ("m1",), "transfer_set", 40, GAUSSIAN, seed=1, core="frozen", core_run="core")
    data = _toy_data(run)
    model = build_run_model(run, data, CORE, core_model=core_path)
    core_before = {key: value.clone() for key, value in model.core.state_dict().items()}
    saved = model_run.read_model_file(core_path)["state_dict"]
    for key, value in core_before.items():  # the transferred weights and BatchNorm statistics
        assert torch.equal(value, saved[f"core.{key}"]), key
    readout_before = model.readouts["m1"].features.detach().clone()
    _train(model, data, tmp_path / "transfer")
    for key, value in model.core.state_dict().items():
        assert torch.equal(value, core_before[key]), f"frozen core changed: {key}"
    assert not torch.equal(model.readouts["m1"].features, readout_before), "the readout did not train"
    assert not model.core.training


def test_a_random_core_stays_at_its_seeded_initialization(tmp_path):
    run = TransferRun("random", ("m1",), "transfer_set", 40, GAUSSIAN, seed=5, core="random")
    data = _toy_data(run)
    model = build_run_model(run, data, CORE)
    again = build_run_model(run, data, CORE)
    before = {key: value.clone() for key, value in model.core.state_dict().items()}
    _train(model, data, tmp_path)
    for key, value in model.core.state_dict().items():
        assert torch.equal(value, before[key]) and torch.equal(value, again.core.state_dict()[key]), key


def test_the_core_of_another_architecture_is_refused(tmp_path):
    core_path = _saved_core_model(tmp_path)
    run = TransferRun("transfer", ("m1",), "transfer_set", 40, GAUSSIAN, seed=1, core="frozen", core_run="core")
    model = build_run_model(run, _toy_data(run), CORE, core_model=core_path)
    with pytest.raises(ValueError, match="is not the transfer core"):
        load_core(model, core_path, {**CORE, "channels": 4})


def test_feature_sharing_ties_the_features_of_matched_neurons(tmp_path):
    shared = TransferRun("shared", ("m1",), "all", 60, GAUSSIAN, seed=0, sessions=2, share_features=True)
    separate = TransferRun("separate", ("m1",), "all", 60, GAUSSIAN, seed=0, sessions=2)
    data = _toy_data(shared)
    model = build_run_model(shared, data, CORE)
    first, second = model.readouts["m1-session1"], model.readouts["m1-session2"]
    assert first.features is second.features
    n_shared = sum(p.numel() for p in model.parameters())
    n_separate = sum(p.numel() for p in build_run_model(separate, data, CORE).parameters())
    assert n_separate - n_shared == first.features.numel()
    _train(model, data, tmp_path, epochs=1)
    assert torch.equal(first.features, second.features)
    assert not torch.equal(first.mu, second.mu) or not torch.equal(first.bias, second.bias)


def test_runs_of_the_neuron_axis_are_also_scored_on_the_neurons_they_all_share(tmp_path):
    mouse = toy_mouse()
    common = neuron_subset(12, 4, seed=0)
    for neurons in ("all", 8, 4):
        run = TransferRun("r", ("m1",), neurons, 60, GAUSSIAN, seed=1, common_neurons=4)
        data = _toy_data(run)
        positions = common_positions(mouse, run, transfer_fraction=0.5, seed=0)
        np.testing.assert_array_equal(data["m1"].unit_ids[positions], mouse.unit_ids[common])
    with pytest.raises(ValueError, match="lack some of the 4 common"):
        common_positions(mouse, dataclasses.replace(run, neurons=3), transfer_fraction=0.5, seed=0)
    # scored on all of its neurons, a run gets its own fraction oracle
    run = TransferRun("r", ("m1",), "all", 60, GAUSSIAN, seed=1, sessions=2)
    data = _toy_data(run)
    model = build_run_model(run, data, CORE)
    _train(model, data, tmp_path, epochs=1)
    own = training.evaluate(model, data)["mean"]["fraction_oracle"]
    assert fraction_oracle_on(model, data, np.arange(12)) == pytest.approx(own)
    assert plan_runs(settings()).runs["readouts/factorized/images20/seed1"].common_neurons == 6
    assert plan_runs(settings()).runs["within/direct/images20/seed1"].common_neurons is None


def test_scale_epochs_gives_every_run_its_budget_of_optimizer_steps():
    """Batch 16 over the whole tier of 60 trials: 4 batches, so B = 3 epochs of 4 steps = 12 steps, whatever the
    run's own data (15 images: 1 batch; 2 pseudo-scans of 30: 2 batches), and patience stays 2 such epochs."""
    base = training_settings(batch_size=16, max_epochs=3, patience=2)
    few = TransferRun("few", ("m1",), "all", 15, GAUSSIAN, seed=1)
    scaled = run_schedule(few, _toy_data(few), {"m1": 60}, base, scale_epochs=True)
    assert (scaled.config.max_epochs, scaled.config.patience, scaled.config.batch_size, scaled.epoch_steps) == (
        3, 2, 16, 4)
    assert scaled.kind.identity() == {"kind": "static", "epoch_steps": 4}
    matched = dataclasses.replace(few, budget=2)
    assert run_schedule(matched, _toy_data(few), {"m1": 60}, base, True).config.max_epochs == 6
    scans = TransferRun("scans", ("m1",), "all", 60, GAUSSIAN, seed=1, sessions=2)
    data = _toy_data(scans)
    assert steps_per_epoch(data, 16) == 2
    pseudo_scans = run_schedule(scans, data, {"m1": 60}, base, True)
    assert (pseudo_scans.config.max_epochs, pseudo_scans.epoch_steps) == (3, 4)
    fixed = run_schedule(few, _toy_data(few), {"m1": 60}, base, scale_epochs=False)
    assert (fixed.config.max_epochs, fixed.config.patience, fixed.epoch_steps) == (3, 2, 1)


def test_a_scaled_epoch_passes_over_a_small_subset_several_times(tmp_path):
    """A 15-image run with the whole tier's 4-step epochs validates once per 4 steps: 2 epochs are 8 steps,
    each pass over its one batch reshuffled, and the history has 2 rows."""
    few = TransferRun("few", ("m1",), "all", 15, GAUSSIAN, seed=1)
    data = _toy_data(few)
    kind = training.StaticImages(epoch_steps=4)
    schedule = kind.schedule(data, 16, torch.Generator().manual_seed(0))
    (batches,) = schedule.values()
    assert len(batches) == 4 and all(sorted(b.tolist()) == sorted(batches[0].tolist()) for b in batches)
    assert len({tuple(b.tolist()) for b in batches}) > 1  # reshuffled at every pass
    config = training.TrainingConfig.from_dict(training_settings(batch_size=16, max_epochs=2, patience=5))
    model = build_run_model(few, data, CORE, None)
    steps = []
    model.register_forward_pre_hook(lambda module, args: steps.append(1) if module.training else None)
    result = training.train(model, data, config, tmp_path, 1, {"run": "few"}, kind=kind)
    assert len(result.history) == 2 and len(steps) == 8


def test_every_compared_arm_takes_the_same_optimizer_steps():
    """The tiny plan with two image counts: a run's steps are its epochs x batches per epoch (one batch of each
    pseudo-scan per step), and a frozen-core arm's add those of its core. Tiny: batch 32, max_epochs 1, so one
    model's budget over the toy tier of 60 trials is B = 2 steps; Fig. 3's readouts all take B, every arm of
    Figs. 4-5 2B (a transferred core's B and its readout's B, or 2B of direct and random-core training)."""
    config = tiny_config()
    config["transfer"]["image_counts"] = [20, 60]
    section, jobs = config["transfer"], plan_jobs(config)
    mice = {"m1": toy_mouse(), "m2": toy_tensors("m2", 1, TRIALS, n_neurons=12, height=10, width=12)}

    def steps(name: str) -> int:
        run = TransferRun.from_dict(jobs[name]["run"])
        data = run_data(run, mice, section["transfer_fraction"], section["split_seed"])
        schedule = run_schedule(
            run, data, {"m1": N_TRAIN, "m2": N_TRAIN}, jobs[name]["settings"]["training"], section["scale_epochs"]
        )
        return schedule.config.max_epochs * schedule.epoch_steps + (steps(run.core_run) if run.core_run else 0)

    budget = 2
    expected = {"readouts": budget, "within": 2 * budget, "across": 2 * budget}
    points = [point for point in plan_runs(section).points if point.experiment in expected]
    assert {point.seed for point in points} == {1, 2} and len(points) == 2 * (3 * 2 + 4 * 2 + 4 * 2)
    for point in points:
        assert steps(point.run) == expected[point.experiment], point


# ----------------------------------------------------------------------------------------------
# Table and figure data


def _fake_metrics(tmp_path: Path, plan) -> dict[str, Path]:
    """Metrics with a fraction oracle per run (its index in the plan / 100, + 0.1 for seed 2), 0.2 less on the
    common neurons, 12 neurons (or its subset's), and 10 steps per core, 20 per other run."""
    files = {}
    for index, (name, run) in enumerate(plan.runs.items()):
        path = tmp_path / f"{index}.json"
        score = 0.5 + index / 100 + 0.1 * (run.seed - 1)
        mean = {"fraction_oracle": score, "single_trial_correlation": 0.3, "oracle": 0.6, "correlation_to_average": 0.4}
        common = {"fraction_oracle_common": score - 0.2} if run.common_neurons else {}
        n_neurons = run.neurons if isinstance(run.neurons, int) else 12
        steps = 10 if name.startswith("cores/") else 20
        metrics = {
            "mean": mean,
            "images_used": 7,
            "n_neurons_used": n_neurons,
            "epochs": 2,
            "best_epoch": 2,
            "optimizer_steps": steps,
            "train_seconds": 1.0,
            **common,
        }
        path.write_text(json.dumps(metrics))
        files[name] = path
    return files


def test_table_has_one_row_per_point_with_its_run_measures_and_steps(tmp_path):
    plan = plan_runs(settings(seeds=[1, 2]))
    table = transfer_table(_fake_metrics(tmp_path, plan), plan)
    assert len(table) == len(plan.points)
    index = list(plan.runs)
    for row in table.itertuples():
        run = plan.runs[row.run]
        assert row.seed == run.seed
        assert row.fraction_oracle == pytest.approx(0.5 + index.index(row.run) / 100 + 0.1 * (run.seed - 1))
        common = row.fraction_oracle - 0.2 if row.experiment == "readouts" else np.nan
        np.testing.assert_allclose(row.fraction_oracle_common, common)
        assert (row.steps, row.total_steps) == (
            (10, 10) if row.experiment == "cores" else (20, 30) if run.core == "frozen" else (20, 20)
        )
    with pytest.raises(ValueError, match="no metrics file"):
        transfer_table({}, plan)


def test_curves_are_mean_and_sd_over_seeds(tmp_path):
    plan = plan_runs(settings(seeds=[1, 2]))
    table = transfer_table(_fake_metrics(tmp_path, plan), plan)
    curves = condition_curves(experiment_rows(table, "readouts"))
    assert list(curves) == ["gaussian", FEATURE_SHARING, "factorized"]
    for condition, curve in curves.items():
        assert list(curve["n_images"]) == [20, 60] and list(curve["seeds"]) == [2, 2]
        first = table[(table["condition"] == condition) & (table["neurons"] == "all") & (table["seed"] == 1)]
        # seed 2 scores 0.1 + (its runs' offset in the plan) above seed 1: mean and sample sd of the two
        second = first["fraction_oracle"].to_numpy() + 0.1 + len(plan.runs) / 2 / 100
        np.testing.assert_allclose(curve["mean"], (first["fraction_oracle"].to_numpy() + second) / 2)
        np.testing.assert_allclose(curve["sd"], (second - first["fraction_oracle"].to_numpy()) / np.sqrt(2))
    within = condition_curves(experiment_rows(table, "within", neurons="transfer_set"))
    assert list(within) == ["direct", "best-core/diff-readout", "diff-core/best-readout", "random core"]
    with pytest.raises(ValueError, match="no 'within' rows"):
        experiment_rows(table, "within", neurons="all")
    one_seed = condition_curves(experiment_rows(table[table["seed"] == 1], "readouts"))
    assert all((curve["sd"] == 0).all() for curve in one_seed.values())


def test_each_figure_draws_mean_and_sd_over_seeds_per_condition(tmp_path):
    plan = plan_runs(settings(seeds=[1, 2]))
    table = transfer_table(_fake_metrics(tmp_path, plan), plan)
    table.to_csv(tmp_path / "transfer.csv", index=False)
    path = str(tmp_path / "transfer.csv")
    figures = {
        "readouts": plots.readouts(path, tmp_path / "readouts.pdf", mouse="m1", sessions=2),
        "within": plots.within_animal(path, tmp_path / "within.pdf", mouse="m1"),
        "across": plots.across_animal(path, tmp_path / "across.pdf", mouse="m3"),
    }
    neurons = {"readouts": "all", "within": "transfer_set", "across": "all"}
    for experiment, fig in figures.items():
        assert_figure_files(tmp_path / f"{experiment}.pdf")
        assert legends_off_the_data(fig)
        curves = condition_curves(experiment_rows(table, experiment, neurons=neurons[experiment]))
        ax = panels(fig)[0]  # by number of images
        drawn = errorbar_curves(ax)
        assert list(drawn) == list(curves)
        for condition, curve in curves.items():
            np.testing.assert_allclose(drawn[condition][0], curve["n_images"], rtol=0.1)  # dodged side by side
            np.testing.assert_allclose(drawn[condition][1], curve["mean"])
            container = next(c for c in ax.containers if c.get_label() == condition)
            half = [(segment[1][1] - segment[0][1]) / 2 for segment in container.lines[2][0].get_segments()]
            np.testing.assert_allclose(half, curve["sd"])
        assert "2 seeds" in (fig.texts[0].get_text() if fig.texts else ax.get_title())
    # and by number of neurons trained on, each scored on the 6 neurons every run has (0.2 below its own)
    by_neurons = panels(figures["readouts"])[1]
    for condition, (x, y) in errorbar_curves(by_neurons).items():
        rows = table[(table["condition"] == condition) & (table["n_images"] == 60)]
        np.testing.assert_allclose(x, [6, 12], rtol=0.1)
        np.testing.assert_allclose(y, rows.groupby("n_neurons")["fraction_oracle"].mean() - 0.2)
    assert by_neurons.get_xlabel() == "neurons trained on (60 images), scored on the 6 all share"
    # the steps of the arms drawn: within, a frozen core's 10 + its readout's 20 but 20 for the others
    assert "20–30 optimizer steps" in panels(figures["within"])[0].get_title()
