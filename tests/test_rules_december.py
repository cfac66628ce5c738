"""Rule-level tests of the DECEMber stage, run by Snakemake on the tiny config."""
import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import adjusted_rand_score

from v1twin.clustering.labels import gmm_labels, kmeans_labels
from v1twin.data.simulate import load_ground_truth
from v1twin.december.baseline import load_baseline
from v1twin.december.clusters import load_clusters
from v1twin.december.toy import TARGET_READINGS
from v1twin.files import read_npz
from v1twin.model_run import load_model, read_model_file
from v1twin.plots.clustering import MEASURE_NAMES
from v1twin.plots.december import METHOD_STYLE, TOY_METHODS

from conftest import draw_figure, tiny_results
from helpers import errorbar_curves, legend_labels, legends_off_the_data, panels, scatter_points, tiny_config

pytestmark = pytest.mark.slow

N_NEURONS = 2 * 40
MAIN = "pe1-k{k}-ratio{ratio}-lr0.01"  # the tiny config's main grid at K = k, beta ratio `ratio`
FIGURES = ["december_toy", "december_beta", "december_sweeps", "december_agreement", "december_confusion"]
TABLES = ["tables/december_runs.csv", "consistency/december_across_seeds.csv", "tables/december_vs_baseline.csv",
          "consistency/december_planted_types.csv", "consistency/december_confusion.csv"]


@pytest.fixture(scope="module")
def results(tiny_workdir):
    return tiny_results(tiny_workdir, *TABLES, figures=FIGURES)


def history(path):
    return pd.read_csv(path)


def test_runs_write_checkpoint_labels_and_cluster_parameters(results):
    run = results / "december" / "gaussian_g0" / MAIN.format(k=3, ratio=1) / "seed1"
    clusters = load_clusters(run / "clusters.npz")
    assert clusters.labels.shape == (N_NEURONS,) and clusters.labels.max() < 3
    assert clusters.means.shape == clusters.scales.shape == (3, 4)  # the tiny CNN core has 4 channels
    assert (clusters.scales >= 1e-4).all()
    stored = read_model_file(run / "model.pt")["extras"]["december"]
    np.testing.assert_allclose(stored["means"], clusters.means)
    assert "shifts" not in stored  # the CNN path: no rotation alignment
    metrics = json.loads((run / "metrics.json").read_text())
    assert stored["k"] == 3 and stored["beta"] == metrics["beta"]
    assert metrics["pretrain_epochs"] == 1 and metrics["em_seconds_per_step"] > 0
    assert 0 <= metrics["saturated_initial"] <= 1 and 0 <= metrics["saturated_final"] <= 1
    assert not (run / "training_state.pt").exists()
    # the embedding is the raw readout weights of the trained model (no alignment, no normalization)
    model = load_model(run / "model.pt", torch.device("cpu"))
    raw = torch.cat([model.readouts[m].features for m in ["m1", "m2"]]).detach().numpy()
    np.testing.assert_allclose(read_npz(run / "embedding.npz", ("embedding",))["embedding"], raw, rtol=1e-6)


def test_beta_is_the_ratio_times_the_initial_model_loss(results):
    runs = pd.read_csv(results / "tables" / "december_runs.csv")
    ours = runs[runs["model"] == "DECEMber"]
    np.testing.assert_allclose(ours["beta"], ours["beta_ratio"] * ours["initial_loss"], rtol=1e-12)
    for seed in (1, 2):  # the same start (PE weights) gives the same initial loss at every ratio and K
        same_start = ours[(ours["seed"] == seed) & (ours["pe"] == 1) & (ours["lr"] == 0.01)
                          & (ours["variant"] == "gaussian_g0")]
        assert same_start["initial_loss"].nunique() == 1 and same_start["beta_ratio"].nunique() == 2
    run = results / "december" / "gaussian_g0" / MAIN.format(k=2, ratio=0.1) / "seed2" / "metrics.json"
    metrics = json.loads(run.read_text())
    assert metrics["beta"] == pytest.approx(0.1 * metrics["initial_loss"]) and metrics["beta_ratio"] == 0.1


def test_pretraining_is_the_first_pe_epochs_of_the_converged_baseline(results):
    for pe in (1, 2):
        for seed in (1, 2):
            baseline = history(results / "models" / "gaussian_g0" / f"seed{seed}" / "training_log.csv")
            folder = results / "december" / "gaussian_g0" / f"pretrain-pe{pe}" / f"seed{seed}"
            replay = history(folder / "training_log.csv")
            columns = ["epoch", "train_loss", "val_correlation", "lr"]
            pd.testing.assert_frame_equal(replay[columns], baseline.iloc[:pe][columns])  # bitwise on the CPU
            assert json.loads((folder / "metrics.json").read_text())["baseline_history_max_difference"] == 0
    # the baseline ran its whole training (the variant's max_epochs or early stopping), not PE epochs, and
    # DECEMber trains with the baseline's stopping rule for what its PE epochs left of the baseline's budget
    tiny = tiny_config()
    max_epochs = tiny["training"]["max_epochs"]
    baseline_metrics = json.loads((results / "models" / "gaussian_g0" / "seed1" / "metrics.json").read_text())
    assert baseline_metrics["epochs"] == max_epochs or baseline_metrics["best_epoch"] < baseline_metrics["epochs"]
    assert baseline_metrics["epochs"] > 2  # more than every PE
    stored = read_model_file(results / "december" / "gaussian_g0" / MAIN.format(k=3, ratio=1) / "seed1" / "model.pt")
    assert stored["extras"]["training"]["max_epochs"] == max_epochs - 1  # PE 1
    assert stored["extras"]["training"]["patience"] == tiny["training"]["patience"]


def test_tables_hold_every_run_and_the_converged_baseline(results):
    runs = pd.read_csv(results / "tables" / "december_runs.csv")
    # main: K 2, 3, 4 x ratios 0.1, 1 x seeds 1, 2 (12); PE 2 at K 3 x 2 seeds (2); lr 0.003 x PE 1, 2 on
    # seed 1 (2); the retina-style check (2). DECEMber on the identifiability populations is not the stage's.
    assert (runs["model"] == "DECEMber").sum() == 18
    assert sorted(runs.loc[runs["model"] == "baseline", "variant"]) == ["december_retina"] * 2 + ["gaussian_g0"] * 2
    assert runs["test_single_trial_correlation"].notna().all()
    table = pd.read_csv(results / "tables" / "december_vs_baseline.csv")
    assert set(table["method"]) == {"december", "december_init", "gmm_converged", "kmeans_converged"}
    for column in ("k", "beta", "beta_ratio", "pe", "ari_mean", "ari_sd", "test_correlation", "n_pairs"):
        assert column in table
    settings = ["k", "beta_ratio", "pe", "lr"]
    starts = table[table["method"] == "december_init"]
    pd.testing.assert_frame_equal(starts[settings].reset_index(drop=True),
                                  table.loc[table["method"] == "december", settings].reset_index(drop=True))
    assert starts["beta"].isna().all() and starts["test_correlation"].isna().all()
    ours = table[table["method"] == "december"]
    # the main grid (K x ratio) and PE 2 at K 3; lr 0.003 has one seed: no pair, no row
    assert sorted(ours[["k", "beta_ratio", "pe"]].itertuples(index=False, name=None)) == [
        (2, 0.1, 1), (2, 1.0, 1), (3, 0.1, 1), (3, 1.0, 1), (3, 1.0, 2), (4, 0.1, 1), (4, 1.0, 1)]
    assert (ours["n_pairs"] == 1).all()
    for method in ("gmm_converged", "kmeans_converged"):
        rows = table[table["method"] == method]
        assert sorted(rows["k"]) == [2, 3, 4] and rows["beta"].isna().all() and rows["pe"].isna().all()
    baseline_correlation = runs[(runs["model"] == "baseline") & (runs["variant"] == "gaussian_g0")]
    np.testing.assert_allclose(table.loc[table["method"] == "gmm_converged", "test_correlation"],
                               baseline_correlation["test_single_trial_correlation"].mean())
    assert table["ari_mean"].between(-1, 1).all()


def test_baseline_table_uses_the_converged_models(results):
    baseline = load_baseline(results / "december" / "gaussian_g0" / "baseline_labels.npz")
    table = pd.read_csv(results / "tables" / "december_vs_baseline.csv")
    for seed in (1, 2):  # the labels are k-means and GMM of the converged models' raw readout weights
        model = load_model(results / "models" / "gaussian_g0" / f"seed{seed}" / "model.pt", torch.device("cpu"))
        raw = torch.cat([model.readouts[m].features for m in ["m1", "m2"]]).detach().numpy()
        np.testing.assert_array_equal(baseline.at("kmeans_converged", 3, seed), kmeans_labels(raw, 3, 2, 0))
        np.testing.assert_array_equal(baseline.at("gmm_converged", 3, seed), gmm_labels(raw, 3, 2, 0))
    gmm = table[(table["method"] == "gmm_converged") & (table["k"] == 3)]
    expected = adjusted_rand_score(baseline.at("gmm_converged", 3, 1), baseline.at("gmm_converged", 3, 2))
    np.testing.assert_allclose(gmm["ari_mean"], expected)


def test_retina_check_table_and_confusion(results):
    table = pd.read_csv(results / "consistency" / "december_planted_types.csv")
    assert table["method"].tolist() == ["december", "gmm_converged", "kmeans_converged"]
    truth = load_ground_truth(results.parent.parent / "resources" / "tiny" / "retina_like.ground_truth.npz")
    labelled = truth["labelled"]
    assert (table["k"] == 5).all() and (table["n_labelled"] == labelled.sum()).all() and labelled.sum() < 120
    confusion = pd.read_csv(results / "consistency" / "december_confusion.csv")
    types = truth["cell_type"][labelled]
    for seed in (1, 2):
        counts = confusion[confusion["seed"] == seed]
        assert counts["count"].sum() == labelled.sum()  # labelled cells only
        sizes = counts.groupby("type", sort=False)["count"].sum().to_numpy()
        np.testing.assert_array_equal(sizes, np.bincount(types)[sorted(set(types))])
    folder = results / "december" / "december_retina" / "pe1-k5-ratio1-lr0.01"
    ours = [load_clusters(folder / f"seed{s}" / "clusters.npz") for s in (1, 2)]
    np.testing.assert_allclose(table.loc[0, "ari_mean"],
                               adjusted_rand_score(ours[0].labels[labelled], ours[1].labels[labelled]))
    np.testing.assert_allclose(table.loc[0, "ari_truth_mean"],
                               np.mean([adjusted_rand_score(types, c.labels[labelled]) for c in ours]))


def test_every_figure_is_rendered(results):
    for name in FIGURES:
        for suffix in (".pdf", ".png"):
            assert (results / "figures" / f"{name}{suffix}").stat().st_size > 1000


# ---------------------------------------------------------------------------------------------
# What each figure draws, from the files its rule reads

def test_toy_figure_draws_every_weight_and_both_methods_centre_paths(results, tiny_workdir, tmp_path):
    drawn = draw_figure(tiny_workdir, "december_toy", tmp_path / "toy.pdf")
    names = [f"{m}_{reading}" for reading in TARGET_READINGS for m in TOY_METHODS]
    toy = read_npz(drawn.inputs["toy"], ("pretrained", "true_cluster", "true_centres", *(
        f"{name}_{key}" for name in names for key in ("weights", "centre_path", "centre_distance", "sizes", "ari"))))
    pretrained_ax, *rows = panels(drawn.figure)
    assert len(rows) == len(TARGET_READINGS) * (len(TOY_METHODS) + 1)
    assert scatter_points(pretrained_ax) == len(toy["pretrained"])
    assert str(np.bincount(toy["true_cluster"]).tolist()) in pretrained_ax.get_title()
    true_distance = np.linalg.norm(np.diff(toy["true_centres"], axis=0))
    for row, reading in enumerate(TARGET_READINGS):
        *method_axes, distance_ax = rows[row * (len(TOY_METHODS) + 1):(row + 1) * (len(TOY_METHODS) + 1)]
        for ax, method in zip(method_axes, TOY_METHODS):
            name = f"{method}_{reading}"
            assert scatter_points(ax) == len(toy[f"{name}_weights"])
            assert ax.get_title() == (f"{TOY_METHODS[method]}, P {reading}\n"
                                      f"sizes {toy[f'{name}_sizes'].tolist()}, ARI {float(toy[f'{name}_ari']):.2f}")
            n_centres = toy[f"{name}_centre_path"].shape[1]
            assert len(ax.lines) == 2 * n_centres + 1  # each centre's path and end, and the true centres
            np.testing.assert_allclose(ax.lines[0].get_xydata(), toy[f"{name}_centre_path"][:, 0])
        assert legend_labels(distance_ax) == [*TOY_METHODS.values(), "true distance"]
        for line, method in zip(distance_ax.lines, TOY_METHODS):
            path = toy[f"{method}_{reading}_centre_path"]
            np.testing.assert_allclose(line.get_ydata(), np.linalg.norm(path[:, 0] - path[:, 1], axis=1), atol=1e-6)
        np.testing.assert_allclose(distance_ax.lines[-1].get_ydata(), true_distance)


def setting_rows(frame: pd.DataFrame, main: dict, free: str | None = None) -> pd.DataFrame:
    keep = np.ones(len(frame), bool)
    for key, value in main.items():
        if key != free:
            keep &= np.isclose(frame[key].astype(float), float(value))
    return frame[keep]


def test_beta_figure_maps_each_ratio_and_plots_the_tables_values(results, tiny_workdir, tmp_path):
    drawn = draw_figure(tiny_workdir, "december_beta", tmp_path / "beta.pdf")
    ratios, main, k = drawn.options["ratios"], drawn.options["main"], drawn.options["k"]
    assert ratios == [0.1, 1.0]
    *maps, performance_ax, ari_ax = panels(drawn.figure)
    assert [ax.get_title() for ax in maps] == [f"β ratio {ratio:g}" for ratio in ratios]
    for ax, tsne in zip(maps, drawn.inputs["tsne"]):
        assert scatter_points(ax) == len(pd.read_csv(tsne))
    runs = pd.read_csv(drawn.inputs["runs"])
    ours = setting_rows(runs[(runs["model"] == "DECEMber") & (runs["variant"] == "gaussian_g0")], main, "beta_ratio")
    ours = ours[ours["k"] == k].groupby("beta_ratio")["test_single_trial_correlation"].mean()
    ratio, correlation = errorbar_curves(performance_ax)["DECEMber"]
    np.testing.assert_allclose(ratio, ours.index)
    np.testing.assert_allclose(correlation, ours.to_numpy())
    table = pd.read_csv(drawn.inputs["vs_baseline"])
    curves = errorbar_curves(ari_ax)
    assert set(curves) == {f"DECEMber, β ratio {r:g}" for r in ratios} | {
        METHOD_STYLE[m]["label"] for m in ("december_init", "gmm_converged", "kmeans_converged")}
    starts = setting_rows(table[table["method"] == "december_init"], main).sort_values("k")
    np.testing.assert_allclose(curves[METHOD_STYLE["december_init"]["label"]][1], starts["ari_mean"])
    for r in ratios:
        rows = setting_rows(table[table["method"] == "december"], {**main, "beta_ratio": r}).sort_values("k")
        np.testing.assert_allclose(curves[f"DECEMber, β ratio {r:g}"][1], rows["ari_mean"])
    gmm = table[table["method"] == "gmm_converged"].sort_values("k")
    np.testing.assert_allclose(curves[METHOD_STYLE["gmm_converged"]["label"]][1], gmm["ari_mean"])


def test_sweeps_figure_plots_lr_by_pe_and_ari_vs_pe(results, tiny_workdir, tmp_path):
    drawn = draw_figure(tiny_workdir, "december_sweeps", tmp_path / "sweeps.pdf")
    main, k = drawn.options["main"], drawn.options["k"]
    validation_ax, test_ax, _, ari_ax, correlation_ax = panels(drawn.figure)  # 3rd: ARI vs lr (tests/test_plots.py)
    runs = pd.read_csv(drawn.inputs["runs"])
    ours = runs[(runs["model"] == "DECEMber") & (runs["variant"] == "gaussian_g0") & (runs["k"] == k)
                & (runs["beta_ratio"] == main["beta_ratio"])]
    curves = errorbar_curves(validation_ax)
    assert set(curves) == {"PE 1", "PE 2"}
    for pe in (1, 2):
        expected = ours[ours["pe"] == pe].groupby("lr")["best_val_correlation"].mean()
        np.testing.assert_allclose(curves[f"PE {pe}"][0], expected.index)
        np.testing.assert_allclose(curves[f"PE {pe}"][1], expected.to_numpy())
    table = pd.read_csv(drawn.inputs["vs_baseline"])
    agreement = setting_rows(table[table["method"] == "december"], main, "pe")
    agreement = agreement[agreement["k"] == k].sort_values("pe")
    pe, ari = errorbar_curves(ari_ax)["DECEMber"]
    np.testing.assert_allclose(pe, agreement["pe"])
    np.testing.assert_allclose(ari, agreement["ari_mean"])
    assert ari_ax.get_ylabel() == f"ARI across seeds (K = {k})\none seed pair, no sd"  # the tiny config's 2 seeds
    assert {"DECEMber", *(METHOD_STYLE[m]["label"] for m in (
        "december_init", "gmm_converged", "kmeans_converged"))} <= set(legend_labels(drawn.figure))
    assert legends_off_the_data(drawn.figure)
    assert correlation_ax.get_xlabel() == "pretraining epochs PE"


def test_agreement_figure_plots_each_measure_of_every_method(results, tiny_workdir, tmp_path):
    drawn = draw_figure(tiny_workdir, "december_agreement", tmp_path / "agreement.pdf")
    axes = panels(drawn.figure)
    assert len(axes) == len(MEASURE_NAMES)
    table = pd.read_csv(drawn.inputs["vs_baseline"])
    for ax, measure in zip(axes, MEASURE_NAMES):
        curves = errorbar_curves(ax)
        ours = setting_rows(table[table["method"] == "december"], drawn.options["main"]).sort_values("k")
        np.testing.assert_allclose(curves["DECEMber"][1], ours[f"{measure}_mean"])
        for method in ("gmm_converged", "kmeans_converged"):
            rows = table[table["method"] == method].sort_values("k")
            np.testing.assert_allclose(curves[METHOD_STYLE[method]["label"]][1], rows[f"{measure}_mean"])


def test_confusion_figure_has_a_matrix_per_seed_and_the_method_bars(results, tiny_workdir, tmp_path):
    drawn = draw_figure(tiny_workdir, "december_confusion", tmp_path / "confusion.pdf")
    confusion = pd.read_csv(drawn.inputs["confusion"])
    *matrices, bars_ax = panels(drawn.figure)
    assert len(matrices) == confusion["seed"].nunique() == 2
    for ax, (seed, rows) in zip(matrices, confusion.groupby("seed", sort=False)):
        (mesh,) = ax.collections
        names = list(dict.fromkeys(rows["type"]))
        matrix = mesh.get_array().reshape(len(names), -1)
        np.testing.assert_allclose(matrix.sum(axis=1), 1.0)
        assert [text.get_text() for text in ax.get_yticklabels()] == names
    assert "SIMULATED" in drawn.figure._suptitle.get_text()
    table = pd.read_csv(drawn.inputs["planted"])
    heights = [patch.get_height() for patch in bars_ax.patches]
    np.testing.assert_allclose(heights, [*table["ari_mean"], *table["ari_truth_mean"]])
    assert legends_off_the_data(drawn.figure)
