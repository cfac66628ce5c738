"""Figures of the in-silico stage (R24 Table 1, Fig. 5, A.7; the check against the planted neurons).

Every function takes file paths (the rule's inputs) and writes `pdf` plus the PNG beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from v1twin.data.simulate import load_ground_truth
from v1twin.insilico.ground_truth import TRUTH, TRUTH_SEED, planted_neuron_table
from v1twin.insilico.search import OPTIMAL_COLUMNS
from v1twin.insilico.stimuli import gabor
from v1twin.insilico.tuning import load_tuning, load_tunings
from v1twin.plots import read_table, save_figure

INDEX_LABELS = {
    "cross_orientation_inhibition": "cross-orientation inhibition",
    "phase_invariance": "phase invariance",
    "orientation_selectivity": "orientation selectivity (F2/F0)",
    "surround_suppression": "surround suppression",
}
GROUND_TRUTH_INDICES = ("phase_invariance", "surround_suppression", "preferred_orientation")
TABLE_COLUMNS = {
    "response_correlation": "response corr.",
    "nmae_cross_orientation": "NMAE cross-ori.",
    "nmae_phase": "NMAE phase",
    "nmae_orientation": "NMAE orientation",
    "nmae_surround": "NMAE surround",
}
EXAMPLE_SEED = 0  # draws the example neurons: the same ones in every figure and run
TRUTH_LABEL = f"{TRUTH} (simulator, same protocol)"


def _palette(variants: list[str]) -> dict[str, Any]:
    """One colour per variant, in the given order (the same colours as the other stages' figures)."""
    return dict(zip(variants, sns.color_palette("colorblind", len(variants))))


def _by_run(files: list[str], runs: list) -> dict[tuple[str, int], str]:
    if len(files) != len(runs):
        raise ValueError(f"got {len(files)} files for {len(runs)} (variant, seed) runs; they must pair up")
    return {(variant, int(seed)): path for path, (variant, seed) in zip(files, runs)}


def example_rows(n_neurons: int, count: int) -> np.ndarray:
    """Rows of the example neurons: a fixed random draw, ascending."""
    rng = np.random.default_rng(EXAMPLE_SEED)
    return np.sort(rng.choice(n_neurons, size=min(count, n_neurons), replace=False))


def _cell(mean: float, sd: float) -> str:
    return f"{mean:.2f}" if not np.isfinite(sd) else f"{mean:.2f} ± {sd:.2f}"


# ----------------------------------------------------------------------------------------------
# R24 Table 1


def consistency_table(table: str, pdf: str, variants: list[str]) -> plt.Figure:
    """R24 Table 1 as a figure: response correlation and NMAE of each index across seeds (mean ± sd over pairs)."""
    frame = read_table(table, ("variant", *TABLE_COLUMNS, *(f"{c}_std" for c in TABLE_COLUMNS)))
    frame = frame.set_index("variant")
    absent = [variant for variant in variants if variant not in frame.index]
    if absent:
        raise ValueError(f"{table} has no rows for variant(s) {absent}")
    cells = [[_cell(frame.loc[v, c], frame.loc[v, f"{c}_std"]) for c in TABLE_COLUMNS] for v in variants]
    fig, ax = plt.subplots(figsize=(2.0 + 1.6 * len(TABLE_COLUMNS), 0.9 + 0.35 * len(variants)))
    ax.axis("off")
    rendered = ax.table(cellText=cells, rowLabels=variants, colLabels=list(TABLE_COLUMNS.values()), loc="center",
                        cellLoc="center")
    rendered.auto_set_font_size(False)
    rendered.set_fontsize(9)
    rendered.scale(1.0, 1.4)
    ax.set_title("Consistency across seeds (R24 Table 1): response correlation (higher = more consistent),\n"
                 "NMAE of the tuning indices (0 = identical, ≈1.41 = unrelated); mean ± sd over seed pairs",
                 fontsize="medium")
    return save_figure(fig, pdf)


# ----------------------------------------------------------------------------------------------
# R24 Fig. 5


TRUTH_STYLE = {"color": "black", "linestyle": "--", "linewidth": 1.8}  # the simulator's own neuron
EXPERIMENTS = (  # column title, x label of each experiment of R24 Fig. 5
    ("orientation\n(max over phase)", "orientation (deg)"),
    ("phase\n(at the optimal Gabor's orientation)", "phase (deg)"),
    ("surround: grating disk\n(at the optimal Gabor's SF)", "disk diameter (input px)"),
    ("cross-orientation: plaid\n(preferred grating at top contrast)", "orthogonal contrast"),
)


def _normalized(curve: np.ndarray) -> np.ndarray:
    return curve / np.max(curve)


def _plot_experiments(axes: np.ndarray, tuning: dict[str, np.ndarray], row: int, **style: Any) -> None:
    """The four curves of one neuron, each divided by its maximum."""
    axes[0].plot(np.degrees(tuning["orientation_angles"]), _normalized(tuning["orientation"][row]), **style)
    axes[1].plot(np.degrees(tuning["phase_angles"]), _normalized(tuning["phase"][row]), **style)
    axes[2].plot(tuning["disk_diameters"], _normalized(tuning["surround"][row]), **style)
    plaid = tuning["cross_orientation"][row]
    axes[3].plot(tuning["plaid_contrasts"], plaid[:, -1] / plaid[0, -1], **style)


def neuron_index(tuning: dict[str, np.ndarray], mouse: str, unit_id: int) -> int:
    """The row of one neuron (mouse, unit id) in a tuning file's arrays."""
    (row,) = np.flatnonzero((tuning["mouse"].astype(str) == str(mouse)) & (tuning["unit_id"] == unit_id))
    return int(row)


def tuning_examples(tuning: list[str], pdf: str, runs: list, neurons: int, truth: list[str] = ()) -> plt.Figure:
    """R24 Fig. 5: curves of example neurons (rows) per experiment (columns); colour = variant, one line per
    seed; dashed black: the same neuron of the simulator under the same protocol (`truth`, one file per mouse)."""
    files = _by_run(tuning, runs)
    content = {run: load_tuning(path) for run, path in files.items()}
    true_neurons = load_tunings(list(truth)) if len(truth) else None
    variants = list(dict.fromkeys(variant for variant, _ in files))
    palette = _palette(variants)
    first = next(iter(content.values()))
    rows = example_rows(len(first["unit_id"]), neurons)
    fig, axes = plt.subplots(len(rows), 4, figsize=(15, 2.9 * len(rows) + 0.8), squeeze=False)
    for axes_row, row in zip(axes, rows):
        for (variant, seed), values in content.items():
            _plot_experiments(axes_row, values, row, color=palette[variant], alpha=0.8, linewidth=1.2,
                              label=variant if seed == min(s for v, s in files if v == variant) else None)
        mouse, unit = str(first["mouse"][row]), int(first["unit_id"][row])
        if true_neurons is not None:
            _plot_experiments(axes_row, true_neurons, neuron_index(true_neurons, mouse, unit), **TRUTH_STYLE,
                              label=TRUTH_LABEL)
        axes_row[0].set_ylabel(f"{mouse} unit {unit}\nresponse / max")
        axes_row[3].set_ylabel("response / without orthogonal")
    for column, (title, xlabel) in enumerate(EXPERIMENTS):
        axes[0, column].set_title(title, fontsize="medium")
        for ax in axes[:, column]:
            ax.set_xlabel(xlabel)
    contrasts = np.asarray(first["plaid_contrasts"], dtype=float)
    for ax in axes[:, 3]:  # log-spaced contrasts from 0: logarithmic above the smallest positive one
        ax.set_xscale("symlog", linthresh=contrasts[contrasts > 0].min())
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.suptitle("In-silico tuning curves of example neurons (R24 Fig. 5): each model (one line per seed)"
                 + (" and the true neuron" if true_neurons is not None else ""))
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), fontsize="small",
               title="variant (one line per seed)", frameon=False)
    return save_figure(fig, pdf)


def tuning_indices(tuning: list[str], pdf: str, variants: list[str], truth: list[str] = ()) -> plt.Figure:
    """R24 Fig. 5: distribution of each tuning index over neurons, per variant (first seed), and of the true
    neurons under the same protocol (`truth`, one file per mouse; grey, last)."""
    if len(tuning) != len(variants):
        raise ValueError(f"got {len(tuning)} tuning files for {len(variants)} variants")
    contents = dict(zip(variants, map(load_tuning, tuning)))
    palette = _palette(variants)
    if len(truth):
        contents[TRUTH], palette[TRUTH] = load_tunings(list(truth)), "0.6"
    frame = pd.concat([pd.DataFrame({"variant": variant, **{name: values[name] for name in INDEX_LABELS}})
                       for variant, values in contents.items()], ignore_index=True)
    fig, axes = plt.subplots(1, len(INDEX_LABELS), figsize=(4.0 * len(INDEX_LABELS), 3.8), sharey=False)
    for ax, (name, label) in zip(axes, INDEX_LABELS.items()):
        sns.violinplot(data=frame, x="variant", y=name, hue="variant", palette=palette, cut=0,
                       inner="quartile", ax=ax, legend=False)
        ax.set(xlabel="", ylabel=label)
        ax.tick_params(axis="x", rotation=45)
    fig.suptitle("Distributions of the in-silico tuning indices, first seed (R24 Fig. 5)")
    fig.tight_layout()
    return save_figure(fig, pdf)


# ----------------------------------------------------------------------------------------------
# R24 A.7


def _optimal_image(row: pd.Series) -> np.ndarray:
    """The optimal Gabor of one table row on the full model input."""
    image = gabor(row["size"], row["relative_sf"], row["orientation"], row["phase"], row["contrast"],
                  int(row["input_height"]), int(row["input_width"]), (row["y"], row["x"]))
    return image[0].numpy()


def optimal_gabors(optimal: list[str], pdf: str, runs: list, neurons: int, truth: list[str] = ()) -> plt.Figure:
    """R24 A.7: the optimal Gabor of example neurons for every variant (rows) and seed (columns, per neuron),
    and in a last row the true neuron's under the same search (`truth`, one file per mouse)."""
    files = _by_run(optimal, runs)
    tables = {run: read_table(path, OPTIMAL_COLUMNS) for run, path in files.items()}
    if len(truth):
        files[(TRUTH, TRUTH_SEED)] = ", ".join(truth)
        tables[(TRUTH, TRUTH_SEED)] = pd.concat([read_table(path, OPTIMAL_COLUMNS) for path in truth],
                                                ignore_index=True)
    reference = next(iter(tables))
    first = tables[reference]
    rows = example_rows(len(first), neurons)
    seeds = {variant: sorted(seed for v, seed in tables if v == variant) for variant, _ in tables}
    n_seeds = max(len(values) for values in seeds.values())
    fig, axes = plt.subplots(len(seeds), len(rows) * n_seeds, figsize=(1.6 * len(rows) * n_seeds, 1.2 * len(seeds) + 1),
                             squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for line, (variant, variant_seeds) in enumerate(seeds.items()):
        for position, seed in enumerate(variant_seeds):
            table = tables[(variant, seed)]
            if not table[["mouse", "unit_id"]].astype(str).equals(first[["mouse", "unit_id"]].astype(str)):
                raise ValueError(f"{files[(variant, seed)]}: its neurons differ from those of {files[reference]}")
            for example, row in enumerate(rows):
                ax = axes[line, example * n_seeds + position]
                image = _optimal_image(table.iloc[row])
                limit = max(np.abs(image).max(), 1e-6)
                ax.imshow(image, cmap="gray", vmin=-limit, vmax=limit)
                ax.set_axis_on()
                ax.set(xticks=[], yticks=[])
                if line == 0:
                    ax.set_title(f"{first['mouse'].iloc[row]} unit {first['unit_id'].iloc[row]}\nseed {seed}",
                                 fontsize="small")
        axes[line, 0].set_ylabel(variant, fontsize="small")
    fig.suptitle("Optimal Gabors of example neurons across variants and seeds (R24 A.7)"
                 + (f"; last row: the {TRUTH}" if len(truth) else ""))
    fig.tight_layout()
    return save_figure(fig, pdf)


# ----------------------------------------------------------------------------------------------
# Ground truth (simulated data)


def ground_truth(check: str, tuning: list[str], truth: list[str], truth_tuning: list[str], pdf: str,
                 variants: list[str], mice: list[str]) -> plt.Figure:
    """Phase invariance and surround suppression by planted type, and recovered vs planted orientation, of each
    variant's first seed and of the true neurons under the same protocol (black)."""
    if len(tuning) != len(variants):
        raise ValueError(f"got {len(tuning)} tuning files for {len(variants)} variants")
    planted = planted_neuron_table({m: load_ground_truth(Path(p)) for m, p in zip(mice, truth, strict=True)})
    summary = read_table(check, ("variant", "seed", "orientation_circular_correlation"))
    shown = [*variants, TRUTH]
    palette = {**_palette(variants), TRUTH: "black"}
    indices = [load_tuning(path) for path in tuning] + [load_tunings(list(truth_tuning))]
    frame = pd.concat([planted.assign(variant=variant, **{name: values[name] for name in GROUND_TRUTH_INDICES})
                       for variant, values in zip(shown, indices)], ignore_index=True)
    types = sorted(frame["type_name"].unique())
    fig, axes = plt.subplots(2, 2, figsize=(13, 10))
    panels = ((axes[0, 0], "phase_invariance", "complex types should be more phase-invariant"),
              (axes[0, 1], "surround_suppression", "suppressed (SS) types should be more surround-suppressed"))
    for ax, index, title in panels:
        sns.pointplot(data=frame, x="type_name", y=index, hue="variant", hue_order=shown, palette=palette,
                      errorbar=("ci", 95), dodge=0.4, linestyle="none", order=types, ax=ax, legend=ax is axes[0, 0])
        ax.set(xlabel="", ylabel=INDEX_LABELS[index] + " (mean, 95% CI)", title=title)
        ax.tick_params(axis="x", rotation=30)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    axes[0, 0].get_legend().remove()
    sns.stripplot(data=summary, x="variant", y="orientation_circular_correlation", hue="variant", palette=palette,
                  order=shown, size=7, ax=axes[1, 0], legend=False)
    lowest = min(0.0, float(summary["orientation_circular_correlation"].min()))
    axes[1, 0].set(xlabel="", ylabel="Fisher–Lee circular correlation (one point per seed)",
                   ylim=(lowest - 0.02, 1.02), title="preferred vs planted orientation")
    axes[1, 0].tick_params(axis="x", rotation=30)
    for variant in (variants[0], TRUTH):
        neurons = frame[frame["variant"] == variant]
        axes[1, 1].scatter(np.degrees(neurons["planted_orientation"]), np.degrees(neurons["preferred_orientation"]),
                           s=4, alpha=0.5, color=palette[variant])
    axes[1, 1].plot([0, 180], [0, 180], color="grey", linestyle=":")
    axes[1, 1].set(xlabel="planted orientation (deg)", ylabel="in-silico preferred orientation (deg)",
                   title=f"{variants[0]}, first seed, and the true neurons (black)", xlim=(0, 180), ylim=(0, 180))
    fig.suptitle("In-silico tuning against the simulator's planted neurons; black: the true neurons, same protocol")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6), fontsize="small", frameon=False)
    return save_figure(fig, pdf)
