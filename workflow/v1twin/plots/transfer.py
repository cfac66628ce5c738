"""Figures of the transfer stage (L21 Figs. 3-5): test-tier fraction oracle vs the number of training
images (and neurons) for readouts, within-animal and across-animal transfer conditions, as mean ± sd
over the seeds.

Every function takes the transfer table (rule input `table`) and writes `pdf` plus the PNG beside it.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib import ticker

from v1twin.plots import legend_right, read_table, save_figure

TABLE_COLUMNS = (
    "experiment",
    "condition",
    "n_images",
    "seed",
    "neurons",
    "n_neurons",
    "fraction_oracle",
    "fraction_oracle_common",
    "total_steps",
)
MARKERS = "osD^vP*X"
DODGE = 1.04  # conditions drawn side by side at one x (log axis): a factor apart, so error bars do not hide each other
BASELINE_STYLES = {"direct": {"color": "black"}, "random core": {"color": "grey"}}


def experiment_rows(table: pd.DataFrame, experiment: str, neurons: str | None = "all") -> pd.DataFrame:
    """The rows of `experiment`, optionally only those with this `neurons` value; none is an error naming it."""
    rows = table[table["experiment"] == experiment]
    if neurons is not None:
        rows = rows[rows["neurons"].astype(str) == neurons]
    if rows.empty:
        raise ValueError(f"the transfer table has no {experiment!r} rows (neurons {neurons})")
    return rows


def condition_curves(
    rows: pd.DataFrame, x: str = "n_images", measure: str = "fraction_oracle"
) -> dict[str, pd.DataFrame]:
    """Per condition (in table order): per value of `x`, the mean and sd (0 for one seed) of `measure` over
    seeds and the number of seeds, sorted by `x`."""
    curves = {}
    for condition, curve in rows.groupby("condition", sort=False):
        summary = curve.groupby(x)[measure].agg(mean="mean", sd="std", seeds="count").reset_index()
        curves[condition] = summary.assign(sd=summary["sd"].fillna(0.0))
    return curves


def steps_note(rows: pd.DataFrame) -> str:
    """The optimizer steps of the arms drawn (a transferred core's included), to show whether they match."""
    low, high = rows["total_steps"].min(), rows["total_steps"].max()
    steps = f"{low}" if low == high else f"{low}–{high}"
    return f"{steps} optimizer steps per arm (a frozen core's included); mean ± sd over {rows['seed'].nunique()} seeds"


def _plot_curves(
    ax: plt.Axes, curves: dict[str, pd.DataFrame], x: str, styles: dict[str, dict] | None = None, legend: bool = True
) -> None:
    for index, (condition, curve) in enumerate(curves.items()):
        style = {"marker": MARKERS[index % len(MARKERS)], **(styles or {}).get(condition, {})}
        dodge = DODGE ** (index - (len(curves) - 1) / 2)
        ax.errorbar(curve[x] * dodge, curve["mean"], yerr=curve["sd"], label=condition, capsize=3, **style)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(ticker.ScalarFormatter())
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set_xticks(sorted({value for curve in curves.values() for value in curve[x]}))
    ax.set_ylabel("fraction oracle (test)")
    ax.grid(alpha=0.3)
    if legend:
        legend_right(ax)


def readouts(table: str | Path, pdf: str | Path, mouse: str, sessions: int) -> plt.Figure:
    """L21 Fig. 3: the readouts vs the number of training images (all neurons) and of neurons (all images)."""
    frame = read_table(table, TABLE_COLUMNS)
    rows = experiment_rows(frame, "readouts", neurons=None)
    most_images = rows["n_images"].max()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    _plot_curves(left, condition_curves(rows[rows["neurons"].astype(str) == "all"]), "n_images", legend=False)
    left.set_xlabel("training images (all neurons)")
    # scored on the neurons every point shares (the smallest subset; without subsets all), as a subset may
    # hold easier neurons than the whole population
    by_neurons = rows[rows["n_images"] == most_images]
    by_neurons = by_neurons.assign(shared=by_neurons["fraction_oracle_common"].fillna(by_neurons["fraction_oracle"]))
    _plot_curves(right, condition_curves(by_neurons, "n_neurons", "shared"), "n_neurons")
    right.set_xlabel(
        f"neurons trained on ({most_images} images), scored on the {by_neurons['n_neurons'].min()} all share"
    )
    fig.suptitle(
        f"Readouts on mouse {mouse}: {sessions} pseudo-scans of the same neurons (L21 Fig. 3)\n{steps_note(rows)}",
        fontsize="medium",
    )
    return save_figure(fig, pdf)


def within_animal(table: str | Path, pdf: str | Path, mouse: str) -> plt.Figure:
    """L21 Fig. 4: the four within-animal conditions on the transfer set vs the number of images."""
    rows = experiment_rows(read_table(table, TABLE_COLUMNS), "within", neurons="transfer_set")
    fig, ax = plt.subplots(figsize=(7.5, 4))
    _plot_curves(ax, condition_curves(rows), "n_images", BASELINE_STYLES)
    ax.set_xlabel("training images (diff-core/best-readout: the core's)")
    ax.set_title(f"Within mouse {mouse}: core set → transfer set (L21 Fig. 4)\n{steps_note(rows)}", fontsize="medium")
    return save_figure(fig, pdf)


def across_animal(table: str | Path, pdf: str | Path, mouse: str) -> plt.Figure:
    """L21 Fig. 5: cores from each training set (and the random core) vs direct training on a held-out mouse."""
    rows = experiment_rows(read_table(table, TABLE_COLUMNS), "across")
    curves = condition_curves(rows)
    ablation = {condition: {"linestyle": "--"} for condition in curves if "position network" in condition}
    fig, ax = plt.subplots(figsize=(8, 4))
    _plot_curves(ax, curves, "n_images", {**BASELINE_STYLES, **ablation})
    ax.set_xlabel(f"training images of mouse {mouse}")
    ax.set_title(
        f"Across animals: transfer to held-out mouse {mouse} (L21 Fig. 5)\n{steps_note(rows)}", fontsize="medium"
    )
    return save_figure(fig, pdf)
