"""Rule-level test of the pruning stage: Snakemake prunes the tiny gaussian_g0 (4 -> 2 channels, two steps)."""
import json

import pandas as pd
import pytest
import torch

from v1twin import model_run, pruning, training
from v1twin.clustering.labels import load_labels

from conftest import tiny_results

pytestmark = pytest.mark.slow

SEEDS = (1, 2)
# Figures 4B and 4C need the consistency table of every variant; their rendering is unit-tested.
FIGURE = "pruning_curves"


@pytest.fixture(scope="module")
def results(tiny_workdir, tmp_path_factory):
    overlay = tmp_path_factory.mktemp("prune_config") / "prune.yaml"
    overlay.write_text("pruning:\n  variants: [gaussian_g0]\n  min_channels: 2\n  fine_tune_epochs: 1\n")
    clusters = [f"clusters/gaussian_g0-pruned/seed{seed}.npz" for seed in SEEDS]
    return tiny_results(tiny_workdir, "tables/pruning.csv", *clusters, figures=[FIGURE], configs=(overlay,))


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


def test_the_selected_step_becomes_a_pruned_model_with_test_measures(results):
    selection = json.loads((results / "pruning" / "gaussian_g0" / "selection.json").read_text())
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


def test_the_pruned_variant_is_clustered_and_its_curves_are_drawn(results):
    for seed in SEEDS:
        labels = load_labels(results / "clusters" / "gaussian_g0-pruned" / f"seed{seed}.npz")
        assert labels.labels["kmeans"].shape == (3, 80)  # K in [2, 3, 4] x 2 mice of 40 neurons
    for suffix in (".pdf", ".png"):
        assert (results / "figures" / f"{FIGURE}{suffix}").stat().st_size > 1000
