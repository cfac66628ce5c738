"""Benchmark: reading training crops of a video mouse from its dynamic cache (frames/s, printed, not asserted).

Writes a synthetic Sensorium 2023 mouse (default 120 trials of 300 frames, 36x64, 8,000 neurons: ~2.6 GB of
responses) as a tree, caches it, then times `VideoTensors.crops` for batches of random crops as the video
trainer draws them, and whole-trial reads as evaluation does. The goal: the loader is never the bottleneck
of a GPU step (compare with benchmarks/dynamic_throughput.py's frames/s of the cores). The cache was just
written, so the page cache is warm: this measures the read and normalization path, not the disk.

    python benchmarks/video_loading.py [--trials N] [--frames T] [--neurons N] [--batch-size B] [--crop F]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from v1twin.data.dynamic_arrays import DynamicMouseArrays
from v1twin.data.dynamic_cache import build_dynamic_cache
from v1twin.data.sensorium_dynamic import write_dynamic_mouse
from v1twin.data.video_tensors import VideoTensors, load_video_mice
from v1twin.video_training import crop_starts


def synthetic_mouse(n_trials: int, frames: int, n_neurons: int, seed: int = 0) -> DynamicMouseArrays:
    rng = np.random.default_rng(seed)
    return DynamicMouseArrays(
        videos=[rng.integers(0, 256, (36, 64, frames)).astype(np.float32) for _ in range(n_trials)],
        responses=[rng.gamma(1.0, 1.0, (n_neurons, frames)).astype(np.float32) for _ in range(n_trials)],
        behavior=[rng.random((2, frames), dtype=np.float32) for _ in range(n_trials)],
        pupil_center=[rng.normal(size=(2, frames)).astype(np.float32) for _ in range(n_trials)],
        tiers=np.array(["train"] * (n_trials - 2) + ["oracle", "final_test_main"]),
        trial_ids=np.arange(n_trials, dtype=np.int64),
        padded_length=frames + 10,
        cell_motor_coordinates=rng.uniform(-500, 500, (n_neurons, 3)).astype(np.float32),
        unit_ids=np.arange(n_neurons, dtype=np.int64),
    )


def crop_rate(mouse: VideoTensors, batch_size: int, crop: int, batches: int) -> float:
    """Frames per second of `batches` training batches of random crops."""
    generator = torch.Generator().manual_seed(0)
    train = mouse.indices("train")
    start = time.perf_counter()
    for _ in range(batches):
        trials = train[torch.randperm(len(train), generator=generator)[:batch_size].numpy()]
        mouse.crops(trials, crop_starts(mouse.lengths[trials], crop, generator), crop)
    return batches * batch_size * crop / (time.perf_counter() - start)


def trial_rate(mouse: VideoTensors, trials: int) -> float:
    """Frames per second of whole-trial reads (evaluation)."""
    start = time.perf_counter()
    for trial in range(trials):
        mouse.trial(trial)
    return int(mouse.lengths[:trials].sum()) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=120)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--neurons", type=int, default=8000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--crop", type=int, default=50)
    parser.add_argument("--batches", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tree, cache = Path(folder) / "mouse", Path(folder) / "cache"
        write_dynamic_mouse(tree, synthetic_mouse(args.trials, args.frames, args.neurons))
        build_dynamic_cache(tree, cache)
        mouse = load_video_mice({"mouse": cache})["mouse"]
        crops = crop_rate(mouse, args.batch_size, args.crop, args.batches)
        whole = trial_rate(mouse, min(args.trials, 20))
    print(f"{args.trials} trials x {args.frames} frames, {args.neurons} neurons, batch {args.batch_size} x "
          f"{args.crop}-frame crops")
    print(f"training crops      {crops:12,.0f} frames/s")
    print(f"whole trials (eval) {whole:12,.0f} frames/s")


if __name__ == "__main__":
    main()
