"""Figure of the read-position check (training stage, simulated data): how far each seed's Gaussian
read positions sit from the true RF centres, and whether the shifter takes the offset up.

Filled markers are read positions without the shifter (as the in-silico experiments read), hollow
ones with the shifter at the mean eye position of the training trials.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.lines import Line2D

from v1twin.plots import read_table, save_figure
from v1twin.read_positions import NEURON_COLUMNS, SUMMARY_COLUMNS

MOUSE_MARKERS = "osD^v<>p"
CONDITIONS = {"without shifter": ("", True), "with shifter at the mean eye position": ("shifted_", False)}
SCATTER_CONDITIONS = {"without shifter": "read", "with shifter at the mean eye position": "mean_eye"}


def _marker_style(colour: str, filled: bool) -> dict:
    return {"color": colour, "markerfacecolor": colour if filled else "none", "markeredgecolor": colour}


def _offset_panel(ax: plt.Axes, rows: pd.DataFrame, seed_colours: dict[int, str], markers: dict[str, str]) -> None:
    """One line from the origin per seed, mouse and condition, ending at the mean offset (dx, dy)."""
    for row in rows.itertuples():
        for prefix, filled in CONDITIONS.values():
            dx, dy = getattr(row, f"{prefix}offset_x"), getattr(row, f"{prefix}offset_y")
            ax.plot(
                [0, dx],
                [0, dy],
                "-" if filled else "--",
                marker=markers[row.mouse],
                markevery=[1],
                **_marker_style(seed_colours[row.seed], filled),
            )
    extent = 1.15 * max(0.5, rows.filter(like="offset_").abs().to_numpy().max())
    ax.set(
        xlim=(-extent, extent),
        ylim=(-extent, extent),
        aspect="equal",
        xlabel="mean offset x (input px)",
        ylabel="mean offset y (input px)",
    )
    ax.axhline(0, color="0.8", lw=0.8, zorder=0)
    ax.axvline(0, color="0.8", lw=0.8, zorder=0)


def _scatter_panel(ax: plt.Axes, neurons: pd.DataFrame, axis: str, colour: str, markers: dict[str, str]) -> None:
    """True against read coordinate `axis` ('x' or 'y') of every neuron, with the identity line."""
    for mouse, rows in neurons.groupby("mouse", sort=False):
        for (_, filled), column in zip(CONDITIONS.values(), SCATTER_CONDITIONS.values(), strict=True):
            ax.plot(
                rows[f"true_{axis}"],
                rows[f"{column}_{axis}"],
                linestyle="none",
                marker=markers[mouse],
                markersize=2.5,
                alpha=0.6,
                **_marker_style(colour, filled),
            )
    values = neurons[[f"true_{axis}", f"read_{axis}", f"mean_eye_{axis}"]].to_numpy()
    low, high = values.min() - 0.5, values.max() + 0.5
    ax.plot([low, high], [low, high], color="k", lw=0.8)
    ax.set(
        xlim=(low, high),
        ylim=(low, high),
        aspect="equal",
        xlabel=f"true RF centre {axis} (input px)",
        ylabel=f"read position {axis} (input px)",
    )


def _legend_handles(seed_colours: dict[int, str], markers: dict[str, str]) -> list[Line2D]:
    handles = [Line2D([], [], color=colour, label=f"seed {seed}") for seed, colour in seed_colours.items()]
    handles += [
        Line2D([], [], linestyle="none", marker=marker, color="0.3", label=f"mouse {mouse}")
        for mouse, marker in markers.items()
    ]
    handles += [
        Line2D([], [], linestyle="-" if filled else "--", marker="o", label=label, **_marker_style("0.3", filled))
        for label, (_, filled) in CONDITIONS.items()
    ]
    return handles


def read_positions(table: str, neurons: str, pdf: str, variants: list[str], first_seeds: dict[str, int]) -> plt.Figure:
    """A row per variant: the per-seed mean offsets of read positions from the true RF centres (with and
    without the shifter), and true against read x and y positions of every neuron of its first seed."""
    summary = read_table(table, SUMMARY_COLUMNS)
    positions = read_table(neurons, NEURON_COLUMNS)
    missing = sorted(set(variants) - set(summary["variant"]))
    if missing:
        raise ValueError(f"{table} has no rows for variants {missing}")
    seed_colours = {int(seed): f"C{index}" for index, seed in enumerate(sorted(summary["seed"].unique()))}
    markers = dict(zip(summary["mouse"].unique(), MOUSE_MARKERS, strict=False))
    fig, axes = plt.subplots(len(variants), 3, figsize=(11, 3.4 * len(variants)), squeeze=False)
    for row_axes, variant in zip(axes, variants, strict=True):
        _offset_panel(row_axes[0], summary[summary["variant"] == variant], seed_colours, markers)
        row_axes[0].set_title(f"{variant}: offset per seed")
        seed = first_seeds[variant]
        first = positions[(positions["variant"] == variant) & (positions["seed"] == seed)]
        if first.empty:
            raise ValueError(f"{neurons} has no neurons of {variant} seed {seed}")
        for ax, axis in zip(row_axes[1:], "xy", strict=True):
            _scatter_panel(ax, first, axis, seed_colours[seed], markers)
            ax.set_title(f"{variant} seed {seed}: {axis}")
    fig.tight_layout(rect=(0, 0, 0.8, 1))
    fig.legend(
        handles=_legend_handles(seed_colours, markers), loc="center left", bbox_to_anchor=(0.8, 0.5), fontsize="small"
    )
    return save_figure(fig, pdf)
