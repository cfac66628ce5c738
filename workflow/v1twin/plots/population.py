"""Figure of the input data: what one mouse saw, where its neurons look, and how they respond.

Works for simulated mice (RFs coloured by the planted cell type, from the ground truth) and is the
first check that a simulated dataset looks like Sensorium data.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from v1twin.data.sensorium_static import load_mouse
from v1twin.data.simulate import load_ground_truth
from v1twin.plots import save_figure

TIER_ORDER = ("train", "validation", "test", "final_test")
N_EXAMPLES = 3


def _example_stimuli(axes: list[plt.Axes], images: np.ndarray, tiers: np.ndarray) -> None:
    """The first training images, in stored pixel units."""
    examples = np.flatnonzero(tiers == "train")[: len(axes)]
    for ax, index in zip(axes, examples):
        ax.imshow(images[index, 0], cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"training stimulus (trial {index})")
        ax.set_xlabel("x (pixels)")
        ax.set_ylabel("y (pixels)")


def _receptive_fields(ax: plt.Axes, truth: dict, background: np.ndarray) -> None:
    """RF centres on the image canvas, one colour per cell type."""
    height, width = background.shape
    ax.imshow(background, cmap="gray", vmin=0, vmax=255, alpha=0.3, extent=(0, width, height, 0))
    names = truth["type_names"]
    palette = sns.color_palette("tab10", len(names))
    for k, name in enumerate(names):
        members = truth["cell_type"] == k
        ax.scatter(truth["rf_x"][members], truth["rf_y"][members], s=8, color=palette[k], label=str(name))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_xlabel("RF centre x (pixels)")
    ax.set_ylabel("RF centre y (pixels)")
    ax.set_title("receptive fields by cell type")
    ax.legend(fontsize=6, markerscale=1.5, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.25), frameon=False)


def _tiers_present(tiers: np.ndarray) -> list[str]:
    return [tier for tier in TIER_ORDER if np.any(tiers == tier)]


def _response_distributions(ax: plt.Axes, responses: np.ndarray, tiers: np.ndarray) -> None:
    """Histogram of single responses (all neurons) per tier, as densities on a log count axis."""
    upper = np.percentile(responses, 99.5)
    bins = np.linspace(0, upper, 60)
    for tier in _tiers_present(tiers):
        ax.hist(responses[tiers == tier].ravel(), bins=bins, density=True, histtype="step", label=tier)
    ax.set_yscale("log")
    ax.set_xlabel("response (a.u.)")
    ax.set_ylabel("density")
    ax.set_title("response distribution by tier")
    ax.legend(fontsize=8, frameon=False)


def _mean_response_by_tier(ax: plt.Axes, responses: np.ndarray, tiers: np.ndarray) -> None:
    """Each neuron's mean response within each tier: the tiers should look alike."""
    present = _tiers_present(tiers)
    table = pd.DataFrame({
        tier: responses[tiers == tier].mean(axis=0) for tier in present
    }).melt(var_name="tier", value_name="mean response")
    sns.boxplot(data=table, x="tier", y="mean response", order=present, ax=ax, fliersize=2)
    ax.set_xlabel("tier")
    ax.set_ylabel("mean response per neuron (a.u.)")
    ax.set_title("mean response by tier")


def population_overview(mouse: str | Path, truth: str | Path, pdf: str | Path) -> plt.Figure:
    """Example stimuli, RF positions coloured by cell type, and responses by tier for one simulated mouse.

    `mouse` is the mouse folder (Sensorium layout), `truth` its ground-truth file.
    """
    mouse_folder = Path(mouse)
    arrays = load_mouse(mouse_folder)
    truth = load_ground_truth(Path(truth))
    tiers = np.asarray(arrays.tiers).astype(str)
    fig, axes = plt.subplots(2, N_EXAMPLES, figsize=(13, 7), layout="constrained")
    _example_stimuli(list(axes[0]), arrays.images, tiers)
    _receptive_fields(axes[1, 0], truth, arrays.images[np.flatnonzero(tiers == "train")[0], 0])
    _response_distributions(axes[1, 1], arrays.responses, tiers)
    _mean_response_by_tier(axes[1, 2], arrays.responses, tiers)
    fig.suptitle(f"{mouse_folder.name}: {arrays.responses.shape[1]} neurons, {len(tiers)} trials")
    return save_figure(fig, pdf)
