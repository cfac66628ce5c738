"""Figures of the training stage: performance, learning curves and readouts (R24 Fig. 2A, 2G, 2H, 6).

Every function takes file paths (the rule's inputs) and writes `pdf` plus the PNG beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import ticker

from v1twin.plots import legend_right, read_table, save_figure
from v1twin.plots.clustering import _spread, _value_axis

MEAN_ROW = "mean"  # the performance table's row averaging over mice
PERFORMANCE_MEASURES = {
    "single_trial_correlation": "test single-trial correlation",
    "fraction_oracle": "fraction oracle",
    "ground_truth_correlation": "correlation with true rates",
}
HISTORY_COLUMNS = ("epoch", "val_correlation", "lr")


# ----------------------------------------------------------------------------------------------
# Small pure helpers


def mask_effective_size(masks: np.ndarray) -> np.ndarray:
    """Effective number of pixels of each mask (N, h, w): the participation ratio (Σ|s|)² / Σs².

    It is k for a mask with k equal nonzero pixels and ignores the mask's scale, so the L2
    normalization of the factorized readout does not matter. For an L2-normalized mask it equals
    ‖s‖₁², the mask term of the factorized readout's regularizer, squared.
    """
    flat = np.abs(np.asarray(masks, dtype=np.float64)).reshape(len(masks), -1)
    squares = (flat**2).sum(axis=1)
    if np.any(squares == 0):
        raise ValueError("a mask of all zeros has no effective size")
    return flat.sum(axis=1) ** 2 / squares


def sweep_summary(table: pd.DataFrame, points: dict[str, float]) -> pd.DataFrame:
    """Per swept value: mean and sd over seeds of the best validation and the test single-trial correlation.

    `points` maps each variant of the sweep (its base included) to its value of the swept parameter.
    Uses the table's 'mean' rows (averaged over mice); one row per value, by increasing value.
    """
    rows = []
    for variant, value in sorted(points.items(), key=lambda item: item[1]):
        runs = table[(table["variant"] == variant) & (table["mouse"] == MEAN_ROW)]
        if runs.empty:
            raise ValueError(f"no rows for sweep variant {variant!r} in the performance table")
        rows.append(
            {
                "value": float(value),
                "variant": variant,
                "n_seeds": len(runs),
                "validation_mean": runs["best_val_correlation"].mean(),
                "validation_sd": runs["best_val_correlation"].std(),
                "test_mean": runs["single_trial_correlation"].mean(),
                "test_sd": runs["single_trial_correlation"].std(),
            }
        )
    return pd.DataFrame(rows)


def selected_value(summary: pd.DataFrame) -> float:
    """The selection rule of R24 Fig. 6: the swept value with the best mean validation correlation."""
    return float(summary.loc[summary["validation_mean"].idxmax(), "value"])


def feature_l1_norms(features: np.ndarray) -> np.ndarray:
    """‖w_n‖₁ of every neuron's feature vector (rows of an (N, C) array)."""
    return np.abs(features).sum(axis=1)


# ----------------------------------------------------------------------------------------------
# Reading inputs


def _mean_rows(path: str | Path, variants: list[str], columns: tuple[str, ...]) -> pd.DataFrame:
    """The performance table's per-run averages over mice, for `variants` only."""
    table = read_table(path, ("variant", "seed", "mouse", *columns))
    table = table[table["mouse"] == MEAN_ROW]
    absent = [variant for variant in variants if variant not in set(table["variant"])]
    if absent:
        raise ValueError(f"{path} has no '{MEAN_ROW}' rows for variant(s) {absent}")
    return table[table["variant"].isin(variants)]


def _readouts(path: str | Path) -> dict[str, Any]:
    """Every mouse's readout (a torch module) of a saved model, on the CPU."""
    # imported here: the figures drawn from tables alone then start without torch (~2 s a job)
    import torch

    from v1twin.model_run import load_model

    return dict(load_model(Path(path), device=torch.device("cpu")).readouts.items())


def _features(path: str | Path) -> np.ndarray:
    """Readout feature vectors of every neuron of every mouse, concatenated to (N_total, C)."""
    return np.concatenate([readout.features.detach().numpy() for readout in _readouts(path).values()])


def _masks_and_features(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Normalized masks (N_total, h, w) and features (N_total, C) of a model with factorized readouts."""
    masks, features = [], []
    for mouse, readout in _readouts(path).items():
        if not hasattr(readout, "mask"):
            raise ValueError(f"{path}: the readout of mouse {mouse} is not factorized (it has no spatial mask)")
        masks.append(readout.mask.detach().numpy())
        features.append(readout.features.detach().numpy())
    return np.concatenate(masks), np.concatenate(features)


def _check_pairs(models: list[str], variants: list[str]) -> None:
    if len(models) != len(variants):
        raise ValueError(f"got {len(models)} model files for {len(variants)} variants; they must pair up")


def _plain_log_ticks(ax: plt.Axes, axis: str) -> None:
    """Tick labels of a log axis as plain numbers (0.7, 2, 300): short enough not to overlap."""
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_formatter(ticker.LogFormatter())
    target.set_minor_formatter(ticker.LogFormatter(labelOnlyBase=False))


def _palette(variants: list[str]) -> dict[str, Any]:
    """One colour per variant, in the given order, the same in every figure of this module."""
    return dict(zip(variants, sns.color_palette("colorblind", len(variants))))


# ----------------------------------------------------------------------------------------------
# Figures


def performance(table: str, pdf: str, variants: list[str], figure: str = "R24 Fig. 2A") -> plt.Figure:
    """R24 Fig. 2A (L25 Fig. 4E for video models): test performance per variant, a dot per seed and a bar
    at the mean over seeds.

    Panels: single-trial correlation, fraction oracle (where the test tier has repeats) and the
    correlation with the true rates (simulated data only).
    """
    rows = _mean_rows(table, variants, ("single_trial_correlation",))
    measures = [
        column for column in PERFORMANCE_MEASURES
        if column in rows.columns and rows[column].notna().any()
    ]
    palette = _palette(variants)
    fig, axes = plt.subplots(
        1, len(measures), figsize=(1.0 + 0.7 * len(variants) * len(measures) + 1.2 * len(measures), 4.0),
        squeeze=False,
    )
    for ax, measure in zip(axes[0], measures):
        sns.barplot(data=rows, x="variant", y=measure, hue="variant", order=variants, hue_order=variants,
                    palette=palette, errorbar=None, alpha=0.5, legend=False, ax=ax)
        sns.stripplot(data=rows, x="variant", y=measure, order=variants, color="black", size=4, jitter=0.15, ax=ax)
        ax.set_xlabel("")
        ax.set_ylabel(PERFORMANCE_MEASURES[measure])
        ax.tick_params(axis="x", rotation=45)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
    fig.suptitle(f"Test performance per variant ({figure}); dots: seeds, bars: mean")
    fig.tight_layout()
    return save_figure(fig, pdf)


def _group_palette(groups: list[str]) -> dict[str, Any]:
    """One colour per group of a learning-curve row: the colour-blind palette, husl beyond its 10 colours."""
    return dict(zip(groups, sns.color_palette("colorblind" if len(groups) <= 10 else "husl", len(groups))))


def learning_curves(histories: list[str], pdf: str, runs: list[list[str]]) -> plt.Figure:
    """Validation correlation and learning rate per epoch of every trained model: a row per family of runs
    (trained variants, sweep points, DECEMber, pruning fine-tunes, transfer, ...), a thin line per run.

    `runs` gives each history's [family, group]; a group (a variant, a sweep, a setting) colours its lines,
    and its legend lies right of the row.
    """
    if len(runs) != len(histories):
        raise ValueError(f"{len(histories)} training histories for {len(runs)} runs; they must pair up")
    logs = [(family, group, read_table(path, HISTORY_COLUMNS)) for path, (family, group) in zip(histories, runs)]
    families = list(dict.fromkeys(family for family, _, _ in logs))
    height = 2.8 * len(families) + 0.6
    fig, axes = plt.subplots(len(families), 2, figsize=(13, height), squeeze=False)
    for (correlation_ax, lr_ax), family in zip(axes, families):
        members = [(group, history) for name, group, history in logs if name == family]
        palette = _group_palette(list(dict.fromkeys(group for group, _ in members)))
        for group, history in members:
            style = {"color": palette[group], "alpha": 0.7, "linewidth": 0.8}
            correlation_ax.plot(history["epoch"], history["val_correlation"], **style)
            lr_ax.plot(history["epoch"], history["lr"], drawstyle="steps-post", **style)  # constant within an epoch
        runs_text = f"{len(members)} run{'s' * (len(members) > 1)}"
        correlation_ax.set(xlabel="epoch", ylabel="validation correlation", title=f"{family}: {runs_text}")
        lr_ax.set(xlabel="epoch", ylabel="learning rate", yscale="log")
        _plain_log_ticks(lr_ax, "y")
        for ax in (correlation_ax, lr_ax):
            ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        handles = [plt.Line2D([], [], color=colour, label=group) for group, colour in palette.items()]
        lr_ax.legend(handles=handles, fontsize="x-small", ncol=1 + len(handles) // 12, loc="upper left",
                     bbox_to_anchor=(1.02, 1.0))  # right of the row, off the data
    fig.suptitle("Learning curves of every trained model (one line per run)")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / height))  # the title above the first row's
    return save_figure(fig, pdf)


def readout_weights(models: list[str], pdf: str, variants: list[str]) -> plt.Figure:
    """R24 Fig. 2G: distribution of readout feature weights and of per-neuron ‖w_n‖₁, per variant."""
    _check_pairs(models, variants)
    features = {variant: _features(path) for variant, path in zip(variants, models)}
    norms = {variant: feature_l1_norms(weights) for variant, weights in features.items()}
    palette = _palette(variants)
    fig, (weights_ax, norms_ax) = plt.subplots(1, 2, figsize=(11, 4))
    panels = (
        (weights_ax, {variant: weights.ravel() for variant, weights in features.items()},
         "feature weight $w_{nc}$", "Feature weights (all neurons and channels)"),
        (norms_ax, norms, r"$\|w_n\|_1$ per neuron", "Per-neuron L1 norm of the features"),
    )
    for ax, values, xlabel, title in panels:
        bins = np.histogram_bin_edges(np.concatenate(list(values.values())), bins=60)
        for variant in variants:
            ax.hist(values[variant], bins=bins, histtype="step", linewidth=1.5, color=palette[variant], label=variant)
        ax.set(xlabel=xlabel, ylabel="count", yscale="log", title=title)
        _plain_log_ticks(ax, "y")
    weights_ax.legend(title="variant (first seed)", fontsize="small")
    fig.suptitle("Readout feature weights (R24 Fig. 2G)")
    fig.tight_layout()
    return save_figure(fig, pdf)


def mask_size(models: list[str], pdf: str, variants: list[str]) -> plt.Figure:
    """R24 Fig. 2H: per neuron, the factorized mask's effective size vs its feature-weight norm ‖w_n‖₁.

    Mask size is the participation ratio of the normalized mask (see `mask_effective_size`); the
    dashed line is the whole grid, the largest possible size.
    """
    _check_pairs(models, variants)
    palette = _palette(variants)
    fig, axes = plt.subplots(1, len(variants), figsize=(4.2 * len(variants), 4.0), squeeze=False,
                             sharex=True, sharey=True)
    for ax, variant, path in zip(axes[0], variants, models):
        masks, features = _masks_and_features(path)
        ax.scatter(feature_l1_norms(features), mask_effective_size(masks), s=8, alpha=0.6, color=palette[variant])
        ax.axhline(masks[0].size, color="grey", linestyle="--", linewidth=1, label=f"whole grid ({masks[0].size} px)")
        ax.set(xscale="log", yscale="log", xlabel=r"feature-weight norm $\|w_n\|_1$",
               ylabel="mask size (effective pixels)", title=variant)
        _plain_log_ticks(ax, "x")
        _plain_log_ticks(ax, "y")
        ax.legend(fontsize="small", loc="lower left")
    fig.suptitle("Factorized readout: mask size vs feature-weight norm (R24 Fig. 2H)")
    fig.tight_layout()
    return save_figure(fig, pdf)


def factorized_selection(table: str, pdf: str, sweep: str, points: dict[str, float], base: str) -> plt.Figure:
    """R24 Fig. 6: validation and test correlation vs γ over the sweep's points and its `base` variant
    (ringed); the best validation mean is chosen. `points`: variant -> γ, the base included."""
    frame = read_table(table, ("variant", "seed", "mouse", "best_val_correlation", "single_trial_correlation"))
    try:
        summary = sweep_summary(frame, points)
    except ValueError as error:
        raise ValueError(f"{table}: {error}") from error
    best = selected_value(summary)
    fig, ax = plt.subplots(figsize=(9, 4))
    for measure, label, marker in (("validation", "validation (best epoch)", "o"), ("test", "test", "s")):
        ax.errorbar(summary["value"], summary[f"{measure}_mean"], yerr=summary[f"{measure}_sd"],
                    marker=marker, capsize=3, label=label)
    base_row = summary[summary["variant"] == base]
    ax.scatter(base_row["value"], base_row["validation_mean"], s=160, facecolors="none", edgecolors="black",
               label=f"base variant {base} ({int(base_row['n_seeds'].iloc[0])} seeds)", zorder=3)
    ax.axvline(best, color="grey", linestyle="--", label=f"selected γ = {best:g}")
    _value_axis(ax, summary["value"])
    ax.set(xlabel=f"γ ({sweep})", ylabel=f"single-trial correlation\n{_spread(summary, 'n_seeds', 'seed')}",
           title="Choosing the factorized readout's γ (R24 Fig. 6)")
    legend_right(ax)
    fig.tight_layout()
    return save_figure(fig, pdf)
