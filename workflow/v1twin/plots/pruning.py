"""Figures of the pruning stage (R24 Fig. 4A–C): performance while pruning, ARI before and after
pruning, and the consistency–performance trade-off of every analysed variant.

Every function takes file paths (the rule's inputs) and writes `pdf` plus the PNG beside it.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator

from v1twin.model_run import read_metrics
from v1twin.plots import read_table, save_figure

TABLE_COLUMNS = ("variant", "seed", "step", "channels", "val_correlation", "selected")
ACROSS_SEEDS_COLUMNS = ("variant", "method", "k", "ari_mean", "ari_sd")
METHOD = "kmeans"  # R24 compares k-means clusterings


def _palette(variants: list[str]) -> dict[str, Any]:
    return dict(zip(variants, sns.color_palette("colorblind", len(variants))))


def _rows_of(frame: pd.DataFrame, variant: str, path: str) -> pd.DataFrame:
    rows = frame[frame["variant"] == variant]
    if rows.empty:
        raise ValueError(f"{path} has no rows of variant {variant!r}")
    return rows


def pruning_curves(table: str, pdf: str, variants: list[str]) -> plt.Figure:
    """R24 Fig. 4A: validation correlation (mean ± sd over seeds) vs features pruned; the star marks
    the selected count (the smallest within one sd of the best)."""
    frame = read_table(table, TABLE_COLUMNS)
    palette = _palette(variants)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for variant in variants:
        rows = _rows_of(frame, variant, table)
        summary = rows.groupby("step").agg(mean=("val_correlation", "mean"), sd=("val_correlation", "std"),
                                           selected=("selected", "any")).reset_index()
        ax.errorbar(summary["step"], summary["mean"], yerr=summary["sd"].fillna(0.0), marker="o", markersize=4,
                    capsize=3, color=palette[variant], label=variant)
        chosen = summary[summary["selected"]]
        ax.scatter(chosen["step"], chosen["mean"], marker="*", s=220, color=palette[variant], edgecolor="black",
                   zorder=3)
    n_features = int(frame["channels"].max())
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel=f"features pruned (of {n_features})", ylabel="validation correlation (mean ± sd over seeds)",
           title="Pruning the core (R24 Fig. 4A); ★ selected")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return save_figure(fig, pdf)


def pruning_ari(table: str, pdf: str, pruned: dict[str, str]) -> plt.Figure:
    """R24 Fig. 4B: k-means ARI across seeds vs K before (dashed) and after (solid) pruning, per variant.

    `pruned` maps each pruned model's name to the variant it was pruned from.
    """
    frame = read_table(table, ACROSS_SEEDS_COLUMNS)
    frame = frame[frame["method"] == METHOD]
    palette = _palette(list(pruned.values()))
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for name, variant in pruned.items():
        for model, style in ((variant, "--"), (name, "-")):
            rows = _rows_of(frame, model, table).sort_values("k")
            ax.errorbar(rows["k"], rows["ari_mean"], yerr=rows["ari_sd"].fillna(0.0), linestyle=style, marker="o",
                        markersize=4, capsize=3, color=palette[variant], label=model)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="number of clusters K", ylabel="k-means ARI across seeds (mean ± sd)",
           title="Clustering consistency before (dashed) and after (solid) pruning")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return save_figure(fig, pdf)


def _fraction_oracle(metrics: list[str], runs: list[tuple[str, int]]) -> pd.DataFrame:
    """Mean ± sd over seeds of each variant's test fraction oracle, from the models' metrics.json."""
    rows = []
    for path, (variant, seed) in zip(metrics, runs, strict=True):
        value = read_metrics(path)["mean"]["fraction_oracle"]
        rows.append({"variant": variant, "seed": seed, "fraction_oracle": np.nan if value is None else value})
    frame = pd.DataFrame(rows)
    return frame.groupby("variant")["fraction_oracle"].agg(mean="mean", sd="std")


def consistency_tradeoff(
    table: str,
    metrics: list[str],
    pdf: str,
    runs: list[tuple[str, int]],
    variants: list[str],
    pruned: dict[str, str],
    k: int,
) -> plt.Figure:
    """R24 Fig. 4C: k-means ARI across seeds at K = k vs test fraction oracle for every analysed variant;
    arrows lead from each variant to its pruned version."""
    across = read_table(table, ACROSS_SEEDS_COLUMNS)
    across = across[(across["method"] == METHOD) & (across["k"] == k)].set_index("variant")
    oracle = _fraction_oracle(metrics, runs)
    missing = [variant for variant in variants if variant not in across.index]
    if missing:
        raise ValueError(f"{table} has no k-means rows at K={k} for {missing}")
    points = {v: (oracle.at[v, "mean"], across.at[v, "ari_mean"]) for v in variants}
    palette = _palette([v for v in variants if v not in pruned])
    colours = {v: palette[pruned.get(v, v)] for v in variants}
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    for variant in variants:
        x, y = points[variant]
        ax.errorbar(x, y, xerr=np.nan_to_num(oracle.at[variant, "sd"]),
                    yerr=np.nan_to_num(across.at[variant, "ari_sd"]), marker="s" if variant in pruned else "o",
                    markersize=7, capsize=3, color=colours[variant])
        ax.annotate(variant, (x, y), textcoords="offset points", xytext=(5, 5), fontsize="small")
    for name, variant in pruned.items():
        ax.annotate("", xy=points[name], xytext=points[variant],
                    arrowprops={"arrowstyle": "->", "color": colours[name], "linewidth": 1.2})
    ax.set(xlabel="test fraction oracle (mean ± sd over seeds)", ylabel=f"k-means ARI across seeds at K={k}",
           title="Consistency vs performance (R24 Fig. 4C); arrows: pruning")
    fig.tight_layout()
    return save_figure(fig, pdf)
