"""Rule-level test of the pruning stage: Snakemake prunes the tiny gaussian_g0 (4 -> 2 channels, two steps)
and fine-tunes its matched-budget control, gaussian_g0-finetuned."""

import json

import pandas as pd
import pytest
import torch

from v1twin import model_run, pruning, training
from v1twin.clustering.labels import load_labels

from conftest import figure_registry, tiny_results

pytestmark = pytest.mark.slow

SEEDS = (1, 2)
# Figures 4B and 4C need the consistency table of every variant: their rendering is unit-tested, their
# wiring to the control checked here.
FIGURE = "pruning_curves"
# Two epochs per step: the 3-epoch tiny models gain from the extra training, so a step is selected and
# the control has rounds to match.
OVERLAY = "pruning:\n  variants: [gaussian_g0]\n  min_channels: 2\n  fine_tune_epochs: 2\n"


@pytest.fixture(scope="module")
def overlay(tmp_path_factory):
    path = tmp_path_factory.mktemp("prune_config") / "prune.yaml"
    path.write_text(OVERLAY)
    return path


@pytest.fixture(scope="module")
def results(tiny_workdir, overlay):
    clusters = [f"clusters/gaussian_g0-{kind}/seed{seed}.npz" for kind in ("pruned", "finetuned") for seed in SEEDS]
    return tiny_results(
        tiny_workdir, "tables/pruning.csv", "tables/pruning_models.csv", *clusters, figures=[FIGURE], configs=(overlay,)
    )


@pytest.fixture(scope="module")
def selection(results):
    return json.loads((results / "pruning" / "gaussian_g0" / "selection.json").read_text())


def test_each_step_evaluates_every_remaining_feature_and_removes_the_cheapest(results):
    for seed in SEEDS:
        folder = results / "pruning" / "gaussian_g0" / f"seed{seed}"
        removed = []
        for step, n_left in ((1, 4), (2, 3)):
            removal = json.loads((folder / f"step{step}" / "removal.json").read_text())
            candidates = removal["candidates"]
            assert sorted(c["feature"] for c in candidates) == [f for f in range(4) if f not in removed]
            assert removal["channels_before"] == n_left
            best = max(candidates, key=lambda c: c["val_correlation"])
            assert removal["removed_feature"] == best["feature"]
            removed.append(best["feature"])
            assert removal["removed_features"] == sorted(removed)
            model = model_run.load_model(folder / f"step{step}" / "model.pt", torch.device("cpu"))
            assert pruning.remaining_features(model.core) == [f for f in range(4) if f not in removed]
            for progress_file in (training.STATE_FILE, pruning.CANDIDATES_FILE):
                assert not (folder / f"step{step}" / progress_file).exists()
        assert not (folder / "step3").exists()  # min_channels 2: two steps


def test_the_selected_step_becomes_a_pruned_model_with_test_measures(results, selection):
    assert selection["n_features"] == 4 and 2 <= selection["channels"] <= 4
    table = pd.read_csv(results / "tables" / "pruning.csv")
    assert len(table) == len(SEEDS) * 3  # channels 4, 3, 2 per seed
    assert set(table.loc[table["selected"], "channels"]) == {selection["channels"]}
    for seed in SEEDS:
        folder = results / "models" / "gaussian_g0-pruned" / f"seed{seed}"
        model = model_run.load_model(folder / "model.pt", torch.device("cpu"))
        assert len(pruning.remaining_features(model.core)) == selection["channels"]
        extras = model_run.read_model_file(folder / "model.pt")["extras"]
        assert extras["seed"] == seed and extras["mice"] == ["m1", "m2"]
        metrics = json.loads((folder / "metrics.json").read_text())
        assert -1 < metrics["mean"]["single_trial_correlation"] < 1
        assert metrics["pruning"]["channels"] == selection["channels"]


def pruning_path(results, seed: int, steps: int) -> list[dict]:
    """The step summaries of one seed's pruning path up to `steps`."""
    folder = results / "pruning" / "gaussian_g0" / f"seed{seed}"
    return [json.loads((folder / f"step{n}" / "removal.json").read_text()) for n in range(1, steps + 1)]


def test_the_control_trains_as_long_as_the_selected_pruned_path_and_removes_no_feature(results, selection):
    assert selection["step"] >= 1, "the tiny pruning kept all features: no fine-tuning for the control to match"
    for seed in SEEDS:
        path = pruning_path(results, seed, selection["step"])
        epochs = [removal["fine_tune"]["epochs"] for removal in path]
        assert epochs == [2] * selection["step"]
        folder = results / "models" / "gaussian_g0-finetuned" / f"seed{seed}"
        metrics = json.loads((folder / "metrics.json").read_text())
        control = metrics["control"]
        assert control["round_epochs"] == epochs and control["step"] == selection["step"]
        # the same epochs over the same data in the same batches: the same optimizer steps
        assert all(control["training"] == removal["fine_tune"]["training"] for removal in path)
        assert metrics["epochs"] == sum(epochs) == len(pd.read_csv(folder / "training_log.csv"))
        pruned = json.loads((results / "models" / "gaussian_g0-pruned" / f"seed{seed}" / "metrics.json").read_text())
        assert pruned["pruning"]["fine_tune_epochs"] == epochs
        model = model_run.load_model(folder / "model.pt", torch.device("cpu"))
        assert pruning.remaining_features(model.core) == [0, 1, 2, 3]
        trained = model_run.load_model(
            results / "models" / "gaussian_g0" / f"seed{seed}" / "model.pt", torch.device("cpu")
        )
        assert not torch.equal(model.core.input_conv.weight, trained.core.input_conv.weight)  # fine-tuned
        assert -1 < metrics["mean"]["single_trial_correlation"] < 1
        assert not (folder / pruning.CONTROL_ROUNDS).exists() and not (folder / training.STATE_FILE).exists()


def test_the_models_table_sets_the_control_beside_the_pruned_model(results, selection):
    table = pd.read_csv(results / "tables" / "pruning_models.csv")
    assert len(table) == 3 * len(SEEDS)
    for seed in SEEDS:
        rows = table[table["seed"] == seed].set_index("kind")
        assert rows.loc[["trained", "pruned", "finetuned"], "channels"].tolist() == [4, selection["channels"], 4]
        assert rows.at["trained", "fine_tune_epochs"] == 0
        epochs = rows.loc[["pruned", "finetuned"], "fine_tune_epochs"].tolist()
        assert epochs == [2 * selection["step"]] * 2
        metrics = json.loads((results / "models/gaussian_g0-finetuned" / f"seed{seed}" / "metrics.json").read_text())
        assert rows.at["finetuned", "fraction_oracle"] == pytest.approx(metrics["mean"]["fraction_oracle"])


def test_the_pruned_model_and_its_control_are_clustered_and_drawn(results, tiny_workdir, overlay):
    for kind in ("pruned", "finetuned"):
        for seed in SEEDS:
            labels = load_labels(results / "clusters" / f"gaussian_g0-{kind}" / f"seed{seed}.npz")
            assert labels.labels["kmeans"].shape == (3, 80)  # K in [2, 3, 4] x 2 mice of 40 neurons
    for suffix in (".pdf", ".png"):
        assert (results / "figures" / f"{FIGURE}{suffix}").stat().st_size > 1000
    registry = figure_registry(tiny_workdir, (overlay,))
    for name in ("pruning_ari", "pruning_tradeoff"):
        assert registry[name]["options"]["finetuned"] == {"gaussian_g0-finetuned": "gaussian_g0"}, name
    tradeoff = registry["pruning_tradeoff"]
    assert tradeoff["options"]["variants"][-2:] == ["gaussian_g0-pruned", "gaussian_g0-finetuned"]
    control_metrics = [f"results/tiny/models/gaussian_g0-finetuned/seed{seed}/metrics.json" for seed in SEEDS]
    assert set(control_metrics) <= set(tradeoff["inputs"]["metrics"])
