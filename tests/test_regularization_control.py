"""The regularization continuum control's measures: matched nulls, silhouettes, sparsity, collapsed runs."""
import numpy as np
import pandas as pd
import pytest

from v1twin.clustering.labels import ClusterLabels
from v1twin.data.simulate import save_ground_truth, simulate_mouse
from v1twin.regularization_control import (
    ControlSettings,
    across_seeds,
    gaussian_null,
    planted_types_if_typed,
    readout_sparsity,
    shuffled_null,
    silhouettes_with_nulls,
    summary_table,
)

SETTINGS = ControlSettings(k_values=[4], null_draws=3, silhouette_sample=2000, weight_threshold=0.01, n_init=4,
                           random_state=0)


def correlated_blob(rng, n=4000, dims=6):
    mixing = rng.normal(size=(dims, dims))
    return rng.normal(size=(n, dims)) @ mixing + 3.0


def test_the_gaussian_null_has_the_embeddings_mean_and_covariance():
    rng = np.random.default_rng(0)
    x = correlated_blob(rng)
    null = gaussian_null(x, np.random.default_rng(1))
    assert null.shape == x.shape
    np.testing.assert_allclose(null.mean(axis=0), x.mean(axis=0), atol=0.25)
    np.testing.assert_allclose(np.cov(null, rowvar=False), np.cov(x, rowvar=False), atol=0.1 * np.abs(np.cov(x)).max())


def test_the_shuffled_null_keeps_every_marginal_and_removes_the_dependence():
    rng = np.random.default_rng(0)
    x = correlated_blob(rng)
    null = shuffled_null(x, np.random.default_rng(1))
    np.testing.assert_array_equal(np.sort(null, axis=0), np.sort(x, axis=0))
    off_diagonal = ~np.eye(x.shape[1], dtype=bool)
    assert np.abs(np.corrcoef(x, rowvar=False)[off_diagonal]).max() > 0.3
    assert np.abs(np.corrcoef(null, rowvar=False)[off_diagonal]).max() < 0.06


def test_planted_clusters_beat_their_nulls_and_a_gaussian_blob_does_not():
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=4.0, size=(4, 5))
    clustered = np.concatenate([centre + rng.normal(scale=0.5, size=(150, 5)) for centre in centres])
    blob = rng.normal(size=(600, 5)) @ rng.normal(size=(5, 5))
    with_types = silhouettes_with_nulls(clustered, SETTINGS).iloc[0]
    without = silhouettes_with_nulls(blob, SETTINGS).iloc[0]
    assert with_types["silhouette"] > with_types["null_gaussian_mean"] + 0.3
    assert with_types["silhouette"] > with_types["null_shuffled_mean"] + 0.2
    # a Gaussian blob is its own Gaussian null: its silhouette lies within the null's spread
    assert abs(without["silhouette"] - without["null_gaussian_mean"]) < 0.05
    assert without["null_gaussian_sd"] < 0.05


def test_readout_sparsity_counts_weights_below_the_threshold_of_their_neurons_largest():
    features = np.array([[1.0, -0.005, 0.02, 0.0], [0.001, 0.0, -0.1, 0.05]])
    # row 1: |-0.005| and 0 fall below 0.01; row 2 (max 0.1, threshold 0.001): only the 0
    assert readout_sparsity(features, 0.01) == pytest.approx(3 / 8)


def labels_of(kmeans_rows, k_values=(2,)):
    kmeans = np.asarray(kmeans_rows)[None, :]
    n = kmeans.shape[1]
    return ClusterLabels(k_values=np.asarray(k_values), labels={"kmeans": kmeans, "gmm": kmeans},
                         mouse=np.full(n, "m"), unit_id=np.arange(n))


def test_agreement_across_seeds_is_reported_over_all_pairs_and_over_non_collapsed_pairs():
    labels = {1: labels_of([0, 0, 1, 1]), 2: labels_of([1, 1, 0, 0]), 3: labels_of([0, 1, 0, 1])}
    table = across_seeds(labels, ok_seeds=[1, 2], k_values=[2]).set_index("method").loc["kmeans"]
    # pairs (1,2): ARI 1; (1,3) and (2,3): ARI -0.5 (hand-computed for these 4-element partitions)
    assert table["n_pairs"] == 3 and table["ari_mean"] == pytest.approx(0.0)
    assert table["n_pairs_ok"] == 1 and table["ari_ok_mean"] == pytest.approx(1.0)


def test_the_summary_averages_over_seeds_and_counts_collapsed_ones():
    runs = pd.DataFrame({
        "row": "discrete", "variant": "v", "gamma": 5.0, "seed": [1, 2, 3], "k": 2,
        "test_correlation": [0.6, 0.5, 0.1], "sparsity": [0.2, 0.4, 0.9], "silhouette": [0.3, 0.2, 0.1],
        "null_gaussian_mean": 0.1, "null_shuffled_mean": 0.05, "ari_planted_kmeans": [1.0, 0.5, 0.0],
        "ari_planted_gmm": np.nan, "collapsed": [False, False, True]})
    labels = {"v": {1: labels_of([0, 0, 1, 1]), 2: labels_of([1, 1, 0, 0]), 3: labels_of([0, 1, 0, 1])}}
    row = summary_table(runs, labels).iloc[0]
    assert row["test_correlation"] == pytest.approx(0.4) and row["sparsity"] == pytest.approx(0.5)
    assert row["n_seeds"] == 3 and row["n_collapsed"] == 1
    assert row["ari_kmeans_mean"] == pytest.approx(0.0) and row["ari_kmeans_ok_mean"] == pytest.approx(1.0)


SIMULATION = {"image_height": 32, "image_width": 48, "n_train": 40, "n_validation": 10, "n_test_images": 4,
              "test_repeats": 2, "neurons": 12, "n_types": 3}


def test_planted_types_exist_only_for_simulated_populations_with_types(tmp_path):
    assert planted_types_if_typed([], ["m"], np.full(12, "m")) is None  # real data: no ground truth
    files = {}
    for name, discreteness in (("typed", 1.0), ("continuum", 0.0)):
        _, truth = simulate_mouse({**SIMULATION, "discreteness": discreteness}, seed=3, stimulus_seed=0)
        files[name] = tmp_path / f"{name}.npz"
        save_ground_truth(files[name], truth)
        if name == "typed":
            expected = truth["cell_type"]
    np.testing.assert_array_equal(planted_types_if_typed([files["typed"]], ["m"], np.full(12, "m")), expected)
    assert planted_types_if_typed([files["continuum"]], ["m"], np.full(12, "m")) is None
