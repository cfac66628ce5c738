"""Figures of the transfer stage (L21 Figs. 3-5): test-tier fraction oracle vs the number of training
images (and neurons) for readouts, within-animal and across-animal transfer conditions.

Every function takes the transfer table (rule input `table`) and writes `pdf` plus the PNG beside it.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib import ticker

from v1twin.plots import read_table, save_figure

TABLE_COLUMNS = ("experiment", "condition", "n_images", "images_used", "neurons", "n_neurons", "fraction_oracle")
MARKERS = "osD^vP*X"
BASELINE_STYLES = {"direct": {"color": "black"}, "random core": {"color": "grey"}}


def condition_curves(table: pd.DataFrame, experiment: str, x: str = "n_images",
                     neurons: str | None = "all") -> dict[str, pd.DataFrame]:
    """Per condition of `experiment` (in table order), its rows sorted by `x`, optionally only those with
    this `neurons` value. An experiment without rows is an error naming it."""
    rows = table[table["experiment"] == experiment]
    if neurons is not None:
        rows = rows[rows["neurons"].astype(str) == neurons]
    if rows.empty:
        raise ValueError(f"the transfer table has no {experiment!r} rows (neurons {neurons})")
    return {condition: curve.sort_values(x) for condition, curve in rows.groupby("condition", sort=False)}


def _plot_curves(ax: plt.Axes, curves: dict[str, pd.DataFrame], x: str, styles: dict[str, dict] | None = None) -> None:
    for index, (condition, curve) in enumerate(curves.items()):
        style = {"marker": MARKERS[index % len(MARKERS)], **(styles or {}).get(condition, {})}
        ax.plot(curve[x], curve["fraction_oracle"], label=condition, **style)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(ticker.ScalarFormatter())
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set_xticks(sorted({value for curve in curves.values() for value in curve[x]}))
    ax.set_ylabel("fraction oracle (test)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")


def readouts(table: str | Path, pdf: str | Path, mouse: str, sessions: int) -> plt.Figure:
    """L21 Fig. 3: the readouts vs the number of training images (all neurons) and of neurons (all images)."""
    frame = read_table(table, TABLE_COLUMNS)
    by_images = condition_curves(frame, "readouts")
    most_images = frame.loc[frame["experiment"] == "readouts", "n_images"].max()
    by_neurons = condition_curves(frame[frame["n_images"] == most_images], "readouts", x="n_neurons", neurons=None)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    _plot_curves(left, by_images, "n_images")
    left.set_xlabel("training images (all neurons)")
    _plot_curves(right, by_neurons, "n_neurons")
    right.set_xlabel(f"neurons ({most_images} images)")
    fig.suptitle(f"Readouts on mouse {mouse}: {sessions} pseudo-scans of the same neurons (L21 Fig. 3)")
    return save_figure(fig, pdf)


def within_animal(table: str | Path, pdf: str | Path, mouse: str) -> plt.Figure:
    """L21 Fig. 4: the four within-animal conditions on the transfer set vs the number of images."""
    frame = read_table(table, TABLE_COLUMNS)
    curves = condition_curves(frame, "within", neurons="transfer_set")
    fig, ax = plt.subplots(figsize=(5.5, 4))
    _plot_curves(ax, curves, "n_images", BASELINE_STYLES)
    ax.set_xlabel("training images (diff-core/best-readout: the core's)")
    ax.set_title(f"Within mouse {mouse}: core set → transfer set (L21 Fig. 4)", fontsize="medium")
    return save_figure(fig, pdf)


def across_animal(table: str | Path, pdf: str | Path, mouse: str) -> plt.Figure:
    """L21 Fig. 5: cores from each training set (and the random core) vs direct training on a held-out mouse."""
    frame = read_table(table, TABLE_COLUMNS)
    curves = condition_curves(frame, "across")
    ablation = {condition: {"linestyle": "--"} for condition in curves if "position network" in condition}
    styles = {**BASELINE_STYLES, **ablation}
    fig, ax = plt.subplots(figsize=(5.5, 4))
    _plot_curves(ax, curves, "n_images", styles)
    ax.set_xlabel(f"training images of mouse {mouse}")
    ax.set_title(f"Across animals: transfer to held-out mouse {mouse} (L21 Fig. 5)", fontsize="medium")
    return save_figure(fig, pdf)
