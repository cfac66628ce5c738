"""Figures of the pruning stage (R24 Fig. 4A–C): performance while pruning, ARI before and after
pruning, and the consistency–performance trade-off of every analysed variant. Each pruned model is shown
beside its matched-budget control (<variant>-finetuned: the same fine-tuning, no feature removed).

Every function takes file paths (the rule's inputs) and writes `pdf` plus the PNG beside it.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.text import Annotation, Text
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Bbox

from v1twin.model_run import read_metrics
from v1twin.plots import read_table, save_figure

TABLE_COLUMNS = ("variant", "seed", "step", "channels", "val_correlation", "selected")
ACROSS_SEEDS_COLUMNS = ("variant", "method", "k", "ari_mean", "ari_sd")
METHOD = "kmeans"  # R24 compares k-means clusterings
# Per model kind: the line style (Fig. 4B), the marker and the arrow style from the trained variant (Fig. 4C).
STYLES = {"trained": ("--", "o"), "pruned": ("-", "s"), "finetuned": (":", "^")}
KIND_LABELS = {"trained": "trained", "pruned": "pruned", "finetuned": "fine-tuned only (control)"}
OUTSIDE_RIGHT = {"loc": "upper left", "bbox_to_anchor": (1.02, 1.0), "borderaxespad": 0.0, "fontsize": "small"}
# Where a point's label may go, tried in order: offsets (points) from the point, each ring further out.
LABEL_DIRECTIONS = ((1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1))
LABEL_RINGS = (5, 12, 20, 30, 42)


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
        summary = (
            rows.groupby("step")
            .agg(mean=("val_correlation", "mean"), sd=("val_correlation", "std"), selected=("selected", "any"))
            .reset_index()
        )
        ax.errorbar(
            summary["step"],
            summary["mean"],
            yerr=summary["sd"].fillna(0.0),
            marker="o",
            markersize=4,
            capsize=3,
            color=palette[variant],
            label=variant,
        )
        chosen = summary[summary["selected"]]
        ax.scatter(
            chosen["step"], chosen["mean"], marker="*", s=220, color=palette[variant], edgecolor="black", zorder=3
        )
    n_features = int(frame["channels"].max())
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(
        xlabel=f"features pruned (of {n_features})",
        ylabel="validation correlation (mean ± sd over seeds)",
        title="Pruning the core (R24 Fig. 4A); ★ selected",
    )
    ax.legend(**OUTSIDE_RIGHT)
    fig.tight_layout()
    return save_figure(fig, pdf)


def _kinds(variant: str, pruned: dict[str, str], finetuned: dict[str, str]) -> dict[str, str]:
    """Model kind -> model name of a pruned variant: itself, its pruned model and its control."""
    names = {"trained": variant}
    names.update({"pruned": name for name, base in pruned.items() if base == variant})
    names.update({"finetuned": name for name, base in finetuned.items() if base == variant})
    return names


def pruning_ari(table: str, pdf: str, pruned: dict[str, str], finetuned: dict[str, str]) -> plt.Figure:
    """R24 Fig. 4B: k-means ARI across seeds vs K per pruned variant, trained (dashed), pruned (solid) and
    fine-tuned as long without removing a feature (dotted, the control): is pruning's gain more than the
    extra training's?

    `pruned` and `finetuned` map each pruned model's and control's name to the variant it comes from.
    """
    frame = read_table(table, ACROSS_SEEDS_COLUMNS)
    frame = frame[frame["method"] == METHOD]
    palette = _palette(list(pruned.values()))
    fig, ax = plt.subplots(figsize=(7.5, 4))
    for variant in pruned.values():
        for kind, model in _kinds(variant, pruned, finetuned).items():
            rows = _rows_of(frame, model, table).sort_values("k")
            ax.errorbar(
                rows["k"],
                rows["ari_mean"],
                yerr=rows["ari_sd"].fillna(0.0),
                linestyle=STYLES[kind][0],
                marker="o",
                markersize=4,
                capsize=3,
                color=palette[variant],
                label=model,
            )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(
        xlabel="number of clusters K",
        ylabel="k-means ARI across seeds (mean ± sd)",
        title="Consistency: trained (dashed), pruned (solid),\nfine-tuned as long without pruning (dotted)",
    )
    ax.legend(**OUTSIDE_RIGHT)
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


def text_box(text: Annotation, renderer: Any) -> Bbox:
    """The window extent of an annotation's own letters (its arrow left out), where it will be drawn."""
    text.update_positions(renderer)
    return Text.get_window_extent(text, renderer)


def _overlap(box: Bbox, others: list[Bbox]) -> float:
    """Area `box` shares with `others` (display units)."""
    return sum(
        max(0.0, min(box.x1, o.x1) - max(box.x0, o.x0)) * max(0.0, min(box.y1, o.y1) - max(box.y0, o.y0))
        for o in others
    )


def _line_samples(ax: plt.Axes, segments: list[tuple[tuple[float, float], tuple[float, float]]]) -> np.ndarray:
    """Points every 3 display units along each segment (data coordinates), as display coordinates."""
    samples = [np.empty((0, 2))]
    for start, end in segments:
        (x0, y0), (x1, y1) = ax.transData.transform([start, end])
        n = max(2, int(math.hypot(x1 - x0, y1 - y0) / 3))
        samples.append(np.column_stack([np.linspace(x0, x1, n), np.linspace(y0, y1, n)]))
    return np.concatenate(samples)


def place_labels(
    ax: plt.Axes,
    points: dict[str, tuple[float, float]],
    colours: dict[str, Any],
    marker_size: float,
    segments: list[tuple[tuple[float, float], tuple[float, float]]] = (),
) -> None:
    """Label each point with its name where, first, the text stays inside the axes; then covers no other
    label and no point; then crosses as little of the drawn lines (`segments` in data coordinates: error
    bars, arrows) as it can; then lies nearest (LABEL_RINGS × LABEL_DIRECTIONS in order). A label set apart
    from its point gets a thin leader line. Call once the layout is final: places are display coordinates.
    """
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    radius = marker_size * fig.dpi / 72 / 2
    taken = [
        Bbox.from_bounds(x - radius, y - radius, 2 * radius, 2 * radius)
        for x, y in ax.transData.transform(list(points.values()))
    ]
    lines = _line_samples(ax, list(segments))
    frame = ax.get_window_extent()
    for name, xy in points.items():
        options = []
        for order, (ring, (dx, dy)) in enumerate(itertools.product(LABEL_RINGS, LABEL_DIRECTIONS)):
            style = {
                "xytext": (dx * ring, dy * ring),
                "textcoords": "offset points",
                "fontsize": "small",
                "ha": {1: "left", 0: "center", -1: "right"}[dx],
                "va": {1: "bottom", 0: "center", -1: "top"}[dy],
                "color": colours[name],
            }
            label = ax.annotate(name, xy, **style)
            box = text_box(label, renderer)
            label.remove()
            inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
            cost = (not inside, _overlap(box, taken), box.count_contains(lines), order)
            options.append((cost, box, ring, style))
        _, box, ring, style = min(options, key=lambda option: option[0])
        leader = {"arrowstyle": "-", "color": colours[name], "linewidth": 0.5} if ring > LABEL_RINGS[0] else None
        ax.annotate(name, xy, arrowprops=leader, **style)
        taken.append(box)


def consistency_tradeoff(
    table: str,
    metrics: list[str],
    pdf: str,
    runs: list[tuple[str, int]],
    variants: list[str],
    pruned: dict[str, str],
    finetuned: dict[str, str],
    k: int,
) -> plt.Figure:
    """R24 Fig. 4C: k-means ARI across seeds at K = k vs test fraction oracle for every analysed variant;
    arrows lead from each pruned variant to its pruned model (solid) and to its control (dotted), which
    fine-tuned as long without removing a feature: the gap between the two is the method's own effect."""
    across = read_table(table, ACROSS_SEEDS_COLUMNS)
    across = across[(across["method"] == METHOD) & (across["k"] == k)].set_index("variant")
    oracle = _fraction_oracle(metrics, runs)
    missing = [variant for variant in variants if variant not in across.index]
    if missing:
        raise ValueError(f"{table} has no k-means rows at K={k} for {missing}")
    derived = {**pruned, **finetuned}
    kind = {v: "pruned" if v in pruned else "finetuned" if v in finetuned else "trained" for v in variants}
    points = {v: (oracle.at[v, "mean"], across.at[v, "ari_mean"]) for v in variants}
    palette = _palette([v for v in variants if v not in derived])
    colours = {v: palette[derived.get(v, v)] for v in variants}
    marker_size = 7
    fig, ax = plt.subplots(figsize=(8, 5))
    segments = [(points[variant], points[name]) for name, variant in derived.items()]  # the arrows
    for variant in variants:
        x, y = points[variant]
        xerr, yerr = np.nan_to_num(oracle.at[variant, "sd"]), np.nan_to_num(across.at[variant, "ari_sd"])
        ax.errorbar(
            x,
            y,
            xerr=xerr,
            yerr=yerr,
            marker=STYLES[kind[variant]][1],
            markersize=marker_size,
            capsize=3,
            color=colours[variant],
        )
        segments += [((x - xerr, y), (x + xerr, y)), ((x, y - yerr), (x, y + yerr))]
    for name, variant in derived.items():
        ax.annotate(
            "",
            xy=points[name],
            xytext=points[variant],
            arrowprops={
                "arrowstyle": "->",
                "color": colours[name],
                "linewidth": 1.2,
                "linestyle": STYLES[kind[name]][0],
            },
        )
    ax.margins(0.15)
    ax.set(
        xlabel="test fraction oracle (mean ± sd over seeds)",
        ylabel=f"k-means ARI across seeds at K={k}",
        title="Consistency vs performance (R24 Fig. 4C)",
    )
    ax.legend(handles=_tradeoff_legend(), **OUTSIDE_RIGHT)
    fig.tight_layout()
    place_labels(ax, points, colours, marker_size, segments)
    return save_figure(fig, pdf)


def _tradeoff_legend() -> list[Line2D]:
    """What the markers and arrows of Fig. 4C mean."""
    markers = [
        Line2D([], [], color="grey", linestyle="none", marker=STYLES[kind][1], label=KIND_LABELS[kind])
        for kind in STYLES
    ]
    arrows = [
        Line2D([], [], color="grey", linestyle=STYLES[kind][0], label=f"→ {KIND_LABELS[kind]}")
        for kind in ("pruned", "finetuned")
    ]
    return markers + arrows
