"""Where a job computes (v1twin.device): the config's device setting and the GPU chosen once."""
import re
import socket

import pytest
import torch

from v1twin import device


def test_default_device_is_the_gpu_with_most_free_memory_chosen_once(monkeypatch) -> None:
    free = {0: 2e9, 1: 7e9, 2: 5e9}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: len(free))
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda index: (free[index], 8e9))
    device.default_device.cache_clear()
    try:
        assert device.default_device() == torch.device("cuda", 1)
        free[1] = 0.0  # e.g. this job's own model now fills GPU 1: the job must stay on it
        assert device.default_device() == torch.device("cuda", 1)
    finally:
        device.default_device.cache_clear()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    try:
        assert device.default_device() == torch.device("cpu")
    finally:
        device.default_device.cache_clear()


def test_device_setting_forces_the_cpu_or_requires_cuda_naming_the_node(monkeypatch) -> None:
    monkeypatch.setattr(device, "_device_setting", "auto")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda index: (1e9, 8e9))
    try:
        assert device.configure_device("cpu") == torch.device("cpu")
        assert device.default_device() == torch.device("cpu")  # what train() and load_model() use
        assert device.configure_device("cuda") == torch.device("cuda", 0)
        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
        expected = f"CUDA is not available on node {socket.gethostname()} (CUDA_VISIBLE_DEVICES=, torch"
        with pytest.raises(device.DeviceError, match=re.escape(expected)):
            device.configure_device("cuda")
        assert device.configure_device("auto") == torch.device("cpu")
        with pytest.raises(ValueError, match="device must be one of"):
            device.configure_device("gpu")
    finally:
        device.default_device.cache_clear()
