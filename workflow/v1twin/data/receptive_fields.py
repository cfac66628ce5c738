"""The receptive fields of the simulated neurons: Gabor filters, their divisive normalization, the eye.

Each neuron sees the image through six Gabor filters (centre, iso-oriented surround and orthogonal,
each as an even/odd pair) placed at its receptive field, which moves with the eye position. The simulator calibrates and
drives these filters (`simulate.population_rates`); `gabor_pair` states the Gabor convention of METHODS §7.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

ENVELOPE_CUTOFF = 1e-6  # Gaussian envelopes end at 5.3 sd


def gabor_pair(dx: np.ndarray, dy: np.ndarray, orientation: np.ndarray, frequency: np.ndarray,
               phase: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Even and odd Gabors (n, H·W) with the METHODS §7 convention x' = cosθ·x − sinθ·y, zero DC."""
    theta, f, phi, s = (v[:, None, None] for v in (orientation, frequency, phase, sigma))
    rotated = np.cos(theta) * dx - np.sin(theta) * dy
    envelope = np.exp(-(dx**2 + dy**2) / (2 * s**2))
    envelope[envelope < ENVELOPE_CUTOFF] = 0.0  # float32 denormals in the far tails make matmuls ~30x slower
    pair = []
    for carrier in (np.cos, np.sin):
        gabor = envelope * carrier(2 * np.pi * f * rotated + phi)
        gabor -= envelope * (gabor.sum(axis=(1, 2), keepdims=True) / envelope.sum(axis=(1, 2), keepdims=True))
        pair.append(gabor.reshape(len(gabor), -1))
    return pair[0], pair[1]


def filter_bank(neurons: dict, idx: np.ndarray, height: int, width: int) -> np.ndarray:
    """Six filters per neuron, (6·n, H·W) float32: centre even/odd, surround even/odd, orthogonal even/odd."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    dx = xs[None] - neurons["rf_x"][idx, None, None]
    dy = ys[None] - neurons["rf_y"][idx, None, None]
    orientation, frequency = neurons["orientation"][idx], neurons["spatial_frequency"][idx]
    phase, sigma = neurons["phase"][idx], neurons["envelope_size"][idx]
    surround_sigma = sigma * float(neurons["surround_ratio"])
    filters = [
        *gabor_pair(dx, dy, orientation, frequency, phase, sigma),
        *gabor_pair(dx, dy, orientation, frequency, phase, surround_sigma),
        *gabor_pair(dx, dy, orientation + np.pi / 2, frequency, phase, sigma),
    ]
    return np.concatenate(filters).astype(np.float32)


def linear_responses(neurons: dict, idx: np.ndarray, pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Raw filter outputs (6, T, n) for contrast images `pixels` (T, H·W)."""
    bank = filter_bank(neurons, idx, height, width)
    return (pixels @ bank.T).reshape(len(pixels), 6, len(idx)).transpose(1, 0, 2)


def normalized_drive(neurons: dict, idx: np.ndarray, linear: np.ndarray) -> np.ndarray:
    """Stimulus drive (T, n): simple/complex blend divided by surround and orthogonal energy.

    Filter outputs are in units of their RMS on natural images (the stored scales), so the
    normalization weights mean the same for every spatial frequency and size.
    """
    centre_even, centre_odd = linear[:2] / neurons["center_scale"][idx]
    surround_even, surround_odd = linear[2:4] / neurons["surround_scale"][idx]
    orthogonal_even, orthogonal_odd = linear[4:] / neurons["orthogonal_scale"][idx]
    invariance = neurons["phase_invariance"][idx]
    simple = 2 * np.maximum(centre_even, 0) ** 2  # each term has mean 1 on natural images
    energy = (centre_even**2 + centre_odd**2) / 2
    drive = (1 - invariance) * simple + invariance * energy
    surround = (surround_even**2 + surround_odd**2) / 2
    orthogonal = (orthogonal_even**2 + orthogonal_odd**2) / 2
    denominator = 1 + neurons["surround_suppression"][idx] * surround + neurons["cross_orientation"][idx] * orthogonal
    return drive / denominator


def contrast_pixels(neurons: dict, images: np.ndarray, pupil_center: np.ndarray | None) -> np.ndarray:
    """Images (T, [1,] H, W) in 0..255 as contrast (T, H·W), shifted so the RFs follow the eye."""
    images = np.asarray(images, dtype=np.float32)
    images = images.reshape(len(images), *images.shape[-2:])
    if pupil_center is not None and float(neurons["eye_shift_gain"]) > 0:
        eye_offset = np.asarray(pupil_center, dtype=np.float64) - neurons["eye_center"]
        offsets = float(neurons["eye_shift_gain"]) * eye_offset
        # The RF moves by +offset on the screen: sample the image at p + offset (order-1, edges repeated).
        images = np.stack([
            ndimage.shift(image, (-dy, -dx), order=1, mode="nearest") for image, (dx, dy) in zip(images, offsets)
        ])
    return ((images - 128.0) / 128.0).reshape(len(images), -1)
