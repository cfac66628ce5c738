"""Can readout regularization fake cell types? t-SNE maps by population and L1 strength, and the
clustering measures against matched nulls and across seeds (regularization_control stage)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from v1twin.clustering.labels import load_labels
from v1twin.plots import read_table, save_figure
from v1twin.plots.clustering import _colour_rows, _planted_type_legend, _scatter, category_colours, cluster_colours
from v1twin.regularization_control import planted_types_if_typed

SUMMARY_COLUMNS = ("row", "variant", "gamma", "k", "silhouette", "null_gaussian_mean", "null_shuffled_mean",
                   "ari_kmeans_mean", "ari_kmeans_sd", "ari_kmeans_ok_mean", "ari_gmm_mean", "ari_planted_kmeans",
                   "test_correlation", "sparsity", "n_collapsed")
RUN_COLUMNS = ("variant", "seed", "collapsed")


def _panel_text(row: pd.Series) -> str:
    collapsed = f" · {int(row['n_collapsed'])} collapsed" if row["n_collapsed"] else ""
    return (f"silhouette {row['silhouette']:.2f} (null {row['null_gaussian_mean']:.2f})\n"
            f"ARI seeds {row['ari_kmeans_mean']:.2f} · corr {row['test_correlation']:.2f}{collapsed}")


def _map_rows(rows: dict[str, list[str]], typed: dict[str, bool]) -> list[tuple[str, str]]:
    """(population row, colouring) of each row of maps: k-means, and planted type where types exist."""
    return [(row, colouring) for row in rows for colouring in (["kmeans", "planted"] if typed[row] else ["kmeans"])]


def _summary_panels(axes: np.ndarray, summary: pd.DataFrame, rows: dict[str, list[str]]) -> None:
    """Silhouette (solid) against its Gaussian null (dashed), and k-means ARI across seeds (all pairs
    solid, non-collapsed pairs dotted) vs γ per population."""
    for index, row in enumerate(rows):
        frame = summary[summary["row"] == row].sort_values("gamma")
        x = np.arange(len(frame))
        colour = f"C{index}"
        axes[0].plot(x, frame["silhouette"], "o-", color=colour, label=f"{row}")
        axes[0].plot(x, frame["null_gaussian_mean"], "s--", color=colour, alpha=0.6, label=f"{row}: Gaussian null")
        axes[1].errorbar(x, frame["ari_kmeans_mean"], yerr=frame["ari_kmeans_sd"], fmt="o-", color=colour,
                         capsize=3, label=f"{row}")
        axes[1].plot(x, frame["ari_kmeans_ok_mean"], ":", color=colour, alpha=0.8,
                     label=f"{row}: without collapsed seeds")
        for ax in axes:
            ax.set_xticks(x, [f"{gamma:g}" for gamma in frame["gamma"]])
    axes[0].set(xlabel="readout L1 γ", ylabel="k-means silhouette", title="apparent clustering vs a matched null")
    axes[1].set(xlabel="readout L1 γ", ylabel="k-means ARI across seeds", title="do the clusters recur across seeds?")
    for ax in axes:
        ax.legend(fontsize="x-small", loc="best")


def control_figure(tsne: list[str], labels: list[str], summary: str, runs: str, truth: list[str], pdf: str,
                   rows: dict[str, list[str]], row_mice: dict[str, list[str]], truth_mice: list[str],
                   k: int) -> plt.Figure:
    """Rows: each population coloured by k-means at K = k (and by planted type where it has types);
    columns: increasing L1 γ; each panel gives the silhouette vs its Gaussian null, the k-means ARI
    across seeds, the test correlation and any collapsed seeds. Below: silhouette and ARI vs γ.

    `tsne` and `labels` list the first seed's files of the variants of `rows`, row after row; `row_mice`
    names each row's mice; `truth` lists the ground-truth files of `truth_mice` (both empty for real data).
    """
    variants = [variant for names in rows.values() for variant in names]
    if len(tsne) != len(variants) or len(labels) != len(variants):
        raise ValueError(f"{len(tsne)} t-SNE tables and {len(labels)} label files for {len(variants)} variants")
    table = read_table(summary, SUMMARY_COLUMNS)
    table = table[table["k"] == k]
    first_seed_collapsed = _first_seed_collapsed(read_table(runs, RUN_COLUMNS))
    files = dict(zip(variants, zip(tsne, labels)))
    first_labels = {variant: load_labels(files[variant][1]) for variant in variants}
    truth_of = dict(zip(truth_mice, truth, strict=True))
    planted = {}
    for row, names in rows.items():
        row_truth = [truth_of[mouse] for mouse in row_mice[row]] if truth_of else []
        planted[row] = planted_types_if_typed(row_truth, row_mice[row], first_labels[names[0]].mouse)
    n_types = {row: int(types.max()) + 1 if types is not None else 0 for row, types in planted.items()}
    map_rows = _map_rows(rows, {row: planted[row] is not None for row in rows})
    n_columns = max(len(names) for names in rows.values())
    fig = plt.figure(figsize=(max(3.0 * n_columns, 10.0), 3.1 * len(map_rows) + 3.8))
    grid = fig.add_gridspec(len(map_rows) + 1, n_columns, height_ratios=[3.1] * len(map_rows) + [3.8])
    for line, (row, colouring) in enumerate(map_rows):
        for column in range(n_columns):
            ax = fig.add_subplot(grid[line, column])
            if column >= len(rows[row]):
                ax.axis("off")
                continue
            variant = rows[row][column]
            clusters = first_labels[variant]
            if colouring == "kmeans":  # beside the planted types, each cluster in its matched type's colour
                values, palette = cluster_colours(clusters.at("kmeans", k), planted[row], n_types[row])
            else:
                values, palette = planted[row], category_colours(n_types[row])
            points = read_table(files[variant][0], ("mouse", "unit_id", "x", "y"))
            _scatter(ax, points, _colour_rows(points, clusters.mouse, clusters.unit_id, values), palette)
            numbers = table[table["variant"] == variant].iloc[0]
            title = f"γ {numbers['gamma']:g}" + (" (this seed collapsed)" if first_seed_collapsed[variant] else "")
            ax.set_title(f"{title}\n{_panel_text(numbers)}", fontsize="small")
            if column == 0:
                ax.set_ylabel(f"{row}\n{'k-means K = ' + str(k) if colouring == 'kmeans' else 'planted type'}")
    half = max(1, n_columns // 2)
    summary_axes = np.array([fig.add_subplot(grid[-1, :half]), fig.add_subplot(grid[-1, half:])])
    _summary_panels(summary_axes, table, rows)
    typed_rows = [row for row in rows if planted[row] is not None]
    if typed_rows:
        _planted_type_legend(fig, [f"type {t}" for t in range(int(planted[typed_rows[0]].max()) + 1)])
    fig.suptitle("Can L1 readout regularization fake cell types? t-SNE maps (first seed) by population and "
                 f"readout L1 γ;\nk-means silhouette at K = {k} vs a Gaussian null of the same covariance, "
                 "k-means ARI across seeds, test correlation")
    fig.tight_layout(rect=(0, 0.04 if typed_rows else 0, 1, 0.97))
    return save_figure(fig, pdf)


def _first_seed_collapsed(runs: pd.DataFrame) -> dict[str, bool]:
    """Per variant, whether its first seed (the one the maps show) is flagged as collapsed."""
    first = runs.sort_values("seed").drop_duplicates("variant")
    return dict(zip(first["variant"], first["collapsed"].astype(bool)))
