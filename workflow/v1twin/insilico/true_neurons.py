"""The simulator's own noise-free neurons behind the probe interface, so the Gabor search and the
tuning experiments run on the true neurons of a simulated mouse exactly as on a model trained on it.

The units are the crux. A model sees a stored image x (0..255) as z = D((x − mean)/std), D the
antialiased bilinear downscaling to the model input (`data.tensors.normalized_images`), and predicts
each neuron's response divided by its response scale (`data.tensors.normalization`). A stimulus z
at the model's scale is therefore shown to the true neurons as x = mean + std · D⁺z, where D⁺ is the
pseudo-inverse of D: the least-energy image the model would see as exactly z. (Plain upsampling
would not do: D takes up to a third of the contrast of the finest gratings the model can see, and
the model learned to expect that loss.) The noise-free rates (`data.simulate.population_rates`) are
divided by the same response scales; behaviour is at the training-set median and the eye at rest,
the models' setting.

Every neuron is moved to the centre of a canvas the size of the model input and the stimuli are drawn
there, so each neuron sees them centred on its own receptive field, as a Gaussian-readout neuron does
in `probes.GaussianProbe`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from v1twin.data.cache import load_cache
from v1twin.data.mouse_arrays import MouseArrays
from v1twin.data.receptive_fields import contrast_pixels, filter_bank, normalized_drive
from v1twin.data.simulate import behavior_gain, load_ground_truth
from v1twin.data.tensors import input_pixels_of, normalization, normalized_images
from v1twin.insilico import InSilicoError
from v1twin.insilico.probes import Probe

N_FILTERS = 6  # per neuron in `filter_bank`: centre, surround and orthogonal, each an even/odd pair


def downscaling(height: int, width: int, image_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """The model input's downscaling D as row and column operators R (h × H) and C (w × W): D x = R x Cᵀ.

    Read off `normalized_images` itself (on images of one bright row or column), so it is the training's map.
    """

    def operator(length: int, axis: int) -> np.ndarray:
        basis = np.zeros((length, 1, height, width), dtype=np.float32)
        for k in range(length):
            basis[(k, 0, k) if axis == 0 else (k, 0, slice(None), k)] = 1.0
        scaled = normalized_images(basis, 0.0, 1.0, image_scale).numpy()[:, 0]
        return (scaled[:, :, 0] if axis == 0 else scaled[:, 0, :]).T.astype(np.float64)

    return operator(height, 0), operator(width, 1)


class TrueNeuronProbe(Probe):
    """One simulated mouse's true neurons, stimulated at the model input's scale and units."""

    readout_kind = "ground_truth"

    def __init__(self, mouse: str, truth: dict, arrays: MouseArrays, image_scale: float):
        full_height, full_width = np.shape(arrays.images)[-2:]
        rows, columns = downscaling(full_height, full_width, image_scale)
        height, width = len(rows), len(columns)
        behavior = np.asarray(arrays.behavior)
        super().__init__(
            mouse, arrays.unit_ids, (1 + behavior.shape[1], height, width), height, width, torch.device("cpu")
        )
        if len(truth["rf_x"]) != self.n_neurons:
            raise InSilicoError(
                f"mouse {mouse}: the ground truth has {len(truth['rf_x'])} neurons, its data cache "
                f"{self.n_neurons} unit ids"
            )
        self.preimage = (np.linalg.pinv(rows), np.linalg.pinv(columns))  # D⁺ z = R⁺ z C⁺ᵀ
        self.units = normalization(mouse, arrays)
        self.centre = ((height - 1) // 2, (width - 1) // 2)  # a whole pixel, as the Gaussian probe's
        self.rf = np.column_stack(
            [input_pixels_of(truth["rf_y"], full_height, height), input_pixels_of(truth["rf_x"], full_width, width)]
        )
        stored_centre = (
            input_pixels_of(self.centre[0], height, full_height),  # the inverse map
            input_pixels_of(self.centre[1], width, full_width),
        )
        self.neurons = {
            **truth,
            "rf_y": np.full(self.n_neurons, stored_centre[0]),
            "rf_x": np.full(self.n_neurons, stored_centre[1]),
        }
        self.bank = filter_bank(self.neurons, np.arange(self.n_neurons), full_height, full_width)
        train = np.asarray(arrays.tiers) == "train"
        self.gain = behavior_gain(self.neurons, np.median(behavior[train], axis=0, keepdims=True))[0]

    def search_locations(self, stride: int) -> np.ndarray:
        return np.array([self.centre])

    def centre_of(self, location: tuple[float, float]) -> tuple[float, float]:
        return self.centre

    def stimulus_centres(self, locations: np.ndarray, location_index: np.ndarray) -> np.ndarray:
        return self.rf

    def full_images(self, images: torch.Tensor) -> np.ndarray:
        """Model-scale stimuli (B, h, w) in normalized units as stored images (B, H, W), 0..255 scale."""
        rows, columns = self.preimage
        lifted = rows @ images.detach().cpu().numpy().astype(np.float64) @ columns.T
        return (self.units.image_mean + self.units.image_std * lifted).astype(np.float32)

    def responses(self, images: torch.Tensor, neurons: torch.Tensor | None = None) -> torch.Tensor:
        """Noise-free rates in model units (÷ response scale): `population_rates` with the bank built once."""
        index = self._neurons(neurons).cpu().numpy()
        pixels = contrast_pixels(self.neurons, self.full_images(images), None)
        filters = self.bank[(np.arange(N_FILTERS)[:, None] * self.n_neurons + index).ravel()]
        linear = (pixels @ filters.T).reshape(len(pixels), N_FILTERS, len(index)).transpose(1, 0, 2)
        drive = normalized_drive(self.neurons, index, linear)
        rates = self.gain[index] * (self.neurons["baseline"][index] + self.neurons["amplitude"][index] * drive)
        return torch.as_tensor(rates / self.units.response_scale[index], dtype=torch.float32)


def true_neuron_probes(
    truth: dict[str, str | Path],
    caches: dict[str, str | Path],
    image_scale: float,
) -> dict[str, Probe]:
    """The true-neuron probe of every mouse (ground-truth .npz and data cache by mouse), in the given order."""
    return {
        mouse: TrueNeuronProbe(
            mouse, load_ground_truth(Path(truth[mouse])), load_cache(Path(caches[mouse])), image_scale
        )
        for mouse in truth
    }
