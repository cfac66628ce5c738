"""Rule-level tests of the regularization continuum control, run by Snakemake on the tiny config."""
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score, silhouette_score

from v1twin.clustering.embeddings import load_embeddings
from v1twin.clustering.labels import kmeans_labels, load_labels
from v1twin.data.simulate import load_ground_truth
from v1twin.model_run import load_model

from conftest import draw_figure, tiny_results
from helpers import assert_figure_files, errorbar_curves, panels, scatter_points, tiny_config

pytestmark = pytest.mark.slow

TABLES = ["tables/regularization_control_runs.csv", "tables/regularization_control.csv"]
ROWS = tiny_config()["regularization_control"]["rows"]
SEEDS = [1, 2]


@pytest.fixture(scope="module")
def results(tiny_workdir):
    return tiny_results(tiny_workdir, *TABLES, figures=["regularization_control"])


def test_every_model_of_every_row_is_measured_at_every_k(results):
    runs = pd.read_csv(results / TABLES[0])
    expected = {(v, s, k) for row in ROWS.values() for v in row for s in SEEDS for k in [2, 3]}
    assert set(zip(runs["variant"], runs["seed"], runs["k"])) == expected
    gammas = runs.drop_duplicates("variant").set_index("variant")["gamma"]
    assert gammas["control_discrete"] == 0.0 and gammas["control_continuum_l1-10.0"] == 10.0
    assert runs["collapsed"].dtype == bool


def test_the_silhouette_and_sparsity_are_those_of_the_models_embedding(results):
    runs = pd.read_csv(results / TABLES[0]).set_index(["variant", "seed", "k"])
    embeddings = load_embeddings(results / "embeddings" / "control_discrete_l1-10.0" / "seed2.npz")
    labels = kmeans_labels(embeddings.embedding, 3, n_init=2, random_state=0)  # the tiny clustering settings
    row = runs.loc[("control_discrete_l1-10.0", 2, 3)]
    assert row["silhouette"] == pytest.approx(silhouette_score(embeddings.embedding, labels), rel=1e-5)
    model = load_model(results / "models" / "control_discrete_l1-10.0" / "seed2" / "model.pt")
    weights = np.abs(model.readouts["m1"].features.detach().numpy())
    assert row["sparsity"] == pytest.approx(np.mean(weights < 0.01 * weights.max(axis=1, keepdims=True)))
    assert np.isfinite([row["null_gaussian_mean"], row["null_shuffled_mean"]]).all()


def test_planted_type_agreement_only_where_types_were_planted(results, tiny_workdir):
    runs = pd.read_csv(results / TABLES[0])
    assert runs.loc[runs["row"] == "continuum", "ari_planted_kmeans"].isna().all()
    row = runs[(runs["variant"] == "control_discrete") & (runs["seed"] == 1) & (runs["k"] == 3)].iloc[0]
    truth = load_ground_truth(tiny_workdir / "resources" / "tiny" / "m1.ground_truth.npz")["cell_type"]
    labels = load_labels(results / "clusters" / "control_discrete" / "seed1.npz")
    assert row["ari_planted_kmeans"] == pytest.approx(adjusted_rand_score(truth, labels.at("kmeans", 3)))


def test_the_summary_gives_agreement_across_seeds_from_the_labels(results):
    summary = pd.read_csv(results / TABLES[1]).set_index(["variant", "k"])
    first, second = (load_labels(results / "clusters" / "control_continuum" / f"seed{s}.npz") for s in SEEDS)
    expected = adjusted_rand_score(first.at("gmm", 2), second.at("gmm", 2))
    row = summary.loc[("control_continuum", 2)]
    assert row["ari_gmm_mean"] == pytest.approx(expected)
    runs = pd.read_csv(results / TABLES[0])
    flags = runs[(runs["variant"] == "control_continuum") & (runs["k"] == 2)]["collapsed"]
    assert row["n_seeds"] == 2 and row["n_collapsed"] == flags.sum()


def test_the_figure_draws_every_map_and_the_measures_vs_gamma(results, tiny_workdir, tmp_path):
    assert_figure_files(results / "figures" / "regularization_control.pdf")
    drawn = draw_figure(tiny_workdir, "regularization_control", tmp_path / "control.pdf")
    axes = panels(drawn.figure)
    maps, summary_axes = axes[:-2], axes[-2:]
    # the discrete row twice (k-means and planted type), the continuum once, two gammas each
    assert len(maps) == 3 * 2
    tsne_rows = len(pd.read_csv(tiny_workdir / drawn.inputs["tsne"][0]))
    assert all(scatter_points(ax) == tsne_rows for ax in maps)
    summary = pd.read_csv(results / TABLES[1])
    at_k = summary[summary["k"] == 3].set_index("variant")
    assert f"silhouette {at_k.loc['control_discrete', 'silhouette']:.2f}" in maps[0].get_title()
    curves = errorbar_curves(summary_axes[1])
    continuum = at_k[at_k["row"] == "continuum"].sort_values("gamma")
    np.testing.assert_allclose(curves["continuum"][1], continuum["ari_kmeans_mean"])
