"""The training view of a video mouse: its dynamic cache read lazily, normalized batch by batch (METHODS §1, §10).

A real Sensorium 2023 mouse is ~15 GB of frames (~150 GB for ten), too much to hold in memory as the
static view does; `VideoTensors` keeps the memory-mapped cache and reads only the frames of the trials
(or crops of them) a batch needs, normalizing them with the same rules as the static view: videos by
their mean and std, behaviour divided by its std, pupil centre z-scored, responses divided by their
per-neuron std with the static path's floor (`tensors._response_scale`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from v1twin.data import DataError
from v1twin.data.dynamic_arrays import DYNAMIC_TIERS
from v1twin.data.dynamic_cache import DynamicCache, load_dynamic_cache
from v1twin.data.tensors import Normalization, _response_scale, _safe_scale
from v1twin.models.dynamic_cores import with_behavior_channels
from v1twin.progress import progress_bar

VIDEO_CHANNELS = 1 + 2 + 2  # grey video, behaviour (pupil dilation, running), pupil centre (x, y)


@dataclass
class VideoBatch:
    """Model inputs and targets of some trials cut to the same frames."""

    inputs: torch.Tensor  # (B, VIDEO_CHANNELS, T, H, W)
    pupil_center: torch.Tensor  # (B, T, 2), normalized: the shifter's input per frame
    responses: torch.Tensor | None  # (B, T, N), normalized; None where only inputs were asked for


def _statistic(cache: DynamicCache, key: str, name: str, rows: int | None, mouse: str) -> np.ndarray:
    """One stored statistic per row (a scalar for videos). The real trees repeat each value along a trailing
    frame axis (and videos per pixel); those axes are averaged away."""
    try:
        values = np.asarray(cache.statistics[key]["all"][name], dtype=np.float64)
    except KeyError as error:
        raise DataError(f"{mouse}: the dynamic cache's statistics lack {key}/all/{name}") from error
    if rows is None:
        return np.asarray(values.mean())
    if values.shape[:1] != (rows,):
        raise DataError(f"{mouse}: statistics {key}/all/{name} has shape {values.shape}, expected {rows} rows")
    return values.reshape(rows, -1).mean(axis=1)


def video_normalization(cache: DynamicCache, mouse: str) -> Normalization:
    """The offsets and scales of one video mouse from its cache's statistics, by the static view's rules."""
    n_neurons = len(cache.unit_ids)

    def statistic(key: str, name: str, rows: int | None) -> np.ndarray:
        return _statistic(cache, key, name, rows, mouse)

    return Normalization(
        image_mean=float(statistic("videos", "mean", None)),
        image_std=float(_safe_scale(statistic("videos", "std", None))),
        response_scale=_response_scale(statistic("responses", "std", n_neurons)),
        behavior_scale=_safe_scale(statistic("behavior", "std", 2)),
        pupil_mean=statistic("pupil_center", "mean", 2),
        pupil_scale=_safe_scale(statistic("pupil_center", "std", 2)),
    )


class VideoTensors:
    """One video mouse for training and evaluation; frames are read from the cache only when a batch asks."""

    def __init__(self, name: str, cache: DynamicCache):
        self.name = name
        self.cache = cache
        self.units = video_normalization(cache, name)
        self.tiers = np.asarray(cache.tiers).astype(str)
        self.cell_motor_coordinates = np.asarray(cache.cell_motor_coordinates, dtype=np.float32)
        self.unit_ids = np.asarray(cache.unit_ids, dtype=np.int64)
        self.lengths = np.asarray(cache.lengths, dtype=np.int64)
        self.trial_ids = np.asarray(cache.trial_ids, dtype=np.int64)

    def indices(self, tier: str) -> np.ndarray:
        """Trial indices of one tier, in trial order."""
        if tier not in DYNAMIC_TIERS:
            raise ValueError(f"unknown tier {tier!r}, expected one of {DYNAMIC_TIERS}")
        return np.flatnonzero(self.tiers == tier)

    @property
    def n_neurons(self) -> int:
        return len(self.unit_ids)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (VIDEO_CHANNELS, *self.cache.videos.shape[1:])

    def _frames(self, key: str, trial: int, start: int, frames: int) -> np.ndarray:
        first = int(self.cache.offsets[trial]) + start
        return getattr(self.cache, key)[first:first + frames]

    def crops(self, trials: np.ndarray, starts: np.ndarray, frames: int, with_responses: bool = True) -> VideoBatch:
        """Frames start…start+frames−1 of each trial, normalized; each crop must lie within its trial.
        Prediction asks for the inputs only (`with_responses` False): responses are the largest arrays read."""
        trials, starts = np.asarray(trials, dtype=np.int64), np.asarray(starts, dtype=np.int64)
        if np.any(starts < 0) or np.any(starts + frames > self.lengths[trials]):
            raise ValueError(f"{self.name}: a crop of {frames} frames at {starts.tolist()} leaves trials "
                             f"{self.trial_ids[trials].tolist()} (lengths {self.lengths[trials].tolist()})")
        units = self.units

        def stacked(key: str, offset, scale) -> torch.Tensor:
            values = np.stack([self._frames(key, t, s, frames) for t, s in zip(trials, starts)]).astype(np.float32)
            values -= np.float32(offset) if np.ndim(offset) == 0 else np.asarray(offset, dtype=np.float32)
            values /= np.asarray(scale, dtype=np.float32)  # in float32: float64 halves the read rate
            return torch.from_numpy(values)

        videos = stacked("videos", units.image_mean, units.image_std)[:, None]
        behavior = stacked("behavior", 0.0, units.behavior_scale)
        pupil_center = stacked("pupil_center", units.pupil_mean, units.pupil_scale)
        return VideoBatch(inputs=with_behavior_channels(videos, behavior, pupil_center), pupil_center=pupil_center,
                          responses=stacked("responses", 0.0, units.response_scale) if with_responses else None)

    def trial(self, trial: int) -> VideoBatch:
        """One whole trial (true length) as a batch of one."""
        return self.crops(np.array([trial]), np.array([0]), int(self.lengths[trial]))

    def responses(self, trial: int) -> np.ndarray:
        """Normalized responses (frames, neurons) of one trial at its true length."""
        frames = self._frames("responses", trial, 0, int(self.lengths[trial]))
        return (np.asarray(frames, dtype=np.float64) / self.units.response_scale).astype(np.float32)

    def _train_frames(self, key: str) -> np.ndarray:
        rows = np.concatenate([np.arange(self.cache.offsets[t], self.cache.offsets[t + 1])
                               for t in self.indices("train")])
        return np.asarray(getattr(self.cache, key)[rows], dtype=np.float64)

    @cached_property
    def mean_response(self) -> np.ndarray:
        """Mean normalized response over the training frames (the readout bias starts there); read once, as
        a run needs it when it builds its model and again when it saves it."""
        means = np.zeros(self.n_neurons)
        train = self.indices("train")
        # trial by trial: the training responses of a real mouse are gigabytes
        for trial in progress_bar(train, desc=f"mean response {self.name}", unit="trial", leave=False):
            means += self._frames("responses", trial, 0, int(self.lengths[trial])).sum(axis=0, dtype=np.float64)
        return (means / self.lengths[train].sum() / self.units.response_scale).astype(np.float32)

    def behavior_median(self) -> np.ndarray:
        """Median normalized behaviour (pupil dilation, running) over the training frames."""
        return np.median(self._train_frames("behavior") / self.units.behavior_scale, axis=0)

    @cached_property
    def clip_ids(self) -> np.ndarray:
        """An id per trial shared by the trials that showed the same clip: the first 15 hex digits of the SHA-1
        of its uint8 video. The 2023 trees have no clip id; repeats are identified by identical content."""
        return np.array([int(hashlib.sha1(np.ascontiguousarray(self._frames("videos", t, 0, int(length))))
                             .hexdigest()[:15], 16) for t, length in enumerate(self.lengths)], dtype=np.int64)

    def check_crop(self, crop_frames: int) -> None:
        """Every training trial must hold a whole crop; say which trial is too short before training starts."""
        train = self.indices("train")
        shortest = train[np.argmin(self.lengths[train])]
        if self.lengths[shortest] < crop_frames:
            raise DataError(f"mouse {self.name}: training trial {self.trial_ids[shortest]} has only "
                            f"{self.lengths[shortest]} frames, fewer than crop_frames = {crop_frames}")


def load_video_mice(caches: dict[str, str | Path]) -> dict[str, VideoTensors]:
    """The video view of every mouse (name -> dynamic cache folder), checked to share one frame size."""
    data = {name: VideoTensors(name, load_dynamic_cache(Path(cache))) for name, cache in caches.items()}
    shapes = {name: mouse.input_shape for name, mouse in data.items()}
    if len(set(shapes.values())) > 1:
        raise DataError(f"video mice differ in input shape {shapes}; one core needs one frame size")
    return data
