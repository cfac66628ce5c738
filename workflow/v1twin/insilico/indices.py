"""Tuning indices from the curves of the tuning experiments: orientation selectivity, phase
invariance, surround suppression, cross-orientation inhibition (R24 A.2), via circular harmonics."""

from __future__ import annotations

import numpy as np
import pandas as pd

from v1twin.insilico.tuning import TuningConfig


def harmonic(curve: np.ndarray, angles: np.ndarray, order: int) -> np.ndarray:
    """F_m = |mean_k r_k e^{i m α_k}| along the last axis."""
    return np.abs((np.asarray(curve) * np.exp(1j * order * np.asarray(angles))).mean(axis=-1))


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0 (an index of a silent curve is undefined)."""
    denominator = np.asarray(denominator, dtype=np.float64)
    return np.divide(numerator, denominator, out=np.full(denominator.shape, np.nan), where=denominator != 0)


def orientation_selectivity(curve: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """OSI = F2/F0 over orientations in [0, π)."""
    return _ratio(harmonic(curve, angles, 2), np.mean(curve, axis=-1))


def preferred_orientation(curve: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Vector-average orientation arg(Σ r_k e^{2iα_k})/2 in [0, π)."""
    vector = (np.asarray(curve) * np.exp(2j * np.asarray(angles))).sum(axis=-1)
    return np.mod(np.angle(vector) / 2, np.pi)


def phase_invariance(curve: np.ndarray, phases: np.ndarray) -> np.ndarray:
    """PI = 1 − F1/F0 over phases in [0, 2π): 1 for a flat curve, 0 for a full-depth cosine."""
    return 1 - _ratio(harmonic(curve, phases, 1), np.mean(curve, axis=-1))


def amplitude_over_mean(curve: np.ndarray, angles: np.ndarray, order: int) -> np.ndarray:
    """2·F_m/F0: the modulation depth b/a of a curve a + b·cos(m(α − α0))."""
    return 2 * _ratio(harmonic(curve, angles, order), np.mean(curve, axis=-1))


def surround_suppression(curve: np.ndarray, threshold: float = 0.95) -> np.ndarray:
    """SI = (R_center − R_asym)/R_center over disk sizes (ascending; blank first).

    R_center: the response at the first size reaching `threshold` of the maximum; R_asym: at the largest.
    """
    curve = np.asarray(curve, dtype=np.float64)
    first = np.argmax(curve >= threshold * curve.max(axis=-1, keepdims=True), axis=-1)
    centre = np.take_along_axis(curve, first[..., None], axis=-1)[..., 0]
    return _ratio(centre - curve[..., -1], centre)


def cross_orientation_inhibition(table: np.ndarray) -> np.ndarray:
    """COI = max over (o, p) of 1 − T[o, p]/T[0, p] for T[orthogonal contrast, preferred contrast].

    Preferred contrast 0 (the orthogonal grating alone) is left out: there is nothing to inhibit.
    """
    table = np.asarray(table, dtype=np.float64)
    relative = _ratio(table[..., :, 1:], np.broadcast_to(table[..., :1, 1:], table[..., :, 1:].shape))
    return np.nanmax(1 - relative, axis=(-2, -1))


def tuning_indices(curves: dict[str, np.ndarray], config: TuningConfig) -> pd.DataFrame:
    """Per neuron: OSI, PI, SI, COI, the preferred orientation and the amplitude/mean ratios."""
    orientation, phase = curves["orientation"], curves["phase"]
    angles, phases = config.orientation_angles(), config.phase_angles()
    return pd.DataFrame({
        "orientation_selectivity": orientation_selectivity(orientation, angles),
        "orientation_amplitude_over_mean": amplitude_over_mean(orientation, angles, 2),
        "preferred_orientation": preferred_orientation(orientation, angles),
        "phase_invariance": phase_invariance(phase, phases),
        "phase_amplitude_over_mean": amplitude_over_mean(phase, phases, 1),
        "surround_suppression": surround_suppression(curves["surround"]),
        "cross_orientation_inhibition": cross_orientation_inhibition(curves["cross_orientation"]),
    })
