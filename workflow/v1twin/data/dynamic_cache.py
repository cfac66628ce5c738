"""The dynamic (video) cache: a Sensorium 2023 mouse converted once into frame-concatenated arrays.

A real mouse is ~15 GB of per-trial files, far too slow to read every epoch and too large to hold in
memory. Every trial's frames are appended to one array per key (videos as uint8 grey levels, the rest
float32), each trial found by its offset and length; the conversion streams one trial at a time into a
staged folder, and the result opens memory-mapped. No pickle anywhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.format import open_memmap

from v1twin.data import DataError
from v1twin.data.cache import (
    CACHE_MANIFEST,
    damaged_mouse_error,
    open_cached_array,
    read_manifest,
)
from v1twin.data.dynamic_arrays import BEHAVIOR_ROWS, PUPIL_ROWS
from v1twin.data.mouse_arrays import Statistics
from v1twin.data.sensorium_dynamic import DynamicTree, open_dynamic_mouse
from v1twin.files import staged_folder
from v1twin.progress import progress_bar

DYNAMIC_CACHE_VERSION = 1
# One row per frame of every trial, in trial order.
FRAME_ARRAY_DTYPES = {"videos": np.uint8, "responses": np.float32, "behavior": np.float32, "pupil_center": np.float32}
TRIAL_ARRAYS = ("tiers", "trial_ids", "offsets", "unit_ids", "cell_motor_coordinates")
# Statistics as stored in the tree (per-frame arrays in the real mice: too large for the JSON manifest).
STATISTICS_FOLDER = "statistics"


@dataclass
class DynamicCache:
    """A cached video mouse, memory-mapped read-only: frames of all trials concatenated, trial i at
    frames offsets[i]:offsets[i + 1]."""

    videos: np.ndarray  # (frames, height, width) uint8 grey levels
    responses: np.ndarray  # (frames, neurons) float32
    behavior: np.ndarray  # (frames, 2)
    pupil_center: np.ndarray  # (frames, 2)
    tiers: np.ndarray  # (trials,) str
    trial_ids: np.ndarray  # (trials,) int64 file numbers
    offsets: np.ndarray  # (trials + 1,) int64
    unit_ids: np.ndarray
    cell_motor_coordinates: np.ndarray
    padded_length: int
    statistics: Statistics

    @property
    def lengths(self) -> np.ndarray:
        """True length of each trial in frames."""
        return np.diff(self.offsets)

    def trial(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(video, responses, behavior, pupil_center) of trial i at its true length, frame axis last as in
        DynamicMouseArrays; views of the memory map (the video stays uint8)."""
        frames = slice(self.offsets[i], self.offsets[i + 1])
        return (np.moveaxis(self.videos[frames], 0, -1), self.responses[frames].T, self.behavior[frames].T,
                self.pupil_center[frames].T)


def grey_levels(video: np.ndarray, where: str) -> np.ndarray:
    """The video as uint8, each value rounded to the nearest grey level; values outside 0-255 are refused
    (whether the real videos are whole numbers is not documented, so rounding is allowed and its largest
    error recorded in the manifest)."""
    low, high = float(video.min()), float(video.max())
    if low < -0.5 or high >= 255.5:
        raise DataError(f"{where}: grey values from {low} to {high}, outside 0-255: cannot store the video as uint8")
    return np.rint(video).astype(np.uint8)


def _frame_shapes(tree: DynamicTree) -> dict[str, tuple[int, ...]]:
    height, width, _ = tree.shapes["videos"]
    return {"videos": (height, width), "responses": (len(tree.unit_ids),), "behavior": (BEHAVIOR_ROWS,),
            "pupil_center": (PUPIL_ROWS,)}


def _write_cache(tree: DynamicTree, staging: Path, name: str) -> None:
    """Measure every trial (videos only), then stream the trials into the preallocated frame arrays."""
    lengths = [tree.video_length(t) for t in progress_bar(tree.trial_ids, desc=f"measure {name}", unit="trial")]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    frames = {key: open_memmap(staging / f"{key}.npy", mode="w+", dtype=dtype, shape=(int(offsets[-1]), *shape))
              for (key, dtype), shape in zip(FRAME_ARRAY_DTYPES.items(), _frame_shapes(tree).values())}
    rounding_error = 0.0
    for index in progress_bar(range(len(tree.trial_ids)), desc=f"cache {name}", unit="trial"):
        trial = tree.read_trial(index)
        rows = slice(offsets[index], offsets[index + 1])
        grey = grey_levels(trial.video, tree.describe("videos", trial.trial_id))
        rounding_error = max(rounding_error, float(np.abs(trial.video - grey).max()))
        frames["videos"][rows] = np.moveaxis(grey, -1, 0)
        for key in ("responses", "behavior", "pupil_center"):
            frames[key][rows] = getattr(trial, key).T
    for values in frames.values():
        values.flush()
    per_trial = {"tiers": tree.tiers, "trial_ids": tree.trial_ids, "offsets": offsets, "unit_ids": tree.unit_ids,
                 "cell_motor_coordinates": tree.cell_motor_coordinates}
    statistics = {f"{STATISTICS_FOLDER}/{key}/{subset}/{stat}": value for key, subsets in tree.statistics.items()
                  for subset, values in subsets.items() for stat, value in values.items()}
    for key, values in {**per_trial, **statistics}.items():
        (staging / key).parent.mkdir(parents=True, exist_ok=True)
        np.save(staging / f"{key}.npy", values, allow_pickle=False)
    arrays = {**frames, **per_trial, **statistics}
    manifest = {
        "version": DYNAMIC_CACHE_VERSION,
        "source": name,
        "padded_length": tree.padded_length,
        "video_rounding_error": rounding_error,
        "arrays": {key: {"shape": list(v.shape), "dtype": v.dtype.str} for key, v in arrays.items()},
        "statistics": sorted(statistics),
    }
    (staging / CACHE_MANIFEST).write_text(json.dumps(manifest))


def build_dynamic_cache(mouse_folder: Path, cache_dir: Path) -> None:
    """Convert a Sensorium 2023 tree (folder or zip) once into frame-concatenated .npy arrays plus a JSON manifest,
    one trial in memory at a time; written into a staged folder, so a killed job leaves no complete-looking cache."""
    mouse_folder, cache_dir = Path(mouse_folder), Path(cache_dir)
    try:
        with open_dynamic_mouse(mouse_folder) as tree, staged_folder(cache_dir) as staging:
            _write_cache(tree, staging, mouse_folder.name)
    except DataError as error:
        raise damaged_mouse_error(error, mouse_folder) from error


def load_dynamic_cache(cache_dir: Path) -> DynamicCache:
    """Open a cache built by `build_dynamic_cache`, every array memory-mapped read-only."""
    cache_dir = Path(cache_dir)
    manifest = read_manifest(cache_dir, DYNAMIC_CACHE_VERSION)
    opened = {name: open_cached_array(cache_dir, name, manifest["arrays"].get(name))
              for name in (*FRAME_ARRAY_DTYPES, *TRIAL_ARRAYS, *manifest["statistics"])}
    statistics: Statistics = {}
    for name in manifest["statistics"]:
        _, key, subset, stat = name.split("/")
        statistics.setdefault(key, {}).setdefault(subset, {})[stat] = opened.pop(name)
    return DynamicCache(**opened, padded_length=manifest["padded_length"], statistics=statistics)


def is_dynamic_cache(cache_dir: Path) -> bool:
    """Whether a cache folder holds a video mouse (this module's cache) rather than a static one."""
    return (Path(cache_dir) / "videos.npy").is_file()
