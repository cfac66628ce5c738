"""One mouse as stored, and the summary statistics its normalization uses.

`MouseArrays` is the common currency of the Sensorium loader, the simulator, the cache and the
training view: each of them reads or writes a mouse in this form, whatever the files look like.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from v1twin.data import DataError

DATA_KEYS = ("images", "responses", "behavior", "pupil_center")
STATISTIC_SUBSETS = ("all", "stimulus_frame")
STATISTIC_NAMES = ("mean", "std", "min", "max", "median")
TIERS = ("train", "validation", "test", "final_test")
# The statistics normalization uses (prepare_mouse): (group, name) -> size, None for a scalar.
NORMALIZATION_STATISTICS = {
    ("images", "mean"): None,
    ("images", "std"): None,
    ("responses", "std"): "neurons",
    ("behavior", "std"): 3,
    ("pupil_center", "mean"): 2,
    ("pupil_center", "std"): 2,
}

Statistics = dict[str, dict[str, dict[str, np.ndarray]]]


@dataclass
class MouseArrays:
    """One mouse exactly as stored (cast to float32): the common currency of loader, simulator and cache."""

    images: np.ndarray
    responses: np.ndarray
    behavior: np.ndarray
    pupil_center: np.ndarray
    tiers: np.ndarray
    image_ids: np.ndarray
    trial_idx: np.ndarray
    cell_motor_coordinates: np.ndarray
    unit_ids: np.ndarray
    statistics: Statistics | None = None


def compute_statistics(arrays: MouseArrays) -> Statistics:
    """Summary statistics as the Sensorium tree stores them, from the training tier.

    Only training trials are used, so normalization never sees held-out data (and the zeroed test
    responses of the competition mice do not bias it); with no training trials, all trials are used.
    We have no non-stimulus frames, so both subsets hold the same values. Images get scalars, the
    other groups one value per dimension.
    """
    train = np.flatnonzero(np.asarray(arrays.tiers) == "train")
    rows = train if train.size else np.arange(len(arrays.tiers))
    statistics: Statistics = {}
    for group in DATA_KEYS:
        values = np.asarray(getattr(arrays, group))[rows]
        summary = summarize(values, axis=None if group == "images" else 0)
        statistics[group] = {subset: {k: v.copy() for k, v in summary.items()} for subset in STATISTIC_SUBSETS}
    return statistics


def summarize(values: np.ndarray, axis: int | None) -> dict[str, np.ndarray]:
    """The five Sensorium statistics (STATISTIC_NAMES) of values along axis, computed in float64, stored float32."""
    values = np.asarray(values, dtype=np.float64)
    summary = {
        "mean": values.mean(axis=axis),
        "std": values.std(axis=axis),
        "min": values.min(axis=axis),
        "max": values.max(axis=axis),
        "median": np.median(values, axis=axis),
    }
    return {name: np.asarray(value, dtype=np.float32) for name, value in summary.items()}


def statistic_size(size: int | str | None, n_neurons: int) -> int:
    """The number of values a NORMALIZATION_STATISTICS entry holds for a mouse of n_neurons."""
    return n_neurons if size == "neurons" else 1 if size is None else size


def check_arrays(arrays: MouseArrays, where: str) -> None:
    """Shapes must agree across keys: one row per trial, one column per neuron."""
    n_trials, n_neurons = len(arrays.tiers), len(arrays.unit_ids)
    expected = {
        "images": (n_trials, 1, None, None),
        "responses": (n_trials, n_neurons),
        "behavior": (n_trials, 3),
        "pupil_center": (n_trials, 2),
        "image_ids": (n_trials,),
        "trial_idx": (n_trials,),
        "cell_motor_coordinates": (n_neurons, 3),
    }
    for name, shape in expected.items():
        actual = np.shape(getattr(arrays, name))
        if len(actual) != len(shape) or any(e is not None and e != a for e, a in zip(shape, actual)):
            wanted = tuple("*" if e is None else e for e in shape)
            raise DataError(f"{where}: {name} has shape {actual}, expected {wanted}")

