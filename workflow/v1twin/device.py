"""Where a job computes: the config's `device` (auto, cuda, cpu), chosen once per process.

Every GPU rule script calls `configure_device` first, so `device: cuda` on a node without a usable GPU
fails within seconds instead of training on its CPU for days.
"""

from __future__ import annotations

import functools
import os
import socket

import numpy as np
import torch

DEVICE_SETTINGS = ("auto", "cuda", "cpu")
_device_setting = "auto"


class DeviceError(RuntimeError):
    """The config asks for CUDA and this node has none: fail before hours of compute on the CPU."""


def configure_device(setting: str) -> torch.device:
    """Set this process's device from the config's `device` and return it; GPU rule scripts call this first.

    auto: a GPU if one is usable, else the CPU; cuda: a GPU or a DeviceError naming the node; cpu: the CPU.
    Every later default_device() returns the same device.
    """
    global _device_setting
    if setting not in DEVICE_SETTINGS:
        raise ValueError(f"device must be one of {DEVICE_SETTINGS}, got {setting!r}")
    _device_setting = setting
    default_device.cache_clear()
    return default_device()


@functools.cache
def default_device() -> torch.device:
    """The device of this process (see configure_device; auto when not configured), chosen once.

    Of the visible GPUs, the one with the most free memory: Snakemake does not tell a job which GPU to
    use, so on a workstation run with `--resources gpu=N`, jobs starting at different times spread
    over the GPUs instead of all landing on the first. Under SLURM, CUDA_VISIBLE_DEVICES shows only
    the job's own GPU. Jobs starting in the same second may still pick the same GPU;
    CUDA_VISIBLE_DEVICES pins a job.
    """
    if _device_setting == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        if _device_setting == "cuda":
            raise DeviceError(
                f"the config asks for device: cuda, but CUDA is not available on node {socket.gethostname()} "
                f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '<unset>')}, torch "
                f"{torch.__version__} built for CUDA {torch.version.cuda or 'none: a CPU-only build'}). "
                "Check that the job got a GPU, or set device: auto or cpu to run on the CPU."
            )
        return torch.device("cpu")
    free = [torch.cuda.mem_get_info(index)[0] for index in range(torch.cuda.device_count())]
    return torch.device("cuda", int(np.argmax(free)))
