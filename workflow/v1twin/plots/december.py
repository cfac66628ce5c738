"""Figures of the DECEMber stage (D25 Figs. 2-6, B.5; the retina-style check on simulated planted types).

Every function takes file paths (the rule's inputs) and writes `pdf` plus the PNG beside it.
`main` is the main setting {"pe", "beta_ratio", "lr"}: curves over K use it, each sweep varies one of it.
The baselines are k-means and the diagonal GMM on the raw readout weights of the same architecture
trained to convergence without the loss (`gmm_converged`, `kmeans_converged`).
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import NullLocator

from v1twin.december.baseline import BASELINE_METHODS
from v1twin.december.clusters import load_clusters
from v1twin.december.tables import CORRELATION, DECEMBER_METHOD, INITIAL_METHOD
from v1twin.december.toy import TARGET_READINGS
from v1twin.files import read_npz
from v1twin.plots import legend_right, read_table, save_figure
from v1twin.plots.clustering import (
    MEASURE_NAMES,
    _colour_rows,
    _curve,
    _scatter,
    _spread,
    category_colours,
)

METHOD_STYLE = {
    DECEMBER_METHOD: {"label": "DECEMber", "color": sns.color_palette("colorblind")[3]},
    INITIAL_METHOD: {"label": "DECEMber's k-means start", "color": sns.color_palette("colorblind")[3],
                     "linestyle": ":"},
    "gmm_converged": {"label": "GMM, converged model without the loss", "color": sns.color_palette("colorblind")[0]},
    "kmeans_converged": {"label": "k-means, converged model without the loss",
                         "color": sns.color_palette("colorblind")[2]},
}
TOY_METHODS = {"dec": "DEC (unit scale, ν = 1)", "december": "DECEMber"}


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
    """D25 Fig. 2 under both readings of the DEC target (rows): the pretrained weights; per method the final
    weights coloured by label with the centres' paths; the distance between the two centres per step."""
    keys = [f"{method}_{reading}_{what}" for method in TOY_METHODS for reading in TARGET_READINGS
            for what in ("weights", "labels", "centre_path", "centre_distance", "sizes", "ari")]
    result = read_npz(toy, ("true_weights", "true_cluster", "true_centres", "pretrained", *keys))
    colours = np.asarray(sns.color_palette("colorblind", 2))
    fig = plt.figure(figsize=(16, 7.5))
    grid = fig.add_gridspec(len(TARGET_READINGS), 4)
    sizes = np.bincount(result["true_cluster"]).tolist()
    first = fig.add_subplot(grid[:, 0])
    first.scatter(*result["pretrained"].T, c=colours[result["true_cluster"]], s=2, alpha=0.5, linewidths=0)
    first.set_title(f"pretrained weights (25 MSE epochs)\ntrue clusters {sizes}", fontsize="medium")
    scatter_axes = [first]
    true_distance = np.linalg.norm(result["true_centres"][0] - result["true_centres"][1])
    for row, reading in enumerate(TARGET_READINGS):
        for column, method in enumerate(TOY_METHODS, start=1):
            ax = fig.add_subplot(grid[row, column])
            name = f"{method}_{reading}"
            path = result[f"{name}_centre_path"]
            ax.scatter(*result[f"{name}_weights"].T, c=colours[result[f"{name}_labels"] % 2], s=2, alpha=0.5,
                       linewidths=0)
            for cluster in range(path.shape[1]):
                ax.plot(path[:, cluster, 0], path[:, cluster, 1], color="black", linewidth=1)
                ax.plot(*path[-1, cluster], marker="o", color="black", markersize=5)
            ax.set_title(f"{TOY_METHODS[method]}, P {reading}\nsizes {result[f'{name}_sizes'].tolist()}, "
                         f"ARI {float(result[f'{name}_ari']):.2f}", fontsize="medium")
            scatter_axes.append(ax)
        distance_ax = fig.add_subplot(grid[row, 3])
        for method in TOY_METHODS:
            distance_ax.plot(result[f"{method}_{reading}_centre_distance"], label=TOY_METHODS[method], linewidth=2)
        distance_ax.axhline(true_distance, color="red", linestyle=":", linewidth=1, zorder=3, label="true distance")
        distance_ax.set(xlabel="clustering step", ylabel="distance between the two centres",
                        title=f"target P {reading}", ylim=(0, None))
        distance_ax.legend(fontsize="small")
    for ax in scatter_axes:
        ax.plot(*result["true_centres"].T, linestyle="", marker="*", color="red", markersize=10, label="true centres")
        ax.set(xlabel="weight 1", ylabel="weight 2")
        ax.set_aspect("equal", adjustable="datalim")
    first.legend(fontsize="small")
    fig.suptitle("Toy example (D25 Fig. 2), KL alone after pretraining (black: centre paths, dots: final centres).\n"
                 "Top: gradient through the target P(q), D25's degenerate optimum: DEC's centres collapse. "
                 "Bottom: P detached (DEC's stop-gradient): they drift apart")
    fig.tight_layout()
    return save_figure(fig, pdf)


# ----------------------------------------------------------------------------------------------
# D25 Fig. 4: β


def _baseline_band(ax: plt.Axes, runs: pd.DataFrame, column: str, variant: str) -> None:
    """The converged models of `variant` (trained without the loss): mean ± sd as a grey band."""
    values = runs.loc[(runs["model"] == "baseline") & (runs["variant"] == variant), column]
    ax.axhline(values.mean(), color="grey", linestyle="--", label=f"converged, without loss (n = {len(values)})")
    if len(values) > 1:
        ax.axhspan(values.mean() - values.std(), values.mean() + values.std(), color="grey", alpha=0.2)


def _baselines_vs_k(ax: plt.Axes, table: pd.DataFrame, measure: str) -> None:
    for method in BASELINE_METHODS:
        _curve(ax, table[table["method"] == method], measure, **METHOD_STYLE[method])


def _start_vs_k(ax: plt.Axes, table: pd.DataFrame, main: dict[str, Any], measure: str) -> None:
    """The k-means partitions the DECEMber runs of the main setting started from: the control without the loss."""
    _curve(ax, _setting_rows(table, main, method=INITIAL_METHOD), measure, **METHOD_STYLE[INITIAL_METHOD])


def beta_figure(
    tsne: list[str], clusters: list[str], runs: str, vs_baseline: str, pdf: str, ratios: list[float],
    main: dict[str, Any], k: int, variant: str,
) -> plt.Figure:
    """Top: t-SNE of the first seed's embedding per β ratio at K = k, coloured by DECEMber cluster. Bottom:
    test correlation vs β ratio at K = k (band: the converged models without the loss), and ARI across
    seeds vs K, one curve per β ratio, against the converged GMM and k-means on the same raw embedding."""
    if not len(tsne) == len(clusters) == len(ratios):
        raise ValueError(f"{len(tsne)} t-SNE tables and {len(clusters)} cluster files for β ratios {ratios}")
    run_rows = read_table(runs, ("model", "variant", "pe", "k", "beta_ratio", "lr", "seed", CORRELATION))
    table = read_table(vs_baseline, ("method", "pe", "beta_ratio", "lr", "k", "ari_mean", "ari_sd"))
    columns = max(len(ratios), 2)
    fig = plt.figure(figsize=(3.3 * columns + 4.0, 7.0))  # 4 inches for the legend right of the panels
    grid = fig.add_gridspec(2, columns)
    for column, (ratio, tsne_path, clusters_path) in enumerate(zip(ratios, tsne, clusters)):
        ax = fig.add_subplot(grid[0, column])
        frame = read_table(tsne_path, ("mouse", "unit_id", "x", "y"))
        labels = load_clusters(clusters_path)
        _scatter(ax, frame, _colour_rows(frame, labels.mouse, labels.unit_id, labels.labels), category_colours(k))
        ax.set_title(f"β ratio {ratio:g}", fontsize="medium")
    fig.axes[0].set_ylabel(f"t-SNE, DECEMber cluster (K = {k})")
    half = columns // 2
    performance = fig.add_subplot(grid[1, :half])
    rows = _setting_rows(run_rows[run_rows["variant"] == variant], main, free="beta_ratio")
    _curve(performance, _summary(rows[rows["k"] == k], "beta_ratio", CORRELATION).rename(
        columns={"beta_ratio": "k"}), CORRELATION, color=METHOD_STYLE[DECEMBER_METHOD]["color"], label="DECEMber")
    _baseline_band(performance, run_rows, CORRELATION, variant)
    performance.set(xscale="log", xlabel="β / model loss per step at the start",
                    ylabel=f"test correlation (K = {k}, mean ± sd over seeds)")
    performance.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)  # off the data
    ax = fig.add_subplot(grid[1, half:])
    colours = sns.color_palette("rocket", len(ratios))
    for index, (colour, ratio) in enumerate(zip(colours, ratios)):  # marker sizes: coinciding curves stay visible
        _curve(ax, _setting_rows(table, {**main, "beta_ratio": ratio}), "ari", color=colour,
               label=f"DECEMber, β ratio {ratio:g}", marker="o", markersize=9 - 2.5 * index)
    _start_vs_k(ax, table, main, "ari")
    _baselines_vs_k(ax, table, "ari")
    ax.set(xlabel="number of clusters K", ylabel="ARI across seeds (mean ± sd over pairs)")
    legend_right(ax)
    fig.suptitle(f"DECEMber over β (D25 Fig. 4), {variant}: PE {main['pe']}, lr {main['lr']:g}; baselines on the "
                 "raw readout weights of the converged models")
    fig.tight_layout()
    return save_figure(fig, pdf)


# ----------------------------------------------------------------------------------------------
# D25 Figs. 5 and 6, B.5


def _lr_axis(ax: plt.Axes, learning_rates: list[float]) -> None:
    """Log learning-rate axis ticked at the swept rates."""
    ax.set(xscale="log", xlabel="learning rate with the loss")
    ax.set_xticks(learning_rates, [f"{lr:g}" for lr in learning_rates])
    ax.xaxis.set_minor_locator(NullLocator())


def sweeps_figure(runs: str, vs_baseline: str, pdf: str, main: dict[str, Any], k: int, variant: str) -> plt.Figure:
    """At K = k and the main β ratio. Top, one curve per PE against the learning rate: best validation
    correlation (D25 Fig. 5A/B) and test correlation (Fig. 6), mean ± sd over seeds, and ARI across seeds
    (mean ± sd over seed pairs, settings with 2+ seeds). Bottom, at the main lr: ARI across seeds vs PE
    (Fig. 5C) against the converged GMM and k-means, and test correlation vs PE against the converged models."""
    run_rows = read_table(runs, ("model", "variant", "pe", "k", "beta_ratio", "lr", "seed", "best_val_correlation",
                                 CORRELATION))
    table = read_table(vs_baseline, ("method", "pe", "beta_ratio", "lr", "k", "n_pairs", "ari_mean", "ari_sd"))
    ours = run_rows[(run_rows["model"] == "DECEMber") & (run_rows["variant"] == variant) & (run_rows["k"] == k)
                    & np.isclose(run_rows["beta_ratio"].astype(float), float(main["beta_ratio"]))]
    agreement = table[(table["method"] == DECEMBER_METHOD) & (table["k"] == k)
                      & np.isclose(table["beta_ratio"].astype(float), float(main["beta_ratio"]))]
    fig, axes = plt.subplots(2, 3, figsize=(15.0, 7.5))
    pe_values = sorted(ours["pe"].dropna().unique())
    colours = sns.color_palette("viridis", len(pe_values))
    learning_rates = sorted(ours["lr"].unique())
    seeds = _spread(ours.groupby(["pe", "lr"]).size().rename("n").reset_index(), "n", "seed")
    for ax, column, name in ((axes[0, 0], "best_val_correlation", "validation"), (axes[0, 1], CORRELATION, "test")):
        for colour, pe in zip(colours, pe_values):
            _curve(ax, _summary(ours[ours["pe"] == pe], "lr", column).rename(columns={"lr": "k"}), column,
                   color=colour, label=f"PE {int(pe)}")
        ax.set(ylabel=f"{name} correlation (K = {k})\n{seeds}")
        _lr_axis(ax, learning_rates)
    for colour, pe in zip(colours, pe_values):
        _curve(axes[0, 2], agreement[agreement["pe"] == pe].rename(columns={"k": "K", "lr": "k"}), "ari",
               color=colour, label=f"PE {int(pe)}")
    axes[0, 2].set(ylabel=f"ARI across seeds (K = {k})\n{_spread(agreement, 'n_pairs', 'seed pair')}")
    _lr_axis(axes[0, 2], learning_rates)
    legend_right(axes[0, 2])
    style = {"color": METHOD_STYLE[DECEMBER_METHOD]["color"], "label": "DECEMber"}
    for method, method_style in ((DECEMBER_METHOD, style), (INITIAL_METHOD, METHOD_STYLE[INITIAL_METHOD])):
        at_main = _setting_rows(table, main, free="pe", method=method)
        at_main = at_main[at_main["k"] == k]
        _curve(axes[1, 0], at_main.drop(columns="k").rename(columns={"pe": "k"}), "ari", **method_style)
    for method in BASELINE_METHODS:
        level = table.loc[(table["method"] == method) & (table["k"] == k), "ari_mean"]
        axes[1, 0].axhline(level.mean(), linestyle="--", color=METHOD_STYLE[method]["color"],
                           label=METHOD_STYLE[method]["label"])
    axes[1, 0].set(xlabel="pretraining epochs PE",
                   ylabel=f"ARI across seeds (K = {k})\n{_spread(at_main, 'n_pairs', 'seed pair')}")
    at_main_lr = ours[np.isclose(ours["lr"].astype(float), float(main["lr"]))]
    _curve(axes[1, 1], _summary(at_main_lr, "pe", CORRELATION).rename(columns={"pe": "k"}), CORRELATION, **style)
    _baseline_band(axes[1, 1], run_rows, CORRELATION, variant)
    per_pe = at_main_lr.groupby("pe").size().rename("n").reset_index()
    axes[1, 1].set(xlabel="pretraining epochs PE", ylabel=f"test correlation\n{_spread(per_pe, 'n', 'seed')}")
    entries = {}
    for ax in axes[1, :2]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    axes[1, 2].axis("off")  # the bottom row's legend, in the free slot: off the data
    axes[1, 2].legend(entries.values(), entries.keys(), fontsize="small", loc="center left")
    fig.suptitle(f"DECEMber: learning rate × pretraining epochs (D25 Figs. 5, 6), {variant}, β ratio "
                 f"{main['beta_ratio']:g}, lr {main['lr']:g} in the bottom row")
    fig.tight_layout()
    return save_figure(fig, pdf)


def agreement_figure(vs_baseline: str, pdf: str, main: dict[str, Any]) -> plt.Figure:
    """D25 B.5: ARI, Fowlkes–Mallows index and V-measure across seeds vs K, DECEMber at the main setting vs
    the converged GMM and k-means on the same raw embedding."""
    measures = tuple(MEASURE_NAMES)
    columns = ("method", "pe", "beta_ratio", "lr", "k", *(f"{m}_{s}" for m in measures for s in ("mean", "sd")))
    table = read_table(vs_baseline, columns)
    fig, axes = plt.subplots(1, len(measures), figsize=(4.6 * len(measures), 3.8))
    for ax, measure in zip(axes, measures):
        _curve(ax, _setting_rows(table, main), measure, **METHOD_STYLE[DECEMBER_METHOD])
        _start_vs_k(ax, table, main, measure)
        _baselines_vs_k(ax, table, measure)
        ax.set(xlabel="number of clusters K", ylabel=f"{MEASURE_NAMES[measure]} across seeds")
    legend_right(axes[-1])
    fig.suptitle(f"Agreement of clusterings across seeds (D25 B.5); DECEMber at PE {main['pe']}, "
                 f"β ratio {main['beta_ratio']:g}, lr {main['lr']:g}; mean ± sd over seed pairs")
    fig.tight_layout()
    return save_figure(fig, pdf)


# ----------------------------------------------------------------------------------------------
# The retina-style check (D25 Fig. 3) on simulated planted types


def confusion_figure(planted: str, confusion: str, pdf: str, variant: str) -> plt.Figure:
    """Per seed the fraction of each labelled planted type in each DECEMber cluster (matched order; D25
    Fig. 3B); last panel: ARI across seeds and with the planted types, DECEMber vs the converged GMM and
    k-means (Fig. 3A), labelled cells only."""
    table = read_table(planted, ("method", "k", "n_labelled", "ari_mean", "ari_sd", "ari_truth_mean", "ari_truth_sd",
                                 "test_correlation"))
    counts = read_table(confusion, ("seed", "type", "cluster", "count"))
    seeds = list(dict.fromkeys(counts["seed"]))
    fig, axes = plt.subplots(1, len(seeds) + 1, figsize=(4.2 * (len(seeds) + 1), 4.8),
                             gridspec_kw={"width_ratios": [1.0] * len(seeds) + [0.8]})
    for ax, seed in zip(axes, seeds):
        rows = counts[counts["seed"] == seed]
        names = list(dict.fromkeys(rows["type"]))
        matrix = rows.pivot(index="type", columns="cluster", values="count").loc[names].to_numpy(dtype=float).copy()
        matrix /= np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        sns.heatmap(matrix, ax=ax, vmin=0, vmax=1, cmap="viridis", cbar=False, annot=matrix.shape[1] <= 12,
                    fmt=".2f", annot_kws={"fontsize": 6}, yticklabels=names)
        sizes = rows.groupby("type", sort=False)["count"].sum().loc[names].tolist()
        ax.set(xlabel="DECEMber cluster (matched order)", title=f"seed {seed}: type sizes {sizes}")
    axes[0].set_ylabel("labelled planted type (fraction per row)")
    ax = axes[-1]
    methods = [m for m in (DECEMBER_METHOD, *BASELINE_METHODS) if m in set(table["method"])]
    position = np.arange(len(methods))
    bars = (("ari", "", "across seeds"), ("ari_truth", "//", "with planted types"))
    for offset, (column, hatch, label) in enumerate(bars):
        rows = table.set_index("method").loc[methods]
        ax.bar(position + (offset - 0.5) * 0.4, rows[f"{column}_mean"], 0.4, yerr=rows[f"{column}_sd"].fillna(0),
               color=[METHOD_STYLE[m]["color"] for m in methods], hatch=hatch, edgecolor="black", capsize=3,
               label=f"ARI {label}")
    ax.set_xticks(position, [METHOD_STYLE[m]["label"] for m in methods], rotation=20, fontsize="small", ha="right")
    ax.set(ylim=(min(0.0, float(table[["ari_mean", "ari_truth_mean"]].min().min())), 1.05),
           ylabel=f"ARI, {int(table['n_labelled'].iloc[0])} labelled cells (mean ± sd)")
    ax.legend(fontsize="x-small", loc="lower center", bbox_to_anchor=(0.5, 1.0))  # above the bars, off the data
    fig.suptitle(f"Retina-style check (D25 Fig. 3) on a SIMULATED stand-in ({variant}, K = {int(table['k'].iloc[0])}): "
                 "the marmoset RGC data cannot be downloaded here")
    fig.tight_layout()
    return save_figure(fig, pdf)
