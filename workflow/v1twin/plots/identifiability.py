"""The identifiability figure: how the ARI with the planted types and across seeds falls as the planted
types move together, and down to which separation the across-seed ARI still peaks at the true K."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator

from v1twin.identifiability.tables import CURVE_COLUMNS, METHOD_NAMES, SUMMARY_COLUMNS, detection_limit, methods_of
from v1twin.plots import legend_right, read_table, save_figure


def _by_separation(summary: pd.DataFrame, method: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A method's rows of the typed populations (by separation) and of the continuum."""
    rows = summary[summary["method"] == method]
    return rows[rows["separation"].notna()].sort_values("separation"), rows[rows["separation"].isna()]


def _truth_panel(ax: plt.Axes, summary: pd.DataFrame) -> None:
    """ARI with the planted types at the true K vs separation, the continuum as a dashed level."""
    for index, method in enumerate(methods_of(summary)):
        typed, continuum = _by_separation(summary, method)
        ax.errorbar(typed["separation"], typed["ari_truth_mean"], yerr=typed["ari_truth_sd"].fillna(0), marker="o",
                    capsize=3, color=f"C{index}", label=METHOD_NAMES[method])
        for level in continuum["ari_truth_mean"]:
            ax.axhline(level, color=f"C{index}", linestyle="--", linewidth=1,
                       label=f"{METHOD_NAMES[method]}, continuum")
    ax.set(xlabel="type separation (within-type spreads)", ylabel="ARI with the planted types at the true K\n"
           "(mean ± sd over seeds)", title="Are the planted types recovered?")


def _consistency_panel(ax: plt.Axes, summary: pd.DataFrame, references: list[dict]) -> None:
    """ARI across seeds at the true K vs separation, with the real-data levels of the papers as lines."""
    for index, method in enumerate(methods_of(summary)):
        typed, continuum = _by_separation(summary, method)
        ax.plot(typed["separation"], typed["ari_seeds_at_true_k"], marker="o", color=f"C{index}",
                label=METHOD_NAMES[method])
        for level in continuum["ari_seeds_at_true_k"]:
            ax.axhline(level, color=f"C{index}", linestyle="--", linewidth=1)
    for reference in references:
        ax.axhline(reference["ari"], color="black", linestyle="-.", linewidth=1,
                   label=f"{reference['label']}: {reference['ari']:g} ({reference['source']})")
    ax.set(xlabel="type separation (within-type spreads)", ylabel="ARI across seeds at the true K",
           title="Consistency at the true K, and real-data levels\n(dashed: the continuum)")


def _peak_panel(ax: plt.Axes, summary: pd.DataFrame, margin: float) -> None:
    """Prominence of the true K in the across-seed curve vs separation; filled where the curve peaks there."""
    for index, method in enumerate(methods_of(summary)):
        typed, continuum = _by_separation(summary, method)
        ax.plot(typed["separation"], typed["prominence"], color=f"C{index}", label=METHOD_NAMES[method])
        peaks = typed["peaks_at_true_k"].astype(bool)
        ax.scatter(typed["separation"][peaks], typed["prominence"][peaks], color=f"C{index}", zorder=3)
        ax.scatter(typed["separation"][~peaks], typed["prominence"][~peaks], facecolors="white",
                   edgecolors=f"C{index}", zorder=3)
        for level in continuum["prominence"]:
            ax.axhline(level, color=f"C{index}", linestyle="--", linewidth=1)
        limit = detection_limit(summary, method)
        if np.isfinite(limit):
            ax.axvline(limit, color=f"C{index}", linestyle=":",
                       label=f"{METHOD_NAMES[method]}: peaks down to {limit:g}")
    ax.axhline(margin, color="grey", linewidth=0.8, label=f"peak criterion: argmax and ≥ {margin:g} over neighbours")
    ax.set(xlabel="type separation (within-type spreads)", ylabel="ARI at the true K minus its higher neighbour",
           title="Does ARI across seeds peak at the true K?\n(filled: yes; dashed: the continuum)")


def _curve_panel(ax: plt.Axes, curves: pd.DataFrame, method: str, true_k: int) -> None:
    """Across-seed ARI vs K, one curve per population (the continuum in black)."""
    rows = curves[curves["method"] == method]
    typed = rows[rows["separation"].notna()]
    separations = sorted(typed["separation"].unique(), reverse=True)
    colours = sns.color_palette("viridis", len(separations))
    for colour, separation in zip(colours, separations):
        curve = typed[typed["separation"] == separation].sort_values("k")
        ax.errorbar(curve["k"], curve["ari_mean"], yerr=curve["ari_sd"].fillna(0), marker="o", markersize=3,
                    capsize=2, color=colour, label=f"separation {separation:g}")
    continuum = rows[rows["separation"].isna()].sort_values("k")
    if len(continuum):
        ax.errorbar(continuum["k"], continuum["ari_mean"], yerr=continuum["ari_sd"].fillna(0), marker="s",
                    markersize=3, capsize=2, color="black", linestyle="--", label="continuum")
    ax.axvline(true_k, color="grey", linestyle=":", linewidth=1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="number of clusters K (dotted: the true K)", ylabel="ARI across seeds (mean ± sd over pairs)",
           title=f"{METHOD_NAMES[method]}: ARI across seeds vs K")


def identifiability_figure(summary: str, curves: str, pdf: str, variant: str, population: str,
                           margin: float, references: list[dict]) -> plt.Figure:
    """Top: ARI with the planted types, ARI across seeds at the true K (with the papers' real-data levels)
    and the prominence of the true K, vs separation. Bottom: the across-seed ARI curves over K per
    population, for k-means, GMM and (where it ran) DECEMber."""
    table = read_table(summary, SUMMARY_COLUMNS)
    curve_table = read_table(curves, CURVE_COLUMNS)
    true_k = int(table["true_k"].iloc[0])
    fig, axes = plt.subplots(2, 3, figsize=(20, 9))
    _truth_panel(axes[0, 0], table)
    _consistency_panel(axes[0, 1], table, references)
    _peak_panel(axes[0, 2], table, margin)
    legend_right(axes[0, 2])
    methods = list(methods_of(table))
    for ax, method in zip(axes[1], methods):
        _curve_panel(ax, curve_table, method, true_k)
    legend_right(axes[1, len(methods) - 1])
    for ax in axes[1, len(methods):]:
        ax.axis("off")
    for ax in axes[0, :2]:  # below the panels, off the data
        ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.15))
    seeds = int(table["n_seeds"].iloc[0])
    fig.suptitle(f"Identifiability of planted types (METHODS §11): {variant} fitted to populations of {population}, "
                 f"{seeds} seeds each")
    fig.tight_layout()
    return save_figure(fig, pdf)
