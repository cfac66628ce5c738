"""Sensorium 2022 (static) data: file format, loader, memory-mapped cache and the training view.

The same code reads the real Sensorium mice and the simulated ones, because the simulator writes its
mice with `write_mouse` in exactly the Sensorium file tree (METHODS §1). Reading one file per trial is
slow, so every mouse is converted once into a cache of whole `.npy` arrays (`build_cache`) that
training opens memory-mapped (`load_cache`).
"""

from __future__ import annotations

import json
import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from v1twin.files import staged_folder
from v1twin.npy import NpyError, read_npy
from v1twin.progress import progress_bar

DATA_KEYS = ("images", "responses", "behavior", "pupil_center")
STATISTIC_SUBSETS = ("all", "stimulus_frame")
STATISTIC_NAMES = ("mean", "std", "min", "max", "median")
TIERS = ("train", "validation", "test", "final_test")
NEURON_META = ("unit_ids", "cell_motor_coordinates", "area", "layer", "animal_ids", "sessions", "scan_idx")
REQUIRED_TRIAL_META = ("tiers", "frame_image_id", "trial_idx")
REQUIRED_NEURON_META = ("unit_ids", "cell_motor_coordinates")
TRIAL_FILE = re.compile(r"^(\d+)\.npy$")
MOUSE_KEY = re.compile(r"^static(\d+)-(\d+)-(\d+)-")
# The statistics normalization uses (prepare_mouse): (group, name) -> size, None for a scalar.
NORMALIZATION_STATISTICS = {
    ("images", "mean"): None,
    ("images", "std"): None,
    ("responses", "std"): "neurons",
    ("behavior", "std"): 3,
    ("pupil_center", "mean"): 2,
    ("pupil_center", "std"): 2,
}
CACHE_MANIFEST = "manifest.json"
CACHE_VERSION = 1

Statistics = dict[str, dict[str, dict[str, np.ndarray]]]


class DataError(ValueError):
    """Bad, missing or corrupt input data; the message names the file and the problem."""


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


# ----------------------------------------------------------------------------------------------
# Statistics


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
        values = np.asarray(getattr(arrays, group))[rows].astype(np.float64)
        axis = None if group == "images" else 0
        summary = {
            "mean": values.mean(axis=axis),
            "std": values.std(axis=axis),
            "min": values.min(axis=axis),
            "max": values.max(axis=axis),
            "median": np.median(values, axis=axis),
        }
        summary = {name: np.asarray(value, dtype=np.float32) for name, value in summary.items()}
        statistics[group] = {subset: {k: v.copy() for k, v in summary.items()} for subset in STATISTIC_SUBSETS}
    return statistics


# ----------------------------------------------------------------------------------------------
# Writing the Sensorium tree


def _neuron_meta(folder: Path, arrays: MouseArrays) -> dict[str, np.ndarray]:
    """The meta/neurons arrays; animal/session/scan come from a `static<animal>-<session>-<scan>-` name."""
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
    _check_arrays(arrays, str(folder))
    statistics = arrays.statistics if arrays.statistics is not None else compute_statistics(arrays)
    for key in DATA_KEYS:
        (folder / "data" / key).mkdir(parents=True, exist_ok=True)
    for i in progress_bar(range(len(arrays.tiers)), desc=f"write {folder.name}", unit="trial"):
        for key in DATA_KEYS:
            np.save(folder / "data" / key / f"{i}.npy", np.asarray(getattr(arrays, key)[i], dtype=np.float32))
    for kind, meta in (("neurons", _neuron_meta(folder, arrays)), ("trials", _trial_meta(arrays))):
        (folder / "meta" / kind).mkdir(parents=True, exist_ok=True)
        for name, values in meta.items():
            np.save(folder / "meta" / kind / f"{name}.npy", values)
    for group, subsets in statistics.items():
        for subset, stats in subsets.items():
            target = folder / "meta" / "statistics" / group / subset
            target.mkdir(parents=True, exist_ok=True)
            for name, value in stats.items():
                np.save(target / f"{name}.npy", np.asarray(value, dtype=np.float32))


# ----------------------------------------------------------------------------------------------
# Reading a folder or a zip through one interface


class _FolderSource:
    """Read-only access to a mouse folder by relative POSIX paths."""

    def __init__(self, root: Path):
        self.root = root

    def describe(self, relative: str) -> str:
        return str(self.root / relative)

    def is_dir(self, relative: str) -> bool:
        return (self.root / relative).is_dir()

    def exists(self, relative: str) -> bool:
        return (self.root / relative).is_file()

    def list_files(self, relative: str) -> list[str]:
        return [p.name for p in (self.root / relative).iterdir() if p.is_file()]

    def payload(self, relative: str) -> bytes | Path:
        """What np.load reads: the file path (no copy)."""
        return self.root / relative

    def close(self) -> None:
        pass


class _ZipSource:
    """Read-only access to the single mouse folder inside a Sensorium zip, members read in memory."""

    def __init__(self, archive: Path):
        self.archive_path = archive
        try:
            self.archive = zipfile.ZipFile(archive)
        except (zipfile.BadZipFile, OSError) as error:
            raise DataError(f"{archive}: not a readable zip file ({error})") from error
        check_zip_members(self.archive, archive)
        names = [n for n in self.archive.namelist() if not n.endswith("/")]
        self.prefix = self._find_mouse_prefix(names)
        self.files = {n[len(self.prefix):] for n in names if n.startswith(self.prefix)}

    def _find_mouse_prefix(self, names: list[str]) -> str:
        roots = {n.split("/", 1)[0] for n in names if n.count("/") >= 3 and n.split("/")[1] == "data"}
        if len(roots) != 1:
            raise DataError(
                f"{self.archive_path}: expected one top folder holding data/ and meta/, found {sorted(roots) or 'none'}"
            )
        return roots.pop() + "/"

    def describe(self, relative: str) -> str:
        return f"{self.archive_path}:{self.prefix}{relative}"

    def _children(self, relative: str) -> list[tuple[str, bool]]:
        head = relative.rstrip("/") + "/"
        children = set()
        for name in self.files:
            if name.startswith(head):
                rest = name[len(head):]
                children.add((rest.split("/", 1)[0], "/" in rest))
        return sorted(children)

    def is_dir(self, relative: str) -> bool:
        return bool(self._children(relative))

    def exists(self, relative: str) -> bool:
        return relative in self.files

    def list_files(self, relative: str) -> list[str]:
        return [name for name, is_dir in self._children(relative) if not is_dir]

    def payload(self, relative: str) -> bytes | Path:
        """What np.load reads: the member's bytes, straight from the archive."""
        return self.archive.read(self.prefix + relative)

    def close(self) -> None:
        self.archive.close()


def _unsafe_member_reason(member: zipfile.ZipInfo) -> str | None:
    """Why extracting this member could write outside its folder, or None."""
    name = member.filename.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    if ".." in name.split("/"):
        return "path leaves the archive's folder ('..')"
    if stat.S_ISLNK(member.external_attr >> 16):
        return "symbolic link"
    return None


def check_zip_members(archive: zipfile.ZipFile, path: Path) -> None:
    """Refuse a zip with a member that could escape its folder: a real Sensorium zip has none."""
    for member in archive.infolist():
        reason = _unsafe_member_reason(member)
        if reason:
            raise DataError(f"{path}: unsafe zip member {member.filename!r} ({reason}); refusing the archive")


def _open_source(path: Path) -> _FolderSource | _ZipSource:
    path = Path(path)
    if path.is_dir():
        return _FolderSource(path)
    if path.is_file() and path.suffix == ".zip":
        return _ZipSource(path)
    raise DataError(f"{path}: no such mouse folder or .zip file")


def _load_npy(source: _FolderSource | _ZipSource, relative: str) -> np.ndarray:
    """Load one .npy without running code from it (object arrays: strings and numbers only, see npy.py)."""
    if not source.exists(relative):
        raise DataError(f"{source.describe(relative)}: file is missing")
    try:
        return read_npy(source.payload(relative))
    except (NpyError, OSError) as error:
        raise DataError(f"{source.describe(relative)}: {error}") from error


def _trial_numbers(source: _FolderSource | _ZipSource, key: str) -> list[int]:
    """Numeric file indices of one data folder, sorted; other files are tolerated and ignored."""
    relative = f"data/{key}"
    if not source.is_dir(relative):
        raise DataError(f"{source.describe(relative)}: folder is missing")
    matches = (TRIAL_FILE.match(name) for name in source.list_files(relative))
    return sorted(int(m.group(1)) for m in matches if m)


def _check_layout(source: _FolderSource | _ZipSource) -> int:
    """Check names and counts of a Sensorium tree and its statistics (reads only meta files); return trial count."""
    for name in REQUIRED_TRIAL_META:
        if not source.exists(f"meta/trials/{name}.npy"):
            raise DataError(f"{source.describe(f'meta/trials/{name}.npy')}: file is missing")
    for name in REQUIRED_NEURON_META:
        if not source.exists(f"meta/neurons/{name}.npy"):
            raise DataError(f"{source.describe(f'meta/neurons/{name}.npy')}: file is missing")
    n_trials = len(_load_npy(source, "meta/trials/tiers.npy"))
    _check_statistics(source, len(_load_npy(source, "meta/neurons/unit_ids.npy")))
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


def _check_statistics(source: _FolderSource | _ZipSource, n_neurons: int) -> None:
    """Every statistic normalization uses must be present, of the right size and finite (a tree without
    meta/statistics gets them computed from its training trials instead)."""
    if not source.is_dir("meta/statistics"):
        return
    for (group, name), size in NORMALIZATION_STATISTICS.items():
        relative = f"meta/statistics/{group}/all/{name}.npy"
        values = _load_npy(source, relative)
        wanted = _statistic_size(size, n_neurons)
        if values.size != wanted:
            raise DataError(f"{source.describe(relative)}: {values.size} values, expected {wanted}")
        if values.dtype.kind not in "iuf" or not np.isfinite(values).all():
            raise DataError(f"{source.describe(relative)}: contains NaN, infinite or non-numeric values")


def _statistic_size(size: int | str | None, n_neurons: int) -> int:
    return n_neurons if size == "neurons" else 1 if size is None else size


def validate_layout(path: Path) -> None:
    """Cheaply check that a folder or zip holds a Sensorium mouse tree with usable statistics; DataError
    names the missing or broken part."""
    source = _open_source(path)
    try:
        _check_layout(source)
    finally:
        source.close()


def _read_trials(source: _FolderSource | _ZipSource, key: str, n_trials: int) -> np.ndarray:
    """Stack the per-trial files of one key into a float32 array, checking shapes and NaNs per file."""
    first = _load_npy(source, f"data/{key}/0.npy")
    stacked = np.empty((n_trials, *first.shape), dtype=np.float32)
    for i in progress_bar(range(n_trials), desc=f"read {key}", unit="trial", leave=False):
        relative = f"data/{key}/{i}.npy"
        values = first if i == 0 else _load_npy(source, relative)
        if values.shape != first.shape:
            raise DataError(f"{source.describe(relative)}: shape {values.shape}, expected {first.shape} like trial 0")
        stacked[i] = values
        if not np.isfinite(stacked[i]).all():
            raise DataError(f"{source.describe(relative)}: contains NaN or infinite values")
    return stacked


def _read_statistics(source: _FolderSource | _ZipSource) -> Statistics | None:
    """All statistics files present for our data groups; None when the tree ships no statistics."""
    if not source.is_dir("meta/statistics"):
        return None
    statistics: Statistics = {}
    for group in DATA_KEYS:
        for subset in STATISTIC_SUBSETS:
            for name in STATISTIC_NAMES:
                relative = f"meta/statistics/{group}/{subset}/{name}.npy"
                if source.exists(relative):
                    value = _load_npy(source, relative).astype(np.float32)
                    statistics.setdefault(group, {}).setdefault(subset, {})[name] = value
    return statistics


def _as_trial_idx(values: np.ndarray) -> np.ndarray:
    """int64 when stored as integers, str when hashed (competition mice)."""
    if values.dtype.kind in "iu":
        return values.astype(np.int64)
    if values.dtype.kind == "f" and np.all(values == np.round(values)):
        return values.astype(np.int64)
    return values.astype(str)


def _as_int64(source: _FolderSource | _ZipSource, relative: str, values: np.ndarray) -> np.ndarray:
    try:
        as_float = values.astype(np.float64)
    except (TypeError, ValueError) as error:
        raise DataError(f"{source.describe(relative)}: expected integers, got dtype {values.dtype}") from error
    if not np.all(as_float == np.round(as_float)):
        raise DataError(f"{source.describe(relative)}: expected integer values")
    return as_float.astype(np.int64)


def _read_mouse(source: _FolderSource | _ZipSource) -> MouseArrays:
    n_trials = _check_layout(source)
    tiers = _load_npy(source, "meta/trials/tiers.npy").astype(str)
    unknown = sorted(set(tiers) - set(TIERS))
    if unknown:
        raise DataError(f"{source.describe('meta/trials/tiers.npy')}: unknown tiers {unknown}, expected {TIERS}")
    image_ids = _load_npy(source, "meta/trials/frame_image_id.npy")
    trial_idx = _load_npy(source, "meta/trials/trial_idx.npy")
    unit_ids = _load_npy(source, "meta/neurons/unit_ids.npy")
    coordinates = _load_npy(source, "meta/neurons/cell_motor_coordinates.npy")
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
    _check_arrays(arrays, source.describe(""))
    return arrays


def load_mouse(path: Path) -> MouseArrays:
    """Read a Sensorium mouse folder or its .zip into raw float32 arrays, trials in file-index order."""
    source = _open_source(Path(path))
    try:
        return _read_mouse(source)
    finally:
        source.close()


def _check_arrays(arrays: MouseArrays, where: str) -> None:
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


# ----------------------------------------------------------------------------------------------
# Memory-mapped cache


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


CACHED_ARRAYS = ("images", "responses", "behavior", "pupil_center", "tiers", "image_ids", "trial_idx",
                 "cell_motor_coordinates", "unit_ids")


def build_cache(mouse_folder: Path, cache_dir: Path) -> None:
    """Convert a Sensorium tree once into whole .npy arrays plus a JSON manifest (no pickle).

    Everything is written into a temporary sibling that is renamed at the end, so a killed job never
    leaves a cache that looks complete.
    """
    mouse_folder, cache_dir = Path(mouse_folder), Path(cache_dir)
    try:
        arrays = load_mouse(mouse_folder)
    except DataError as error:
        # The rule that made the folder finished, so Snakemake takes it for complete: say how to redo it.
        raise DataError(
            f"{error}\n{mouse_folder} is damaged although it was downloaded (or simulated) completely: "
            f"delete it (rm -r {mouse_folder}) and rerun to fetch it again"
        ) from error
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
    manifest_path = cache_dir / CACHE_MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
    except FileNotFoundError as error:
        raise DataError(f"{manifest_path}: cache manifest is missing (cache not built or incomplete)") from error
    except (OSError, json.JSONDecodeError) as error:
        raise DataError(f"{manifest_path}: corrupt cache manifest ({error})") from error
    if manifest.get("version") != CACHE_VERSION:
        raise DataError(f"{manifest_path}: cache version {manifest.get('version')}, expected {CACHE_VERSION}")
    loaded = {name: _open_cached_array(cache_dir, name, manifest["arrays"].get(name)) for name in CACHED_ARRAYS}
    return MouseArrays(**loaded, statistics=_statistics_from_json(manifest["statistics"]))


def _open_cached_array(cache_dir: Path, name: str, expected: dict | None) -> np.ndarray:
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


# ----------------------------------------------------------------------------------------------
# Training view


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
    wanted = _statistic_size(size, n_neurons)
    if value.size != wanted:
        raise DataError(f"{name_of_mouse}: statistics {group}/all/{name} has {value.size} values, expected {wanted}")
    return value.reshape(()) if size is None else value.reshape(wanted)


def _safe_scale(std: np.ndarray) -> np.ndarray:
    """A divisor per dimension: constant dimensions (std 0, e.g. zeroed behaviour) stay unscaled."""
    return np.where(std > 0, std, 1.0)


def _response_scale(std: np.ndarray) -> np.ndarray:
    """Per-neuron std floored at 1% of the mean std, so silent neurons are not blown up."""
    return np.maximum(std, 0.01 * std.mean())


def _normalized_images(images: np.ndarray, mean: float, std: float, image_scale: float) -> torch.Tensor:
    """(x − mean)/std then antialiased bilinear rescaling, in chunks so a memory-mapped stack is read once."""
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


def prepare_mouse(name: str, arrays: MouseArrays, image_scale: float) -> MouseTensors:
    """The standard transform chain of METHODS §1, applied once to a whole mouse."""
    if image_scale <= 0:
        raise ValueError(f"image_scale must be positive, got {image_scale}")
    statistics = arrays.statistics if arrays.statistics is not None else compute_statistics(arrays)
    n_neurons = np.shape(arrays.responses)[1]
    def statistic(group: str, statistic_name: str) -> np.ndarray:
        return _statistic(statistics, group, statistic_name, n_neurons, name)

    image_mean = float(statistic("images", "mean"))
    image_std = float(_safe_scale(statistic("images", "std")))
    response_scale = _response_scale(statistic("responses", "std"))
    behavior_scale = _safe_scale(statistic("behavior", "std"))
    pupil_mean = statistic("pupil_center", "mean")
    pupil_scale = _safe_scale(statistic("pupil_center", "std"))

    def scaled(values: np.ndarray, offset: float | np.ndarray, scale: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(((np.asarray(values, dtype=np.float64) - offset) / scale).astype(np.float32))

    return MouseTensors(
        name=name,
        images=_normalized_images(arrays.images, image_mean, image_std, image_scale),
        behavior=scaled(arrays.behavior, 0.0, behavior_scale),
        pupil_center=scaled(arrays.pupil_center, pupil_mean, pupil_scale),
        responses=scaled(arrays.responses, 0.0, response_scale),
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
