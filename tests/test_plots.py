"""Figures shared across stages: clusters coloured by their matched planted type, and the DECEMber sweeps
figure at the demo's shapes (every point of lr × PE with its spread over seeds)."""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from v1twin.clustering.labels import ClusterLabels, save_labels
from v1twin.data.simulate import save_ground_truth, simulate_mouse
from v1twin.december.tables import CORRELATION
from v1twin.plots import december as december_plots
from v1twin.plots.clustering import category_colours, cluster_colours, tsne_embeddings
from v1twin.plots.regularization_control import control_figure

from helpers import assert_figure_files, errorbar_curves, legend_labels, legends_off_the_data, panels

# ----------------------------------------------------------------------------------------------
# Clusters matched to planted types (Hungarian assignment)


def test_clusters_that_permute_the_types_take_their_types_colours():
    types = np.repeat([0, 1, 2, 3], 5)
    clusters = np.array([2, 0, 3, 1])[types]  # cluster 2 holds type 0, cluster 0 type 1, ...
    values, palette = cluster_colours(clusters, types, 4)
    np.testing.assert_array_equal(values, types)
    np.testing.assert_allclose(palette, category_colours(4))


def test_leftover_clusters_get_colours_of_their_own():
    types = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    clusters = np.array([3, 3, 3, 0, 1, 1, 1, 2])  # type 0 mostly in cluster 3, type 1 in cluster 1
    values, palette = cluster_colours(clusters, types, 2)
    np.testing.assert_array_equal(values, [0, 0, 0, 2, 1, 1, 1, 3])  # clusters 0 and 2 left over, in id order
    assert len(palette) == 4
    np.testing.assert_allclose(palette[:2], category_colours(2))
    assert len({tuple(colour) for colour in palette}) == 4  # every colour distinct


def test_fewer_clusters_than_types_match_the_largest_share_and_types_alone_keep_their_ids():
    values, palette = cluster_colours(np.zeros(5, int), np.array([1, 1, 1, 0, 2]), 3)
    np.testing.assert_array_equal(values, np.ones(5))
    assert len(palette) == 3
    clusters = np.array([0, 2, 1, 2])
    values, palette = cluster_colours(clusters)  # no types: cluster c has colour c
    np.testing.assert_array_equal(values, clusters)
    np.testing.assert_allclose(palette, category_colours(3))


@dataclass(frozen=True)
class TypedMap:
    """Files of one simulated mouse whose k-means labels (K = 3) are its planted types under other ids."""

    truth: str
    labels: str
    tsne: str
    shown_types: np.ndarray  # the planted type of each t-SNE row


@pytest.fixture
def typed_map(tmp_path) -> TypedMap:
    mouse, truth = simulate_mouse({"neurons": 30, "n_types": 3, "image_height": 32, "image_width": 32,
                                   "n_train": 10, "n_validation": 2, "n_test_images": 2, "test_repeats": 2}, 0, 0)
    save_ground_truth(tmp_path / "m1.ground_truth.npz", truth)
    kmeans = np.array([2, 0, 1])[truth["cell_type"]]  # k-means found the types under other ids
    n = len(kmeans)
    save_labels(tmp_path / "labels.npz", ClusterLabels(np.array([3]), {"kmeans": kmeans[None], "gmm": kmeans[None]},
                                                       np.full(n, "m1"), mouse.unit_ids))
    rng = np.random.default_rng(0)
    order = rng.permutation(n)  # the t-SNE table lists the neurons in another order
    pd.DataFrame({"mouse": "m1", "unit_id": mouse.unit_ids[order], "x": rng.normal(size=n),
                  "y": rng.normal(size=n)}).to_csv(tmp_path / "tsne.csv", index=False)
    return TypedMap(str(tmp_path / "m1.ground_truth.npz"), str(tmp_path / "labels.npz"), str(tmp_path / "tsne.csv"),
                    truth["cell_type"][order])


def test_tsne_map_draws_each_cluster_in_its_planted_types_colour(typed_map, tmp_path):
    fig = tsne_embeddings([typed_map.tsne], [typed_map.labels], [typed_map.truth], str(tmp_path / "tsne.pdf"),
                          variants=["v"], k=3, mice=["m1"])
    assert_figure_files(tmp_path / "tsne.pdf")
    by_cluster, by_type = (ax.collections[0].get_facecolors() for ax in panels(fig))
    np.testing.assert_allclose(by_cluster, by_type)  # every neuron: its cluster's colour is its type's
    np.testing.assert_allclose(by_type[:, :3], category_colours(3)[typed_map.shown_types])
    assert len(legend_labels(fig)) == 3  # the planted types' legend holds for both rows


def test_regularization_control_maps_draw_each_cluster_in_its_planted_types_colour(typed_map, tmp_path):
    summary = {"row": "discrete", "variant": "v", "gamma": 0.0, "k": 3, "silhouette": 0.2, "null_gaussian_mean": 0.1,
               "null_shuffled_mean": 0.1, "ari_kmeans_mean": 0.5, "ari_kmeans_sd": 0.1, "ari_kmeans_ok_mean": 0.5,
               "ari_gmm_mean": 0.5, "ari_planted_kmeans": 1.0, "test_correlation": 0.3, "sparsity": 0.1,
               "n_collapsed": 0}
    variants = ["v", "w"]  # two strengths of one population, drawn from the same files
    pd.DataFrame([{**summary, "variant": v} for v in variants]).to_csv(tmp_path / "summary.csv", index=False)
    pd.DataFrame({"variant": variants, "seed": 1, "collapsed": False}).to_csv(tmp_path / "runs.csv", index=False)
    fig = control_figure([typed_map.tsne] * 2, [typed_map.labels] * 2, str(tmp_path / "summary.csv"),
                         str(tmp_path / "runs.csv"), [typed_map.truth], str(tmp_path / "control.pdf"),
                         rows={"discrete": variants}, row_mice={"discrete": ["m1"]}, truth_mice=["m1"], k=3)
    maps = np.reshape(panels(fig)[:4], (2, 2))  # rows: k-means, planted type; columns: the two strengths
    for by_cluster, by_type in maps.T:
        np.testing.assert_allclose(by_cluster.collections[0].get_facecolors(), by_type.collections[0].get_facecolors())
        np.testing.assert_allclose(by_type.collections[0].get_facecolors()[:, :3],
                                   category_colours(3)[typed_map.shown_types])


# ----------------------------------------------------------------------------------------------
# DECEMber: learning rate × PE at the demo's shapes


MAIN = {"pe": 4, "beta_ratio": 1.0, "lr": 0.005}
PE_VALUES, LEARNING_RATES = [2, 4, 8], [0.003, 0.005, 0.03]


def december_tables(tmp_path) -> tuple[str, str]:
    """Runs and vs-baseline tables of the demo's lr × PE grid at K = 6: the main lr on 3 seeds, the others on 2."""
    rng = np.random.default_rng(0)
    runs = [{"model": "DECEMber", "variant": "v", "pe": pe, "k": 6, "beta_ratio": 1.0, "lr": lr, "seed": seed,
             "best_val_correlation": rng.uniform(0.3, 0.6), CORRELATION: rng.uniform(0.3, 0.6)}
            for pe in PE_VALUES for lr in LEARNING_RATES for seed in ([1, 2, 3] if lr == MAIN["lr"] else [1, 2])]
    runs += [{"model": "baseline", "variant": "v", "seed": seed, CORRELATION: rng.uniform(0.5, 0.7)}
             for seed in (1, 2, 3)]
    across = [{"method": method, "pe": pe, "k": 6, "beta_ratio": 1.0, "lr": lr,
               "n_pairs": 3 if lr == MAIN["lr"] else 1, "ari_mean": rng.uniform(), "ari_sd": rng.uniform(0, 0.1)}
              for method in ("december", "december_init") for pe in PE_VALUES for lr in LEARNING_RATES]
    across += [{"method": method, "k": 6, "n_pairs": 3, "ari_mean": rng.uniform(), "ari_sd": 0.05}
               for method in ("gmm_converged", "kmeans_converged")]
    for row in across:
        if row["n_pairs"] == 1:
            row["ari_sd"] = np.nan
    pd.DataFrame(runs).to_csv(tmp_path / "runs.csv", index=False)
    pd.DataFrame(across).to_csv(tmp_path / "vs.csv", index=False)
    return str(tmp_path / "runs.csv"), str(tmp_path / "vs.csv")


def test_december_sweeps_draw_every_lr_and_pe_with_the_spread_over_seeds(tmp_path):
    runs, vs = december_tables(tmp_path)
    fig = december_plots.sweeps_figure(runs, vs, str(tmp_path / "sweeps.pdf"), MAIN, 6, "v")
    assert_figure_files(tmp_path / "sweeps.pdf")
    validation_ax, test_ax, ari_lr_ax, ari_pe_ax, correlation_ax = panels(fig)
    table, across = pd.read_csv(runs), pd.read_csv(vs)
    ours = table[table["model"] == "DECEMber"]
    for ax, column in ((validation_ax, "best_val_correlation"), (test_ax, CORRELATION)):
        curves = errorbar_curves(ax)
        assert set(curves) == {f"PE {pe}" for pe in PE_VALUES}
        for pe in PE_VALUES:
            expected = ours[ours["pe"] == pe].groupby("lr")[column].agg(["mean", "std"])
            np.testing.assert_allclose(curves[f"PE {pe}"][0], LEARNING_RATES)
            np.testing.assert_allclose(curves[f"PE {pe}"][1], expected["mean"])
            (container,) = [c for c in ax.containers if c.get_label() == f"PE {pe}"]
            half = [(segment[1][1] - segment[0][1]) / 2 for segment in container.lines[2][0].get_segments()]
            np.testing.assert_allclose(half, expected["std"])  # sd over the 2 or 3 seeds of each point
        assert ax.get_ylabel().endswith("mean ± sd over 2–3 seeds")
    curves = errorbar_curves(ari_lr_ax)  # ARI across seeds against lr, one curve per PE
    for pe in PE_VALUES:
        rows = across[(across["method"] == "december") & (across["pe"] == pe)].sort_values("lr")
        np.testing.assert_allclose(curves[f"PE {pe}"][0], LEARNING_RATES)
        np.testing.assert_allclose(curves[f"PE {pe}"][1], rows["ari_mean"])
    assert ari_lr_ax.get_ylabel().endswith("mean ± sd over 1–3 seed pairs")
    at_main = across[(across["method"] == "december") & (across["lr"] == MAIN["lr"])].sort_values("pe")
    np.testing.assert_allclose(errorbar_curves(ari_pe_ax)["DECEMber"][1], at_main["ari_mean"])
    assert correlation_ax.get_xlabel() == "pretraining epochs PE"
    labels = legend_labels(fig)
    assert {"DECEMber", *(december_plots.METHOD_STYLE[m]["label"] for m in ("december_init", "gmm_converged",
                                                                              "kmeans_converged"))} <= set(labels)
    assert labels.count("DECEMber") == 1  # the bottom row's panels share one legend
    assert legends_off_the_data(fig)


def test_december_sweeps_need_the_runs_columns(tmp_path):
    runs, vs = december_tables(tmp_path)
    pd.read_csv(runs).drop(columns="best_val_correlation").to_csv(runs, index=False)
    with pytest.raises(ValueError, match="runs.csv.*best_val_correlation"):
        december_plots.sweeps_figure(runs, vs, str(tmp_path / "sweeps.pdf"), MAIN, 6, "v")
