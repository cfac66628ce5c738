"""Figures of the DECEMber stage (D25 Fig. 2, 4, 5, B.5; clusters vs planted types on simulated data).

Every function takes file paths (the rule's inputs) and writes `pdf` plus the PNG beside it.
`main` is the main grid's setting {"pe", "beta", "lr"}: curves over K use it, each sweep varies one of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, confusion_matrix

from v1twin.clustering.planted import planted_types
from v1twin.data.simulate import load_ground_truth
from v1twin.december.clusters import load_clusters
from v1twin.december.tables import DECEMBER_METHOD, INITIAL_METHOD
from v1twin.files import read_npz
from v1twin.plots import read_table, save_figure
from v1twin.plots.clustering import MEASURE_NAMES, _colour_rows, _curve, _scatter

METHOD_STYLE = {
    DECEMBER_METHOD: {"label": "DECEMber", "color": sns.color_palette("colorblind")[3]},
    INITIAL_METHOD: {"label": "DECEMber's k-means start", "color": sns.color_palette("colorblind")[3],
                     "linestyle": ":"},
    "gmm": {"label": "GMM (no clustering loss)", "color": sns.color_palette("colorblind")[0]},
    "kmeans": {"label": "k-means (no clustering loss)", "color": sns.color_palette("colorblind")[2]},
}
SWEEP_NAMES = {"beta": "clustering strength β", "pe": "pretraining epochs PE", "lr": "learning rate"}
TOY_METHODS = {"dec": "vanilla DEC (unit scale, ν = 1)", "december": "DECEMber"}


def _setting_rows(frame: pd.DataFrame, main: dict[str, Any], free: str | None = None,
                  method: str = DECEMBER_METHOD) -> pd.DataFrame:
    """Rows of a DECEMber `method` at the main setting, except `free`, which may take any value."""
    keep = frame["method"] == method if "method" in frame else frame["model"] == "DECEMber"
    for key, value in main.items():
        if key != free:
            keep &= np.isclose(frame[key].astype(float), float(value))
    return frame[keep]


def _summary(frame: pd.DataFrame, by: str, column: str) -> pd.DataFrame:
    """Mean and sd of `column` per value of `by`, in the `<column>_mean/_sd` form `_curve` plots."""
    grouped = frame.groupby(by)[column]
    return pd.DataFrame({f"{column}_mean": grouped.mean(), f"{column}_sd": grouped.std(ddof=1)}).reset_index()


# ----------------------------------------------------------------------------------------------
# D25 Fig. 2: the toy example


def toy(toy: str, pdf: str) -> plt.Figure:
    """Pretrained weights and the outcome of vanilla DEC and DECEMber; the centres' paths; distance between centres."""
    result = read_npz(toy, ("true_weights", "true_cluster", "true_centres", "pretrained", "dec_weights",
                            "december_weights", "dec_labels", "december_labels", "dec_centre_path",
                            "december_centre_path", "dec_sizes", "december_sizes", "dec_ari", "december_ari"))
    colours = np.asarray(sns.color_palette("colorblind", 2))
    fig, axes = plt.subplots(1, 4, figsize=(16, 4.0))
    sizes = np.bincount(result["true_cluster"]).tolist()
    axes[0].scatter(*result["pretrained"].T, c=colours[result["true_cluster"]], s=2, alpha=0.5, linewidths=0)
    axes[0].set_title(f"pretrained weights, true clusters {sizes}", fontsize="medium")
    for ax, method in zip(axes[1:3], TOY_METHODS):
        path = result[f"{method}_centre_path"]
        ax.scatter(*result[f"{method}_weights"].T, c=colours[result[f"{method}_labels"] % 2], s=2, alpha=0.5,
                   linewidths=0)
        for cluster in range(path.shape[1]):
            ax.plot(path[:, cluster, 0], path[:, cluster, 1], color="black", linewidth=1)
            ax.plot(*path[-1, cluster], marker="o", color="black", markersize=5)
        ax.set_title(f"{TOY_METHODS[method]}\nsizes {result[f'{method}_sizes'].tolist()}, "
                     f"ARI {float(result[f'{method}_ari']):.2f}", fontsize="medium")
    for ax in axes[:3]:
        ax.plot(*result["true_centres"].T, linestyle="", marker="*", color="red", markersize=10, label="true centres")
        ax.set(xlabel="weight 1", ylabel="weight 2")
        ax.set_aspect("equal", adjustable="datalim")
    axes[0].legend(fontsize="small")
    for method in TOY_METHODS:
        path = result[f"{method}_centre_path"]
        axes[3].plot(np.linalg.norm(path[:, 0] - path[:, 1], axis=1), label=TOY_METHODS[method])
    true_distance = np.linalg.norm(result["true_centres"][0] - result["true_centres"][1])
    axes[3].axhline(true_distance, color="red", linestyle=":", label="true distance")
    axes[3].set(xlabel="clustering step", ylabel="distance between the two centres", yscale="log")
    axes[3].legend(fontsize="small")
    fig.suptitle("Toy example (D25 Fig. 2): linear neurons, two nearby weight clusters, clustering loss only "
                 "(black: centre paths, dots: final centres)")
    fig.tight_layout()
    return save_figure(fig, pdf)


# ----------------------------------------------------------------------------------------------
# D25 Fig. 4: β


def _baseline_band(ax: plt.Axes, runs: pd.DataFrame, column: str) -> None:
    values = runs.loc[runs["model"] == "baseline", column]
    ax.axhline(values.mean(), color="grey", linestyle="--", label=f"without loss (n = {len(values)})")
    if len(values) > 1:
        ax.axhspan(values.mean() - values.std(), values.mean() + values.std(), color="grey", alpha=0.2)


def _agreement_vs_k(ax: plt.Axes, consistency: pd.DataFrame, main: dict[str, Any], measure: str) -> None:
    """Agreement across seeds vs K: DECEMber at the main setting, its k-means start, and the baselines."""
    for method, style in METHOD_STYLE.items():
        rows = (_setting_rows(consistency, main, method=method) if method in (DECEMBER_METHOD, INITIAL_METHOD)
                else consistency[consistency["method"] == method])
        _curve(ax, rows, measure, **style)
    ax.set(xlabel="number of clusters K", ylabel=f"{MEASURE_NAMES[measure]} across seeds")


def beta_figure(
    tsne: list[str], clusters: list[str], runs: str, consistency: str, pdf: str, betas: list[float],
    main: dict[str, Any], k: int,
) -> plt.Figure:
    """Top: t-SNE of the first seed's embedding per β, coloured by DECEMber cluster. Bottom: test
    correlation vs β (baseline: the variant trained without the loss), ARI across seeds vs K."""
    if not len(tsne) == len(clusters) == len(betas):
        raise ValueError(f"{len(tsne)} t-SNE tables and {len(clusters)} cluster files for β values {betas}")
    run_rows = read_table(runs, ("model", "pe", "k", "beta", "lr", "seed", "test_single_trial_correlation"))
    agreement = read_table(consistency, ("method", "pe", "beta", "lr", "k", "ari_mean", "ari_sd"))
    columns = max(len(betas), 2)
    fig = plt.figure(figsize=(3.3 * columns, 7.0))
    grid = fig.add_gridspec(2, columns)
    for column, (beta, tsne_path, clusters_path) in enumerate(zip(betas, tsne, clusters)):
        ax = fig.add_subplot(grid[0, column])
        table = read_table(tsne_path, ("mouse", "unit_id", "x", "y"))
        labels = load_clusters(clusters_path)
        _scatter(ax, table, _colour_rows(table, labels.mouse, labels.unit_id, labels.labels), k)
        ax.set_title(f"β = {beta:g}", fontsize="medium")
    fig.axes[0].set_ylabel(f"t-SNE, DECEMber cluster (K = {k})")
    half = columns // 2
    performance = fig.add_subplot(grid[1, :half])
    rows = _setting_rows(run_rows, main, free="beta")
    _curve(performance, _summary(rows[rows["k"] == k], "beta", "test_single_trial_correlation").rename(
        columns={"beta": "k"}), "test_single_trial_correlation", color=METHOD_STYLE[DECEMBER_METHOD]["color"],
        label="DECEMber")
    _baseline_band(performance, run_rows, "test_single_trial_correlation")
    performance.set(xscale="log", xlabel="β", ylabel="test correlation (mean ± sd over seeds)")
    performance.legend(fontsize="small")
    ax = fig.add_subplot(grid[1, half:])
    _agreement_vs_k(ax, agreement, main, "ari")
    ax.legend(fontsize="small")
    fig.suptitle(f"DECEMber over β (D25 Fig. 4); PE {main['pe']}, lr {main['lr']:g}, ARI curve at β {main['beta']:g}")
    fig.tight_layout()
    return save_figure(fig, pdf)


# ----------------------------------------------------------------------------------------------
# D25 Fig. 5 and B.5


def sweeps_figure(runs: str, consistency: str, pdf: str, main: dict[str, Any], k: int) -> plt.Figure:
    """ARI across seeds (top) and test correlation (bottom) vs pretraining epochs and vs learning rate, at K = k."""
    run_rows = read_table(runs, ("model", "pe", "k", "beta", "lr", "seed", "test_single_trial_correlation"))
    agreement = read_table(consistency, ("method", "pe", "beta", "lr", "k", "ari_mean", "ari_sd"))
    sweeps = ("pe", "lr")
    fig, axes = plt.subplots(2, len(sweeps), figsize=(5.0 * len(sweeps), 7.0), squeeze=False)
    style = {"color": METHOD_STYLE[DECEMBER_METHOD]["color"], "label": "DECEMber"}
    for column, key in enumerate(sweeps):
        rows = _setting_rows(agreement, main, free=key)
        _curve(axes[0, column], rows[rows["k"] == k].drop(columns="k").rename(columns={key: "k"}), "ari", **style)
        gmm = agreement[(agreement["method"] == "gmm") & (agreement["k"] == k)]["ari_mean"]
        axes[0, column].axhline(gmm.mean(), color=METHOD_STYLE["gmm"]["color"], linestyle="--",
                                label=METHOD_STYLE["gmm"]["label"])
        performance = _setting_rows(run_rows, main, free=key)
        _curve(axes[1, column], _summary(performance[performance["k"] == k], key, "test_single_trial_correlation")
               .rename(columns={key: "k"}), "test_single_trial_correlation", **style)
        _baseline_band(axes[1, column], run_rows, "test_single_trial_correlation")
        axes[0, column].set(ylabel=f"ARI across seeds (K = {k})", title=f"over {SWEEP_NAMES[key]}")
        axes[1, column].set(xlabel=SWEEP_NAMES[key], ylabel="test correlation")
        if key == "lr":
            for ax in axes[:, column]:
                ax.set_xscale("log")
    axes[0, 0].legend(fontsize="small")
    axes[1, 0].legend(fontsize="small")
    fig.suptitle(f"DECEMber: pretraining epochs and learning rate (D25 Fig. 5); β {main['beta']:g}")
    fig.tight_layout()
    return save_figure(fig, pdf)


def agreement_figure(consistency: str, pdf: str, main: dict[str, Any]) -> plt.Figure:
    """D25 B.5: ARI, Fowlkes–Mallows index and V-measure across seeds vs K, DECEMber vs the baselines."""
    measures = tuple(MEASURE_NAMES)
    columns = ("method", "pe", "beta", "lr", "k", *(f"{m}_{s}" for m in measures for s in ("mean", "sd")))
    agreement = read_table(consistency, columns)
    fig, axes = plt.subplots(1, len(measures), figsize=(4.6 * len(measures), 3.8))
    for ax, measure in zip(axes, measures):
        _agreement_vs_k(ax, agreement, main, measure)
    axes[0].legend(fontsize="small")
    fig.suptitle(f"Agreement of clusterings across seeds (D25 B.5); DECEMber at PE {main['pe']}, "
                 f"β {main['beta']:g}, lr {main['lr']:g}; mean ± sd over seed pairs")
    fig.tight_layout()
    return save_figure(fig, pdf)


# ----------------------------------------------------------------------------------------------
# Simulated data: clusters vs planted types


def _matched_confusion(truth: np.ndarray, labels: np.ndarray, n_types: int) -> np.ndarray:
    """Row-normalized confusion (types × clusters), clusters reordered to best match the types (Hungarian)."""
    k = int(max(labels.max() + 1, n_types))
    counts = confusion_matrix(truth, labels, labels=np.arange(k))[:n_types]
    _, order = linear_sum_assignment(-counts)
    order = np.concatenate([order, np.setdiff1d(np.arange(k), order)])
    return counts[:, order] / np.maximum(counts.sum(axis=1, keepdims=True), 1)


def confusion_figure(
    clusters: list[str], truth: list[str], planted: str, baseline: str, pdf: str, seeds: list[int], mice: list[str],
    main: dict[str, Any], variant: str,
) -> plt.Figure:
    """Per seed the fraction of each planted type in each DECEMber cluster (analogue of D25's retina
    Fig. 3); last panel: ARI with the planted types vs K, DECEMber vs k-means and GMM without the loss."""
    if len(clusters) != len(seeds):
        raise ValueError(f"{len(clusters)} cluster files for seeds {seeds}")
    type_names = [str(name) for name in load_ground_truth(Path(truth[0]))["type_names"]]
    fig, axes = plt.subplots(1, len(seeds) + 1, figsize=(4.2 * (len(seeds) + 1), 4.2))
    for ax, seed, path in zip(axes, seeds, clusters):
        labels = load_clusters(path)
        cell_type = planted_types(truth, mice, labels.mouse)
        matrix = _matched_confusion(cell_type, labels.labels, len(type_names))
        sns.heatmap(matrix, ax=ax, vmin=0, vmax=1, cmap="viridis", cbar=False, annot=matrix.shape[1] <= 12,
                    fmt=".2f", annot_kws={"fontsize": 6}, yticklabels=type_names)
        ax.set(xlabel="DECEMber cluster (matched order)",
               title=f"seed {seed}: ARI {adjusted_rand_score(cell_type, labels.labels):.2f}")
    axes[0].set_ylabel("planted type (fraction per row)")
    ours = _setting_rows(read_table(planted, ("pe", "k", "beta", "lr", "seed", "ari", "ari_initial")).assign(
        model="DECEMber"), main)
    theirs = read_table(baseline, ("variant", "seed", "method", "k", "ari"))
    theirs = theirs[theirs["variant"] == variant]
    ax = axes[-1]
    _curve(ax, _summary(ours, "k", "ari"), "ari", **METHOD_STYLE[DECEMBER_METHOD])
    start = _summary(ours, "k", "ari_initial").rename(columns=lambda name: name.replace("ari_initial", "ari"))
    _curve(ax, start, "ari", **METHOD_STYLE[INITIAL_METHOD])
    for method in ("gmm", "kmeans"):
        rows = theirs[(theirs["method"] == method) & theirs["k"].isin(ours["k"].unique())]
        _curve(ax, _summary(rows, "k", "ari"), "ari", **METHOD_STYLE[method])
    ax.axvline(len(type_names), color="grey", linestyle=":", label=f"planted types ({len(type_names)})")
    ax.set(xlabel="number of clusters K", ylabel="ARI with planted types (mean ± sd over seeds)")
    ax.legend(fontsize="x-small", loc="best")
    fig.suptitle(f"DECEMber clusters vs the simulator's planted types ({variant}, PE {main['pe']}, β {main['beta']:g})")
    fig.tight_layout()
    return save_figure(fig, pdf)
