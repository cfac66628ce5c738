"""Stimuli of the in-silico experiments: Gabors, hard-edged grating disks and the Gabor search grid.

Images are (B, H, W) in normalized input units on a gray (0) background; centres are (y, x) pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from v1twin.insilico import InSilicoError

GRID_AXES = ("size", "relative_sf", "contrast", "orientation", "phase")
ORDERED_AXES = ("size", "relative_sf", "contrast")  # orientation and phase are circular: no edges


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

