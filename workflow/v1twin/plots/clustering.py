"""Figures of the embedding-consistency stage (R24 Fig. 2B–E, 2I, A.4; ARI with the planted types).

Every function takes file paths (the rule's inputs) and writes `pdf` plus the PNG beside it.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
import numpy as np
import pandas as pd
import seaborn as sns

from v1twin.clustering import METHODS, load_labels, planted_types
from v1twin.plots import read_table, save_figure
from v1twin.simulate import load_ground_truth

METHOD_NAMES = {"kmeans": "k-means", "gmm": "GMM (diagonal)"}
MEASURE_NAMES = {"ari": "ARI", "fmi": "Fowlkes–Mallows", "v_measure": "V-measure"}


def _palette(variants: list[str]) -> dict[str, Any]:
    """One colour per variant, in the given order (the same colours as the training figures)."""
    return dict(zip(variants, sns.color_palette("colorblind", len(variants))))


def _check_pairs(first: list, second: list, what: str) -> None:
    if len(first) != len(second):
        raise ValueError(f"got {len(first)} {what} for {len(second)} variants; they must pair up")


def _curve(ax: plt.Axes, rows: pd.DataFrame, column: str, **style: Any) -> None:
    """Mean ± sd of `column` vs K; rows hold `<column>_mean` and `<column>_sd` per K."""
    rows = rows.sort_values("k")
    ax.errorbar(rows["k"], rows[f"{column}_mean"], yerr=rows[f"{column}_sd"], marker="o", markersize=4, capsize=3,
                **style)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


# ----------------------------------------------------------------------------------------------
# t-SNE (R24 Fig. 2B–E)


def _colour_rows(tsne_rows: pd.DataFrame, mouse: np.ndarray, unit_id: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The value of each t-SNE row, looked up by (mouse, unit id) in the labels' neuron order."""
    lookup = pd.DataFrame({"mouse": np.asarray(mouse).astype(str), "unit_id": unit_id, "value": values})
    merged = tsne_rows.astype({"mouse": str}).merge(lookup, on=["mouse", "unit_id"], how="left", validate="one_to_one")
    if merged["value"].isna().any():
        raise ValueError("t-SNE neurons missing from the cluster labels")
    return merged["value"].to_numpy()


def _scatter(ax: plt.Axes, table: pd.DataFrame, values: np.ndarray, n_colours: int) -> None:
    colours = np.asarray(sns.color_palette("husl", n_colours))
    ax.scatter(table["x"], table["y"], c=colours[values.astype(int) % n_colours], s=4, alpha=0.8, linewidths=0)
    ax.set(xticks=[], yticks=[])
    ax.set_aspect("equal", adjustable="datalim")


def tsne_embeddings(
    tsne: list[str], labels: list[str], truth: list[str], pdf: str, variants: list[str], k: int, mice: list[str]
) -> None:
    """t-SNE map per variant (columns), coloured by the k-means cluster at K = k and, on simulated
    data (ground-truth files given), by the planted cell type in a second row."""
    _check_pairs(tsne, variants, "t-SNE tables")
    _check_pairs(labels, variants, "label files")
    rows = 2 if truth else 1
    fig, axes = plt.subplots(rows, len(variants), figsize=(3.2 * len(variants), 3.3 * rows), squeeze=False)
    type_names = [str(name) for name in load_ground_truth(Path(truth[0]))["type_names"]] if truth else []
    for column, (variant, tsne_path, labels_path) in enumerate(zip(variants, tsne, labels)):
        table = read_table(tsne_path, ("mouse", "unit_id", "x", "y"))
        clusters = load_labels(labels_path)
        try:
            cluster = _colour_rows(table, clusters.mouse, clusters.unit_id, clusters.at("kmeans", k))
        except (KeyError, ValueError) as error:
            raise ValueError(f"{tsne_path} / {labels_path}: {error}") from error
        _scatter(axes[0, column], table, cluster, k)
        axes[0, column].set_title(f"{variant}\n(n = {len(table)})", fontsize="medium")
        if truth:
            cell_type = _colour_rows(table, clusters.mouse, clusters.unit_id,
                                     planted_types(truth, mice, clusters.mouse))
            _scatter(axes[1, column], table, cell_type, len(type_names))
    axes[0, 0].set_ylabel(f"k-means cluster (K = {k})")
    if truth:
        axes[1, 0].set_ylabel("planted cell type")
        colours = sns.color_palette("husl", len(type_names))
        handles = [plt.Line2D([], [], marker="o", linestyle="", color=colours[i], label=name)
                   for i, name in enumerate(type_names)]
        fig.legend(handles=handles, loc="lower center", ncol=min(len(type_names), 6), fontsize="small",
                   title="planted type", bbox_to_anchor=(0.5, -0.02))
    fig.suptitle("t-SNE of the neuron embeddings, first seed (R24 Fig. 2B–E)")
    fig.tight_layout(rect=(0, 0.06 if truth else 0, 1, 1))
    save_figure(fig, pdf)


# ----------------------------------------------------------------------------------------------
# Agreement vs K


def _variant_rows(frame: pd.DataFrame, variants: list[str], path: str) -> pd.DataFrame:
    absent = [variant for variant in variants if variant not in set(frame["variant"])]
    if absent:
        raise ValueError(f"{path} has no rows for variant(s) {absent}")
    return frame[frame["variant"].isin(variants)]


def ari_across_seeds(table: str, pdf: str, variants: list[str]) -> None:
    """R24 Fig. 2I (and D25 B.5): agreement across seeds vs K, mean ± sd over seed pairs.

    Columns: k-means and GMM; rows: ARI, Fowlkes–Mallows, V-measure.
    """
    measures = tuple(MEASURE_NAMES)
    columns = ("variant", "method", "k", *(f"{m}_{s}" for m in measures for s in ("mean", "sd")))
    frame = _variant_rows(read_table(table, columns), variants, table)
    palette = _palette(variants)
    fig, axes = plt.subplots(len(measures), len(METHODS), figsize=(5.0 * len(METHODS), 3.0 * len(measures)),
                             sharex=True, sharey="row", squeeze=False)
    for (row, measure), (column, method) in itertools.product(enumerate(measures), enumerate(METHODS)):
        ax = axes[row, column]
        for variant in variants:
            rows = frame[(frame["variant"] == variant) & (frame["method"] == method)]
            _curve(ax, rows, measure, color=palette[variant], label=variant)
        ax.set(ylabel=f"{MEASURE_NAMES[measure]} across seeds" if column == 0 else "")
        if row == 0:
            ax.set_title(METHOD_NAMES[method])
        if row == len(measures) - 1:
            ax.set_xlabel("number of clusters K")
    axes[0, 0].legend(fontsize="small", title="variant")
    fig.suptitle("Consistency of clusterings across seeds (R24 Fig. 2I); mean ± sd over seed pairs")
    fig.tight_layout()
    save_figure(fig, pdf)


def kmeans_reruns(reruns: str, across_seeds: str, pdf: str, variants: list[str]) -> None:
    """R24 A.4: ARI between k-means reruns on one embedding (solid) vs ARI across seeds (dashed).

    The gap between the two is the inconsistency due to the models, not to k-means.
    """
    rerun_rows = _variant_rows(read_table(reruns, ("variant", "k", "ari_mean", "ari_sd")), variants, reruns)
    seed_rows = read_table(across_seeds, ("variant", "method", "k", "ari_mean", "ari_sd"))
    seed_rows = _variant_rows(seed_rows[seed_rows["method"] == "kmeans"], variants, across_seeds)
    palette = _palette(variants)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for variant in variants:
        _curve(ax, rerun_rows[rerun_rows["variant"] == variant], "ari", color=palette[variant], label=variant)
        _curve(ax, seed_rows[seed_rows["variant"] == variant], "ari", color=palette[variant], linestyle="--", alpha=0.7)
    ax.plot([], [], color="grey", label="k-means reruns, one embedding")
    ax.plot([], [], color="grey", linestyle="--", label="across seeds")
    ax.set(xlabel="number of clusters K", ylabel="ARI (mean ± sd over pairs)",
           title="k-means rerun stability (R24 A.4)")
    ax.legend(fontsize="small")
    fig.tight_layout()
    save_figure(fig, pdf)


def ari_planted_types(table: str, pdf: str, variants: list[str], n_types: int) -> None:
    """ARI of each seed's clustering with the planted types vs K (mean ± sd over seeds), per method."""
    frame = _variant_rows(read_table(table, ("variant", "seed", "method", "k", "ari")), variants, table)
    summary = (frame.groupby(["variant", "method", "k"])["ari"].agg(ari_mean="mean", ari_sd="std").reset_index())
    palette = _palette(variants)
    fig, axes = plt.subplots(1, len(METHODS), figsize=(5.0 * len(METHODS), 4.0), sharey=True, squeeze=False)
    for ax, method in zip(axes[0], METHODS):
        for variant in variants:
            rows = summary[(summary["variant"] == variant) & (summary["method"] == method)]
            _curve(ax, rows, "ari", color=palette[variant], label=variant)
        ax.axvline(n_types, color="grey", linestyle=":", label=f"planted types ({n_types})")
        ax.set(xlabel="number of clusters K", title=METHOD_NAMES[method])
    axes[0, 0].set_ylabel("ARI with planted types (mean ± sd over seeds)")
    axes[0, 0].legend(fontsize="small")
    fig.suptitle("Recovery of the planted cell types")
    fig.tight_layout()
    save_figure(fig, pdf)
