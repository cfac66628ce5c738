"""One dynamic (video) mouse as stored, trimmed to each trial's true length.

`DynamicMouseArrays` is the common currency of the Sensorium 2023 loader, the dynamic simulator and
the dynamic cache, as `MouseArrays` is for the static mice. Trials differ in length, so the per-trial
data are lists; trials the files mark `none` (absent data files) are not in it, and `trial_ids` keeps
each trial's file number, so gaps survive a round trip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from v1twin.data import DataError
from v1twin.data.mouse_arrays import Statistics

# Sensorium 2023 tiers (meta/trials/tiers.npy); "none" marks trials whose data files are absent.
DYNAMIC_TIERS = ("train", "oracle", "live_test_main", "live_test_bonus", "final_test_main", "final_test_bonus")
DYNAMIC_DATA_KEYS = ("videos", "responses", "behavior", "pupil_center")
# Rows per frame of each key's array, (rows, frames) or for videos (height, width, frames).
BEHAVIOR_ROWS = 2  # pupil dilation, running speed
PUPIL_ROWS = 2


@dataclass
class DynamicMouseArrays:
    """One video mouse as stored (float32), each trial cut to its true length."""

    videos: list[np.ndarray]  # per trial (height, width, frames), grey 0-255
    responses: list[np.ndarray]  # per trial (neurons, frames)
    behavior: list[np.ndarray]  # per trial (2, frames): pupil dilation, running speed
    pupil_center: list[np.ndarray]  # per trial (2, frames)
    tiers: np.ndarray  # (trials,) str, one of DYNAMIC_TIERS
    trial_ids: np.ndarray  # (trials,) int64: the trial's file number data/<key>/<id>.npy
    padded_length: int  # frames of every stored file (NaN-padded after the true length)
    cell_motor_coordinates: np.ndarray  # (neurons, 3)
    unit_ids: np.ndarray  # (neurons,) int64
    statistics: Statistics | None = None

    @property
    def lengths(self) -> np.ndarray:
        """True length of each trial in frames."""
        return np.array([video.shape[-1] for video in self.videos], dtype=np.int64)


def check_dynamic_arrays(arrays: DynamicMouseArrays, where: str) -> None:
    """Per-trial shapes must agree: one frame axis per trial, one row per neuron, no frames past the padding."""
    n_trials, n_neurons = len(arrays.tiers), len(arrays.unit_ids)
    for name in ("trial_ids", *DYNAMIC_DATA_KEYS):
        if len(getattr(arrays, name)) != n_trials:
            raise DataError(f"{where}: {name} has {len(getattr(arrays, name))} trials, tiers has {n_trials}")
    if np.shape(arrays.cell_motor_coordinates) != (n_neurons, 3):
        raise DataError(f"{where}: cell_motor_coordinates has shape {np.shape(arrays.cell_motor_coordinates)}, "
                        f"expected ({n_neurons}, 3)")
    unknown = sorted(set(np.asarray(arrays.tiers).tolist()) - set(DYNAMIC_TIERS))
    if unknown:
        raise DataError(f"{where}: unknown tiers {unknown} (expected {', '.join(DYNAMIC_TIERS)})")
    video_shapes = {np.shape(video)[:2] for video in arrays.videos}
    if len(video_shapes) > 1:
        raise DataError(f"{where}: videos differ in frame size {sorted(video_shapes)}")
    expected_rows = {"responses": n_neurons, "behavior": BEHAVIOR_ROWS, "pupil_center": PUPIL_ROWS}
    for trial, (trial_id, video) in enumerate(zip(arrays.trial_ids, arrays.videos)):
        frames = np.shape(video)[-1]
        if np.ndim(video) != 3 or frames > arrays.padded_length:
            raise DataError(f"{where}: trial {trial_id}: video has shape {np.shape(video)}, expected "
                            f"(height, width, at most {arrays.padded_length} frames)")
        for name, rows in expected_rows.items():
            shape = np.shape(getattr(arrays, name)[trial])
            if shape != (rows, frames):
                raise DataError(f"{where}: trial {trial_id}: {name} has shape {shape}, expected ({rows}, {frames})")
