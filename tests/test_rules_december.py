"""Rule-level tests of the DECEMber stage, run by Snakemake on the tiny config."""
import json

import numpy as np
import pandas as pd
import pytest

from v1twin.december import load_clusters
from v1twin.training import load_checkpoint

from conftest import run_snakemake

pytestmark = pytest.mark.slow

N_NEURONS = 2 * 40
MAIN = "pe1-k{k}-beta100-lr0.01"  # the tiny config's main grid at K = k
FIGURES = ["december_toy", "december_beta", "december_sweeps", "december_agreement", "december_confusion"]
TABLES = ["tables/december_runs.csv", "consistency/december_across_seeds.csv",
          "consistency/december_planted_types.csv"]


@pytest.fixture(scope="module")
def results(tiny_workdir):
    targets = [f"results/tiny/{name}" for name in TABLES]
    targets += [f"results/tiny/figures/{name}.pdf" for name in FIGURES]
    run_snakemake(tiny_workdir, *targets)
    return tiny_workdir / "results" / "tiny"


def test_runs_write_checkpoint_labels_and_cluster_parameters(results):
    run = results / "december" / "gaussian_g0" / MAIN.format(k=3) / "seed1"
    clusters = load_clusters(run / "clusters.npz")
    assert clusters.labels.shape == (N_NEURONS,) and clusters.labels.max() < 3
    assert clusters.means.shape == clusters.scales.shape == (3, 4)  # the tiny CNN core has 4 channels
    assert (clusters.scales >= 1e-4).all()
    stored = load_checkpoint(run / "model.pt")["extras"]["december"]
    np.testing.assert_allclose(stored["means"], clusters.means)
    assert (stored["k"], stored["beta"]) == (3, 100.0)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["pretrain_epochs"] == 1 and metrics["em_seconds_per_step"] > 0
    assert 0 < metrics["em_fraction"] < 1
    assert 0 <= metrics["saturated_initial"] <= 1 and 0 <= metrics["saturated_final"] <= 1
    assert -1 <= metrics["ari_initial_final"] <= 1
    assert clusters.initial_labels.shape == (N_NEURONS,) and clusters.initial_labels.max() < 3
    assert not (run / "training_state.pt").exists()


def test_tables_hold_every_run_and_the_baseline(results):
    runs = pd.read_csv(results / "tables" / "december_runs.csv")
    # K 2, 3 x seeds 1, 2, plus the beta sweep's value off the main grid (10) on seed 1
    assert (runs["model"] == "DECEMber").sum() == 5
    assert (runs["model"] == "baseline").sum() == 2
    assert runs["test_single_trial_correlation"].notna().all()
    consistency = pd.read_csv(results / "consistency" / "december_across_seeds.csv")
    december = consistency[consistency["method"] == "december"]
    assert sorted(december["k"]) == [2, 3] and (december["n_pairs"] == 1).all()
    assert set(consistency["method"]) == {"december", "december_init", "gmm", "kmeans"}
    start = consistency[consistency["method"] == "december_init"]
    assert sorted(start["k"]) == [2, 3]
    assert consistency["ari_mean"].between(-1, 1).all()
    planted = pd.read_csv(results / "consistency" / "december_planted_types.csv")
    assert len(planted) == 5 and planted[["ari", "ari_initial"]].stack().between(-1, 1).all()


def test_every_figure_is_rendered(results):
    for name in FIGURES:
        for suffix in (".pdf", ".png"):
            assert (results / "figures" / f"{name}{suffix}").stat().st_size > 1000
