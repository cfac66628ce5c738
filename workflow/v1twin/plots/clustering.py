"""Figures of the embedding-consistency stage (R24 Fig. 2B–E, 2I, 3, A.4; L25 Figs. 3 and 5; ARI with
the planted types and D25's discrete-vs-continuum test).

Every function takes file paths (the rule's inputs) and writes `pdf` plus the PNG beside it.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator, NullLocator
from scipy.optimize import linear_sum_assignment
from scipy.stats import spearmanr

from v1twin.clustering.labels import METHODS, load_labels
from v1twin.clustering.planted import planted_types
from v1twin.data.simulate import load_ground_truth
from v1twin.plots import legend_right, read_table, save_figure

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
    style = {"marker": "o", "markersize": 4, "capsize": 3, **style}
    ax.errorbar(rows["k"], rows[f"{column}_mean"], yerr=rows[f"{column}_sd"], **style)
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


def category_colours(n: int, n_extra: int = 0) -> np.ndarray:
    """`n` colours of categories (planted types, or clusters shown alone), then `n_extra` darker ones at the
    hues between them, for clusters matched to no planted type."""
    extra = sns.husl_palette(n_extra, h=0.01 + 0.5 / max(n, 1), l=0.35) if n_extra else []
    return np.asarray([*sns.color_palette("husl", n), *extra]).reshape(-1, 3)


def cluster_colours(clusters: np.ndarray, types: np.ndarray | None = None,
                    n_types: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Each neuron's colour index and the palette it indexes, for a map coloured by cluster.

    Beside a map coloured by planted type (`types`, of `n_types`), a cluster is drawn in the colour of the
    type it is matched to (Hungarian assignment on the cluster × type counts: the most neurons in common),
    so the two maps read alike; clusters left over get extra colours of their own. Without types,
    cluster c has colour c.
    """
    clusters = np.asarray(clusters).astype(int)
    if types is None:
        return clusters, category_colours(int(clusters.max()) + 1)
    ids, rows = np.unique(clusters, return_inverse=True)
    counts = np.zeros((len(ids), n_types), dtype=np.int64)
    np.add.at(counts, (rows, np.asarray(types).astype(int)), 1)
    matched, matched_types = linear_sum_assignment(-counts)
    colour = np.empty(len(ids), dtype=int)
    colour[matched] = matched_types
    leftover = np.setdiff1d(np.arange(len(ids)), matched)
    colour[leftover] = n_types + np.arange(len(leftover))
    return colour[rows], category_colours(n_types, len(leftover))


def _scatter(ax: plt.Axes, table: pd.DataFrame, values: np.ndarray, palette: np.ndarray) -> None:
    """The t-SNE points of `table`, each in colour `palette[value]`."""
    ax.scatter(table["x"], table["y"], c=palette[values.astype(int)], s=4, alpha=0.8, linewidths=0)
    ax.set(xticks=[], yticks=[])
    ax.set_aspect("equal", adjustable="datalim")


def _planted_type_legend(fig: plt.Figure, type_names: list[str]) -> None:
    """One marker per planted type, in the colours _scatter gives them, below the panels."""
    colours = category_colours(len(type_names))
    handles = [plt.Line2D([], [], marker="o", linestyle="", color=colours[i], label=name)
               for i, name in enumerate(type_names)]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(type_names), 6), fontsize="small",
               title="planted type", bbox_to_anchor=(0.5, -0.02))


def tsne_embeddings(
    tsne: list[str], labels: list[str], truth: list[str], pdf: str, variants: list[str], k: int, mice: list[str]
) -> plt.Figure:
    """t-SNE map per variant (columns), coloured by the k-means cluster at K = k and, on simulated
    data (ground-truth files given), by the planted cell type in a second row; there each cluster takes
    the colour of the planted type it is matched to (`cluster_colours`)."""
    _check_pairs(tsne, variants, "t-SNE tables")
    _check_pairs(labels, variants, "label files")
    rows = 2 if truth else 1
    fig, axes = plt.subplots(rows, len(variants), figsize=(3.2 * len(variants), 3.3 * rows), squeeze=False)
    type_names = [str(name) for name in load_ground_truth(Path(truth[0]))["type_names"]] if truth else []
    for column, (variant, tsne_path, labels_path) in enumerate(zip(variants, tsne, labels)):
        table = read_table(tsne_path, ("mouse", "unit_id", "x", "y"))
        clusters = load_labels(labels_path)
        cell_types = planted_types(truth, mice, clusters.mouse) if truth else None
        try:
            values, palette = cluster_colours(clusters.at("kmeans", k), cell_types, len(type_names))
            cluster = _colour_rows(table, clusters.mouse, clusters.unit_id, values)
        except (KeyError, ValueError) as error:
            raise ValueError(f"{tsne_path} / {labels_path}: {error}") from error
        _scatter(axes[0, column], table, cluster, palette)
        axes[0, column].set_title(f"{variant}\n(n = {len(table)})", fontsize="medium")
        if truth:
            cell_type = _colour_rows(table, clusters.mouse, clusters.unit_id, cell_types)
            _scatter(axes[1, column], table, cell_type, category_colours(len(type_names)))
    axes[0, 0].set_ylabel(f"k-means cluster (K = {k})")
    if truth:
        axes[1, 0].set_ylabel("planted cell type")
        _planted_type_legend(fig, type_names)
    fig.suptitle("t-SNE of the neuron embeddings, first seed (R24 Fig. 2B–E)")
    fig.tight_layout(rect=(0, 0.06 if truth else 0, 1, 1))
    return save_figure(fig, pdf)


# ----------------------------------------------------------------------------------------------
# Agreement vs K


def _variant_rows(frame: pd.DataFrame, variants: list[str], path: str) -> pd.DataFrame:
    absent = [variant for variant in variants if variant not in set(frame["variant"])]
    if absent:
        raise ValueError(f"{path} has no rows for variant(s) {absent}")
    return frame[frame["variant"].isin(variants)]


def ari_across_seeds(table: str, pdf: str, variants: list[str]) -> plt.Figure:
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
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize="small", title="variant", loc="center left", bbox_to_anchor=(0.83, 0.5))
    fig.suptitle("Consistency of clusterings across seeds (R24 Fig. 2I); mean ± sd over seed pairs")
    fig.tight_layout(rect=(0, 0, 0.83, 1))  # the legend right of the panels, off the data
    return save_figure(fig, pdf)


def kmeans_reruns(reruns: str, across_seeds: str, pdf: str, variants: list[str]) -> plt.Figure:
    """R24 A.4: ARI between k-means reruns on one embedding (solid) vs ARI across seeds (dashed).

    The gap between the two is the inconsistency due to the models, not to k-means.
    """
    rerun_rows = _variant_rows(read_table(reruns, ("variant", "k", "ari_mean", "ari_sd")), variants, reruns)
    seed_rows = read_table(across_seeds, ("variant", "method", "k", "ari_mean", "ari_sd"))
    seed_rows = _variant_rows(seed_rows[seed_rows["method"] == "kmeans"], variants, across_seeds)
    palette = _palette(variants)
    fig, ax = plt.subplots(figsize=(9.0, 4.2))
    for variant in variants:
        _curve(ax, rerun_rows[rerun_rows["variant"] == variant], "ari", color=palette[variant], label=variant)
        _curve(ax, seed_rows[seed_rows["variant"] == variant], "ari", color=palette[variant], linestyle="--", alpha=0.7)
    ax.plot([], [], color="grey", label="k-means reruns, one embedding")
    ax.plot([], [], color="grey", linestyle="--", label="across seeds")
    ax.set(xlabel="number of clusters K", ylabel="ARI (mean ± sd over pairs)",
           title="k-means rerun stability (R24 A.4)")
    legend_right(ax)
    fig.tight_layout()
    return save_figure(fig, pdf)


def ari_planted_types(table: str, pdf: str, variants: list[str], n_types: int) -> plt.Figure:
    """ARI of each seed's clustering with the planted types vs K (mean ± sd over seeds), per method."""
    frame = _variant_rows(read_table(table, ("variant", "seed", "method", "k", "ari")), variants, table)
    summary = (frame.groupby(["variant", "method", "k"])["ari"].agg(ari_mean="mean", ari_sd="std").reset_index())
    palette = _palette(variants)
    fig, axes = plt.subplots(1, len(METHODS), figsize=(5.0 * len(METHODS), 4.5), sharey=True, squeeze=False)
    for ax, method in zip(axes[0], METHODS):
        for variant in variants:
            rows = summary[(summary["variant"] == variant) & (summary["method"] == method)]
            _curve(ax, rows, "ari", color=palette[variant], label=variant)
        ax.axvline(n_types, color="grey", linestyle=":", label=f"planted types ({n_types})")
        ax.set(xlabel="number of clusters K", title=METHOD_NAMES[method])
    axes[0, 0].set_ylabel("ARI with planted types (mean ± sd over seeds)")
    fig.legend(handles=axes[0, 0].get_legend_handles_labels()[0], loc="lower center", ncol=4, fontsize="small")
    fig.suptitle("Recovery of the planted cell types")
    fig.tight_layout(rect=(0, 0.14, 1, 1))  # room for the legend below, clear of the curves
    return save_figure(fig, pdf)


SEPARABILITY_MEASURES = {"decoding_accuracy": "linear decoding accuracy (CV)", "kmeans": "k-means ARI at true K",
                         "gmm": "GMM ARI at true K"}
SHARE_NAMES = {"orientation_share": "orientation", "phase_share": "phase", "nuisance_share": "orientation + phase",
               "type_parameter_share": "type parameters"}


def planted_type_separability(separability: str, planted: str, pdf: str, variants: list[str],
                              n_types: int) -> plt.Figure:
    """Left: is the planted type in the embedding (cross-validated linear decoding) and does it come out as
    clusters (ARI at the true K)? Right: which random per-neuron parameters spread each type.

    Means ± sd over seeds; the dashed line is the accuracy of always guessing the largest type.
    """
    shares = _variant_rows(read_table(separability, ("variant", "seed", "decoding_accuracy", "chance_accuracy",
                                                     *SHARE_NAMES)), variants, separability)
    ari = _variant_rows(read_table(planted, ("variant", "seed", "method", "k", "ari")), variants, planted)
    at_true_k = ari[ari["k"] == n_types]
    if at_true_k.empty:
        raise ValueError(f"{planted} has no rows at the true K = {n_types}")
    per_seed = pd.concat([
        shares.assign(measure="decoding_accuracy", value=shares["decoding_accuracy"]),
        at_true_k.assign(measure=at_true_k["method"], value=at_true_k["ari"]),
    ])[["variant", "seed", "measure", "value"]]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13.0, 4.5))
    sns.pointplot(per_seed, x="variant", y="value", hue="measure", order=variants,
                  hue_order=list(SEPARABILITY_MEASURES), errorbar="sd", dodge=0.4, linestyle="none", capsize=0.1,
                  ax=left)
    left.axhline(shares["chance_accuracy"].mean(), color="grey", linestyle="--", label="chance accuracy")
    left.set(xlabel="", ylabel="accuracy or ARI", ylim=(0, 1), title="Planted types: decodable vs clustered")
    handles, labels = left.get_legend_handles_labels()
    left.legend(handles, [SEPARABILITY_MEASURES.get(label, label) for label in labels], fontsize="small")
    long = shares.melt(id_vars=["variant", "seed"], value_vars=list(SHARE_NAMES), var_name="source", value_name="share")
    sns.barplot(long, x="variant", y="share", hue="source", order=variants, hue_order=list(SHARE_NAMES),
                errorbar="sd", capsize=0.1, ax=right)
    right.set(xlabel="", ylabel="share of within-type variance (adjusted R²)", ylim=(min(0.0, long["share"].min()), 1),
              title="What spreads the neurons of one type")
    handles, labels = right.get_legend_handles_labels()
    right.legend(handles, [SHARE_NAMES[label] for label in labels], fontsize="small")
    for ax in (left, right):
        ax.tick_params(axis="x", labelrotation=30)
    fig.tight_layout()
    return save_figure(fig, pdf)


# ----------------------------------------------------------------------------------------------
# Regularization sweeps (R24 Fig. 3, L25 Fig. 5)

SWEEP_COLUMNS = ("sweep", "variant", "role", "method", "k", "n_pairs", "ari_mean", "ari_sd", "n_seeds",
                 "n_collapsed", "fraction_oracle_mean", "fraction_oracle_sd")
# Legend entry of the sweep points whose seeds include a collapsed run (v1twin.collapsed_runs).
COLLAPSED_POINT = "a seed collapsed: off the line"
BETA_COLUMNS = ("variant", "mouse", "unit_id", "beta", "test_correlation", "oracle")
PARAMETER_NAMES = {"readout.gamma": "γ", "readout.adaptive_sigma": "σ", "core.gamma_input": "γ input",
                   "core.gamma_hidden": "γ hidden"}
# Lines at the same swept values are drawn this many decades apart on the log axis: their error bars stay apart.
DODGE_DECADES = 0.03


def _parameter_name(column: str) -> str:
    return PARAMETER_NAMES.get(column, column.split(".")[-1])


def _sweep_rows(path: str, sweep: str, k: int) -> pd.DataFrame:
    """The rows of one sweep at K = k from the sweep table."""
    frame = read_table(path, SWEEP_COLUMNS)
    rows = frame[(frame["sweep"] == sweep) & (frame["k"] == k)]
    if rows.empty:
        raise ValueError(f"{path} has no rows for sweep {sweep!r} at K = {k}")
    return rows


def _spread(rows: pd.DataFrame, count: str, unit: str) -> str:
    """What the error bars of means over seeds or seed pairs are, from each mean's `count` (n_seeds, n_pairs)
    of `unit`s: an axis label's second line."""
    low, high = int(rows[count].min()), int(rows[count].max())
    if high == 1:
        return f"one {unit}, no sd"
    return f"mean ± sd over {low if low == high else f'{low}–{high}'} {unit}s"


def _value_axis(ax: plt.Axes, values: pd.Series) -> None:
    """Log x axis for regularization strengths (symlog when 0, no regularization, is among them),
    ticked at the swept values."""
    positive = values[values > 0]
    if (values <= 0).any():
        ax.set_xscale("symlog", linthresh=positive.min() if not positive.empty else 1.0)
    elif values.nunique() > 1:
        ax.set_xscale("log")
    ticks = sorted(values.unique())
    ax.set_xticks(ticks, [f"{tick:g}" for tick in ticks])
    ax.xaxis.set_minor_locator(NullLocator())


def _sweep_lines(ax: plt.Axes, rows: pd.DataFrame, x: str, hue: str | None, measure: str,
                 label: str | None = None, color: Any = None, linestyle: str = "-", shift: float = 0.0) -> None:
    """Mean ± sd of `measure` vs parameter `x`, one line per value of `hue` (or one line in `color`), the
    lines `DODGE_DECADES` apart (and all `shift` decades off the swept values) so that their error bars do
    not hide each other.

    The base variant sits on its line, ringed, where its value of `x` is known; otherwise it is a
    dotted horizontal reference. A point whose seeds include a collapsed run is an × off the line: its
    mean and its ARI across seeds measure the failed fit, not the setting.
    """
    placed = rows[rows[x].notna()]
    groups = list(placed.groupby(hue, sort=True)) if hue else [(None, placed)]
    colours = sns.color_palette("viridis", len(groups)) if hue else [color]
    suffix = f" ({label})" if label else ""
    for index, (colour, (hue_value, group)) in enumerate(zip(colours, groups)):
        group = group.assign(position=group[x] * 10 ** (shift + DODGE_DECADES * (index - (len(groups) - 1) / 2)))
        group = group.sort_values(x)
        name = f"{_parameter_name(hue)} = {hue_value:g}" if hue else label
        kept, failed = group[group["n_collapsed"] == 0], group[group["n_collapsed"] > 0]
        line = ax.errorbar(kept["position"], kept[f"{measure}_mean"], yerr=kept[f"{measure}_sd"], marker="o",
                           markersize=4, capsize=3, color=colour, linestyle=linestyle, label=name)
        if not failed.empty:
            labelled = COLLAPSED_POINT in ax.get_legend_handles_labels()[1]
            ax.plot(failed["position"], failed[f"{measure}_mean"], marker="X", markersize=9, linestyle="",
                    color=line.lines[0].get_color(), label=None if labelled else COLLAPSED_POINT)
        for _, base in group[group["role"] == "base"].iterrows():
            ax.plot(base["position"], base[f"{measure}_mean"], marker="o", markersize=11, markerfacecolor="none",
                    color=color or "grey", linestyle="", label=f"base: {base['variant']}{suffix}")
    for _, base in rows[(rows["role"] == "base") & rows[x].isna()].iterrows():
        ax.axhline(base[f"{measure}_mean"], color=color or "grey", linestyle=":",
                   label=f"base: {base['variant']}{suffix}")
    _value_axis(ax, placed[x])
    ax.set_xlabel(f"{_parameter_name(x)} ({x})")


def _points_by_method(rows: pd.DataFrame, method: str, path: str) -> pd.DataFrame:
    chosen = rows[rows["method"] == method]
    if chosen.empty:
        raise ValueError(f"{path} has no {method} rows")
    return chosen


def _log_beta_by_group(ax: plt.Axes, beta: pd.DataFrame, group: str, order: list, labels: list[str]) -> None:
    """Box plot of log10 β per group (variant or planted type)."""
    values = [np.log10(beta.loc[beta[group] == key, "beta"]) for key in order]
    ax.boxplot(values, showfliers=False)
    ax.set_xticks(range(1, len(order) + 1), labels, rotation=30, ha="right", fontsize="small")
    ax.axhline(0.0, color="grey", linestyle=":", linewidth=1)
    ax.set_ylabel("log10 β (prior median 0)")


def _beta_scatter(ax: plt.Axes, beta: pd.DataFrame, column: str, label: str) -> None:
    """Per-neuron β against a measure, with the rank correlation in the title."""
    rho = spearmanr(beta[column], beta["beta"]).statistic
    ax.scatter(beta[column], np.log10(beta["beta"]), s=4, alpha=0.5, linewidths=0)
    ax.set(xlabel=label, ylabel="log10 β", title=f"β vs {label} (Spearman ρ = {rho:.2f})")


def adaptive_regularization(sweeps: str, beta: str, truth: list[str], pdf: str, sweep: str, k: int,
                            x: str = "readout.gamma", hue: str = "readout.adaptive_sigma") -> plt.Figure:
    """R24 Fig. 3: ARI across seeds (K = k) and fraction oracle vs γ for each σ of the adaptive
    regularizer (mean ± sd over seed pairs and seeds), and the learned per-neuron β: its distribution per
    setting and, for the setting with the highest k-means ARI, its relation to prediction quality and
    (simulated data) the planted type."""
    rows = _sweep_rows(sweeps, sweep, k)
    if x not in rows.columns:
        raise ValueError(f"{sweeps}: sweep {sweep!r} does not vary {x}")
    hue = hue if hue in rows.columns and rows[hue].notna().any() else None  # a sweep of γ alone: one line
    beta_table = read_table(beta, BETA_COLUMNS)
    kmeans_rows = _points_by_method(rows, "kmeans", sweeps)
    points = kmeans_rows[kmeans_rows["role"] == "point"].sort_values([column for column in (hue, x) if column])
    absent = sorted(set(points["variant"]) - set(beta_table["variant"]))
    if absent:
        raise ValueError(f"{beta} has no β of sweep variant(s) {absent}")
    fitted = points[points["n_collapsed"] == 0]  # a collapsed seed's ARI is no setting's
    candidates = fitted if not fitted.empty else points
    best = candidates.loc[candidates["ari_mean"].idxmax(), "variant"]
    best_beta = beta_table[beta_table["variant"] == best]

    fig, axes = plt.subplots(2, 3, figsize=(16, 8.5), squeeze=False)
    for ax, method in zip(axes[0, :2], METHODS):
        _sweep_lines(ax, _points_by_method(rows, method, sweeps), x, hue, "ari")
        ax.set(ylabel=f"ARI across seeds (K = {k})\n{_spread(rows, 'n_pairs', 'seed pair')}",
               title=METHOD_NAMES[method])
    _sweep_lines(axes[0, 2], kmeans_rows, x, hue, "fraction_oracle")
    axes[0, 2].set(ylabel=f"fraction oracle\n{_spread(rows, 'n_seeds', 'seed')}", title="performance")
    legend_right(axes[0, 2])

    labels = [", ".join(f"{_parameter_name(column)} {point[column]:g}" for column in (x, hue) if column)
              for _, point in points.iterrows()]
    _log_beta_by_group(axes[1, 0], beta_table, "variant", points["variant"].tolist(), labels)
    axes[1, 0].set_title("learned β per setting (first seed)")
    _beta_scatter(axes[1, 1], best_beta, "test_correlation", "test correlation")
    if truth and "cell_type" in best_beta.columns:
        names = [str(name) for name in load_ground_truth(Path(truth[0]))["type_names"]]
        _log_beta_by_group(axes[1, 2], best_beta, "cell_type", list(range(len(names))), names)
        axes[1, 2].set_title("β by planted type")
    else:
        _beta_scatter(axes[1, 2], best_beta, "oracle", "oracle")
    fig.suptitle(f"Adaptive regularization (R24 Fig. 3); per-neuron panels: {best}, the highest k-means ARI")
    fig.tight_layout()
    return save_figure(fig, pdf)


def core_regularization(sweeps: str, pdf: str, sweep_names: list[str], k: int) -> plt.Figure:
    """L25 Fig. 5: ARI across seeds (K = k; k-means solid, GMM dashed; mean ± sd over seed pairs) and
    fraction oracle (mean ± sd over seeds) vs the strength of each core regularizer, one column per sweep,
    the base variant ringed at its own value."""
    fig, axes = plt.subplots(2, len(sweep_names), figsize=(5.0 * len(sweep_names) + 2.5, 7.5), squeeze=False)
    for column, sweep in enumerate(sweep_names):
        rows = _sweep_rows(sweeps, sweep, k)
        parameters = [name for name in rows.columns if "." in name and rows[name].notna().any()]
        if len(parameters) != 1:
            raise ValueError(f"{sweeps}: sweep {sweep!r} varies {parameters}; this figure needs one parameter")
        styles = zip(METHODS, sns.color_palette("colorblind", len(METHODS)), ("-", "--"), (-0.5, 0.5))
        for method, colour, linestyle, side in styles:
            _sweep_lines(axes[0, column], _points_by_method(rows, method, sweeps), parameters[0], None, "ari",
                         label=METHOD_NAMES[method], color=colour, linestyle=linestyle, shift=side * DODGE_DECADES)
        _sweep_lines(axes[1, column], _points_by_method(rows, "kmeans", sweeps), parameters[0], None,
                     "fraction_oracle", color="black")
        axes[0, column].set(title=sweep, ylabel=f"ARI across seeds (K = {k})\n{_spread(rows, 'n_pairs', 'seed pair')}")
        axes[1, column].set(ylabel=f"fraction oracle\n{_spread(rows, 'n_seeds', 'seed')}")
    legend_right(axes[0, -1])
    legend_right(axes[1, -1])
    fig.suptitle("Core regularization: consistency and performance (L25 Fig. 5)")
    fig.tight_layout()
    return save_figure(fig, pdf)


# ----------------------------------------------------------------------------------------------
# Landscapes (L25 Fig. 3) and the discrete-vs-continuum test (D25)


# The performance measure a landscape panel's title shows: its abbreviation and meaning.
LANDSCAPE_MEASURES = {"fraction_oracle": ("FO", "fraction oracle"),
                      "single_trial_correlation": ("ρ_st", "single-trial test correlation")}


def _mean_measure(performance: pd.DataFrame, variant: str, measure: str, path: str) -> float:
    runs = performance[(performance["variant"] == variant) & (performance["mouse"] == "mean")]
    if runs.empty:
        raise ValueError(f"{path} has no 'mean' rows for variant {variant!r}")
    return float(runs[measure].mean())


def tsne_landscape(tsne: list[str], labels: list[str], truth: list[str], performance: str, pdf: str,
                   rows: dict[str, list[str]], titles: dict[str, str], k: int, mice: list[str],
                   measure: str = "fraction_oracle", figure: str = "L25 Fig. 3") -> plt.Figure:
    """L25 Figs. 3 and 4: t-SNE maps, one row per model family (readout type; video core), columns by
    increasing regularization, each titled with its strength and `measure` (mean over seeds; fraction
    oracle for L25 Fig. 3, ρ_st for Fig. 4). Points are coloured by planted type on simulated data
    (ground-truth files given), otherwise by k-means cluster at K = k.

    `tsne` and `labels` list the first seed's files of the variants of `rows`, row after row.
    """
    if measure not in LANDSCAPE_MEASURES:
        raise ValueError(f"unknown landscape measure {measure!r}; known: {list(LANDSCAPE_MEASURES)}")
    abbreviation, meaning = LANDSCAPE_MEASURES[measure]
    variants = [variant for row in rows.values() for variant in row]
    _check_pairs(tsne, variants, "t-SNE tables")
    _check_pairs(labels, variants, "label files")
    frame = read_table(performance, ("variant", "mouse", measure))
    files = dict(zip(variants, zip(tsne, labels)))
    n_columns = max(len(row) for row in rows.values())
    fig, axes = plt.subplots(len(rows), n_columns, figsize=(3.2 * n_columns, 3.4 * len(rows)), squeeze=False)
    type_names = [str(name) for name in load_ground_truth(Path(truth[0]))["type_names"]] if truth else []
    for row, (readout, row_variants) in enumerate(rows.items()):
        for column in range(n_columns):
            ax = axes[row, column]
            if column >= len(row_variants):
                ax.axis("off")
                continue
            variant = row_variants[column]
            tsne_path, labels_path = files[variant]
            table = read_table(tsne_path, ("mouse", "unit_id", "x", "y"))
            clusters = load_labels(labels_path)
            if truth:
                values, palette = planted_types(truth, mice, clusters.mouse), category_colours(len(type_names))
            else:
                values, palette = cluster_colours(clusters.at("kmeans", k))
            try:
                colour = _colour_rows(table, clusters.mouse, clusters.unit_id, values)
            except ValueError as error:
                raise ValueError(f"{tsne_path} / {labels_path}: {error}") from error
            _scatter(ax, table, colour, palette)
            value = _mean_measure(frame, variant, measure, performance)
            subtitle = " · ".join(filter(None, [titles.get(variant), f"{abbreviation} {value:.2f}"]))
            ax.set_title(f"{variant}\n{subtitle}", fontsize="medium")
        axes[row, 0].set_ylabel(readout)
    if truth:
        _planted_type_legend(fig, type_names)
    colouring = "planted type" if truth else f"k-means cluster (K = {k})"
    fig.suptitle(f"Embedding landscapes by model and readout regularization ({figure}); colour: {colouring}; "
                 f"{abbreviation}: {meaning}")
    fig.tight_layout(rect=(0, 0.06 if truth else 0, 1, 1))
    return save_figure(fig, pdf)


def discreteness_test(table: str, pdf: str, discrete: str, continuum: str, n_types: int) -> plt.Figure:
    """D25's hypothesis test: ARI across seeds vs K for a population with types and one without (same
    size, same model). A peak at the planted K only in the discrete population means the peak marks types."""
    columns = ("variant", "method", "k", "ari_mean", "ari_sd")
    frame = _variant_rows(read_table(table, columns), [discrete, continuum], table)
    fig, axes = plt.subplots(1, len(METHODS), figsize=(5.0 * len(METHODS), 4.0), sharey=True, squeeze=False)
    for ax, method in zip(axes[0], METHODS):
        for variant, name, colour in ((discrete, "discrete types", "C0"), (continuum, "continuum", "C1")):
            rows = frame[(frame["variant"] == variant) & (frame["method"] == method)]
            _curve(ax, rows, "ari", color=colour, label=f"{name} ({variant})")
        ax.axvline(n_types, color="grey", linestyle=":", label=f"planted types ({n_types})")
        ax.set(xlabel="number of clusters K", title=METHOD_NAMES[method])
    axes[0, 0].set_ylabel("ARI across seeds (mean ± sd over seed pairs)")
    axes[0, 0].legend(fontsize="small")
    fig.suptitle("Does ARI across seeds peak at the true K only when types exist? (D25)")
    fig.tight_layout()
    return save_figure(fig, pdf)
