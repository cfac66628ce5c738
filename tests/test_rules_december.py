"""Rule-level tests of the DECEMber stage, run by Snakemake on the tiny config."""
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from v1twin.data.simulate import load_ground_truth
from v1twin.december.clusters import load_clusters
from v1twin.files import read_npz
from v1twin.model_run import read_model_file
from v1twin.plots.clustering import MEASURE_NAMES
from v1twin.plots.december import METHOD_STYLE, SWEEP_NAMES, TOY_METHODS

from conftest import draw_figure, tiny_results
from helpers import errorbar_curves, legend_labels, panels, scatter_points

pytestmark = pytest.mark.slow

N_NEURONS = 2 * 40
MAIN = "pe1-k{k}-beta100-lr0.01"  # the tiny config's main grid at K = k
FIGURES = ["december_toy", "december_beta", "december_sweeps", "december_agreement", "december_confusion"]
TABLES = ["tables/december_runs.csv", "consistency/december_across_seeds.csv",
          "consistency/december_planted_types.csv"]


@pytest.fixture(scope="module")
def results(tiny_workdir):
    return tiny_results(tiny_workdir, *TABLES, figures=FIGURES)


def test_runs_write_checkpoint_labels_and_cluster_parameters(results):
    run = results / "december" / "gaussian_g0" / MAIN.format(k=3) / "seed1"
    clusters = load_clusters(run / "clusters.npz")
    assert clusters.labels.shape == (N_NEURONS,) and clusters.labels.max() < 3
    assert clusters.means.shape == clusters.scales.shape == (3, 4)  # the tiny CNN core has 4 channels
    assert (clusters.scales >= 1e-4).all()
    stored = read_model_file(run / "model.pt")["extras"]["december"]
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


# ---------------------------------------------------------------------------------------------
# What each figure draws, from the files its rule reads

def main_rows(frame: pd.DataFrame, main: dict, free: str | None = None) -> pd.DataFrame:
    """Rows at the main grid's setting, `free` left free."""
    keep = np.ones(len(frame), bool)
    for key, value in main.items():
        if key != free:
            keep &= np.isclose(frame[key].astype(float), float(value))
    return frame[keep]


def test_toy_figure_draws_every_weight_and_both_methods_centre_paths(results, tiny_workdir, tmp_path):
    drawn = draw_figure(tiny_workdir, "december_toy", tmp_path / "toy.pdf")
    toy = read_npz(drawn.inputs["toy"], ("pretrained", "true_cluster", "true_centres", *(
        f"{m}_{key}" for m in TOY_METHODS for key in ("weights", "centre_path", "sizes", "ari"))))
    pretrained_ax, *method_axes, distance_ax = panels(drawn.figure)
    assert len(method_axes) == len(TOY_METHODS)
    assert scatter_points(pretrained_ax) == len(toy["pretrained"])
    assert str(np.bincount(toy["true_cluster"]).tolist()) in pretrained_ax.get_title()
    for ax, method in zip(method_axes, TOY_METHODS):
        assert scatter_points(ax) == len(toy[f"{method}_weights"])
        assert ax.get_title() == (f"{TOY_METHODS[method]}\nsizes {toy[f'{method}_sizes'].tolist()}, "
                                  f"ARI {float(toy[f'{method}_ari']):.2f}")
        n_centres = toy[f"{method}_centre_path"].shape[1]
        assert len(ax.lines) == 2 * n_centres + 1  # each centre's path and end, and the true centres
        np.testing.assert_allclose(ax.lines[0].get_xydata(), toy[f"{method}_centre_path"][:, 0])
    assert legend_labels(distance_ax) == [*TOY_METHODS.values(), "true distance"]
    for line, method in zip(distance_ax.lines, TOY_METHODS):
        path = toy[f"{method}_centre_path"]
        np.testing.assert_allclose(line.get_ydata(), np.linalg.norm(path[:, 0] - path[:, 1], axis=1))
    true_distance = np.linalg.norm(np.diff(toy["true_centres"], axis=0))
    np.testing.assert_allclose(distance_ax.lines[-1].get_ydata(), true_distance)


def test_beta_figure_maps_each_beta_and_plots_the_tables_values(results, tiny_workdir, tmp_path):
    drawn = draw_figure(tiny_workdir, "december_beta", tmp_path / "beta.pdf")
    betas, main, k = drawn.options["betas"], drawn.options["main"], drawn.options["k"]
    *maps, performance_ax, ari_ax = panels(drawn.figure)
    assert [ax.get_title() for ax in maps] == [f"β = {beta:g}" for beta in betas]
    for ax, tsne in zip(maps, drawn.inputs["tsne"]):
        assert scatter_points(ax) == len(pd.read_csv(tsne))  # a point per mapped neuron
    runs = pd.read_csv(drawn.inputs["runs"])
    ours = main_rows(runs[runs["model"] == "DECEMber"], main, free="beta")
    ours = ours[ours["k"] == k].groupby("beta")["test_single_trial_correlation"].mean()
    beta, correlation = errorbar_curves(performance_ax)["DECEMber"]
    np.testing.assert_allclose(beta, ours.index)
    np.testing.assert_allclose(correlation, ours.to_numpy())
    baseline = runs.loc[runs["model"] == "baseline", "test_single_trial_correlation"]
    assert f"without loss (n = {len(baseline)})" in legend_labels(performance_ax)
    assert_agreement_curves(ari_ax, pd.read_csv(drawn.inputs["consistency"]), main, "ari")


def assert_agreement_curves(ax, consistency: pd.DataFrame, main: dict, measure: str) -> None:
    """A curve per method of the consistency table, DECEMber's at the main setting, each the table's values vs K."""
    curves = errorbar_curves(ax)
    assert set(curves) == {METHOD_STYLE[method]["label"] for method in consistency["method"].unique()}
    assert ax.get_ylabel() == f"{MEASURE_NAMES[measure]} across seeds"
    for method, rows in consistency.groupby("method"):
        rows = main_rows(rows, main) if method.startswith("december") else rows
        rows = rows.sort_values("k")
        k, values = curves[METHOD_STYLE[method]["label"]]
        np.testing.assert_array_equal(k, rows["k"])
        np.testing.assert_allclose(values, rows[f"{measure}_mean"])


def test_sweeps_figure_plots_agreement_and_correlation_over_each_sweep(results, tiny_workdir, tmp_path):
    drawn = draw_figure(tiny_workdir, "december_sweeps", tmp_path / "sweeps.pdf")
    main, k = drawn.options["main"], drawn.options["k"]
    sweeps = ["pe", "lr"]  # the figure's columns; β has a figure of its own
    axes = panels(drawn.figure)
    assert len(axes) == 2 * len(sweeps)
    top, bottom = axes[:len(sweeps)], axes[len(sweeps):]
    assert [ax.get_title() for ax in top] == [f"over {SWEEP_NAMES[key]}" for key in sweeps]
    assert [ax.get_xlabel() for ax in bottom] == [SWEEP_NAMES[key] for key in sweeps]
    consistency = pd.read_csv(drawn.inputs["consistency"])
    runs = pd.read_csv(drawn.inputs["runs"])
    gmm = consistency.loc[(consistency["method"] == "gmm") & (consistency["k"] == k), "ari_mean"].mean()
    baseline = runs.loc[runs["model"] == "baseline", "test_single_trial_correlation"].mean()
    for key, ari_ax, correlation_ax in zip(sweeps, top, bottom):
        assert ari_ax.get_ylabel() == f"ARI across seeds (K = {k})"
        agreement = main_rows(consistency[consistency["method"] == "december"], main, free=key)
        agreement = agreement[agreement["k"] == k].sort_values(key)
        values, ari = errorbar_curves(ari_ax)["DECEMber"]
        np.testing.assert_allclose(values, agreement[key])
        np.testing.assert_allclose(ari, agreement["ari_mean"])
        np.testing.assert_allclose(ari_ax.lines[-1].get_ydata(), gmm)  # the GMM level at K = k
        performance = main_rows(runs[runs["model"] == "DECEMber"], main, free=key)
        performance = performance[performance["k"] == k].groupby(key)["test_single_trial_correlation"].mean()
        values, correlation = errorbar_curves(correlation_ax)["DECEMber"]
        np.testing.assert_allclose(values, performance.index)
        np.testing.assert_allclose(correlation, performance.to_numpy())
        np.testing.assert_allclose(correlation_ax.lines[-1].get_ydata(), baseline)  # the model without the loss


def test_agreement_figure_plots_each_measure_of_every_method(results, tiny_workdir, tmp_path):
    drawn = draw_figure(tiny_workdir, "december_agreement", tmp_path / "agreement.pdf")
    axes = panels(drawn.figure)
    assert len(axes) == len(MEASURE_NAMES)
    consistency = pd.read_csv(drawn.inputs["consistency"])
    for ax, measure in zip(axes, MEASURE_NAMES):
        assert_agreement_curves(ax, consistency, drawn.options["main"], measure)


def test_confusion_figure_has_a_matrix_per_seed_and_the_ari_curves(results, tiny_workdir, tmp_path):
    drawn = draw_figure(tiny_workdir, "december_confusion", tmp_path / "confusion.pdf")
    seeds, main, mice = drawn.options["seeds"], drawn.options["main"], drawn.options["mice"]
    truths = [load_ground_truth(path) for path in drawn.inputs["truth"]]
    type_names = [str(name) for name in truths[0]["type_names"]]
    cell_type = np.concatenate([truth["cell_type"] for truth in truths])  # readout order: mice in order
    *matrices, curves_ax = panels(drawn.figure)
    assert len(matrices) == len(seeds)
    planted = pd.read_csv(drawn.inputs["planted"])
    for ax, seed, path in zip(matrices, seeds, drawn.inputs["clusters"]):
        clusters = load_clusters(path)
        assert clusters.mouse.astype(str).tolist() == [m for m, t in zip(mice, truths) for _ in t["cell_type"]]
        ari = planted.loc[(planted["seed"] == seed) & np.isclose(planted["k"], len(clusters.means))
                          & np.isclose(planted["beta"], main["beta"]), "ari"]
        assert ari.size == 1
        assert ax.get_title() == f"seed {seed}: ARI {float(ari.iloc[0]):.2f}"  # the planted table's ARI
        np.testing.assert_allclose(adjusted_rand_score(cell_type, clusters.labels), float(ari.iloc[0]))
        (mesh,) = ax.collections
        matrix = mesh.get_array().reshape(len(type_names), -1)
        np.testing.assert_allclose(matrix.sum(axis=1), 1.0)  # fractions of each planted type
        assert [text.get_text() for text in ax.get_yticklabels()] == type_names
        counts = np.sort(np.bincount(clusters.labels, minlength=matrix.shape[1]))
        np.testing.assert_allclose(np.sort((matrix * np.bincount(cell_type)[:, None]).sum(axis=0)), counts)
    ours = main_rows(planted, main).groupby("k")["ari"].mean()
    k, ari = errorbar_curves(curves_ax)["DECEMber"]
    np.testing.assert_array_equal(k, ours.index)
    np.testing.assert_allclose(ari, ours.to_numpy())
    baseline = pd.read_csv(drawn.inputs["baseline"])
    baseline = baseline[baseline["variant"] == drawn.options["variant"]]
    assert set(errorbar_curves(curves_ax)) == {style["label"] for style in METHOD_STYLE.values()}
    for method in ("gmm", "kmeans"):
        expected = baseline[(baseline["method"] == method) & baseline["k"].isin(ours.index)].groupby("k")["ari"].mean()
        np.testing.assert_allclose(errorbar_curves(curves_ax)[METHOD_STYLE[method]["label"]][1], expected.to_numpy())
    assert f"planted types ({len(type_names)})" in legend_labels(curves_ax)
