"""Benchmark: reading a mouse from the Sensorium file tree vs from the memory-mapped cache.

Writes a synthetic mouse (default 5,000 trials x 8,000 neurons, 144x256 images) to a temporary
directory, then times `load_mouse` on the tree, `load_cache`, and `load_cache` followed by reading
every array into memory. Both readers run after the files were just written, so both see a warm
page cache: the ratio measures per-file overhead, not disk speed.

    python benchmarks/cache_loading.py [--trials N] [--neurons N] [--height H] [--width W]
"""

import argparse
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np

from v1twin.data.cache import build_cache, load_cache
from v1twin.data.mouse_arrays import MouseArrays
from v1twin.data.sensorium_static import load_mouse, write_mouse


def synthetic_mouse(n_trials: int, n_neurons: int, height: int, width: int, seed: int = 0) -> MouseArrays:
    rng = np.random.default_rng(seed)
    tiers = rng.choice(["train", "validation", "test"], size=n_trials, p=[0.8, 0.1, 0.1])
    return MouseArrays(
        images=rng.integers(0, 256, (n_trials, 1, height, width), dtype=np.uint8).astype(np.float32),
        responses=rng.gamma(1.0, 1.0, (n_trials, n_neurons)).astype(np.float32),
        behavior=rng.normal(size=(n_trials, 3)).astype(np.float32),
        pupil_center=rng.normal(size=(n_trials, 2)).astype(np.float32),
        tiers=tiers,
        image_ids=np.arange(n_trials, dtype=np.int64),
        trial_idx=rng.permutation(n_trials).astype(np.int64),
        cell_motor_coordinates=rng.uniform(-500, 500, (n_neurons, 3)).astype(np.float32),
        unit_ids=np.arange(n_neurons, dtype=np.int64),
        statistics=None,
    )


def timed(label: str, action):
    start = time.perf_counter()
    result = action()
    seconds = time.perf_counter() - start
    print(f"{label:<38s} {seconds:9.3f} s", flush=True)
    return result, seconds


def read_into_memory(cache_dir: Path) -> MouseArrays:
    arrays = load_cache(cache_dir)
    for name in ("images", "responses", "behavior", "pupil_center", "tiers", "image_ids", "trial_idx"):
        setattr(arrays, name, np.array(getattr(arrays, name)))
    return arrays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5000)
    parser.add_argument("--neurons", type=int, default=8000)
    parser.add_argument("--height", type=int, default=144)
    parser.add_argument("--width", type=int, default=256)
    args = parser.parse_args()
    print(f"mouse: {args.trials} trials x {args.neurons} neurons, images {args.height}x{args.width}")
    with tempfile.TemporaryDirectory(prefix="v1twin-bench-") as workdir:
        folder = Path(workdir) / "static00000-0-0-GrayImageNet-bench"
        cache_dir = Path(workdir) / "cache"
        arrays = synthetic_mouse(args.trials, args.neurons, args.height, args.width)
        # partial binds `arrays` now (a lambda would look it up at call time), so it can be freed at once
        timed("write_mouse (file tree)", partial(write_mouse, folder, arrays))
        del arrays
        timed("build_cache (one-off)", lambda: build_cache(folder, cache_dir))
        _, tree_s = timed("load_mouse (file tree)", lambda: load_mouse(folder))
        _, mmap_s = timed("load_cache (memory-mapped)", lambda: load_cache(cache_dir))
        _, full_s = timed("load_cache + read all into memory", lambda: read_into_memory(cache_dir))
    print(f"speed-up, memory-mapped:     {tree_s / mmap_s:10.0f}x")
    print(f"speed-up, read into memory:  {tree_s / full_s:10.1f}x")


if __name__ == "__main__":
    main()
