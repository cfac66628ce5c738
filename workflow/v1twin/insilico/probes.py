"""Probes: stimulus images -> responses of one mouse's neurons (of a trained model here; of the
simulator's true neurons in `true_neurons`).

Why the search is fast: a Gaussian-readout neuron reads one point of the core output and the core is
translation-equivariant, so a stimulus centred on a canvas the size of the core's receptive field,
run through the core once, gives the feature vector that every neuron of the mouse would read at
its own position; each neuron's response is then ELU(w·f + b) + 1, one matrix product for all of
them (`GaussianProbe`). Factorized readouts pool over the whole map, so their stimuli are rendered on
the full input at each searched location; one core pass still serves every neuron (`FactorizedProbe`).
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod

import numpy as np
import torch

from v1twin.insilico import InSilicoError
from v1twin.model_run import SavedRun
from v1twin.models import FactorizedReadout, GaussianReadout, V1Model
from v1twin.models.network import elu_plus_one

NEURON_BLOCK = 2048  # neurons per readout product in the factorized probe (bounds its memory)


def receptive_field_size(core: torch.nn.Module, in_channels: int, device: torch.device) -> int:
    """Side of the square input patch that the centre pixel of the core output depends on.

    Measured, not derived from the architecture: the gradient of the centre output with respect to a
    larger random input is non-zero exactly on that patch (ELU has a positive slope everywhere).
    """
    probe_size = 4 * core.input_kernel + 1
    while True:
        generator = torch.Generator(device=device).manual_seed(0)  # leaves the global random state alone
        image = torch.randn(1, in_channels, probe_size, probe_size, device=device, generator=generator,
                            requires_grad=True)
        with torch.enable_grad():
            output = core(image)
            centre = output.shape[-1] // 2
            (gradient,) = torch.autograd.grad(output[0, :, centre, centre].sum(), image)
        rows = torch.nonzero(gradient.abs().sum(dim=(0, 1, 3))).flatten()
        size = int(rows.max() - rows.min()) + 1
        if size < probe_size:
            return size
        probe_size = 2 * probe_size + 1


class Probe(ABC):
    """One mouse's neurons: stimulus images (B, H, W) on the probe's canvas -> responses (B, n) of chosen neurons.

    The search and the tuning experiments see only this interface, so a trained model and the
    simulator's own neurons (`true_neurons.TrueNeuronProbe`) go through the very same protocol.
    `input_shape` is the model input's (channels, height, width): stimulus parameters are in its pixels.
    """

    readout_kind = ""

    def __init__(self, mouse: str, unit_ids: np.ndarray, input_shape: tuple[int, int, int], height: int,
                 width: int, device: torch.device):
        self.mouse = mouse
        self.unit_ids = np.asarray(unit_ids)
        self.input_shape = tuple(input_shape)
        self.height, self.width = height, width
        self.device = device
        self.n_neurons = len(self.unit_ids)

    def _neurons(self, neurons: torch.Tensor | None) -> torch.Tensor:
        return torch.arange(self.n_neurons, device=self.device) if neurons is None else neurons.to(self.device)

    @abstractmethod
    def search_locations(self, stride: int) -> np.ndarray:
        """Stimulus centres (L, 2) as (y, x) canvas pixels that the search visits."""

    @abstractmethod
    def centre_of(self, location: tuple[float, float]) -> tuple[float, float]:
        """Canvas centre (y, x) of a neuron's stimuli, given its optimal location in input pixels (y, x)."""

    @abstractmethod
    def stimulus_centres(self, locations: np.ndarray, location_index: np.ndarray) -> np.ndarray:
        """Each neuron's optimal stimulus centre (N, 2) as (y, x) input pixels, given the searched
        locations and the index of each neuron's best one."""

    @abstractmethod
    def responses(self, images: torch.Tensor, neurons: torch.Tensor | None = None) -> torch.Tensor:
        """Responses (B, n) of `neurons` (default: all) to images (B, H, W) on this probe's canvas."""


class ModelProbe(Probe):
    """A mouse of a trained model: behaviour planes at the mouse's training medians, no pupil position
    reaches the model (shifter off)."""

    def __init__(self, saved: SavedRun, mouse: str, height: int, width: int):
        self.model = saved.model
        self.readout = saved.model.readouts[mouse]
        device = next(saved.model.parameters()).device
        super().__init__(mouse, saved.unit_ids[mouse], saved.input_shape, height, width, device)
        if self.readout.features.shape[0] != self.n_neurons:
            raise InSilicoError(f"mouse {mouse}: {self.readout.features.shape[0]} readout rows but "
                                f"{self.n_neurons} unit ids")
        self.behavior = torch.as_tensor(np.asarray(saved.behavior_median[mouse]), dtype=torch.float32,
                                        device=device)

    def _core(self, images: torch.Tensor) -> torch.Tensor:
        planes = self.behavior.view(1, -1, 1, 1).expand(len(images), -1, self.height, self.width)
        return self.model.core(torch.cat([images.unsqueeze(1), planes], dim=1))


class GaussianProbe(ModelProbe):
    """The all-neuron shortcut: core on a receptive-field-sized canvas, feature vector at its centre."""

    readout_kind = "gaussian"

    def __init__(self, saved: SavedRun, mouse: str):
        device = next(saved.model.parameters()).device
        size = receptive_field_size(saved.model.core, saved.input_shape[0], device)
        super().__init__(saved, mouse, size, size)
        self.centre = ((size - 1) / 2, (size - 1) / 2)
        self.weights = self.readout.features.detach()
        self.bias = self.readout.bias.detach()

    def search_locations(self, stride: int) -> np.ndarray:
        return np.array([self.centre])

    def centre_of(self, location: tuple[float, float]) -> tuple[float, float]:
        return self.centre

    def stimulus_centres(self, locations: np.ndarray, location_index: np.ndarray) -> np.ndarray:
        return gaussian_positions(self.model, self.mouse, self.input_shape)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Core feature vectors (B, C) at the canvas centre."""
        output = self._core(images)
        return output[:, :, output.shape[-2] // 2, output.shape[-1] // 2]

    def responses(self, images: torch.Tensor, neurons: torch.Tensor | None = None) -> torch.Tensor:
        neurons = self._neurons(neurons)
        drive = self.features(images) @ self.weights[neurons].T + self.bias[neurons]
        return elu_plus_one(drive)


class FactorizedProbe(ModelProbe):
    """Stimuli on the full input; one core pass, then every neuron's mask · features."""

    readout_kind = "factorized"

    def __init__(self, saved: SavedRun, mouse: str):
        super().__init__(saved, mouse, saved.input_shape[1], saved.input_shape[2])
        self.mask = self.readout.mask.detach()
        self.weights = self.readout.features.detach()
        self.bias = self.readout.bias.detach()

    def search_locations(self, stride: int) -> np.ndarray:
        """A regular grid over the pixels whose neighbourhood the core output covers, centred in that range."""
        margin = (self.model.core.input_kernel - 1) // 2
        axes = []
        for length in (self.height, self.width):
            first, last = margin, length - 1 - margin
            start = first + ((last - first) % stride) // 2
            axes.append(np.arange(start, last + 1, stride, dtype=np.float64))
        return np.array(list(itertools.product(*axes)))

    def centre_of(self, location: tuple[float, float]) -> tuple[float, float]:
        return location

    def stimulus_centres(self, locations: np.ndarray, location_index: np.ndarray) -> np.ndarray:
        return locations[location_index]

    def responses(self, images: torch.Tensor, neurons: torch.Tensor | None = None) -> torch.Tensor:
        neurons = self._neurons(neurons)
        output = self._core(images)
        batch, channels = output.shape[:2]
        flat = output.reshape(batch * channels, -1)
        drives = []
        for block in neurons.split(NEURON_BLOCK):
            pooled = (flat @ self.mask[block].flatten(1).T).view(batch, channels, -1)  # (B, C, n)
            drives.append((pooled * self.weights[block].T).sum(dim=1) + self.bias[block])
        return elu_plus_one(torch.cat(drives, dim=1))


def make_probe(saved: SavedRun, mouse: str) -> Probe:
    """The probe of one mouse of a saved model that fits its readout type (behaviour at its median)."""
    readout = saved.model.readouts[mouse]
    if isinstance(readout, GaussianReadout):
        return GaussianProbe(saved, mouse)
    if isinstance(readout, FactorizedReadout):
        return FactorizedProbe(saved, mouse)
    raise InSilicoError(f"no in-silico probe for readout {type(readout).__name__}")


def model_probes(saved: SavedRun) -> dict[str, Probe]:
    """The probe of every mouse of a saved model, in the model's mouse order."""
    return {mouse: make_probe(saved, mouse) for mouse in saved.mice}


def gaussian_positions(model: V1Model, mouse: str, input_shape: tuple[int, int, int]) -> np.ndarray:
    """Learned read positions (N, 2) of a Gaussian readout as (y, x) input pixels."""
    return grid_to_input_pixels(model.core, input_shape, model.readouts[mouse].mu.detach())


def grid_to_input_pixels(core, input_shape: tuple[int, int, int], grid: torch.Tensor) -> np.ndarray:
    """Readout grid positions (n, 2) in [−1, 1] as (y, x) input pixels.

    The grid spans the core output (grid_sample, align_corners=True); output pixel j sits at input
    pixel j + (input_kernel − 1)/2, because only the unpadded first layer shrinks the map.
    """
    out_height, out_width = core.output_size(*input_shape[1:])
    mu = grid.cpu().numpy().astype(np.float64)
    margin = (core.input_kernel - 1) / 2
    x = (mu[:, 0] + 1) / 2 * (out_width - 1) + margin
    y = (mu[:, 1] + 1) / 2 * (out_height - 1) + margin
    return np.column_stack([y, x])
