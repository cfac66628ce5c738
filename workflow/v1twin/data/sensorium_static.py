"""The static Sensorium 2022 file tree: writing a mouse, checking a tree's layout, reading it back.

One .npy per trial and key under data/, per-neuron and per-trial arrays under meta/, statistics
under meta/statistics. The simulator writes its mice with `write_mouse` in exactly this tree
(METHODS §1), so the same loader reads real and simulated mice.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from v1twin.data import DataError
from v1twin.data.dynamic_arrays import DynamicMouseArrays
from v1twin.data.mouse_arrays import (
    DATA_KEYS,
    NORMALIZATION_STATISTICS,
    STATISTIC_NAMES,
    STATISTIC_SUBSETS,
    TIERS,
    MouseArrays,
    Statistics,
    check_arrays,
    compute_statistics,
    statistic_size,
)
from v1twin.data.mouse_source import MouseSource, load_npy, open_source, require_layout
from v1twin.progress import progress_bar

REQUIRED_TRIAL_META = ("tiers", "frame_image_id", "trial_idx")
REQUIRED_NEURON_META = ("unit_ids", "cell_motor_coordinates")
TRIAL_FILE = re.compile(r"^(\d+)\.npy$")
MOUSE_KEY = re.compile(r"^(?:static|dynamic)(\d+)-(\d+)-(\d+)-")


# ----------------------------------------------------------------------------------------------
# Writing the Sensorium tree


def neuron_meta(folder: Path, arrays: MouseArrays | DynamicMouseArrays) -> dict[str, np.ndarray]:
    """The meta/neurons arrays (both trees); animal/session/scan come from a `static|dynamic<animal>-<session>-<scan>-`
    folder name."""
    n_neurons = len(arrays.unit_ids)
    match = MOUSE_KEY.match(folder.name)
    animal, session, scan = (int(g) for g in match.groups()) if match else (0, 0, 0)
    return {
        "unit_ids": np.asarray(arrays.unit_ids, dtype=np.int64),
        "cell_motor_coordinates": np.asarray(arrays.cell_motor_coordinates, dtype=np.float32),
        "area": np.full(n_neurons, "V1"),
        "layer": np.full(n_neurons, "L2/3"),
        "animal_ids": np.full(n_neurons, animal, dtype=np.int64),
        "sessions": np.full(n_neurons, session, dtype=np.int64),
        "scan_idx": np.full(n_neurons, scan, dtype=np.int64),
    }


def _trial_meta(arrays: MouseArrays) -> dict[str, np.ndarray]:
    """The meta/trials arrays, indexed by file number.

    MouseArrays has no presentation times, so `frame_trial_ts` holds the file index in seconds: it
    keeps the array present for readers that expect it without inventing a clock.
    """
    n_trials = len(arrays.tiers)
    trial_idx = np.asarray(arrays.trial_idx)
    trial_idx = trial_idx.astype(str) if trial_idx.dtype.kind in "OUS" else trial_idx.astype(np.int64)
    return {
        "tiers": np.asarray(arrays.tiers).astype(str),
        "frame_image_id": np.asarray(arrays.image_ids, dtype=np.int64),
        "trial_idx": trial_idx,
        "frame_trial_ts": np.arange(n_trials, dtype=np.float64),
    }


def write_mouse(folder: Path, arrays: MouseArrays) -> None:
    """Write one mouse as the exact static Sensorium 2022 file tree (one .npy per trial and key)."""
    folder = Path(folder)
    check_arrays(arrays, str(folder))
    statistics = arrays.statistics if arrays.statistics is not None else compute_statistics(arrays)
    for key in DATA_KEYS:
        (folder / "data" / key).mkdir(parents=True, exist_ok=True)
    for i in progress_bar(range(len(arrays.tiers)), desc=f"write {folder.name}", unit="trial"):
        for key in DATA_KEYS:
            np.save(folder / "data" / key / f"{i}.npy", np.asarray(getattr(arrays, key)[i], dtype=np.float32))
    for kind, meta in (("neurons", neuron_meta(folder, arrays)), ("trials", _trial_meta(arrays))):
        (folder / "meta" / kind).mkdir(parents=True, exist_ok=True)
        for name, values in meta.items():
            np.save(folder / "meta" / kind / f"{name}.npy", values)
    write_statistics(folder, statistics)


def write_statistics(folder: Path, statistics: Statistics) -> None:
    """`meta/statistics/<key>/<subset>/<name>.npy`, float32, as both Sensorium layouts store them."""
    for key, subsets in statistics.items():
        for subset, stats in subsets.items():
            target = folder / "meta" / "statistics" / key / subset
            target.mkdir(parents=True, exist_ok=True)
            for name, value in stats.items():
                np.save(target / f"{name}.npy", np.asarray(value, dtype=np.float32))


# ----------------------------------------------------------------------------------------------
# Reading and checking the tree


def _trial_numbers(source: MouseSource, key: str) -> list[int]:
    """Numeric file indices of one data folder, sorted; other files are tolerated and ignored."""
    relative = f"data/{key}"
    if not source.is_dir(relative):
        raise DataError(f"{source.describe(relative)}: folder is missing")
    matches = (TRIAL_FILE.match(name) for name in source.list_files(relative))
    return sorted(int(m.group(1)) for m in matches if m)


def _check_layout(source: MouseSource) -> int:
    """Check names and counts of a Sensorium tree and its statistics (reads only meta files); return trial count."""
    require_layout(source, "static")
    for name in REQUIRED_TRIAL_META:
        if not source.exists(f"meta/trials/{name}.npy"):
            raise DataError(f"{source.describe(f'meta/trials/{name}.npy')}: file is missing")
    for name in REQUIRED_NEURON_META:
        if not source.exists(f"meta/neurons/{name}.npy"):
            raise DataError(f"{source.describe(f'meta/neurons/{name}.npy')}: file is missing")
    n_trials = len(load_npy(source, "meta/trials/tiers.npy"))
    _check_statistics(source, len(load_npy(source, "meta/neurons/unit_ids.npy")))
    for key in DATA_KEYS:
        numbers = _trial_numbers(source, key)
        if numbers != list(range(n_trials)):
            missing = sorted(set(range(n_trials)) - set(numbers))[:5]
            raise DataError(
                f"{source.describe(f'data/{key}')}: trial count mismatch, {len(numbers)} trial files but "
                f"meta/trials/tiers.npy lists {n_trials} trials (files must be 0..{n_trials - 1}; "
                f"first missing: {missing})"
            )
    return n_trials


def _check_statistics(source: MouseSource, n_neurons: int) -> None:
    """Every statistic normalization uses must be present, of the right size and finite (a tree without
    meta/statistics gets them computed from its training trials instead)."""
    if not source.is_dir("meta/statistics"):
        return
    for (group, name), size in NORMALIZATION_STATISTICS.items():
        relative = f"meta/statistics/{group}/all/{name}.npy"
        values = load_npy(source, relative)
        wanted = statistic_size(size, n_neurons)
        if values.size != wanted:
            raise DataError(f"{source.describe(relative)}: {values.size} values, expected {wanted}")
        if values.dtype.kind not in "iuf" or not np.isfinite(values).all():
            raise DataError(f"{source.describe(relative)}: contains NaN, infinite or non-numeric values")


def validate_layout(path: Path) -> None:
    """Cheaply check that a folder or zip holds a Sensorium mouse tree with usable statistics; DataError
    names the missing or broken part."""
    source = open_source(path)
    try:
        _check_layout(source)
    finally:
        source.close()


def _read_trials(source: MouseSource, key: str, n_trials: int) -> np.ndarray:
    """Stack the per-trial files of one key into a float32 array, checking shapes and NaNs per file."""
    first = load_npy(source, f"data/{key}/0.npy")
    stacked = np.empty((n_trials, *first.shape), dtype=np.float32)
    for i in progress_bar(range(n_trials), desc=f"read {key}", unit="trial", leave=False):
        relative = f"data/{key}/{i}.npy"
        values = first if i == 0 else load_npy(source, relative)
        if values.shape != first.shape:
            raise DataError(f"{source.describe(relative)}: shape {values.shape}, expected {first.shape} like trial 0")
        stacked[i] = values
        if not np.isfinite(stacked[i]).all():
            raise DataError(f"{source.describe(relative)}: contains NaN or infinite values")
    return stacked


def _read_statistics(source: MouseSource) -> Statistics | None:
    """All statistics files present for our data groups; None when the tree ships no statistics."""
    if not source.is_dir("meta/statistics"):
        return None
    statistics: Statistics = {}
    for group in DATA_KEYS:
        for subset in STATISTIC_SUBSETS:
            for name in STATISTIC_NAMES:
                relative = f"meta/statistics/{group}/{subset}/{name}.npy"
                if source.exists(relative):
                    value = load_npy(source, relative).astype(np.float32)
                    statistics.setdefault(group, {}).setdefault(subset, {})[name] = value
    return statistics


def _as_trial_idx(values: np.ndarray) -> np.ndarray:
    """int64 when stored as integers, str when hashed (competition mice)."""
    if values.dtype.kind in "iu":
        return values.astype(np.int64)
    if values.dtype.kind == "f" and np.all(values == np.round(values)):
        return values.astype(np.int64)
    return values.astype(str)


def _as_int64(source: MouseSource, relative: str, values: np.ndarray) -> np.ndarray:
    try:
        as_float = values.astype(np.float64)
    except (TypeError, ValueError) as error:
        raise DataError(f"{source.describe(relative)}: expected integers, got dtype {values.dtype}") from error
    if not np.all(as_float == np.round(as_float)):
        raise DataError(f"{source.describe(relative)}: expected integer values")
    return as_float.astype(np.int64)


def _read_mouse(source: MouseSource) -> MouseArrays:
    n_trials = _check_layout(source)
    tiers = load_npy(source, "meta/trials/tiers.npy").astype(str)
    unknown = sorted(set(tiers) - set(TIERS))
    if unknown:
        raise DataError(f"{source.describe('meta/trials/tiers.npy')}: unknown tiers {unknown}, expected {TIERS}")
    image_ids = load_npy(source, "meta/trials/frame_image_id.npy")
    trial_idx = load_npy(source, "meta/trials/trial_idx.npy")
    unit_ids = load_npy(source, "meta/neurons/unit_ids.npy")
    coordinates = load_npy(source, "meta/neurons/cell_motor_coordinates.npy")
    arrays = MouseArrays(
        images=_read_trials(source, "images", n_trials),
        responses=_read_trials(source, "responses", n_trials),
        behavior=_read_trials(source, "behavior", n_trials),
        pupil_center=_read_trials(source, "pupil_center", n_trials),
        tiers=tiers,
        image_ids=_as_int64(source, "meta/trials/frame_image_id.npy", image_ids),
        trial_idx=_as_trial_idx(trial_idx),
        cell_motor_coordinates=coordinates.astype(np.float32),
        unit_ids=_as_int64(source, "meta/neurons/unit_ids.npy", unit_ids),
        statistics=_read_statistics(source),
    )
    check_arrays(arrays, source.describe(""))
    return arrays


def load_mouse(path: Path) -> MouseArrays:
    """Read a Sensorium mouse folder or its .zip into raw float32 arrays, trials in file-index order."""
    source = open_source(Path(path))
    try:
        return _read_mouse(source)
    finally:
        source.close()

