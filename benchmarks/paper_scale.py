"""What the benchmarks share: a randomly initialized model at the papers' scale, and timing helpers.

The model is R24's: rotation-equivariant core (16 features × 8 rotations, 4 layers) on 36×64 inputs
with behaviour channels, and one Gaussian readout with shifter per Sensorium 2022 mouse (54,569
neurons in all). Its weights are random: the benchmarks measure cost, which does not depend on them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from v1twin import training
from v1twin.models import MouseInfo, V1Model, build_model

SENSORIUM_NEURONS = (7776, 7538, 8372, 7344, 7334, 8107, 8098)  # 54,569 (METHODS §1)
INPUT_SHAPE = (4, 36, 64)  # image + 3 behaviour channels, 0.25x downsampled 144x256 frames
PAPER_CORE = {"type": "rotation_equivariant", "channels": 16, "rotations": 8, "layers": 4}


def paper_model(device: torch.device, readout: dict | None = None) -> V1Model:
    """The paper-size model with one readout per Sensorium mouse, readout features spread as after training
    (a fresh readout starts with all neurons equal, which would make clustering and argmax degenerate)."""
    rng = np.random.default_rng(0)
    mice = {f"mouse{i}": MouseInfo(n, rng.uniform(0, 1000, (n, 3)), rng.uniform(0.5, 2.0, n))
            for i, n in enumerate(SENSORIUM_NEURONS)}
    config = {"core": PAPER_CORE, "readout": readout or {"type": "gaussian", "shifter": True}}
    training.seed_everything(0)
    model = build_model(config, mice, INPUT_SHAPE).to(device)
    with torch.no_grad():
        for mouse_readout in model.readouts.values():
            mouse_readout.features.add_(0.05 * torch.randn_like(mouse_readout.features))
    return model


def benchmark_devices(choice: str) -> list[torch.device]:
    """The devices a `--device` choice names: "cpu", "cuda", or "all" (CPU, and CUDA if available)."""
    if choice == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda requested but CUDA is not available")
    names = {"cpu": ["cpu"], "cuda": ["cuda"], "all": ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])}
    return [torch.device(name) for name in names[choice]]


def synchronize(device: torch.device) -> None:
    """Wait for queued CUDA work, so wall-clock timings cover it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(function: Callable[[], object], steps: int, device: torch.device) -> float:
    """Mean seconds of `function` over `steps` calls after one warm-up call."""
    function()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        function()
    synchronize(device)
    return (time.perf_counter() - start) / steps
