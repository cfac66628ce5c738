"""The full model: one shared core, one readout (and optional shifter) per mouse, built from config."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from v1twin.config_schema import with_defaults
from v1twin.models.cores import CNNCore, Core, RotationEquivariantCore
from v1twin.models.dynamic_cores import (
    PerFrameReadout,
    RotationEquivariant3dCore,
    RotationEquivariantDynamicCore,
    RotationEquivariantFactorizedCore,
)
from v1twin.models.readouts import FactorizedReadout, GaussianReadout, Shifter


@dataclass
class MouseInfo:
    """What a readout needs to know about one mouse."""

    n_neurons: int
    cell_motor_coordinates: np.ndarray
    mean_response: np.ndarray

    def __post_init__(self) -> None:
        self.cell_motor_coordinates = np.asarray(self.cell_motor_coordinates, dtype=np.float32)
        self.mean_response = np.asarray(self.mean_response, dtype=np.float32)
        if self.n_neurons < 1:
            raise ValueError(f"MouseInfo.n_neurons must be >= 1, got {self.n_neurons}")
        if self.cell_motor_coordinates.shape != (self.n_neurons, 3):
            raise ValueError(
                f"MouseInfo.cell_motor_coordinates must have shape ({self.n_neurons}, 3), "
                f"got {self.cell_motor_coordinates.shape}"
            )
        if self.mean_response.shape != (self.n_neurons,):
            raise ValueError(f"MouseInfo.mean_response must have shape ({self.n_neurons},), "
                             f"got {self.mean_response.shape}")


def settings_of(section: str, config: Mapping) -> tuple[str, dict]:
    """The type of a core or readout config and its settings with the schema's defaults for that type."""
    if not isinstance(config, Mapping):
        raise ValueError(f"{section} config must be a mapping, got {type(config).__name__}")
    settings = with_defaults(dict(config), section)
    return settings.pop("type"), settings


def elu_plus_one(drive: torch.Tensor) -> torch.Tensor:
    """ELU(x) + 1 written as x + 1 (x > 0) or exp(x): same function, but it stays > 0 in float32
    down to x ≈ −100, where expm1(x) + 1 already rounds to 0 (x < −17)."""
    return torch.where(drive > 0, drive + 1.0, torch.exp(drive.clamp(max=0.0)))


class V1Model(nn.Module):
    """Shared core + per-mouse readouts; responses are ELU(drive) + 1 > 0 (a valid Poisson rate)."""

    def __init__(self, core: Core, readouts: dict[str, nn.Module], shifters: dict[str, Shifter] | None = None):
        super().__init__()
        self.core = core
        self.readouts = nn.ModuleDict(readouts)
        self.shifters = nn.ModuleDict(shifters or {})
        self.core_frozen = False

    def freeze_core(self) -> None:
        """Fix the core for transfer learning: no gradients, and evaluation mode even while the readouts
        train, so its BatchNorm layers keep normalizing with the statistics of the core's own training data."""
        self.core.requires_grad_(False)
        self.core_frozen = True
        self.core.eval()

    def train(self, mode: bool = True) -> V1Model:
        """Switch training mode as usual, except that a frozen core stays in evaluation mode."""
        super().train(mode)
        if self.core_frozen:
            self.core.eval()
        return self

    def _check_mouse(self, mouse: str) -> None:
        if mouse not in self.readouts:
            raise KeyError(f"no readout for mouse {mouse!r}; the model knows {list(self.readouts)}")

    def forward(self, inputs: torch.Tensor, mouse: str, pupil_center: torch.Tensor | None = None) -> torch.Tensor:
        """Predicted responses (B, N), or (B, T, N) from a video core with `PerFrameReadout`s. Without
        `pupil_center` the shifter is off (e.g. in-silico stimuli)."""
        self._check_mouse(mouse)
        features = self.core(inputs)
        readout = self.readouts[mouse]
        if mouse in self.shifters and pupil_center is not None:
            drive = readout(features, shift=self.shifters[mouse](pupil_center))
        else:
            drive = readout(features)
        return elu_plus_one(drive)

    def regularizer(self, mouse: str) -> torch.Tensor:
        self._check_mouse(mouse)
        return self.core.regularizer() + self.readouts[mouse].regularizer()


# The core type of a config -> its class; the video cores take (B, C, T, H, W) inputs.
CORE_CLASSES: dict[str, type[Core]] = {
    "cnn": CNNCore,
    "rotation_equivariant": RotationEquivariantCore,
    "rotation_equivariant_3d": RotationEquivariant3dCore,
    "rotation_equivariant_factorized": RotationEquivariantFactorizedCore,
}


def _build_core(config: Mapping, input_shape: tuple[int, int, int]) -> Core:
    kind, settings = settings_of("core", config)
    core = CORE_CLASSES[kind](in_channels=input_shape[0], **settings)
    height, width = core.output_size(*input_shape[1:])
    if height < 1 or width < 1:
        raise ValueError(f"input {input_shape[1]}x{input_shape[2]} is smaller than the core's "
                         f"input_kernel {core.input_kernel}")
    return core


def build_model(config: dict, mice: dict[str, MouseInfo], input_shape: tuple[int, int, int]) -> V1Model:
    """Build the model of a config variant {"core": {...}, "readout": {...}}; seed torch first for a
    reproducible init. A video core gets its Gaussian readouts wrapped in `PerFrameReadout`; input_shape
    is then (channels, height, width) of one frame."""
    unknown = sorted(set(config) - {"core", "readout"})
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} in model config; expected 'core' and 'readout'")
    if not mice:
        raise ValueError("build_model needs at least one mouse")
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (channels, height, width), got {input_shape}")
    core = _build_core(config["core"], input_shape)
    kind, settings = settings_of("readout", config["readout"])
    video = isinstance(core, RotationEquivariantDynamicCore)
    if video and kind != "gaussian":
        raise ValueError(f"the video core {config['core']['type']!r} needs a gaussian readout (read per frame), "
                         f"got readout type {kind!r}")
    readouts: dict[str, nn.Module] = {}
    shifters: dict[str, Shifter] = {}
    for name, info in mice.items():
        if kind == "factorized":
            output_size = core.output_size(*input_shape[1:])
            readouts[name] = FactorizedReadout(core.output_channels, output_size, info.mean_response, **settings)
        else:
            gaussian_settings = {key: value for key, value in settings.items() if key != "shifter"}
            readouts[name] = GaussianReadout(
                core.output_channels, info.cell_motor_coordinates, info.mean_response, **gaussian_settings
            )
            if video:
                readouts[name] = PerFrameReadout(readouts[name])
            if settings["shifter"]:
                shifters[name] = Shifter()
    return V1Model(core, readouts, shifters)
