"""The optimal Gabor of every neuron: a running argmax over the Gabor grid (and, for factorized
readouts, stimulus locations), resumable; and the straightforward per-neuron search it must match."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from v1twin.checkpoint import ResumableState
from v1twin.insilico.probes import Probe, gaussian_positions
from v1twin.insilico.stimuli import GRID_AXES, ORDERED_AXES, GaborGrid, gabor
from v1twin.models import V1Model
from v1twin.progress import progress_bar

log = logging.getLogger(__name__)


def _render_gabors(grid: GaborGrid, flat: torch.Tensor, height: int, width: int, centre: np.ndarray,
                   ) -> torch.Tensor:
    """The Gabors of flat grid indices on a height × width image, centred at (y, x)."""
    values = grid.parameters(flat)
    return gabor(values["size"], values["relative_sf"], values["orientation"], values["phase"],
                 values["contrast"], height, width, tuple(centre), device=flat.device)


@torch.no_grad()
def search_probe(probe: Probe, grid: GaborGrid, locations: np.ndarray, batch_size: int,
                 state: dict[str, Any] | None = None, checkpoint: Callable[..., None] | None = None,
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Running argmax over (location, Gabor) of every neuron of one mouse.

    The flat search index is location · len(grid) + gabor index; ties keep the first index (the
    running maximum only moves on a strictly larger response). Returns (best response, best index).
    `state` ({"next", "best", "index"} of an interrupted call) resumes; `checkpoint(next, best, index)`
    is called after each batch.
    """
    n_gabors = len(grid)
    batches = [(location, start) for location in range(len(locations)) for start in range(0, n_gabors, batch_size)]
    if state is None:
        state = {"next": 0, "best": torch.full((probe.n_neurons,), -torch.inf),
                 "index": torch.zeros(probe.n_neurons, dtype=torch.long)}
    best, index = state["best"].to(probe.device), state["index"].to(probe.device)
    for number in progress_bar(range(state["next"], len(batches)), total=len(batches), initial=state["next"],
                               desc=f"Gabor search {probe.mouse}", unit="batch", leave=False):
        location, start = batches[number]
        flat = torch.arange(start, min(start + batch_size, n_gabors), device=probe.device)
        responses = probe.responses(_render_gabors(grid, flat, probe.height, probe.width, locations[location]))
        batch_best, batch_argmax = responses.max(dim=0)
        better = batch_best > best
        best = torch.where(better, batch_best, best)
        index = torch.where(better, location * n_gabors + flat[batch_argmax], index)
        if checkpoint is not None:
            checkpoint(number + 1, best, index)
    return best.cpu(), index.cpu()


def _search_mouse(probe: Probe, grid: GaborGrid, locations: np.ndarray, batch_size: int,
                  progress: dict[str, Any], checkpoint: ResumableState) -> dict[str, torch.Tensor]:
    """search_probe for one mouse, resumed from and saved into `progress` (all mice's state)."""
    current = progress["current"]
    resume = current if current is not None and current["mouse"] == probe.mouse else None

    def save(next_batch: int, best: torch.Tensor, index: torch.Tensor) -> None:
        def state() -> dict[str, Any]:
            current = {"mouse": probe.mouse, "next": next_batch, "best": best.cpu(), "index": index.cpu()}
            return {**progress, "current": current}

        checkpoint.update(state, f"in the Gabor search of mouse {probe.mouse} after batch {next_batch}")

    best, index = search_probe(probe, grid, locations, batch_size, resume, save)
    progress["current"] = None
    return {"best": best, "index": index}


def optimal_gabor_table(probes: dict[str, Probe], grid: GaborGrid, location_stride: int, batch_size: int,
                        state_path: str | Path | None = None, identity: dict[str, Any] | None = None,
                        checkpoint_seconds: float = 300.0) -> pd.DataFrame:
    """The optimal Gabor of every neuron of every mouse: one row per neuron, mice in the order of `probes`.

    Columns: mouse, unit_id, neuron (row within its mouse), readout, response, the parameters and their
    grid indices, location_index and the stimulus centre x, y in input pixels (a Gaussian neuron's
    learned position, a true neuron's receptive field centre, a factorized neuron's searched location),
    and the input size. A state saved at `state_path` every `checkpoint_seconds` lets a killed job
    resume; `identity` names the probed neurons (model or ground truth).
    """
    checkpoint = ResumableState(state_path, {**(identity or {}), "grid": grid.as_dict(), "stride": location_stride,
                                             "batch_size": batch_size}, checkpoint_seconds,
                                differs="model, grid or settings")
    progress = checkpoint.restore() or {"done": {}, "current": None}
    tables = []
    for mouse, probe in probes.items():
        locations = probe.search_locations(location_stride)
        if mouse not in progress["done"]:
            progress["done"][mouse] = _search_mouse(probe, grid, locations, batch_size, progress, checkpoint)
            log.info("mouse %s: %d neurons, %d Gabors x %d locations, mean optimal response %.3f", mouse,
                     probe.n_neurons, len(grid), len(locations), float(progress["done"][mouse]["best"].mean()))
        result = progress["done"][mouse]
        tables.append(_mouse_table(probe, grid, locations, result["best"].numpy(), result["index"].numpy()))
    checkpoint.clear()
    table = pd.concat(tables, ignore_index=True)
    log.info("share of optimal Gabors on the grid's edge (smallest, largest value of each axis):\n%s",
             edge_shares(table, grid).to_string())
    return table


def _mouse_table(probe: Probe, grid: GaborGrid, locations: np.ndarray, best: np.ndarray, flat: np.ndarray,
                 ) -> pd.DataFrame:
    location_index, gabor_index = np.divmod(flat, len(grid))
    axes = grid.axis_indices(gabor_index)
    table = pd.DataFrame({"mouse": probe.mouse, "unit_id": probe.unit_ids, "neuron": np.arange(probe.n_neurons),
                          "readout": probe.readout_kind, "response": best, "gabor_index": gabor_index,
                          "location_index": location_index})
    for column, axis in enumerate(GRID_AXES):
        table[f"{axis}_index"] = axes[:, column]
        table[axis] = np.asarray(getattr(grid, axis))[axes[:, column]]
    table["spatial_frequency"] = table["relative_sf"] / table["size"]
    centre = probe.stimulus_centres(locations, location_index)
    table["y"], table["x"] = centre[:, 0], centre[:, 1]
    table["input_height"], table["input_width"] = probe.input_shape[1:]
    return table


def edge_shares(optimal: pd.DataFrame, grid: GaborGrid) -> pd.DataFrame:
    """Share of neurons whose optimum is the smallest or the largest value of each ordered grid axis.

    One row per axis with more than one value (size, relative SF, contrast; orientation and phase are
    circular), columns `smallest` and `largest`: a grid contains the optimum where both are small.
    """
    rows = {}
    for axis, length in zip(GRID_AXES, grid.shape):
        if axis in ORDERED_AXES and length > 1:
            index = optimal[f"{axis}_index"].to_numpy()
            rows[axis] = {"smallest": float(np.mean(index == 0)), "largest": float(np.mean(index == length - 1))}
    return pd.DataFrame.from_dict(rows, orient="index", columns=["smallest", "largest"])


OPTIMAL_COLUMNS = ("mouse", "unit_id", "neuron", "readout", "response", "location_index", "x", "y",
                   "input_height", "input_width", *GRID_AXES, *(f"{axis}_index" for axis in GRID_AXES))


@torch.no_grad()
def reference_search(model: V1Model, mouse: str, neuron: int, behavior_median: np.ndarray, grid: GaborGrid,
                     input_shape: tuple[int, int, int], locations: np.ndarray | None = None,
                     batch_size: int = 256) -> tuple[float, int]:
    """The straightforward search for one neuron: full-image Gabors through the whole model.

    Gaussian readout: the Gabor is centred on the neuron's learned position; factorized: every
    location of `locations` (y, x). Returns (best response, flat index location · len(grid) + gabor),
    first index on ties, as `search_probe`.
    """
    device = next(model.parameters()).device
    height, width = input_shape[1:]
    if locations is None:
        locations = gaussian_positions(model, mouse, input_shape)[neuron:neuron + 1]
    planes = torch.as_tensor(np.asarray(behavior_median), dtype=torch.float32, device=device).view(1, -1, 1, 1)
    best, best_index = -math.inf, 0
    for location, centre in enumerate(locations):
        for start in range(0, len(grid), batch_size):
            flat = torch.arange(start, min(start + batch_size, len(grid)), device=device)
            images = _render_gabors(grid, flat, height, width, centre)
            inputs = torch.cat([images.unsqueeze(1), planes.expand(len(images), -1, height, width)], dim=1)
            responses = model(inputs, mouse)[:, neuron]
            value, argmax = responses.max(dim=0)
            if float(value) > best:
                best, best_index = float(value), location * len(grid) + int(flat[argmax])
    return best, best_index
