"""Where trained Gaussian readouts read, against the simulator's true receptive-field centres.

A common offset of all read positions is not identifiable from the responses alone: a translation of
the core's features is undone by moving every read position, and the shifter's bias moves them all
too. This check measures the offset of each trained model, without the shifter (the positions the
in-silico experiments use) and with the shifter at the mean eye position of the training trials, and
whether the shifter learned the simulator's eye-shift gain. Positions are (x, y) in model-input pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from v1twin.data.cache import load_cache
from v1twin.data.mouse_arrays import MouseArrays
from v1twin.data.simulate import load_ground_truth
from v1twin.data.tensors import MouseTensors, input_pixels_of, prepare_mouse
from v1twin.insilico.probes import grid_to_input_pixels
from v1twin.model_run import check_unit_ids, load_run
from v1twin.models import GaussianReadout, V1Model

NEURON_COLUMNS = (
    "variant",
    "seed",
    "mouse",
    "neuron",
    "unit_id",
    "read_x",
    "read_y",
    "mean_eye_x",
    "mean_eye_y",
    "zero_eye_x",
    "zero_eye_y",
    "true_x",
    "true_y",
)
SUMMARY_COLUMNS = (
    "variant",
    "seed",
    "mouse",
    "n_neurons",
    "shifter",
    "offset_x",
    "offset_y",
    "rms",
    "shifted_offset_x",
    "shifted_offset_y",
    "shifted_rms",
    "shift_x",
    "shift_y",
    "slope_x",
    "slope_y",
    "true_slope_x",
    "true_slope_y",
)


class ReadPositionError(ValueError):
    """A model or mouse that the check cannot use; the message names it."""


@dataclass(frozen=True)
class SimulatedMouse:
    """A simulated mouse as the check needs it: the training view the models were fitted to (its
    z-scored pupil centres are what the shifter saw), the raw pupil centres in camera pixels (the unit
    of the simulator's eye-shift gain) in the same trial order, the image size and the ground truth."""

    tensors: MouseTensors
    pupil_camera: np.ndarray  # (trials, 2) x, y
    image_shape: tuple[int, int]  # (height, width) of the simulated images
    truth: dict[str, np.ndarray]

    @classmethod
    def from_arrays(
        cls, name: str, arrays: MouseArrays, truth: dict[str, np.ndarray], image_scale: float
    ) -> SimulatedMouse:
        tensors = prepare_mouse(name, arrays, image_scale)
        if len(truth["rf_x"]) != tensors.n_neurons:
            raise ReadPositionError(
                f"mouse {name}: {tensors.n_neurons} neurons, its ground truth has {len(truth['rf_x'])}"
            )
        pupil = np.asarray(arrays.pupil_center, dtype=np.float64)
        return cls(tensors, pupil, tuple(np.shape(arrays.images)[-2:]), truth)

    @property
    def training_trials(self) -> np.ndarray:
        return self.tensors.indices("train")


def load_simulated_mice(
    caches: dict[str, str | Path], truth_files: dict[str, str | Path], image_scale: float
) -> dict[str, SimulatedMouse]:
    """Every mouse (name -> cache folder, name -> ground-truth file) as `SimulatedMouse`."""
    return {
        name: SimulatedMouse.from_arrays(
            name, load_cache(Path(cache)), load_ground_truth(Path(truth_files[name])), image_scale
        )
        for name, cache in caches.items()
    }


def true_centres(data: SimulatedMouse, eye: np.ndarray, input_shape: tuple[int, int, int]) -> np.ndarray:
    """True RF centres (N, 2) in input pixels with the eye at `eye` (camera pixels): the simulator moves
    every RF by eye_shift_gain · (eye − eye_center) image pixels."""
    truth = data.truth
    shift = float(truth["eye_shift_gain"]) * (np.asarray(eye, dtype=np.float64) - truth["eye_center"])
    (height, width), (input_height, input_width) = data.image_shape, input_shape[1:]
    x = input_pixels_of(truth["rf_x"] + shift[0], width, input_width)
    y = input_pixels_of(truth["rf_y"] + shift[1], height, input_height)
    return np.column_stack([x, y])


def _shifts(model: V1Model, mouse: str, pupil_normalized: np.ndarray) -> torch.Tensor:
    """The shifter's shift (T, 2) in grid units per z-scored pupil centre; zero without a shifter."""
    pupil = torch.as_tensor(np.asarray(pupil_normalized), dtype=torch.float32).reshape(-1, 2)
    if mouse not in model.shifters:
        return torch.zeros_like(pupil)
    return model.shifters[mouse](pupil)


def _offset(read: np.ndarray, true: np.ndarray) -> tuple[float, float, float]:
    """Mean offset (dx, dy) of read from true positions, and the RMS distance left after removing it."""
    difference = read - true
    mean = difference.mean(axis=0)
    rms = np.sqrt(((difference - mean) ** 2).sum(axis=1).mean())
    return float(mean[0]), float(mean[1]), float(rms)


def _xy_pixels(model: V1Model, input_shape: tuple[int, int, int], grid: torch.Tensor) -> np.ndarray:
    """Readout grid positions (n, 2) as (x, y) input pixels, as the in-silico experiments convert them."""
    return grid_to_input_pixels(model.core, input_shape, grid.detach())[:, ::-1]


def _shift_pixels(model: V1Model, input_shape: tuple[int, int, int], shift: torch.Tensor) -> np.ndarray:
    """Shifts (T, 2) from grid units to input pixels."""
    return _xy_pixels(model, input_shape, shift) - _xy_pixels(model, input_shape, torch.zeros(1, 2))


def _slopes(shift_pixels: np.ndarray, pupil_camera: np.ndarray) -> np.ndarray:
    """Least-squares slopes (d shift_x / d pupil_x, d shift_y / d pupil_y) of shift = B · pupil + c."""
    design = np.column_stack([pupil_camera, np.ones(len(pupil_camera))])
    coefficients = np.linalg.lstsq(design, shift_pixels, rcond=None)[0]  # (3, 2): B transposed, then c
    return np.diag(coefficients[:2])


def _summary(
    positions: dict[str, np.ndarray], mean_shift: np.ndarray, slope: np.ndarray, true_slope: np.ndarray
) -> dict:
    """The per-model numbers: offsets and residual RMS without and with the shifter, the shift, the slopes."""
    offset, shifted = _offset(positions["read"], positions["true"]), _offset(positions["mean_eye"], positions["true"])
    return {
        "offset_x": offset[0],
        "offset_y": offset[1],
        "rms": offset[2],
        "shifted_offset_x": shifted[0],
        "shifted_offset_y": shifted[1],
        "shifted_rms": shifted[2],
        "shift_x": float(mean_shift[0]),
        "shift_y": float(mean_shift[1]),
        "slope_x": float(slope[0]),
        "slope_y": float(slope[1]),
        "true_slope_x": float(true_slope[0]),
        "true_slope_y": float(true_slope[1]),
    }


@torch.no_grad()
def mouse_read_positions(
    model: V1Model, mouse: str, input_shape: tuple[int, int, int], data: SimulatedMouse
) -> tuple[pd.DataFrame, dict]:
    """Per neuron: read position without the shifter, with it at the mean training eye position and at
    z-scored eye position 0, and the true RF centre at the mean training eye position (input pixels).
    Per model: offsets with and without the shifter, the shift there, and the shifter's slope against
    the true one (input pixels per camera pixel). Puts the model in evaluation mode (reads at μ)."""
    readout = model.readouts[mouse]
    if not isinstance(readout, GaussianReadout):
        raise ReadPositionError(f"mouse {mouse}: read positions need a Gaussian readout, not {type(readout).__name__}")
    model.eval()
    trials = data.training_trials
    camera = data.pupil_camera[trials]
    normalized = data.tensors.pupil_center[trials].numpy()

    def read_at(shift: torch.Tensor | None) -> np.ndarray:
        return _xy_pixels(model, input_shape, readout.positions(1, shift)[0])

    mean_shift = _shifts(model, mouse, normalized.mean(axis=0))
    positions = {
        "read": read_at(None),
        "mean_eye": read_at(mean_shift),
        "zero_eye": read_at(_shifts(model, mouse, [0, 0])),
        "true": true_centres(data, camera.mean(axis=0), input_shape),
    }
    neurons = pd.DataFrame({"neuron": np.arange(len(positions["read"])), "unit_id": data.tensors.unit_ids})
    for name, xy in positions.items():
        neurons[f"{name}_x"], neurons[f"{name}_y"] = xy[:, 0], xy[:, 1]
    slope = _slopes(_shift_pixels(model, input_shape, _shifts(model, mouse, normalized)), camera)
    input_per_image_pixel = np.array([input_shape[2] / data.image_shape[1], input_shape[1] / data.image_shape[0]])
    true_slope = float(data.truth["eye_shift_gain"]) * input_per_image_pixel
    summary = _summary(positions, _shift_pixels(model, input_shape, mean_shift)[0], slope, true_slope)
    return neurons, {"n_neurons": len(neurons), "shifter": mouse in model.shifters, **summary}


def read_position_tables(
    model_files: dict[str, dict[int, str | Path]], mice: dict[str, SimulatedMouse]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The per-model summary (one row per variant x seed x mouse) and the per-neuron positions of
    every model (variant -> seed -> model.pt) on its mice."""
    summaries, neuron_tables = [], []
    for variant, files in model_files.items():
        for seed, path in files.items():
            saved = load_run(path, torch.device("cpu"))
            missing = sorted(set(saved.mice) - set(mice))
            if missing:
                raise ReadPositionError(f"{path}: no simulated data given for mice {missing}")
            check_unit_ids(path, {name: mice[name].tensors for name in saved.mice})
            for mouse in saved.mice:
                neurons, summary = mouse_read_positions(saved.model, mouse, saved.input_shape, mice[mouse])
                run = {"variant": variant, "seed": int(seed), "mouse": mouse}
                summaries.append({**run, **summary})
                neuron_tables.append(neurons.assign(**run))
    return (
        pd.DataFrame(summaries, columns=list(SUMMARY_COLUMNS)),
        pd.concat(neuron_tables, ignore_index=True)[list(NEURON_COLUMNS)],
    )
