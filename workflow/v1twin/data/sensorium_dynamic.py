"""The Sensorium 2023 (video) file tree: writing a mouse, checking a tree's layout, reading it trial by trial.

Each trial is one .npy per key under data/ with the frame axis last, NaN-padded to the mouse's padded
length after the trial's true length; trials marked `none` in meta/trials/tiers.npy have no data files,
so file numbers have gaps. A real mouse is ~15 GB unpacked, so `open_dynamic_mouse` reads the meta once
and then one trial at a time (`DynamicTree.trials`): `load_dynamic_mouse` gathers them for small mice,
the dynamic cache streams them to disk (METHODS §10).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from v1twin.data import DataError
from v1twin.data.dynamic_arrays import (
    BEHAVIOR_ROWS,
    DYNAMIC_DATA_KEYS,
    DYNAMIC_TIERS,
    PUPIL_ROWS,
    DynamicMouseArrays,
    check_dynamic_arrays,
)
from v1twin.data.mouse_arrays import STATISTIC_NAMES, Statistics, summarize
from v1twin.data.mouse_source import MouseSource, load_npy, open_source, require_layout
from v1twin.data.sensorium_static import neuron_meta, write_statistics
from v1twin.progress import progress_bar

NONE_TIER = "none"  # a trial id whose data files are absent (older mice)
TIERS_FILE = "meta/trials/tiers.npy"
STATISTICS_SUBSET = "all"  # the 2023 trees ship statistics of all frames only


# ----------------------------------------------------------------------------------------------
# Writing the Sensorium 2023 tree


def compute_dynamic_statistics(arrays: DynamicMouseArrays) -> Statistics:
    """Statistics of the training trials' frames (all trials when none is train), as compute_statistics does
    for static mice: a scalar for videos, one value per row (neuron, behaviour, pupil coordinate) otherwise."""
    train = [i for i, tier in enumerate(arrays.tiers) if tier == "train"] or range(len(arrays.tiers))
    statistics: Statistics = {}
    for key in DYNAMIC_DATA_KEYS:
        frames = np.concatenate([getattr(arrays, key)[i] for i in train], axis=-1)
        rows = frames.reshape(-1, frames.shape[-1])
        summary = summarize(rows, axis=None) if key == "videos" else summarize(rows.T, axis=0)
        statistics[key] = {STATISTICS_SUBSET: summary}
    return statistics


def _tiers_by_file_number(arrays: DynamicMouseArrays, where: str) -> np.ndarray:
    """tiers.npy: one entry per file number 0..max(trial_ids), `none` where a trial id has no files."""
    trial_ids = np.asarray(arrays.trial_ids, dtype=np.int64)
    if trial_ids.size and (trial_ids.min() < 0 or len(np.unique(trial_ids)) != trial_ids.size):
        raise DataError(f"{where}: trial_ids must be distinct non-negative file numbers, got {trial_ids.tolist()}")
    tiers = np.full(trial_ids.max() + 1 if trial_ids.size else 0, NONE_TIER, dtype=object)
    tiers[trial_ids] = np.asarray(arrays.tiers, dtype=str)
    return tiers.astype(str)


def _nan_padded(values: np.ndarray, padded_length: int) -> np.ndarray:
    """float32 values with NaN frames appended (frame axis last) up to padded_length, as the real files are."""
    padded = np.full((*np.shape(values)[:-1], padded_length), np.nan, dtype=np.float32)
    padded[..., :np.shape(values)[-1]] = values
    return padded


def write_dynamic_mouse(folder: Path, arrays: DynamicMouseArrays) -> None:
    """Write one mouse as the exact Sensorium 2023 tree: per trial and key one NaN-padded .npy named by its trial
    id, meta/neurons, meta/trials/tiers.npy (with `none` at the gaps) and meta/statistics/<key>/all.

    Behaviour is NaN-padded like the other keys: the winning team's loader (lRomul/sensorium) takes the
    length of test trials from the first NaN of behaviour row 0, so the real files are padded there too.
    """
    folder = Path(folder)
    check_dynamic_arrays(arrays, str(folder))
    tiers = _tiers_by_file_number(arrays, str(folder))
    statistics = arrays.statistics if arrays.statistics is not None else compute_dynamic_statistics(arrays)
    for key in DYNAMIC_DATA_KEYS:
        (folder / "data" / key).mkdir(parents=True, exist_ok=True)
    for i in progress_bar(range(len(arrays.trial_ids)), desc=f"write {folder.name}", unit="trial"):
        for key in DYNAMIC_DATA_KEYS:
            values = _nan_padded(getattr(arrays, key)[i], arrays.padded_length)
            np.save(folder / "data" / key / f"{arrays.trial_ids[i]}.npy", values)
    meta = {"neurons": neuron_meta(folder, arrays), "trials": {"tiers": tiers}}
    for kind, files in meta.items():
        (folder / "meta" / kind).mkdir(parents=True, exist_ok=True)
        for name, values in files.items():
            np.save(folder / "meta" / kind / f"{name}.npy", values)
    write_statistics(folder, statistics)


# ----------------------------------------------------------------------------------------------
# Reading and checking the tree, one trial at a time


@dataclass(frozen=True)
class DynamicTrial:
    """One trial cut to its true length (float32, frame axis last), with its file number and tier."""

    trial_id: int
    tier: str
    video: np.ndarray  # (height, width, frames)
    responses: np.ndarray  # (neurons, frames)
    behavior: np.ndarray  # (2, frames)
    pupil_center: np.ndarray  # (2, frames)


def _padding_start(values: np.ndarray) -> int:
    """Frames before the trailing run of all-NaN frames (all frames when the last one is not all NaN)."""
    nan_frames = np.isnan(values).reshape(-1, values.shape[-1]).all(axis=0)
    finite_frames = np.flatnonzero(~nan_frames)
    return int(finite_frames[-1]) + 1 if finite_frames.size else 0


def _trimmed(values: np.ndarray, length: int, where: str) -> np.ndarray:
    """values[..., :length] as float32, refusing NaN inside the true length and NaN padding that starts elsewhere.

    A key may also carry finite values after the true length (behaviour, per the issue; zeroed test
    responses): its padding then does not end in NaN frames and is dropped.
    """
    frames = values.shape[-1]
    own_length = _padding_start(values)
    if own_length not in (length, frames):
        raise DataError(f"{where}: NaN padding starts after {own_length} frames, but the video's true length is "
                        f"{length} frames: trial lengths differ between keys")
    inside = values[..., :length]
    bad_frames = np.flatnonzero(~np.isfinite(inside).reshape(-1, length).all(axis=0))
    if bad_frames.size:
        raise DataError(f"{where}: NaN or infinite values at frame {bad_frames[0]}, inside the trial's true length "
                        f"of {length} frames")
    return inside.astype(np.float32)


class DynamicTree:
    """An open Sensorium 2023 tree: meta read and checked once, trials read (and checked) one at a time."""

    def __init__(self, source: MouseSource):
        self.source = source
        require_layout(source, "dynamic")
        tiers = load_npy(source, TIERS_FILE).astype(str)
        unknown = sorted(set(tiers.tolist()) - {*DYNAMIC_TIERS, NONE_TIER})
        if unknown:
            raise DataError(f"{source.describe(TIERS_FILE)}: unknown tiers {unknown}, "
                            f"expected {(*DYNAMIC_TIERS, NONE_TIER)}")
        self.trial_ids = np.flatnonzero(tiers != NONE_TIER).astype(np.int64)
        self.tiers = tiers[self.trial_ids]
        if not self.trial_ids.size:
            raise DataError(f"{source.describe(TIERS_FILE)}: no trials (every tier is {NONE_TIER!r})")
        self.unit_ids = _as_int64(source, "meta/neurons/unit_ids.npy")
        self.cell_motor_coordinates = self._read_coordinates()
        self._check_files_present()
        self.statistics = self._read_statistics()
        self.shapes = self._stored_shapes()
        self.padded_length = self.shapes["videos"][-1]

    def describe(self, key: str, trial_id: int) -> str:
        return self.source.describe(f"data/{key}/{trial_id}.npy")

    def _read_coordinates(self) -> np.ndarray:
        relative = "meta/neurons/cell_motor_coordinates.npy"
        coordinates = load_npy(self.source, relative)
        if coordinates.dtype.kind not in "iuf" or coordinates.shape != (len(self.unit_ids), 3):
            raise DataError(f"{self.source.describe(relative)}: shape {coordinates.shape} dtype {coordinates.dtype}, "
                            f"expected ({len(self.unit_ids)}, 3) numbers, one row per unit id")
        return coordinates.astype(np.float32)

    def _check_files_present(self) -> None:
        """Every key of every trial not marked `none` must have its file (checked from the listing, reads none)."""
        for key in DYNAMIC_DATA_KEYS:
            for trial_id, tier in zip(self.trial_ids, self.tiers):
                if not self.source.exists(f"data/{key}/{trial_id}.npy"):
                    raise DataError(f"{self.describe(key, trial_id)}: file is missing "
                                    f"({TIERS_FILE} lists trial {trial_id} as {tier})")

    def _read_statistics(self) -> Statistics:
        """meta/statistics/<key>/all/<name>.npy for every key: required, numeric, one leading entry per row."""
        rows = {"videos": None, "responses": len(self.unit_ids), "behavior": BEHAVIOR_ROWS, "pupil_center": PUPIL_ROWS}
        statistics: Statistics = {}
        for key in DYNAMIC_DATA_KEYS:
            for name in STATISTIC_NAMES:
                relative = f"meta/statistics/{key}/{STATISTICS_SUBSET}/{name}.npy"
                values = load_npy(self.source, relative)
                if values.dtype.kind not in "iuf" or values.size == 0:
                    raise DataError(f"{self.source.describe(relative)}: expected numbers, got dtype {values.dtype} "
                                    f"with {values.size} values")
                if rows[key] is not None and np.shape(values)[:1] != (rows[key],):
                    raise DataError(f"{self.source.describe(relative)}: shape {values.shape}, expected "
                                    f"{rows[key]} rows (one per {key} row)")
                statistics.setdefault(key, {}).setdefault(STATISTICS_SUBSET, {})[name] = values.astype(np.float32)
        return statistics

    def _read(self, key: str, trial_id: int) -> np.ndarray:
        values = load_npy(self.source, f"data/{key}/{trial_id}.npy")
        if values.dtype.kind not in "iuf":
            raise DataError(f"{self.describe(key, trial_id)}: expected numbers, got dtype {values.dtype}")
        return values

    def _stored_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every data file's shape, set by the first trial's video (height, width, padded length)."""
        first = self._read("videos", self.trial_ids[0])
        if first.ndim != 3:
            raise DataError(f"{self.describe('videos', self.trial_ids[0])}: shape {first.shape}, "
                            f"expected (height, width, frames)")
        height, width, padded_length = first.shape
        return {
            "videos": (height, width, padded_length),
            "responses": (len(self.unit_ids), padded_length),
            "behavior": (BEHAVIOR_ROWS, padded_length),
            "pupil_center": (PUPIL_ROWS, padded_length),
        }

    def _read_checked(self, key: str, trial_id: int) -> np.ndarray:
        values = self._read(key, trial_id)
        if values.shape != self.shapes[key]:
            raise DataError(f"{self.describe(key, trial_id)}: shape {values.shape}, expected {self.shapes[key]} "
                            f"like trial {self.trial_ids[0]}")
        return values

    def _true_length(self, video: np.ndarray, trial_id: int) -> int:
        length = _padding_start(video)
        if length == 0:
            raise DataError(f"{self.describe('videos', trial_id)}: NaN throughout, the trial has no frames")
        return length

    def video_length(self, trial_id: int) -> int:
        """The trial's true length: frames before the video's NaN padding (reads the video only)."""
        return self._true_length(self._read_checked("videos", trial_id), trial_id)

    def read_trial(self, index: int) -> DynamicTrial:
        """Trial number `index` (in trial_ids order), every key checked and cut to the video's true length."""
        trial_id = int(self.trial_ids[index])
        stored = {key: self._read_checked(key, trial_id) for key in DYNAMIC_DATA_KEYS}
        length = self._true_length(stored["videos"], trial_id)
        values = {key: _trimmed(padded, length, self.describe(key, trial_id)) for key, padded in stored.items()}
        return DynamicTrial(trial_id=trial_id, tier=str(self.tiers[index]), video=values["videos"],
                            responses=values["responses"], behavior=values["behavior"],
                            pupil_center=values["pupil_center"])

    def trials(self) -> Iterator[DynamicTrial]:
        """Every trial in file-number order, read one at a time."""
        for index in progress_bar(range(len(self.trial_ids)), desc="read trials", unit="trial"):
            yield self.read_trial(index)


def _as_int64(source: MouseSource, relative: str) -> np.ndarray:
    values = load_npy(source, relative)
    if values.dtype.kind not in "iuf" or not np.all(values == np.round(values)):
        raise DataError(f"{source.describe(relative)}: expected integers, got dtype {values.dtype}")
    return values.astype(np.int64)


@contextlib.contextmanager
def open_dynamic_mouse(path: Path) -> Iterator[DynamicTree]:
    """A Sensorium 2023 mouse folder or its .zip, meta checked, trials to read one at a time."""
    source = open_source(Path(path))
    try:
        yield DynamicTree(source)
    finally:
        source.close()


def validate_dynamic_layout(path: Path) -> None:
    """Cheaply check a Sensorium 2023 tree (meta, statistics, file listing, first video's shape); DataError names
    the missing or broken part."""
    with open_dynamic_mouse(path):
        pass


def load_dynamic_mouse(path: Path) -> DynamicMouseArrays:
    """Read a whole Sensorium 2023 mouse (folder or .zip) into memory, each trial cut to its true length.

    For small mice (simulated, fixtures); real mice are converted trial by trial by the dynamic cache.
    """
    with open_dynamic_mouse(path) as tree:
        trials = list(tree.trials())
        arrays = DynamicMouseArrays(
            videos=[trial.video for trial in trials],
            responses=[trial.responses for trial in trials],
            behavior=[trial.behavior for trial in trials],
            pupil_center=[trial.pupil_center for trial in trials],
            tiers=tree.tiers,
            trial_ids=tree.trial_ids,
            padded_length=tree.padded_length,
            cell_motor_coordinates=tree.cell_motor_coordinates,
            unit_ids=tree.unit_ids,
            statistics=tree.statistics,
        )
        check_dynamic_arrays(arrays, tree.source.describe(""))
    return arrays
