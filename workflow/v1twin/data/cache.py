"""The memory-mapped cache: each mouse converted once into whole .npy arrays plus a JSON manifest.

Reading one file per trial is slow, so every mouse is converted once (`build_cache`) into a cache
that training opens memory-mapped (`load_cache`); no pickle anywhere.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from v1twin.data import DataError
from v1twin.data.mouse_arrays import MouseArrays, Statistics
from v1twin.data.sensorium_static import load_mouse
from v1twin.files import staged_folder
from v1twin.progress import progress_bar

CACHE_MANIFEST = "manifest.json"
CACHE_VERSION = 1
CACHED_ARRAYS = ("images", "responses", "behavior", "pupil_center", "tiers", "image_ids", "trial_idx",
                 "cell_motor_coordinates", "unit_ids")


def _statistics_to_json(statistics: Statistics | None) -> dict | None:
    if statistics is None:
        return None
    return {g: {s: {k: np.asarray(v).tolist() for k, v in stats.items()} for s, stats in subs.items()}
            for g, subs in statistics.items()}


def _statistics_from_json(content: dict | None) -> Statistics | None:
    if content is None:
        return None
    return {g: {s: {k: np.asarray(v, dtype=np.float32) for k, v in stats.items()} for s, stats in subs.items()}
            for g, subs in content.items()}


def damaged_mouse_error(error: DataError, mouse_folder: Path) -> DataError:
    """The rule that made the folder finished, so Snakemake takes it for complete: say how to redo it."""
    return DataError(
        f"{error}\n{mouse_folder} is damaged although it was downloaded (or simulated) completely: "
        f"delete it (rm -r {mouse_folder}) and rerun to fetch it again"
    )


def build_cache(mouse_folder: Path, cache_dir: Path) -> None:
    """Convert a Sensorium tree once into whole .npy arrays plus a JSON manifest (no pickle).

    Everything is written into a temporary sibling that is renamed at the end, so a killed job never
    leaves a cache that looks complete.
    """
    mouse_folder, cache_dir = Path(mouse_folder), Path(cache_dir)
    try:
        arrays = load_mouse(mouse_folder)
    except DataError as error:
        raise damaged_mouse_error(error, mouse_folder) from error
    with staged_folder(cache_dir) as staging:
        shapes = {}
        for name in progress_bar(CACHED_ARRAYS, desc=f"cache {mouse_folder.name}", unit="array"):
            values = np.asarray(getattr(arrays, name))
            np.save(staging / f"{name}.npy", values, allow_pickle=False)
            shapes[name] = {"shape": list(values.shape), "dtype": values.dtype.str}
        manifest = {
            "version": CACHE_VERSION,
            "source": mouse_folder.name,
            "arrays": shapes,
            "statistics": _statistics_to_json(arrays.statistics),
        }
        (staging / CACHE_MANIFEST).write_text(json.dumps(manifest))


def load_cache(cache_dir: Path) -> MouseArrays:
    """Open a cache built by `build_cache`, every array memory-mapped read-only."""
    cache_dir = Path(cache_dir)
    manifest = read_manifest(cache_dir, CACHE_VERSION)
    loaded = {name: open_cached_array(cache_dir, name, manifest["arrays"].get(name)) for name in CACHED_ARRAYS}
    return MouseArrays(**loaded, statistics=_statistics_from_json(manifest["statistics"]))


def read_manifest(cache_dir: Path, version: int) -> dict:
    """A cache's manifest, refused when missing, unreadable or of another cache version."""
    manifest_path = cache_dir / CACHE_MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
    except FileNotFoundError as error:
        raise DataError(f"{manifest_path}: cache manifest is missing (cache not built or incomplete)") from error
    except (OSError, json.JSONDecodeError) as error:
        raise DataError(f"{manifest_path}: corrupt cache manifest ({error})") from error
    if manifest.get("version") != version:
        raise DataError(f"{manifest_path}: cache version {manifest.get('version')}, expected {version}")
    return manifest


def open_cached_array(cache_dir: Path, name: str, expected: dict | None) -> np.ndarray:
    path = cache_dir / f"{name}.npy"
    if expected is None:
        raise DataError(f"{cache_dir / CACHE_MANIFEST}: manifest does not list {name}")
    try:
        values = np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError as error:
        raise DataError(f"{path}: cache file is missing") from error
    except (OSError, ValueError, EOFError) as error:
        raise DataError(f"{path}: corrupt cache file ({error})") from error
    if list(values.shape) != expected["shape"] or values.dtype.str != expected["dtype"]:
        raise DataError(
            f"{path}: corrupt cache file, shape {values.shape} dtype {values.dtype.str}, "
            f"manifest says {tuple(expected['shape'])} {expected['dtype']}"
        )
    return values

