"""In-silico experiments on trained models (METHODS §7; R24 §4 and A.2; Burg et al. 2021).

For every neuron: the optimal Gabor (joint argmax of the predicted response over a grid of sizes,
relative spatial frequencies, contrasts, orientations, phases and, for factorized readouts,
locations), then tuning experiments built from it (orientation, phase, surround suppression,
cross-orientation inhibition), their indices, and the consistency of the indices across seeds (NMAE).

All stimuli are in normalized input units on a gray (0) background; the behaviour channels are held
at the mouse's training-set medians and the shifter is off. Pixel units are those of the model input.

Why it is fast: a Gaussian-readout neuron reads one point of the core output and the core is
translation-equivariant, so a stimulus centred on a canvas the size of the core's receptive field,
run through the core once, gives the feature vector that every neuron of the mouse would read at
its own position; each neuron's response is then ELU(w·f + b) + 1, one matrix product for all of
them (`GaussianProbe`). Factorized readouts pool over the whole map, so their stimuli are rendered on
the full input at each searched location; one core pass still serves every neuron (`FactorizedProbe`).
Tuning stimuli depend only on a few of the optimal parameters, so neurons that share those are
served by the same stimuli (experiments group neurons by their `key`).
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from v1twin import walltime
from v1twin.files import atomic_file, read_npz, write_npz
from v1twin.models import FactorizedReadout, GaussianReadout, V1Model
from v1twin.models.network import elu_plus_one
from v1twin.progress import progress_bar
from v1twin.training import default_device, load_checkpoint, load_model

log = logging.getLogger(__name__)

GRID_AXES = ("size", "relative_sf", "contrast", "orientation", "phase")
INDEX_NAMES = {  # R24 Table 1 column -> index
    "cross_orientation": "cross_orientation_inhibition",
    "phase": "phase_invariance",
    "orientation": "orientation_selectivity",
    "surround": "surround_suppression",
}
NEURON_BLOCK = 2048  # neurons per readout product in the factorized probe (bounds its memory)


class InSilicoError(ValueError):
    """A model, table or state file that cannot be used; the message names the file."""


# ----------------------------------------------------------------------------------------------
# Stimuli


def _column(values: torch.Tensor | float, device: torch.device) -> torch.Tensor:
    """Per-stimulus parameters as a (B, 1, 1) float32 tensor, ready to broadcast over pixels."""
    return torch.as_tensor(values, dtype=torch.float32, device=device).reshape(-1, 1, 1)


def _pixel_offsets(height: int, width: int, centre: Any, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Column offsets x and row offsets y (both (B, H, W) or (1, H, W)) of every pixel from the centre (y, x).

    y grows downwards (row index), the convention of the simulator's neurons.
    """
    centre = torch.as_tensor(centre, dtype=torch.float32, device=device).reshape(-1, 2)
    rows = torch.arange(height, dtype=torch.float32, device=device).view(1, -1, 1)
    cols = torch.arange(width, dtype=torch.float32, device=device).view(1, 1, -1)
    return cols - centre[:, 1].view(-1, 1, 1), rows - centre[:, 0].view(-1, 1, 1)


def _carrier(x: torch.Tensor, y: torch.Tensor, frequency: torch.Tensor, orientation: torch.Tensor,
             phase: torch.Tensor) -> torch.Tensor:
    """cos(2π f x' + φ) with x' = cosθ·x − sinθ·y."""
    rotated = torch.cos(orientation) * x - torch.sin(orientation) * y
    return torch.cos(2 * math.pi * frequency * rotated + phase)


def gabor(size: torch.Tensor | float, relative_sf: torch.Tensor | float, orientation: torch.Tensor | float,
          phase: torch.Tensor | float, contrast: torch.Tensor | float, height: int, width: int,
          centre: Any, device: torch.device | None = None) -> torch.Tensor:
    """Gabors (B, H, W): c · exp(−(x² + y²)/(2σ²)) · cos(2π f x' + φ), σ = size/4, f = relative_sf/size.

    Parameters are scalars or (B,) tensors; `centre` is (y, x) in pixels or a (B, 2) tensor of them.
    Everything is computed on `device` (default: the device of `size` if a tensor, else CPU).
    """
    device = device or (size.device if isinstance(size, torch.Tensor) else torch.device("cpu"))
    size, relative_sf, orientation, phase, contrast = (
        _column(value, device) for value in (size, relative_sf, orientation, phase, contrast))
    x, y = _pixel_offsets(height, width, centre, device)
    sigma = size / 4
    envelope = torch.exp(-(x**2 + y**2) / (2 * sigma**2))
    return contrast * envelope * _carrier(x, y, relative_sf / size, orientation, phase)


def grating_disk(diameter: torch.Tensor | float, frequency: torch.Tensor | float, orientation: torch.Tensor | float,
                 phase: torch.Tensor | float, contrast: torch.Tensor | float, height: int, width: int,
                 centre: Any, device: torch.device | None = None) -> torch.Tensor:
    """Hard-edged grating disks (B, H, W): c · cos(2π f x' + φ) where x² + y² < (diameter/2)², else 0.

    Strictly inside, so diameter 0 is a blank screen.
    """
    device = device or torch.device("cpu")
    diameter, frequency, orientation, phase, contrast = (
        _column(value, device) for value in (diameter, frequency, orientation, phase, contrast))
    x, y = _pixel_offsets(height, width, centre, device)
    inside = (x**2 + y**2) < (diameter / 2) ** 2
    return contrast * inside * _carrier(x, y, frequency, orientation, phase)


def log_spaced(axis: dict[str, float], name: str) -> np.ndarray:
    """`count` values log-spaced from `min` to `max` (a config axis such as grid.sizes)."""
    low, high, count = axis["min"], axis["max"], axis["count"]
    if not 0 < low <= high or count < 1:
        raise InSilicoError(f"{name}: need 0 < min <= max and count >= 1, got {axis}")
    return np.geomspace(low, high, count)


@dataclass(frozen=True)
class GaborGrid:
    """The search grid; flat indices run over (size, relative_sf, contrast, orientation, phase) in C order."""

    size: tuple[float, ...]
    relative_sf: tuple[float, ...]
    contrast: tuple[float, ...]
    orientation: tuple[float, ...]
    phase: tuple[float, ...]

    @classmethod
    def from_config(cls, grid: dict[str, Any]) -> GaborGrid:
        """Sizes, relative SFs and contrasts log-spaced; orientations kπ/n in [0, π); phases 2πk/n in [0, 2π)."""
        return cls(
            size=tuple(log_spaced(grid["sizes"], "insilico.grid.sizes")),
            relative_sf=tuple(log_spaced(grid["relative_sf"], "insilico.grid.relative_sf")),
            contrast=tuple(log_spaced(grid["contrasts"], "insilico.grid.contrasts")),
            orientation=tuple(np.pi * np.arange(grid["orientations"]) / grid["orientations"]),
            phase=tuple(2 * np.pi * np.arange(grid["phases"]) / grid["phases"]),
        )

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(getattr(self, axis)) for axis in GRID_AXES)

    def __len__(self) -> int:
        return math.prod(self.shape)

    def axis_indices(self, flat: np.ndarray) -> np.ndarray:
        """(n, 5) index along each axis of flat grid indices."""
        return np.stack(np.unravel_index(np.asarray(flat), self.shape), axis=1)

    def parameters(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """Parameter values of flat grid indices, as tensors on the indices' device (no grid is materialized)."""
        values = {}
        remainder = flat
        for axis, length in reversed(list(zip(GRID_AXES, self.shape))):
            table = torch.tensor(getattr(self, axis), dtype=torch.float32, device=flat.device)
            values[axis] = table[remainder % length]
            remainder = remainder // length
        return values

    def as_dict(self) -> dict[str, list[float]]:
        return {axis: list(getattr(self, axis)) for axis in GRID_AXES}


# ----------------------------------------------------------------------------------------------
# Model probes: stimuli -> responses of one mouse's neurons


def receptive_field_size(core: torch.nn.Module, in_channels: int, device: torch.device) -> int:
    """Side of the square input patch that the centre pixel of the core output depends on.

    Measured, not derived from the architecture: the gradient of the centre output with respect to a
    larger random input is non-zero exactly on that patch (ELU has a positive slope everywhere).
    """
    probe_size = 4 * core.input_kernel + 1
    while True:
        generator = torch.Generator(device=device).manual_seed(0)  # leaves the global random state alone
        image = torch.randn(1, in_channels, probe_size, probe_size, device=device, generator=generator,
                            requires_grad=True)
        with torch.enable_grad():
            output = core(image)
            centre = output.shape[-1] // 2
            (gradient,) = torch.autograd.grad(output[0, :, centre, centre].sum(), image)
        rows = torch.nonzero(gradient.abs().sum(dim=(0, 1, 3))).flatten()
        size = int(rows.max() - rows.min()) + 1
        if size < probe_size:
            return size
        probe_size = 2 * probe_size + 1


class Probe(ABC):
    """One mouse of a model: stimulus images (B, H, W) on its canvas -> responses (B, n) of chosen neurons.

    Behaviour planes are the mouse's training medians; no pupil position reaches the model (shifter off).
    """

    readout_kind = ""

    def __init__(self, model: V1Model, mouse: str, behavior_median: np.ndarray, height: int, width: int):
        self.model = model
        self.mouse = mouse
        self.readout = model.readouts[mouse]
        self.device = next(model.parameters()).device
        self.behavior = torch.as_tensor(np.asarray(behavior_median), dtype=torch.float32, device=self.device)
        self.height, self.width = height, width
        self.n_neurons = self.readout.features.shape[0]

    def _core(self, images: torch.Tensor) -> torch.Tensor:
        planes = self.behavior.view(1, -1, 1, 1).expand(len(images), -1, self.height, self.width)
        return self.model.core(torch.cat([images.unsqueeze(1), planes], dim=1))

    def _neurons(self, neurons: torch.Tensor | None) -> torch.Tensor:
        return torch.arange(self.n_neurons, device=self.device) if neurons is None else neurons.to(self.device)

    @abstractmethod
    def search_locations(self, stride: int) -> np.ndarray:
        """Stimulus centres (L, 2) as (y, x) canvas pixels that the search visits."""

    @abstractmethod
    def centre_of(self, location: tuple[float, float]) -> tuple[float, float]:
        """Canvas centre (y, x) of a neuron's stimuli, given its optimal location in input pixels (y, x)."""

    @abstractmethod
    def responses(self, images: torch.Tensor, neurons: torch.Tensor | None = None) -> torch.Tensor:
        """Responses (B, n) of `neurons` (default: all) to images (B, H, W) on this probe's canvas."""


class GaussianProbe(Probe):
    """The all-neuron shortcut: core on a receptive-field-sized canvas, feature vector at its centre."""

    readout_kind = "gaussian"

    def __init__(self, model: V1Model, mouse: str, behavior_median: np.ndarray):
        in_channels = 1 + len(np.asarray(behavior_median))
        device = next(model.parameters()).device
        size = receptive_field_size(model.core, in_channels, device)
        super().__init__(model, mouse, behavior_median, size, size)
        self.centre = ((size - 1) / 2, (size - 1) / 2)
        self.weights = self.readout.features.detach()
        self.bias = self.readout.bias.detach()

    def search_locations(self, stride: int) -> np.ndarray:
        return np.array([self.centre])

    def centre_of(self, location: tuple[float, float]) -> tuple[float, float]:
        return self.centre

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Core feature vectors (B, C) at the canvas centre."""
        output = self._core(images)
        return output[:, :, output.shape[-2] // 2, output.shape[-1] // 2]

    def responses(self, images: torch.Tensor, neurons: torch.Tensor | None = None) -> torch.Tensor:
        neurons = self._neurons(neurons)
        drive = self.features(images) @ self.weights[neurons].T + self.bias[neurons]
        return elu_plus_one(drive)


class FactorizedProbe(Probe):
    """Stimuli on the full input; one core pass, then every neuron's mask · features."""

    readout_kind = "factorized"

    def __init__(self, model: V1Model, mouse: str, behavior_median: np.ndarray, input_shape: tuple[int, int, int]):
        super().__init__(model, mouse, behavior_median, input_shape[1], input_shape[2])
        self.mask = self.readout.mask.detach()
        self.weights = self.readout.features.detach()
        self.bias = self.readout.bias.detach()

    def search_locations(self, stride: int) -> np.ndarray:
        """A regular grid over the pixels whose neighbourhood the core output covers, centred in that range."""
        margin = (self.model.core.input_kernel - 1) // 2
        axes = []
        for length in (self.height, self.width):
            first, last = margin, length - 1 - margin
            start = first + ((last - first) % stride) // 2
            axes.append(np.arange(start, last + 1, stride, dtype=np.float64))
        return np.array(list(itertools.product(*axes)))

    def centre_of(self, location: tuple[float, float]) -> tuple[float, float]:
        return location

    def responses(self, images: torch.Tensor, neurons: torch.Tensor | None = None) -> torch.Tensor:
        neurons = self._neurons(neurons)
        output = self._core(images)
        batch, channels = output.shape[:2]
        flat = output.reshape(batch * channels, -1)
        drives = []
        for block in neurons.split(NEURON_BLOCK):
            pooled = (flat @ self.mask[block].flatten(1).T).view(batch, channels, -1)  # (B, C, n)
            drives.append((pooled * self.weights[block].T).sum(dim=1) + self.bias[block])
        return elu_plus_one(torch.cat(drives, dim=1))


def make_probe(model: V1Model, mouse: str, behavior_median: np.ndarray, input_shape: tuple[int, int, int]) -> Probe:
    """The probe that fits the mouse's readout type."""
    readout = model.readouts[mouse]
    if isinstance(readout, GaussianReadout):
        return GaussianProbe(model, mouse, behavior_median)
    if isinstance(readout, FactorizedReadout):
        return FactorizedProbe(model, mouse, behavior_median, input_shape)
    raise InSilicoError(f"no in-silico probe for readout {type(readout).__name__}")


def gaussian_positions(model: V1Model, mouse: str, input_shape: tuple[int, int, int]) -> np.ndarray:
    """Learned read positions (N, 2) of a Gaussian readout as (y, x) input pixels.

    μ ∈ [−1, 1] spans the core output (grid_sample, align_corners=True); output pixel j sits at input
    pixel j + (input_kernel − 1)/2, because only the unpadded first layer shrinks the map.
    """
    core = model.core
    out_height, out_width = core.output_size(*input_shape[1:])
    mu = model.readouts[mouse].mu.detach().cpu().numpy().astype(np.float64)
    margin = (core.input_kernel - 1) / 2
    x = (mu[:, 0] + 1) / 2 * (out_width - 1) + margin
    y = (mu[:, 1] + 1) / 2 * (out_height - 1) + margin
    return np.column_stack([y, x])


# ----------------------------------------------------------------------------------------------
# Resumable loops


class Checkpoint:
    """State of a long loop, saved atomically every `interval` seconds so a killed job resumes, and at
    once when the job is asked to stop before its time limit (v1twin.walltime).

    A state written by another run (other model, grid or settings: `identity`) is refused.
    """

    def __init__(self, path: str | Path | None, identity: dict[str, Any], interval: float):
        self.path = Path(path) if path is not None else None
        self.identity = json.loads(json.dumps(identity, sort_keys=True))
        self.interval = interval
        self.last_save = time.monotonic()

    def restore(self) -> dict[str, Any] | None:
        if self.path is None or not self.path.exists():
            return None
        try:
            content = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as error:
            raise InSilicoError(f"cannot read state {self.path} ({error}); delete it to start afresh") from error
        if content.get("identity") != self.identity:
            raise InSilicoError(f"state {self.path} belongs to another run (model, grid or settings differ); "
                                f"delete it to start afresh")
        log.info("resuming from %s", self.path)
        return content["state"]

    def due(self) -> bool:
        return self.path is not None and time.monotonic() - self.last_save >= self.interval

    def update(self, state: Callable[[], dict[str, Any]], where: str) -> None:
        """Call after each unit of work: saves `state()` when due; on a stop request saves it and stops
        the job (`where` says how far it got). Without a path nothing can resume, so nothing stops."""
        stop = self.path is not None and walltime.requested()
        if stop or self.due():
            self.save(state())
        if stop:
            walltime.stop(f"to {self.path} {where}")

    def save(self, state: dict[str, Any]) -> None:
        with atomic_file(self.path) as temporary:
            torch.save({"identity": self.identity, "state": state}, temporary)
        self.last_save = time.monotonic()

    def clear(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


# ----------------------------------------------------------------------------------------------
# Optimal Gabor search


@dataclass
class SavedModel:
    """A trained model with what the in-silico experiments need from its checkpoint."""

    model: V1Model
    mice: list[str]
    unit_ids: dict[str, np.ndarray]
    behavior_median: dict[str, np.ndarray]
    input_shape: tuple[int, int, int]

    @classmethod
    def load(cls, path: str | Path, device: torch.device | None = None) -> SavedModel:
        content = load_checkpoint(Path(path))
        extras = content["extras"]
        missing = [key for key in ("mice", "unit_ids", "behavior_median") if key not in extras]
        if missing:
            raise InSilicoError(f"{path}: the checkpoint's extras lack {missing}")
        model = load_model(Path(path), device or default_device())
        return cls(model, list(extras["mice"]), extras["unit_ids"], extras["behavior_median"],
                   tuple(content["input_shape"]))

    def probe(self, mouse: str) -> Probe:
        return make_probe(self.model, mouse, self.behavior_median[mouse], self.input_shape)


def _render_gabors(grid: GaborGrid, flat: torch.Tensor, probe: Probe, centre: np.ndarray) -> torch.Tensor:
    values = grid.parameters(flat)
    return gabor(values["size"], values["relative_sf"], values["orientation"], values["phase"],
                 values["contrast"], probe.height, probe.width, tuple(centre), device=flat.device)


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
        responses = probe.responses(_render_gabors(grid, flat, probe, locations[location]))
        batch_best, batch_argmax = responses.max(dim=0)
        better = batch_best > best
        best = torch.where(better, batch_best, best)
        index = torch.where(better, location * n_gabors + flat[batch_argmax], index)
        if checkpoint is not None:
            checkpoint(number + 1, best, index)
    return best.cpu(), index.cpu()


def _search_mouse(probe: Probe, grid: GaborGrid, locations: np.ndarray, batch_size: int,
                  progress: dict[str, Any], checkpoint: Checkpoint) -> dict[str, torch.Tensor]:
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


def optimal_gabor_table(saved: SavedModel, grid: GaborGrid, location_stride: int, batch_size: int,
                        state_path: str | Path | None = None, identity: dict[str, Any] | None = None,
                        checkpoint_seconds: float = 300.0) -> pd.DataFrame:
    """The optimal Gabor of every neuron of every mouse: one row per neuron, mice in checkpoint order.

    Columns: mouse, unit_id, neuron (row within its mouse), readout, response, the parameters and their
    grid indices, location_index and the stimulus centre x, y in input pixels (a Gaussian neuron's
    learned position; a factorized neuron's searched location), and the input size. A state saved
    at `state_path` every `checkpoint_seconds` lets a killed job resume; `identity` names the model.
    """
    checkpoint = Checkpoint(state_path, {**(identity or {}), "grid": grid.as_dict(), "stride": location_stride,
                                         "batch_size": batch_size}, checkpoint_seconds)
    progress = checkpoint.restore() or {"done": {}, "current": None}
    tables = []
    for mouse in saved.mice:
        probe = saved.probe(mouse)
        locations = probe.search_locations(location_stride)
        if mouse not in progress["done"]:
            progress["done"][mouse] = _search_mouse(probe, grid, locations, batch_size, progress, checkpoint)
            log.info("mouse %s: %d neurons, %d Gabors x %d locations, mean optimal response %.3f", mouse,
                     probe.n_neurons, len(grid), len(locations), float(progress["done"][mouse]["best"].mean()))
        result = progress["done"][mouse]
        tables.append(_mouse_table(saved, probe, grid, locations, result["best"].numpy(), result["index"].numpy()))
    checkpoint.clear()
    return pd.concat(tables, ignore_index=True)


def _mouse_table(saved: SavedModel, probe: Probe, grid: GaborGrid, locations: np.ndarray, best: np.ndarray,
                 flat: np.ndarray) -> pd.DataFrame:
    mouse = probe.mouse
    unit_ids = np.asarray(saved.unit_ids[mouse])
    if len(unit_ids) != probe.n_neurons:
        raise InSilicoError(f"mouse {mouse}: {probe.n_neurons} readout rows but {len(unit_ids)} unit ids")
    location_index, gabor_index = np.divmod(flat, len(grid))
    axes = grid.axis_indices(gabor_index)
    table = pd.DataFrame({"mouse": mouse, "unit_id": unit_ids, "neuron": np.arange(probe.n_neurons),
                          "readout": probe.readout_kind, "response": best, "gabor_index": gabor_index,
                          "location_index": location_index})
    for column, axis in enumerate(GRID_AXES):
        table[f"{axis}_index"] = axes[:, column]
        table[axis] = np.asarray(getattr(grid, axis))[axes[:, column]]
    table["spatial_frequency"] = table["relative_sf"] / table["size"]
    if isinstance(probe, GaussianProbe):
        centre = gaussian_positions(saved.model, mouse, saved.input_shape)
    else:
        centre = locations[location_index]
    table["y"], table["x"] = centre[:, 0], centre[:, 1]
    table["input_height"], table["input_width"] = saved.input_shape[1:]
    return table


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
            values = grid.parameters(flat)
            images = gabor(values["size"], values["relative_sf"], values["orientation"], values["phase"],
                           values["contrast"], height, width, tuple(centre), device=device)
            inputs = torch.cat([images.unsqueeze(1), planes.expand(len(images), -1, height, width)], dim=1)
            responses = model(inputs, mouse)[:, neuron]
            value, argmax = responses.max(dim=0)
            if float(value) > best:
                best, best_index = float(value), location * len(grid) + int(flat[argmax])
    return best, best_index


# ----------------------------------------------------------------------------------------------
# Tuning experiments


@dataclass(frozen=True)
class TuningConfig:
    """The `insilico.tuning` settings; the defaults are R24's (A.2) in the papers' 36 × 64 input pixels."""

    orientations: int = 24
    orientation_phases: int = 8
    phases: int = 12
    surround_sizes: int = 15
    surround_smallest: float = 0.05
    surround_growth: float = 1.23859
    surround_total_size: float = 40.0
    surround_contrast: float = 1.75
    plaid_contrasts: int = 9
    plaid_min_contrast: float = 0.00875
    plaid_max_contrast: float = 0.875
    plaid_phases: int = 8

    @classmethod
    def from_config(cls, tuning: dict[str, Any]) -> TuningConfig:
        surround, plaid = tuning["surround"], tuning["plaid"]
        return cls(orientations=tuning["orientations"], orientation_phases=tuning["orientation_phases"],
                   phases=tuning["phases"], surround_sizes=surround["sizes"], surround_smallest=surround["smallest"],
                   surround_growth=surround["growth"], surround_total_size=surround["total_size"],
                   surround_contrast=surround["contrast"], plaid_contrasts=plaid["contrasts"],
                   plaid_min_contrast=plaid["min_contrast"], plaid_max_contrast=plaid["max_contrast"],
                   plaid_phases=plaid["phases"])

    def orientation_angles(self) -> np.ndarray:
        return np.pi * np.arange(self.orientations) / self.orientations

    def orientation_phase_angles(self) -> np.ndarray:
        return 2 * np.pi * np.arange(self.orientation_phases) / self.orientation_phases

    def phase_angles(self) -> np.ndarray:
        return 2 * np.pi * np.arange(self.phases) / self.phases

    def disk_diameters(self) -> np.ndarray:
        """0 (blank) and `surround_sizes` diameters smallest · growth^k · total_size."""
        growth = self.surround_growth ** np.arange(self.surround_sizes)
        return np.concatenate([[0.0], self.surround_smallest * growth * self.surround_total_size])

    def plaid_contrast_values(self) -> np.ndarray:
        """0 and `plaid_contrasts` values log-spaced from plaid_min_contrast to plaid_max_contrast."""
        spaced = np.geomspace(self.plaid_min_contrast, self.plaid_max_contrast, self.plaid_contrasts)
        return np.concatenate([[0.0], spaced])

    def plaid_phase_offsets(self) -> np.ndarray:
        return 2 * np.pi * np.arange(self.plaid_phases) / self.plaid_phases


@dataclass(frozen=True)
class Experiment:
    """One tuning experiment: the optimal parameters it depends on, its stimuli and its curve.

    `stimuli(optimal, height, width, centre, device)` renders (S, H, W) from one neuron's optimal
    parameters; `curve(responses)` turns the neurons' (n, S) responses into their stored curves.
    """

    name: str
    key: tuple[str, ...]
    stimuli: Callable[..., torch.Tensor]
    curve: Callable[[torch.Tensor], torch.Tensor]


def _grid_product(*axes: np.ndarray) -> list[np.ndarray]:
    """Flattened coordinates of the Cartesian product of the axes (first axis slowest)."""
    return [values.ravel() for values in np.meshgrid(*axes, indexing="ij")]


def experiments(config: TuningConfig) -> list[Experiment]:
    """Orientation, phase, surround and cross-orientation experiments (METHODS §7)."""
    angles, phase_set = config.orientation_angles(), config.orientation_phase_angles()
    diameters, contrasts = config.disk_diameters(), config.plaid_contrast_values()
    offsets = config.plaid_phase_offsets()
    n_contrasts = len(contrasts)

    def orientation(opt, height, width, centre, device):
        theta, phi = _grid_product(angles, phase_set)
        return gabor(opt["size"], opt["relative_sf"], theta, phi, opt["contrast"], height, width, centre, device)

    def phase(opt, height, width, centre, device):
        return gabor(opt["size"], opt["relative_sf"], opt["orientation"], config.phase_angles(), opt["contrast"],
                     height, width, centre, device)

    def surround(opt, height, width, centre, device):
        frequency = opt["relative_sf"] / opt["size"]
        return grating_disk(diameters, frequency, opt["orientation"], opt["phase"], config.surround_contrast,
                            height, width, centre, device)

    def plaid(opt, height, width, centre, device):
        orthogonal, preferred, offset = _grid_product(contrasts, contrasts, offsets)
        size, sf, theta, phi = opt["size"], opt["relative_sf"], opt["orientation"], opt["phase"]
        return (gabor(size, sf, theta, phi, preferred, height, width, centre, device)
                + gabor(size, sf, theta + np.pi / 2, phi + offset, orthogonal, height, width, centre, device))

    envelope = ("size_index", "relative_sf_index")
    return [
        Experiment("orientation", (*envelope, "contrast_index"), orientation,
                   lambda r: r.view(len(r), len(angles), len(phase_set)).amax(dim=2)),
        Experiment("phase", (*envelope, "contrast_index", "orientation_index"), phase, lambda r: r),
        Experiment("surround", (*envelope, "orientation_index", "phase_index"), surround, lambda r: r),
        Experiment("cross_orientation", (*envelope, "orientation_index", "phase_index"), plaid,
                   lambda r: r.view(len(r), n_contrasts, n_contrasts, len(offsets)).mean(dim=3)),
    ]


def _neuron_groups(optimal: pd.DataFrame, experiment: Experiment) -> list[np.ndarray]:
    """Rows of the optimal-Gabor table that share one mouse, location and the experiment's key."""
    columns = ["mouse", "location_index", *experiment.key]
    groups = optimal.groupby(columns).indices
    return [np.asarray(groups[key]) for key in sorted(groups)]


@torch.no_grad()
def _group_curves(probe: Probe, experiment: Experiment, optimal: pd.DataFrame, rows: np.ndarray,
                  batch_size: int) -> torch.Tensor:
    first = optimal.iloc[rows[0]]
    centre = probe.centre_of((float(first["y"]), float(first["x"])))
    stimuli = experiment.stimuli(first, probe.height, probe.width, centre, probe.device)
    neurons = torch.as_tensor(optimal["neuron"].to_numpy()[rows], device=probe.device)
    responses = torch.cat([probe.responses(chunk, neurons) for chunk in stimuli.split(batch_size)])
    return experiment.curve(responses.T).cpu()


def tuning_curves(saved: SavedModel, optimal: pd.DataFrame, config: TuningConfig, batch_size: int,
                  state_path: str | Path | None = None, identity: dict[str, Any] | None = None,
                  checkpoint_seconds: float = 300.0) -> dict[str, np.ndarray]:
    """Every experiment's curve for every row of `optimal` (the optimal-Gabor table of this model)."""
    missing = [column for column in OPTIMAL_COLUMNS if column not in optimal.columns]
    if missing:
        raise InSilicoError(f"the optimal-Gabor table lacks columns {missing}")
    unknown = sorted(set(optimal["mouse"]) - set(saved.mice))
    if unknown:
        raise InSilicoError(f"the optimal-Gabor table has mice {unknown} that the model does not know")
    probes = {mouse: saved.probe(mouse) for mouse in saved.mice if mouse in set(optimal["mouse"])}
    work = [(experiment, rows) for experiment in experiments(config) for rows in _neuron_groups(optimal, experiment)]
    checkpoint = Checkpoint(state_path, {**(identity or {}), "config": asdict(config), "batch_size": batch_size},
                            checkpoint_seconds)
    state = checkpoint.restore() or {"next": 0, "curves": {}}
    for number in progress_bar(range(state["next"], len(work)), total=len(work), initial=state["next"],
                               desc="tuning", unit="group"):
        experiment, rows = work[number]
        probe = probes[optimal["mouse"].iloc[rows[0]]]
        curves = _group_curves(probe, experiment, optimal, rows, batch_size)
        if experiment.name not in state["curves"]:
            state["curves"][experiment.name] = torch.full((len(optimal), *curves.shape[1:]), torch.nan)
        state["curves"][experiment.name][torch.as_tensor(rows)] = curves
        state["next"] = number + 1
        checkpoint.update(lambda: state, f"after tuning group {number + 1} of {len(work)}")
    checkpoint.clear()
    return {name: values.numpy() for name, values in state["curves"].items()}


# ----------------------------------------------------------------------------------------------
# Tuning indices


def harmonic(curve: np.ndarray, angles: np.ndarray, order: int) -> np.ndarray:
    """F_m = |mean_k r_k e^{i m α_k}| along the last axis."""
    return np.abs((np.asarray(curve) * np.exp(1j * order * np.asarray(angles))).mean(axis=-1))


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0 (an index of a silent curve is undefined)."""
    denominator = np.asarray(denominator, dtype=np.float64)
    return np.divide(numerator, denominator, out=np.full(denominator.shape, np.nan), where=denominator != 0)


def orientation_selectivity(curve: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """OSI = F2/F0 over orientations in [0, π)."""
    return _ratio(harmonic(curve, angles, 2), np.mean(curve, axis=-1))


def preferred_orientation(curve: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Vector-average orientation arg(Σ r_k e^{2iα_k})/2 in [0, π)."""
    vector = (np.asarray(curve) * np.exp(2j * np.asarray(angles))).sum(axis=-1)
    return np.mod(np.angle(vector) / 2, np.pi)


def phase_invariance(curve: np.ndarray, phases: np.ndarray) -> np.ndarray:
    """PI = 1 − F1/F0 over phases in [0, 2π): 1 for a flat curve, 0 for a full-depth cosine."""
    return 1 - _ratio(harmonic(curve, phases, 1), np.mean(curve, axis=-1))


def amplitude_over_mean(curve: np.ndarray, angles: np.ndarray, order: int) -> np.ndarray:
    """2·F_m/F0: the modulation depth b/a of a curve a + b·cos(m(α − α0))."""
    return 2 * _ratio(harmonic(curve, angles, order), np.mean(curve, axis=-1))


def surround_suppression(curve: np.ndarray, threshold: float = 0.95) -> np.ndarray:
    """SI = (R_center − R_asym)/R_center over disk sizes (ascending; blank first).

    R_center: the response at the first size reaching `threshold` of the maximum; R_asym: at the largest.
    """
    curve = np.asarray(curve, dtype=np.float64)
    first = np.argmax(curve >= threshold * curve.max(axis=-1, keepdims=True), axis=-1)
    centre = np.take_along_axis(curve, first[..., None], axis=-1)[..., 0]
    return _ratio(centre - curve[..., -1], centre)


def cross_orientation_inhibition(table: np.ndarray) -> np.ndarray:
    """COI = max over (o, p) of 1 − T[o, p]/T[0, p] for T[orthogonal contrast, preferred contrast].

    Preferred contrast 0 (the orthogonal grating alone) is left out: there is nothing to inhibit.
    """
    table = np.asarray(table, dtype=np.float64)
    relative = _ratio(table[..., :, 1:], np.broadcast_to(table[..., :1, 1:], table[..., :, 1:].shape))
    return np.nanmax(1 - relative, axis=(-2, -1))


def tuning_indices(curves: dict[str, np.ndarray], config: TuningConfig) -> pd.DataFrame:
    """Per neuron: OSI, PI, SI, COI, the preferred orientation and the amplitude/mean ratios."""
    orientation, phase = curves["orientation"], curves["phase"]
    angles, phases = config.orientation_angles(), config.phase_angles()
    return pd.DataFrame({
        "orientation_selectivity": orientation_selectivity(orientation, angles),
        "orientation_amplitude_over_mean": amplitude_over_mean(orientation, angles, 2),
        "preferred_orientation": preferred_orientation(orientation, angles),
        "phase_invariance": phase_invariance(phase, phases),
        "phase_amplitude_over_mean": amplitude_over_mean(phase, phases, 1),
        "surround_suppression": surround_suppression(curves["surround"]),
        "cross_orientation_inhibition": cross_orientation_inhibition(curves["cross_orientation"]),
    })


CURVE_NAMES = ("orientation", "phase", "surround", "cross_orientation")
TUNING_ARRAYS = ("mouse", "unit_id", *CURVE_NAMES, "orientation_angles", "phase_angles", "disk_diameters",
                 "plaid_contrasts", *INDEX_NAMES.values())


def save_tuning(path: str | Path, optimal: pd.DataFrame, curves: dict[str, np.ndarray], indices: pd.DataFrame,
                config: TuningConfig) -> None:
    """Curves, their axes and the indices of every neuron in one .npz (written atomically)."""
    write_npz(path, {
        "mouse": optimal["mouse"].to_numpy().astype(str),
        "unit_id": optimal["unit_id"].to_numpy(),
        **{name: curves[name].astype(np.float32) for name in CURVE_NAMES},
        "orientation_angles": config.orientation_angles(),
        "phase_angles": config.phase_angles(),
        "disk_diameters": config.disk_diameters(),
        "plaid_contrasts": config.plaid_contrast_values(),
        **{name: indices[name].to_numpy() for name in indices.columns},
    })


def load_tuning(path: str | Path) -> dict[str, np.ndarray]:
    return read_npz(path, TUNING_ARRAYS, InSilicoError)


# ----------------------------------------------------------------------------------------------
# Consistency across seeds (R24 Table 1)


def mean_absolute_deviation(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64)
    return float(np.abs(values - values.mean()).mean())


def nmae(a: np.ndarray, b: np.ndarray) -> float:
    """mean_n |a_n − b_n| / (½(MAD(a) + MAD(b))): 0 for identical fits, about √2 for unrelated ones.

    Neurons where either value is undefined (NaN) are left out.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"NMAE compares the same neurons; got {a.shape} and {b.shape}")
    defined = np.isfinite(a) & np.isfinite(b)
    a, b = a[defined], b[defined]
    scale = (mean_absolute_deviation(a) + mean_absolute_deviation(b)) / 2
    if not a.size or scale == 0:
        return 0.0 if a.size and np.array_equal(a, b) else float("nan")
    return float(np.abs(a - b).mean() / scale)


def _same_neurons(tuning: dict[int, dict[str, np.ndarray]], files: dict[int, Any]) -> None:
    first_seed = next(iter(tuning))
    reference = tuning[first_seed]
    for seed, content in tuning.items():
        if not (np.array_equal(content["mouse"], reference["mouse"])
                and np.array_equal(content["unit_id"], reference["unit_id"])):
            raise InSilicoError(f"{files[seed]} and {files[first_seed]} describe different neurons")


def index_nmae_pairs(tuning_files: dict[str, dict[int, str | Path]]) -> pd.DataFrame:
    """NMAE of every index for every variant and seed pair."""
    rows = []
    for variant, files in tuning_files.items():
        tuning = {seed: load_tuning(path) for seed, path in files.items()}
        _same_neurons(tuning, files)
        for seed_a, seed_b in itertools.combinations(sorted(tuning), 2):
            row = {"variant": variant, "seed_a": seed_a, "seed_b": seed_b}
            for column, index in INDEX_NAMES.items():
                row[f"nmae_{column}"] = nmae(tuning[seed_a][index], tuning[seed_b][index])
            rows.append(row)
    return pd.DataFrame(rows, columns=["variant", "seed_a", "seed_b", *(f"nmae_{c}" for c in INDEX_NAMES)])


def consistency_table(tuning_files: dict[str, dict[int, str | Path]], response_correlation: pd.DataFrame,
                      ) -> pd.DataFrame:
    """R24 Table 1: per variant, the response correlation across seeds and the NMAE of each index,
    each the mean over seed pairs (with its sd; the pair count in n_pairs)."""
    pairs = index_nmae_pairs(tuning_files)
    pooled = response_correlation[response_correlation["mouse"].astype(str) == "all"]
    correlation = pooled.groupby("variant")["correlation"]
    columns = [f"nmae_{column}" for column in INDEX_NAMES]
    summary = pairs.groupby("variant", sort=False)[columns].agg(["mean", "std"])
    summary.columns = [name if statistic == "mean" else f"{name}_std" for name, statistic in summary.columns]
    summary.insert(0, "response_correlation", correlation.mean())
    summary.insert(1, "response_correlation_std", correlation.std())
    summary.insert(0, "n_pairs", pairs.groupby("variant", sort=False).size())
    missing = summary.index[summary["response_correlation"].isna()].tolist()
    if missing:
        raise InSilicoError(f"the response-correlation table has no pooled ('all') rows for {missing}")
    return summary.reset_index().rename(columns={"index": "variant"})


# ----------------------------------------------------------------------------------------------
# Ground-truth check (simulated data)


def axial_circular_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Fisher–Lee circular correlation of two orientations in [0, π) (doubled angles).

    ρ = Σ_{i<j} sin(a_i − a_j) sin(b_i − b_j) / sqrt(Σ_{i<j} sin²(a_i − a_j) · Σ_{i<j} sin²(b_i − b_j)), in O(n)
    through sin(a_i − a_j) = sin a_i cos a_j − cos a_i sin a_j. Unlike the mean-direction based
    coefficient it stays defined for uniformly spread orientations (as the planted ones are); it is 1
    when b is a rotated copy of a.
    """
    a, b = 2 * np.asarray(a, dtype=np.float64), 2 * np.asarray(b, dtype=np.float64)
    sin_a, cos_a, sin_b, cos_b = np.sin(a), np.cos(a), np.sin(b), np.cos(b)
    cross = (sin_a @ sin_b) * (cos_a @ cos_b) - (sin_a @ cos_b) * (cos_a @ sin_b)
    spread_a = (sin_a @ sin_a) * (cos_a @ cos_a) - (sin_a @ cos_a) ** 2
    spread_b = (sin_b @ sin_b) * (cos_b @ cos_b) - (sin_b @ cos_b) ** 2
    return float(cross / np.sqrt(spread_a * spread_b))


def orientation_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Absolute difference of orientations in [0, π/2]."""
    difference = np.mod(np.asarray(a) - np.asarray(b), np.pi)
    return np.minimum(difference, np.pi - difference)


def planted_neuron_table(truth: dict[str, dict[str, np.ndarray]]) -> pd.DataFrame:
    """The planted properties the check compares with, one row per neuron (mice in `truth` order).

    A type is complex if its prototype's phase invariance coordinate exceeds 0.5 (the simulator's naming);
    a type is surround-suppressed if its prototype has any surround weight.
    """
    frames = []
    for mouse, neurons in truth.items():
        parameter_names = [str(name) for name in neurons["type_parameter_names"]]
        coordinates = np.asarray(neurons["type_prototype_coordinates"])
        prototypes = np.asarray(neurons["type_prototypes"])
        complex_type = coordinates[:, parameter_names.index("phase_invariance")] > 0.5
        suppressed_type = prototypes[:, parameter_names.index("surround_suppression")] > 0
        cell_type = np.asarray(neurons["cell_type"])
        frames.append(pd.DataFrame({
            "mouse": mouse, "neuron": np.arange(len(cell_type)), "cell_type": cell_type,
            "type_name": np.asarray(neurons["type_names"]).astype(str)[cell_type],
            "complex_type": complex_type[cell_type], "suppressed_type": suppressed_type[cell_type],
            "planted_orientation": np.asarray(neurons["orientation"]),
        }))
    return pd.concat(frames, ignore_index=True)


def ground_truth_check(tuning_files: dict[str, dict[int, str | Path]], planted: pd.DataFrame) -> pd.DataFrame:
    """Per variant and seed, do the in-silico indices recover the planted properties?

    complex vs simple types: mean phase invariance; suppressed vs unsuppressed types: mean surround
    suppression; preferred vs planted orientation: axial circular correlation and median error (degrees).
    """
    rows = []
    for variant, files in tuning_files.items():
        for seed, path in files.items():
            tuning = load_tuning(path)
            if (len(tuning["unit_id"]) != len(planted)
                    or not np.array_equal(tuning["mouse"], planted["mouse"].to_numpy())):
                raise InSilicoError(f"{path}: its neurons do not match the ground truth "
                                    f"({len(tuning['unit_id'])} vs {len(planted)} neurons)")
            invariance, suppression = tuning["phase_invariance"], tuning["surround_suppression"]
            complex_type, suppressed = planted["complex_type"].to_numpy(), planted["suppressed_type"].to_numpy()
            recovered, true = tuning["preferred_orientation"], planted["planted_orientation"].to_numpy()
            row = {
                "variant": variant, "seed": seed,
                "phase_invariance_complex": np.nanmean(invariance[complex_type]),
                "phase_invariance_simple": np.nanmean(invariance[~complex_type]),
                "surround_suppression_suppressed": np.nanmean(suppression[suppressed]),
                "surround_suppression_unsuppressed": np.nanmean(suppression[~suppressed]),
                "orientation_circular_correlation": axial_circular_correlation(recovered, true),
                "orientation_median_error_deg": float(np.degrees(np.median(orientation_error(recovered, true)))),
            }
            row["complex_more_invariant"] = row["phase_invariance_complex"] > row["phase_invariance_simple"]
            row["suppressed_more_suppressed"] = (row["surround_suppression_suppressed"]
                                                 > row["surround_suppression_unsuppressed"])
            rows.append(row)
    return pd.DataFrame(rows)
