"""A simulated mouse V1 population with known answers (DESIGN: "The embedded default").

Every neuron is a Gabor-based unit at a retinotopic position: a blend of a linear-rectified simple
cell and an energy-model complex cell, divisively normalized by an iso-oriented surround and by the
orthogonal orientation, multiplied by a behavioural gain and seen through the eye position. Neurons
belong to functional types (prototypes in a 5-D parameter space, plus an ON or OFF polarity);
`discreteness` moves them from tight clusters around the prototypes (1) to a continuum with no
types (0); `type_separation` moves the prototypes together, from the design's separation down to one
type (0), measured in within-type spreads. The nuisances a model must see through are knobs too:
`rf_scatter` (receptive-field centres around the retinotopic map), `rate_spread` (per-neuron response
gain) and `noise_fano` (trial-to-trial noise). Each neuron draws its type uniformly, or, with
`type_fractions`, the types get exact counts in the given proportions (unbalanced types, as the
marmoset RGCs of D25 Fig. 3); the types named in `unlabelled_types` count as unlabelled cells (ground
truth `labelled`: False), which evaluations leave out as D25 left out its RGCs without a type label.
The filters and their normalization are in `receptive_fields`.

The mouse is returned as `MouseArrays` (written with `sensorium_static.write_mouse` in the Sensorium
tree) plus a ground-truth dict that fully defines every neuron, so `population_rates` can query the
true neurons with any stimulus later (gratings, Gabors, plaids).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import signal

from v1twin import metrics
from v1twin.data import DataError
from v1twin.data.mouse_arrays import MouseArrays
from v1twin.data.receptive_fields import contrast_pixels, linear_responses, normalized_drive
from v1twin.files import read_npz, write_npz
from v1twin.progress import progress_bar

DEFAULTS = {
    "image_height": 72,
    "image_width": 128,
    "n_train": 4000,
    "n_validation": 500,
    "n_test_images": 50,
    "test_repeats": 10,
    "neurons": 500,
    "n_types": 6,
    "discreteness": 1.0,
    "noise_fano": 0.5,
    "behavior_modulation": 1.0,
    "eye_shift_gain": 0.25,
    "type_separation": None,  # nearest prototypes' distance / WITHIN_TYPE_SPREAD; None: the design's own
    "rf_scatter": 2.0,  # sd of RF centres around the retinotopic map, reference pixels
    "rate_spread": 0.5,  # sd of the log mean rate across neurons (response gain)
    "type_fractions": None,  # None: each neuron draws its type uniformly (exact counts only when given)
    "unlabelled_types": [],
}
IGNORED_KEYS = {"seed"}  # the config's dataset seed; seeds reach `simulate_mouse` as arguments
MINIMUM = {"image_height": 32, "image_width": 32, "n_train": 1, "n_validation": 0, "n_test_images": 2,
           "test_repeats": 2, "neurons": 1, "n_types": 1}  # the integer keys and their least values

# Spatial parameters below are stated in pixels of an image REFERENCE_HEIGHT pixels high and scaled
# with the simulated image height, so every image size shows the same visual field. At the reference
# size (72x128) the frequencies stay below the Nyquist limit of a 0.25x downsampled image (18x32).
REFERENCE_HEIGHT = 72.0

# The type parameters: unit-cube coordinate u -> physical value, as (low, high, scale). "log" and
# "linear" span [low, high]; "onset" is 0 for u below ONSET and rises linearly to `high` at u = 1, so
# types low on that axis have none of the effect at all (e.g. truly unsuppressed cells).
TYPE_PARAMETERS = {
    "spatial_frequency": (0.025, 0.0625, "log"),  # cycles per reference pixel
    "envelope_size": (6.0, 14.0, "log"),  # Gaussian envelope sd, reference pixels
    "phase_invariance": (0.0, 1.0, "linear"),  # 0 = linear-rectified simple cell, 1 = energy-model complex cell
    "surround_suppression": (0.0, 4.0, "onset"),  # weight of the iso-oriented surround in the normalization
    "cross_orientation": (0.0, 4.0, "onset"),  # weight of the orthogonal orientation in the normalization
}
ONSET = 0.25
PROTOTYPE_DESIGN_SEED = 2022  # prototypes depend on n_types only: the same types in every mouse and dataset
PROTOTYPE_MARGIN = 0.08  # prototypes stay this far inside the unit cube, so clusters are not clipped
CLUSTER_SPREAD = 0.03  # sd of neurons around their prototype (unit-cube coordinates)
# The within-type spread that type separations are measured in: a neuron's RMS distance from its prototype.
WITHIN_TYPE_SPREAD = CLUSTER_SPREAD * np.sqrt(len(TYPE_PARAMETERS))
SURROUND_RATIO = 2.0  # surround envelope sd / centre envelope sd
BASELINE_FRACTION = 0.05  # spontaneous share of a neuron's mean rate

CORTEX_SIZE_UM = 600.0  # side of the imaged patch of cortex
RF_SPREAD = 0.4  # fraction of the image width and height covered by the RF centres of one mouse
RF_MARGIN = 16.0  # RF centres stay this many reference pixels inside the image

EYE_CENTER = np.array([160.0, 120.0])  # camera pixels; eye position offsets from it shift the RFs
EYE_SD = np.array([4.0, 3.0])
PUPIL_MEAN, PUPIL_SD, PUPIL_DERIVATIVE_SD = 22.0, 5.2, 2.5
RUNNING_SCALE = 10.0  # cm/s that count as one unit of running in the gain

CALIBRATION_SEED = 7  # a fixed set of natural images defines the filter scales and mean rates
CALIBRATION_IMAGES = 256
NEURON_BLOCK = 128

TRUTH_KEYS = (
    "cell_type", "type_names", "type_parameter_names", "type_prototypes", "type_prototype_coordinates",
    "type_polarity", "type_coordinates", "rf_x", "rf_y", "orientation", "phase", *TYPE_PARAMETERS,
    "gain_running", "gain_pupil", "gain_pupil_derivative", "amplitude", "baseline",
    "center_scale", "surround_scale", "orthogonal_scale", "surround_ratio",
    "eye_center", "eye_shift_gain", "retinotopy", "discreteness", "type_separation", "rates", "labelled",
)
# Absent from ground truth written before the key existed: `labelled` (every neuron labelled),
# `type_separation` (the design's own).
OPTIONAL_TRUTH = {"labelled", "type_separation"}


class SimulationError(ValueError):
    """Invalid simulation parameters; the message names the key and the problem."""


# ----------------------------------------------------------------------------------------------
# Parameters


def simulation_params(params: dict, defaults: dict = DEFAULTS, minimum: dict = MINIMUM,
                      n_dimensions: int = len(TYPE_PARAMETERS)) -> dict:
    """The simulation config with defaults filled in, checked key by key.

    `minimum` gives the integer keys and their least values; the video simulator passes its own
    defaults, integers and type-space dimensions.
    """
    unknown = sorted(set(params) - set(defaults) - IGNORED_KEYS)
    if unknown:
        raise SimulationError(f"simulation: unknown keys {unknown}, expected some of {sorted(defaults)}")
    merged = {**defaults, **{key: value for key, value in params.items() if key not in IGNORED_KEYS}}
    for key, low in minimum.items():
        value = merged[key]
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise SimulationError(f"simulation.{key}: expected an integer >= {low}, got {value!r}")
    ranges = {"discreteness": (0.0, 1.0), "noise_fano": (1e-6, np.inf), "behavior_modulation": (0.0, np.inf),
              "eye_shift_gain": (0.0, np.inf), "rf_scatter": (0.0, np.inf), "rate_spread": (0.0, np.inf)}
    for key, (low, high) in ranges.items():
        value = merged[key]
        if not isinstance(value, (int, float, np.number)) or isinstance(value, bool) or not low <= value <= high:
            raise SimulationError(f"simulation.{key}: expected a number in [{low:g}, {high:g}], got {value!r}")
    _check_types(merged)
    _check_separation(merged, n_dimensions)
    return merged


def _check_separation(config: dict, n_dimensions: int) -> None:
    """`type_separation` is None or a number from 0 up to the design's own separation (prototypes are
    only moved together, so no type leaves the unit cube)."""
    separation = config["type_separation"]
    if separation is None:
        return
    largest = design_separation(config["n_types"], n_dimensions)
    if (not isinstance(separation, (int, float, np.number)) or isinstance(separation, bool)
            or not 0 <= separation <= largest):
        raise SimulationError(f"simulation.type_separation: expected a number in [0, {largest:.2f}] (the design's "
                              f"separation for n_types = {config['n_types']}), got {separation!r}")


def _check_types(config: dict) -> None:
    """`type_fractions` has one positive number per type; `unlabelled_types` are distinct type indices
    that leave at least one type labelled."""
    n_types, fractions, unlabelled = config["n_types"], config["type_fractions"], config["unlabelled_types"]
    if fractions is not None:
        numbers = isinstance(fractions, (list, tuple, np.ndarray)) and all(
            isinstance(f, (int, float, np.number)) and not isinstance(f, bool) and f > 0 for f in fractions)
        if not numbers or len(fractions) != n_types:
            raise SimulationError(f"simulation.type_fractions: expected {n_types} positive numbers (one per type, "
                                  f"n_types = {n_types}), got {fractions!r}")
    indices = isinstance(unlabelled, (list, tuple, np.ndarray)) and all(
        isinstance(k, (int, np.integer)) and not isinstance(k, bool) and 0 <= k < n_types for k in unlabelled)
    if not indices or len(set(unlabelled)) != len(unlabelled) or len(unlabelled) >= n_types:
        raise SimulationError(f"simulation.unlabelled_types: expected distinct type indices in 0..{n_types - 1} "
                              f"that leave at least one type labelled, got {unlabelled!r}")


def type_counts(n: int, fractions) -> np.ndarray:
    """Exact neuron counts per type in the proportions `fractions`, summing to n (largest remainder:
    each type gets the floor of its quota, the left-over neurons go to the largest remainders, ties to
    the lower type index)."""
    quota = n * np.asarray(fractions, dtype=np.float64) / np.sum(fractions)
    counts = np.floor(quota).astype(np.int64)
    left_over = n - int(counts.sum())
    counts[np.argsort(-(quota - counts), kind="stable")[:left_over]] += 1
    return counts


# ----------------------------------------------------------------------------------------------
# Stimuli


def natural_images(rng: np.random.Generator, n_images: int, height: int, width: int) -> np.ndarray:
    """Grayscale images with a 1/f amplitude spectrum and random phase, integer values in 0..255.

    Mean luminance and RMS contrast vary per image as in photographs. Returns (n, 1, H, W) float32.
    """
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    radius = np.hypot(fx, fy)
    amplitude = np.where(radius > 0, 1.0 / np.maximum(radius, 1e-12), 0.0).astype(np.float32)
    shape = (n_images, height, len(fx[0]))
    # Complex Gaussian coefficients = uniformly random phase; scaling them gives the 1/f amplitude.
    spectrum = np.empty(shape, dtype=np.complex64)
    spectrum.real = rng.standard_normal(shape, dtype=np.float32)
    spectrum.imag = rng.standard_normal(shape, dtype=np.float32)
    pictures = np.fft.irfft2(spectrum * amplitude, s=(height, width))
    pictures -= pictures.mean(axis=(1, 2), keepdims=True)
    pictures /= pictures.std(axis=(1, 2), keepdims=True)
    return grey_levels(rng, pictures)[:, None].astype(np.float32)


def grey_levels(rng: np.random.Generator, pictures: np.ndarray) -> np.ndarray:
    """Standardized pictures (n, ...) as integral grey levels 0..255, each with its own mean luminance
    and RMS contrast, as photographs (and the frames of a movie clip) vary."""
    size = (len(pictures),) + (1,) * (np.ndim(pictures) - 1)
    luminance = rng.normal(120.0, 15.0, size=size).astype(np.float32)
    contrast = rng.uniform(35.0, 60.0, size=size).astype(np.float32)
    return np.clip(np.round(luminance + contrast * pictures), 0, 255)


# ----------------------------------------------------------------------------------------------
# Neurons


def type_prototypes(n_types: int, n_dimensions: int = len(TYPE_PARAMETERS)) -> np.ndarray:
    """K well separated prototypes in the unit cube of the type parameters, (K, n_dimensions): the five
    static ones, or more where a simulator adds parameters (the temporal ones of `simulate_dynamic`).

    Farthest-point selection from a fixed candidate set: every prototype is as far as possible from
    the others, and the design depends on K only, so types mean the same in every mouse. The design
    is then mirrored along the phase-invariance axis, if needed, so that complex types are at least
    half: the Sensorium neurons are layer 2/3 cells, where complex-like responses are common.
    Mirroring keeps every distance between prototypes.
    """
    rng = np.random.default_rng(PROTOTYPE_DESIGN_SEED)
    candidates = rng.uniform(PROTOTYPE_MARGIN, 1 - PROTOTYPE_MARGIN, size=(4096, n_dimensions))
    chosen = [int(np.argmax(np.linalg.norm(candidates - 0.5, axis=1)))]
    distance = np.linalg.norm(candidates - candidates[chosen[0]], axis=1)
    for _ in range(n_types - 1):
        chosen.append(int(np.argmax(distance)))
        distance = np.minimum(distance, np.linalg.norm(candidates - candidates[chosen[-1]], axis=1))
    prototypes = candidates[chosen]
    column = list(TYPE_PARAMETERS).index("phase_invariance")
    if np.mean(prototypes[:, column] > 0.5) < 0.5:
        prototypes[:, column] = 1 - prototypes[:, column]
    return prototypes


def separation_of(prototypes: np.ndarray) -> float:
    """The distance between the nearest two prototypes in within-type spreads (WITHIN_TYPE_SPREAD in
    the static 5-D space: CLUSTER_SPREAD · √dimensions); infinite for one type."""
    if len(prototypes) < 2:
        return np.inf
    distances = np.linalg.norm(prototypes[:, None] - prototypes[None], axis=2)
    within_type_spread = CLUSTER_SPREAD * np.sqrt(prototypes.shape[1])
    return float(np.min(distances[np.triu_indices(len(prototypes), 1)]) / within_type_spread)


def design_separation(n_types: int, n_dimensions: int = len(TYPE_PARAMETERS)) -> float:
    """The separation of `type_prototypes(n_types, n_dimensions)`: the most `type_separation` can be."""
    return separation_of(type_prototypes(n_types, n_dimensions))


def separated_prototypes(n_types: int, separation: float | None,
                         n_dimensions: int = len(TYPE_PARAMETERS)) -> tuple[np.ndarray, float]:
    """The prototypes moved towards their centroid until the nearest two are `separation` within-type
    spreads apart, and the factor applied (1: the design itself, `separation` None; 0: one type)."""
    prototypes = type_prototypes(n_types, n_dimensions)
    if separation is None or n_types == 1:
        return prototypes, 1.0
    factor = separation / separation_of(prototypes)
    centroid = prototypes.mean(axis=0)
    return centroid + factor * (prototypes - centroid), factor


def type_polarities(n_types: int) -> np.ndarray:
    """ON (+1) or OFF (-1) polarity of each type: the sign of cos φ of its neurons, alternating by type.

    Polarity shapes the responses of any cell with a simple (linear-rectified) component, an ON and
    an OFF cell answering opposite contrasts, so a type of mixed polarity would be two response
    classes that no model could merge. Within its polarity a neuron's phase is a free nuisance.
    """
    return np.where(np.arange(n_types) % 2 == 0, 1, -1)


def coordinates_to_parameters(coordinates: np.ndarray, pixel_scale: float = 1.0) -> dict[str, np.ndarray]:
    """Map unit-cube coordinates (…, 5) to named type parameters in physical units.

    `pixel_scale` = image height / REFERENCE_HEIGHT converts the spatial parameters to image pixels.
    """
    parameters = {name: unit_to_value(coordinates[..., column], *spec)
                  for column, (name, spec) in enumerate(TYPE_PARAMETERS.items())}
    parameters["spatial_frequency"] = parameters["spatial_frequency"] / pixel_scale
    parameters["envelope_size"] = parameters["envelope_size"] * pixel_scale
    return parameters


def unit_to_value(u: np.ndarray, low: float, high: float, scale: str) -> np.ndarray:
    """A unit-cube coordinate as the physical value of a (low, high, scale) type parameter."""
    if scale == "log":
        return low * (high / low) ** u
    if scale == "linear":
        return low + (high - low) * u
    return high * np.maximum(u - ONSET, 0.0) / (1 - ONSET)


def type_names(prototypes: np.ndarray) -> np.ndarray:
    """Readable names from the five static coordinates, e.g. 'T2 complex ON hiSF largeRF SS XO' (SS/XO:
    strong surround / cross-orientation)."""
    names = []
    polarities = type_polarities(len(prototypes))
    for k, (sf, size, invariance, surround, cross) in enumerate(prototypes[:, :len(TYPE_PARAMETERS)]):
        parts = [f"T{k}", "complex" if invariance > 0.5 else "simple", "ON" if polarities[k] > 0 else "OFF",
                 "hiSF" if sf > 0.5 else "loSF", "largeRF" if size > 0.5 else "smallRF"]
        parts += ["SS"] if surround > 0.5 else []
        parts += ["XO"] if cross > 0.5 else []
        names.append(" ".join(parts))
    return np.array(names)


def _type_coordinates(rng: np.random.Generator, n: int, prototypes: np.ndarray, discreteness: float,
                      fractions=None) -> tuple[np.ndarray, np.ndarray]:
    """Unit-cube coordinates pulled from a uniform continuum towards the prototypes by `discreteness`.

    Each neuron draws its type uniformly, or with `fractions` the types get exact counts
    (`type_counts`) in a random order. cell_type is the drawn type at discreteness 1 (the planted type,
    also where close prototypes make a neuron nearer another one), else the nearest prototype
    (bookkeeping of a continuum).
    """
    if fractions is None:
        drawn_type = rng.integers(len(prototypes), size=n)
    else:
        drawn_type = rng.permutation(np.repeat(np.arange(len(prototypes)), type_counts(n, fractions)))
    continuum = rng.uniform(size=(n, prototypes.shape[1]))
    jitter = rng.normal(0.0, CLUSTER_SPREAD, size=continuum.shape)
    coordinates = np.clip((1 - discreteness) * continuum + discreteness * prototypes[drawn_type] + jitter, 0, 1)
    if discreteness == 1:
        return coordinates, drawn_type
    distances = np.linalg.norm(coordinates[:, None] - prototypes[None], axis=2)
    return coordinates, np.argmin(distances, axis=1)


def _phases(rng: np.random.Generator, polarity: np.ndarray, typed_share: float) -> np.ndarray:
    """Random spatial phases; a neuron takes its type's polarity (sign of cos φ) with probability
    `typed_share` (discreteness × prototype separation factor), as its coordinates are pulled to the
    prototype: a continuum, or types moved together into one, has none."""
    phase = rng.uniform(0.0, 2 * np.pi, size=len(polarity))
    typed = rng.uniform(size=len(polarity)) < typed_share
    flip = typed & (polarity * np.cos(phase) < 0)
    return np.mod(phase + np.pi * flip, 2 * np.pi)


def _retinotopy(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Affine map (2, 3) from motor (x, y, 1) in µm to RF (x, y) in pixels, and the patch centre in µm.

    The imaged patch maps onto the central RF_SPREAD of the image in each direction: as in a real
    experiment, the screen is centred on the population's receptive fields, which cover only part of it.
    Azimuth runs against cortical x (as in mouse V1).
    """
    patch_centre = rng.uniform(-200.0, 200.0, size=2)
    scale = RF_SPREAD * np.array([-width, height]) / CORTEX_SIZE_UM
    offset = np.array([width / 2, height / 2]) - scale * patch_centre
    return np.column_stack([np.diag(scale), offset]), patch_centre


def _behaviour_gains(rng: np.random.Generator, n: int, modulation: float) -> dict[str, np.ndarray]:
    """Log-gain coefficients per neuron: running and pupil mostly increase responses."""
    return {
        "gain_running": modulation * rng.normal(0.15, 0.08, size=n),
        "gain_pupil": modulation * rng.normal(0.10, 0.07, size=n),
        "gain_pupil_derivative": modulation * rng.normal(0.0, 0.03, size=n),
    }


def sample_neurons(rng: np.random.Generator, config: dict,
                   n_dimensions: int = len(TYPE_PARAMETERS)) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Parameters of every neuron (before calibration) and the motor coordinates (N, 3) in µm.

    With more than the five static type dimensions, the extra coordinates are drawn like the others
    and left for the caller to map (`type_coordinates`, `type_prototype_coordinates`).
    """
    n, height, width = config["neurons"], config["image_height"], config["image_width"]
    prototypes, factor = separated_prototypes(config["n_types"], config["type_separation"], n_dimensions)
    polarity = type_polarities(len(prototypes))
    coordinates, cell_type = _type_coordinates(rng, n, prototypes, config["discreteness"], config["type_fractions"])
    pixel_scale = height / REFERENCE_HEIGHT
    margin = RF_MARGIN * pixel_scale
    retinotopy, patch_centre = _retinotopy(rng, height, width)
    motor_xy = patch_centre + rng.uniform(-0.5, 0.5, size=(n, 2)) * CORTEX_SIZE_UM
    motor = np.column_stack([motor_xy, rng.uniform(150.0, 400.0, size=n)])
    scatter = rng.normal(0.0, config["rf_scatter"] * pixel_scale, size=(n, 2))
    rf = motor_xy @ retinotopy[:, :2].T + retinotopy[:, 2] + scatter
    rf = np.clip(rf, margin, [width - margin, height - margin])
    neurons = {
        "cell_type": cell_type.astype(np.int64),
        "type_names": type_names(prototypes),
        "type_parameter_names": np.array(list(TYPE_PARAMETERS)),
        "type_prototypes": np.column_stack(list(coordinates_to_parameters(prototypes, pixel_scale).values())),
        "type_prototype_coordinates": prototypes,
        "type_polarity": polarity,
        "type_coordinates": coordinates,
        "rf_x": rf[:, 0],
        "rf_y": rf[:, 1],
        "orientation": rng.uniform(0.0, np.pi, size=n),
        "phase": _phases(rng, polarity[cell_type], config["discreteness"] * factor),
        **coordinates_to_parameters(coordinates, pixel_scale),
        **_behaviour_gains(rng, n, config["behavior_modulation"]),
        "surround_ratio": np.array(SURROUND_RATIO),
        "eye_center": EYE_CENTER.copy(),
        "eye_shift_gain": np.array(float(config["eye_shift_gain"])),
        "retinotopy": retinotopy,
        "discreteness": np.array(float(config["discreteness"])),
        "type_separation": np.array(separation_of(prototypes)),
        "labelled": ~np.isin(cell_type, config["unlabelled_types"]),
    }
    return neurons, motor.astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Behaviour and eye position


def ar1(rng: np.random.Generator, n: int, rho: float) -> np.ndarray:
    """A stationary AR(1) series with unit variance: slow fluctuations across consecutive trials."""
    innovations = rng.standard_normal(n) * np.sqrt(1 - rho**2)
    innovations[0] = rng.standard_normal()
    return signal.lfilter([1.0], [1.0, -rho], innovations)


def simulate_behavior(rng: np.random.Generator, n_trials: int, arousal_persistence: float = 0.97,
                      eye_persistence: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """Behaviour (T, 3) = pupil dilation, its derivative, running speed, and pupil_center (T, 2), in time order.

    A slow arousal state drives both running (cm/s, zero while sitting) and pupil size (camera px),
    so the two are correlated as in real mice; the eye wanders around EYE_CENTER. The persistences are
    the AR(1) coefficients from one sample to the next (trials here; video frames in `simulate_dynamic`).
    """
    arousal = ar1(rng, n_trials, arousal_persistence)
    running = np.maximum(0.0, 12.0 * (arousal - 0.2) + 2.0 * rng.standard_normal(n_trials))
    pupil = np.maximum(5.0, PUPIL_MEAN + 5.0 * arousal + 1.5 * rng.standard_normal(n_trials))
    pupil_derivative = np.diff(pupil, prepend=pupil[0])
    wander = [ar1(rng, n_trials, eye_persistence) for _ in range(2)]
    eye = EYE_CENTER + EYE_SD * np.column_stack(wander)
    behavior = np.column_stack([pupil, pupil_derivative, running])
    return behavior.astype(np.float32), eye.astype(np.float32)


# ----------------------------------------------------------------------------------------------
# The response model


def behavior_gain(neurons: dict, behavior: np.ndarray | None) -> np.ndarray | float:
    """Multiplicative gain (T, N) from pupil, its derivative and running; 1 when behaviour is None."""
    if behavior is None:
        return 1.0
    behavior = np.asarray(behavior, dtype=np.float64)
    pupil = (behavior[:, 0:1] - PUPIL_MEAN) / PUPIL_SD
    derivative = behavior[:, 1:2] / PUPIL_DERIVATIVE_SD
    running = behavior[:, 2:3] / RUNNING_SCALE
    log_gain = (neurons["gain_pupil"] * pupil + neurons["gain_pupil_derivative"] * derivative
                + neurons["gain_running"] * running)
    return np.exp(log_gain)


def population_rates(neurons: dict, images: np.ndarray, behavior: np.ndarray | None = None,
                     pupil_center: np.ndarray | None = None) -> np.ndarray:
    """Noise-free rates (T, N) float32 of the true neurons for any stimuli.

    `neurons` is the ground-truth dict (or `load_ground_truth`'s). `images` (T, 1, H, W) or (T, H, W)
    in stored pixel units (0..255, gray 128); behaviour None means gain 1; pupil_center None means the
    eye at EYE_CENTER (no shift).
    """
    height, width = np.shape(images)[-2:]
    pixels = contrast_pixels(neurons, images, pupil_center)
    drive = population_drive(neurons, lambda idx: linear_responses(neurons, idx, pixels, height, width))
    rates = behavior_gain(neurons, behavior) * (neurons["baseline"] + neurons["amplitude"] * drive)
    return rates.astype(np.float32)


def population_drive(neurons: dict, linear_of: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Normalized drive (T, N), block by block of neurons, from their filter outputs `linear_of(idx)` (6, T, n)."""
    n_neurons = len(neurons["rf_x"])
    blocks = [np.arange(start, min(start + NEURON_BLOCK, n_neurons)) for start in range(0, n_neurons, NEURON_BLOCK)]
    drives = [normalized_drive(neurons, idx, linear_of(idx))
              for idx in progress_bar(blocks, desc="population rates", unit="block", leave=False)]
    return np.concatenate(drives, axis=1)


def calibrate(rng: np.random.Generator, neurons: dict, height: int, width: int, rate_spread: float) -> dict:
    """Add filter scales, amplitude and baseline, measured on a fixed set of natural images."""
    calibration = natural_images(np.random.default_rng(CALIBRATION_SEED), CALIBRATION_IMAGES, height, width)
    pixels = contrast_pixels(neurons, calibration, None)
    return calibrate_with(rng, neurons, rate_spread, lambda idx: linear_responses(neurons, idx, pixels, height, width))


def calibrate_with(rng: np.random.Generator, neurons: dict, rate_spread: float,
                   linear_of: Callable[[np.ndarray], np.ndarray]) -> dict:
    """Add filter scales, amplitude and baseline from the filter outputs `linear_of(idx)` (6, T, n) of
    the neurons `idx` to calibration stimuli (natural images, or movies for `simulate_dynamic`).

    Scales make every filter's RMS output 1 on the calibration stimuli; amplitudes give each neuron a
    log-normally distributed mean rate (population mean 1) at the reference behaviour.
    """
    n_neurons = len(neurons["rf_x"])
    scale_names = ("center_scale", "surround_scale", "orthogonal_scale")
    neurons = {**neurons, **{key: np.empty(n_neurons) for key in scale_names}}
    mean_drive = np.empty(n_neurons)
    for start in range(0, n_neurons, NEURON_BLOCK):
        idx = np.arange(start, min(start + NEURON_BLOCK, n_neurons))
        linear = linear_of(idx)
        for key, pair in zip(scale_names, (linear[:2], linear[2:4], linear[4:])):
            neurons[key][idx] = np.sqrt(np.mean(pair**2, axis=(0, 1)))
        mean_drive[idx] = normalized_drive(neurons, idx, linear).mean(axis=0)
    mean_rate = np.exp(rng.normal(-rate_spread**2 / 2, rate_spread, size=n_neurons))
    neurons["baseline"] = BASELINE_FRACTION * mean_rate
    neurons["amplitude"] = (1 - BASELINE_FRACTION) * mean_rate / mean_drive
    return neurons


def noisy_responses(rng: np.random.Generator, rates: np.ndarray, fano: float) -> np.ndarray:
    """Gamma-distributed responses around the rates (mean = rate, variance = fano · rate): non-negative, continuous."""
    return rng.gamma(shape=rates / fano, scale=fano).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# One mouse


def _trial_design(config: dict, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tiers, image ids and the source row of each trial's image, in design order (train, validation, test).

    Test images have ids 0..n_test_images−1 in every mouse (they are the same images); other ids
    are offset by the seed so different mice never share an id for different images.
    """
    n_unique = config["n_train"] + config["n_validation"]
    n_test, repeats = config["n_test_images"], config["test_repeats"]
    tiers = np.repeat(["train", "validation", "test"], [config["n_train"], config["n_validation"], n_test * repeats])
    unique_ids = n_test + seed * n_unique + np.arange(n_unique)
    test_rows = np.repeat(np.arange(n_test), repeats)
    image_ids = np.concatenate([unique_ids, test_rows]).astype(np.int64)
    source_rows = np.concatenate([n_test + np.arange(n_unique), test_rows])
    return tiers, image_ids, source_rows


def simulate_mouse(params: dict, seed: int, stimulus_seed: int) -> tuple[MouseArrays, dict]:
    """Simulate one mouse: raw arrays as stored (trials shuffled) and the ground truth.

    Test images come from `stimulus_seed` (shared by all mice of a dataset); everything else from `seed`.
    """
    config = simulation_params(params)
    height, width = config["image_height"], config["image_width"]
    rng = np.random.default_rng(seed)
    test_images = natural_images(np.random.default_rng(stimulus_seed), config["n_test_images"], height, width)
    unique_images = natural_images(rng, config["n_train"] + config["n_validation"], height, width)
    neurons, motor = sample_neurons(rng, config)
    neurons = calibrate(rng, neurons, height, width, config["rate_spread"])

    tiers, image_ids, source_rows = _trial_design(config, seed)
    n_trials = len(tiers)
    trial_idx = rng.permutation(n_trials)  # presentation time of each trial
    behavior_in_time, eye_in_time = simulate_behavior(rng, n_trials)
    file_order = rng.permutation(n_trials)  # files are not stored in time order
    tiers, image_ids, source_rows, trial_idx = (a[file_order] for a in (tiers, image_ids, source_rows, trial_idx))
    behavior, pupil_center = behavior_in_time[trial_idx], eye_in_time[trial_idx]
    images = np.concatenate([test_images, unique_images])[source_rows]

    rates = population_rates(neurons, images, behavior, pupil_center)
    arrays = MouseArrays(
        images=images,
        responses=noisy_responses(rng, rates, config["noise_fano"]),
        behavior=behavior,
        pupil_center=pupil_center,
        tiers=tiers,
        image_ids=image_ids,
        trial_idx=trial_idx.astype(np.int64),
        cell_motor_coordinates=motor,
        unit_ids=np.arange(1, config["neurons"] + 1, dtype=np.int64),
    )
    truth = {key: np.asarray(value) for key, value in {**neurons, "rates": rates}.items()}
    return arrays, truth


def simulation_summary(arrays: MouseArrays, truth: dict) -> dict:
    """The numbers worth logging for a simulated mouse: trial counts, sizes, mean rate and oracle."""
    test = arrays.tiers == "test"
    return {
        "trials_per_tier": {str(tier): int((arrays.tiers == tier).sum()) for tier in np.unique(arrays.tiers)},
        "neurons": int(arrays.responses.shape[1]),
        "types": [str(name) for name in truth["type_names"]],
        "type_counts": np.bincount(truth["cell_type"], minlength=len(truth["type_names"])).tolist(),
        "labelled": int(np.sum(truth["labelled"])),
        "discreteness": float(truth["discreteness"]),
        "mean_rate": float(truth["rates"].mean()),
        "mean_response": float(arrays.responses.mean()),
        "mean_oracle": float(metrics.jackknife_oracle(arrays.responses[test], arrays.image_ids[test]).mean()),
    }


# ----------------------------------------------------------------------------------------------
# Ground truth on disk


def save_ground_truth(path: Path, truth: dict) -> None:
    """Write the ground truth as one compressed .npz (no pickle), atomically."""
    path = Path(path)
    missing = sorted(set(TRUTH_KEYS) - set(truth))
    if missing:
        raise ValueError(f"{path}: ground truth lacks {missing}")
    arrays = {key: np.asarray(value) for key, value in truth.items()}
    objects = sorted(key for key, value in arrays.items() if value.dtype == object)
    if objects:
        raise ValueError(f"{path}: object arrays {objects} cannot be stored without pickle")
    write_npz(path, arrays, compressed=True)


def load_ground_truth(path: Path) -> dict:
    """Read a ground-truth .npz into a dict of arrays; DataError names the file and the problem.

    `labelled` (bool per neuron) is all True in files written before `unlabelled_types` existed.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: ground truth file is missing (only simulated mice have one)")
    truth = read_npz(path, tuple(key for key in TRUTH_KEYS if key not in OPTIONAL_TRUTH), DataError)
    truth.setdefault("labelled", np.ones(len(truth["cell_type"]), dtype=bool))
    return truth
