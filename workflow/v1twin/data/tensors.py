"""The training view: one mouse normalized once (METHODS §1) and held in memory as tensors.

Normalizing a whole mouse up front, from the statistics of its training tier, keeps the training
loop to indexing; `load_training_mice` builds the view of every mouse from its cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from v1twin.data import DataError
from v1twin.data.cache import load_cache
from v1twin.data.mouse_arrays import (
    NORMALIZATION_STATISTICS,
    TIERS,
    MouseArrays,
    Statistics,
    compute_statistics,
    statistic_size,
)
from v1twin.progress import progress_bar


@dataclass
class MouseTensors:
    """One mouse normalized once (METHODS §1) and kept in memory as tensors for training."""

    name: str
    images: torch.Tensor
    behavior: torch.Tensor
    pupil_center: torch.Tensor
    responses: torch.Tensor
    tiers: np.ndarray
    image_ids: np.ndarray
    cell_motor_coordinates: np.ndarray
    unit_ids: np.ndarray

    def indices(self, tier: str) -> np.ndarray:
        """Trial indices of one tier, in trial order."""
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}, expected one of {TIERS}")
        return np.flatnonzero(self.tiers == tier)

    def inputs(self, idx: Sequence[int] | np.ndarray | torch.Tensor) -> torch.Tensor:
        """Images with the 3 behaviour values appended as constant planes: (B, 4, h, w)."""
        index = torch.as_tensor(idx, dtype=torch.long).reshape(-1)
        images = self.images[index]
        planes = self.behavior[index][:, :, None, None].expand(-1, -1, *images.shape[-2:])
        return torch.cat([images, planes], dim=1)

    @property
    def n_neurons(self) -> int:
        return self.responses.shape[1]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (1 + self.behavior.shape[1], *self.images.shape[-2:])


def _statistic(statistics: Statistics, group: str, name: str, n_neurons: int, name_of_mouse: str) -> np.ndarray:
    """One normalization statistic ('all' subset), checked for presence and size."""
    try:
        value = np.asarray(statistics[group]["all"][name], dtype=np.float64)
    except KeyError as error:
        raise DataError(f"{name_of_mouse}: statistics lack {group}/all/{name}") from error
    size = NORMALIZATION_STATISTICS[(group, name)]
    wanted = statistic_size(size, n_neurons)
    if value.size != wanted:
        raise DataError(f"{name_of_mouse}: statistics {group}/all/{name} has {value.size} values, expected {wanted}")
    return value.reshape(()) if size is None else value.reshape(wanted)


def _safe_scale(std: np.ndarray) -> np.ndarray:
    """A divisor per dimension: constant dimensions (std 0, e.g. zeroed behaviour) stay unscaled."""
    return np.where(std > 0, std, 1.0)


def _response_scale(std: np.ndarray) -> np.ndarray:
    """Per-neuron std floored at 1% of the mean std, so silent neurons are not blown up."""
    return np.maximum(std, 0.01 * std.mean())


def input_pixels_of(full: np.ndarray | float, full_length: int, input_length: int) -> np.ndarray:
    """Model-input pixel coordinates of stored-image ones along one axis (pixel centres match, as in the
    downscaling with `align_corners=False`); with the two lengths swapped, the inverse map."""
    return (np.asarray(full, dtype=np.float64) + 0.5) * input_length / full_length - 0.5


def normalized_images(images: np.ndarray, mean: float, std: float, image_scale: float) -> torch.Tensor:
    """(x − mean)/std then antialiased bilinear rescaling, in chunks so a memory-mapped stack is read once.

    The in-silico ground truth inverts this map (`insilico.true_neurons`)."""
    n_trials, _, height, width = images.shape
    size = (round(height * image_scale), round(width * image_scale))
    if min(size) < 1:
        raise ValueError(f"image_scale {image_scale} shrinks {height}x{width} images to nothing")
    out = torch.empty((n_trials, 1, *size), dtype=torch.float32)
    chunk = 512
    for start in progress_bar(range(0, n_trials, chunk), desc="normalize images", unit="chunk", leave=False):
        block = torch.from_numpy(np.array(images[start:start + chunk], dtype=np.float32))
        block = (block - mean) / std
        if size != (height, width):
            block = F.interpolate(block, size=size, mode="bilinear", antialias=True, align_corners=False)
        out[start:start + chunk] = block
    return out


@dataclass(frozen=True)
class Normalization:
    """How one mouse's stored values become model units (METHODS §1): (value − offset) / scale."""

    image_mean: float
    image_std: float
    response_scale: np.ndarray
    behavior_scale: np.ndarray
    pupil_mean: np.ndarray
    pupil_scale: np.ndarray


def normalization(name: str, arrays: MouseArrays) -> Normalization:
    """The offsets and scales of one mouse, from its stored statistics (or its training tier's)."""
    statistics = arrays.statistics if arrays.statistics is not None else compute_statistics(arrays)
    n_neurons = np.shape(arrays.responses)[1]
    def statistic(group: str, statistic_name: str) -> np.ndarray:
        return _statistic(statistics, group, statistic_name, n_neurons, name)

    return Normalization(
        image_mean=float(statistic("images", "mean")),
        image_std=float(_safe_scale(statistic("images", "std"))),
        response_scale=_response_scale(statistic("responses", "std")),
        behavior_scale=_safe_scale(statistic("behavior", "std")),
        pupil_mean=statistic("pupil_center", "mean"),
        pupil_scale=_safe_scale(statistic("pupil_center", "std")),
    )


def prepare_mouse(name: str, arrays: MouseArrays, image_scale: float) -> MouseTensors:
    """The standard transform chain of METHODS §1, applied once to a whole mouse."""
    if image_scale <= 0:
        raise ValueError(f"image_scale must be positive, got {image_scale}")
    units = normalization(name, arrays)

    def scaled(values: np.ndarray, offset: float | np.ndarray, scale: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(((np.asarray(values, dtype=np.float64) - offset) / scale).astype(np.float32))

    return MouseTensors(
        name=name,
        images=normalized_images(arrays.images, units.image_mean, units.image_std, image_scale),
        behavior=scaled(arrays.behavior, 0.0, units.behavior_scale),
        pupil_center=scaled(arrays.pupil_center, units.pupil_mean, units.pupil_scale),
        responses=scaled(arrays.responses, 0.0, units.response_scale),
        tiers=np.asarray(arrays.tiers).astype(str),
        image_ids=np.asarray(arrays.image_ids, dtype=np.int64),
        cell_motor_coordinates=np.asarray(arrays.cell_motor_coordinates, dtype=np.float32),
        unit_ids=np.asarray(arrays.unit_ids, dtype=np.int64),
    )


def load_training_mice(caches: dict[str, str | Path], image_scale: float) -> dict[str, MouseTensors]:
    """The training view of every mouse (name -> cache folder), checked to share one input size.

    One core serves all mice, so their images must have the same size after rescaling.
    """
    data = {name: prepare_mouse(name, load_cache(Path(cache)), image_scale) for name, cache in caches.items()}
    shapes = {name: mouse.input_shape for name, mouse in data.items()}
    if len(set(shapes.values())) > 1:
        raise DataError(f"mice differ in input shape {shapes}; one core needs one image size")
    return data
