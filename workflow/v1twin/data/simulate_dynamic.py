"""A simulated video V1 population with known answers: the static simulator (`simulate`) in time.

Every neuron keeps its static receptive field (Gabor filters, simple/complex blend, divisive
normalization, behaviour gain, eye position) and sees the movie through a causal temporal kernel: a
fast gamma kernel minus `transience` times a slower one (0: sustained, 1: transient, no response to a
static image), whose time scale puts the transient kernel's peak at `temporal_frequency`. A motion
term adds the centre pair's quadrature partner delayed by a quarter period of that frequency, with
weight `direction_selectivity`, so the neuron prefers one drift direction (`preferred_direction`).
These three temporal parameters extend the type space: types are points in eight dimensions, and
`discreteness` and `type_separation` act on all of them as in the static simulator.

Movies are 1/f in space and time (a slowly changing 1/f image) and move along a smooth random path;
the oracle and test clips come from the stimulus seed, so every mouse of a dataset sees the same ones.
Pupil, running and eye position are smooth processes over the frames of each trial.
`simulate_dynamic_mouse` returns a `DynamicMouseArrays` (for the 2023 file-tree writer) and the ground
truth (`simulate.save_ground_truth` writes it); `dynamic_population_rates` queries the true neurons
with any movie.
"""

from __future__ import annotations

import numpy as np
from scipy import signal, special

from v1twin.data import simulate
from v1twin.data.dynamic_arrays import DYNAMIC_TIERS, DynamicMouseArrays
from v1twin.data.receptive_fields import contrast_pixels, linear_responses

FRAME_RATE = 30.0  # Hz, as the Sensorium 2023 videos

# The temporal type parameters, (low, high, scale) as simulate.TYPE_PARAMETERS.
TEMPORAL_PARAMETERS = {
    "transience": (0.0, 1.0, "linear"),  # weight of the slow kernel subtracted from the fast one
    "temporal_frequency": (1.0, 6.0, "log"),  # Hz: the transient kernel's peak, the motion term's quadrature
    "direction_selectivity": (0.0, 1.0, "onset"),  # weight of the motion term: null/preferred = (1-w)/(1+w)
}
N_DIMENSIONS = len(simulate.TYPE_PARAMETERS) + len(TEMPORAL_PARAMETERS)

DEFAULTS = {
    **{key: value for key, value in simulate.DEFAULTS.items() if key not in ("n_validation", "n_test_images")},
    "image_height": 36,
    "image_width": 64,
    "neurons": 200,
    "n_train": 80,
    "n_oracle_clips": 4,  # the oracle tier: these clips, each shown test_repeats times
    "n_test_clips": 2,  # clips of each test tier, each shown test_repeats times
    "test_repeats": 4,
    "trial_length": 150,  # frames of train, oracle and main-track test trials (300 in the real data)
    "padded_length": 180,  # frames of every stored file; bonus trials vary in length below it
}
MINIMUM = {"image_height": 16, "image_width": 16, "n_train": 1, "n_oracle_clips": 1, "n_test_clips": 1,
           "test_repeats": 2, "trial_length": 2, "padded_length": 3, "neurons": 1, "n_types": 1}

# Temporal kernels: unit-area gamma kernels t^n e^(-t/τ) of order KERNEL_ORDER, the slow one SLOW_RATIO
# times slower. The difference of the two peaks at PEAK_FREQUENCY_TAU / τ (computed numerically).
KERNEL_ORDER = 3
SLOW_RATIO = 2.0
PEAK_FREQUENCY_TAU = 0.05166
KERNEL_TAIL = 1e-6  # kernels end where this share of the slow kernel's area is left

# The movies' drift velocity: AR(1) over frames (correlated over ~5 frames), sd in reference pixels per frame
# (simulate.REFERENCE_HEIGHT). Faster or more persistent drift steepens the temporal spectrum beyond 1/f.
MOTION_SPEED = 0.2
MOTION_PERSISTENCE = 0.8
AROUSAL_PERSISTENCE = 0.99  # per frame: pupil and running change over seconds
EYE_PERSISTENCE = 0.95
JITTER_SMOOTHING = 0.8  # exponential smoothing of pupil and running from frame to frame

CALIBRATION_CLIPS, CALIBRATION_FRAMES = 16, 90


# ----------------------------------------------------------------------------------------------
# Parameters and stimuli


def dynamic_params(params: dict) -> dict:
    """The video simulation config with defaults filled in, checked key by key (simulate.SimulationError)."""
    config = simulate.simulation_params(params, DEFAULTS, MINIMUM, N_DIMENSIONS)
    if config["padded_length"] <= config["trial_length"]:
        raise simulate.SimulationError(f"simulation.padded_length: expected more than trial_length = "
                                       f"{config['trial_length']} frames, got {config['padded_length']}")
    return config


def natural_movie(rng: np.random.Generator, height: int, width: int, frames: int) -> np.ndarray:
    """One clip (height, width, frames), integral grey 0..255 as float32: a 1/f image that changes
    slowly (amplitude 1/f in space and in time) and drifts along a smooth random path."""
    # A periodic canvas twice the clip in each dimension: the wrap-around never ties opposite edges,
    # or the first and last frames, of the clip together.
    canvas = (2 * height, 2 * width, 2 * frames)
    fy = np.fft.fftfreq(canvas[0])[:, None, None]
    fx = np.fft.fftfreq(canvas[1])[None, :, None]
    ft = np.fft.rfftfreq(canvas[2])[None, None, :]
    spatial = np.hypot(fx, fy)
    amplitude = np.where(spatial > 0, 1 / np.maximum(spatial, 1e-12), 0.0) / np.maximum(ft, 1 / canvas[2])
    coefficients = rng.standard_normal((2, *amplitude.shape))
    field = np.fft.irfftn((coefficients[0] + 1j * coefficients[1]) * amplitude, s=canvas, axes=(0, 1, 2))[..., :frames]
    speed = MOTION_SPEED * height / simulate.REFERENCE_HEIGHT
    path = np.cumsum([speed * simulate.ar1(rng, frames, MOTION_PERSISTENCE) for _ in range(2)], axis=1)
    phase = np.exp(-2j * np.pi * (fx * path[0] + fy * path[1]))  # the Fourier shift by (x, y) = path
    moved = np.fft.ifft2(np.fft.fft2(field, axes=(0, 1)) * phase, axes=(0, 1)).real
    clip = moved[height // 2:height // 2 + height, width // 2:width // 2 + width]
    clip = (clip - clip.mean()) / clip.std()
    return simulate.grey_levels(rng, clip[None])[0].astype(np.float32)


def natural_movies(rng: np.random.Generator, lengths, height: int, width: int) -> list[np.ndarray]:
    """One `natural_movie` per entry of `lengths` (frames)."""
    return [natural_movie(rng, height, width, int(frames)) for frames in lengths]


# ----------------------------------------------------------------------------------------------
# Neurons


def temporal_parameters(coordinates: np.ndarray) -> dict[str, np.ndarray]:
    """The temporal type parameters in physical units from the last coordinates of (…, N_DIMENSIONS)."""
    first = len(simulate.TYPE_PARAMETERS)
    return {name: simulate.unit_to_value(coordinates[..., first + column], *spec)
            for column, (name, spec) in enumerate(TEMPORAL_PARAMETERS.items())}


def dynamic_type_names(prototypes: np.ndarray) -> np.ndarray:
    """The static names plus the temporal coordinates, e.g. 'T1 complex OFF hiSF smallRF transient hiTF DS'."""
    temporal = prototypes[:, len(simulate.TYPE_PARAMETERS):]
    suffixes = [f"{'transient' if transience > 0.5 else 'sustained'} {'hiTF' if frequency > 0.5 else 'loTF'}"
                + (" DS" if selectivity > 0.5 else "") for transience, frequency, selectivity in temporal]
    return np.array([f"{name} {suffix}" for name, suffix in zip(simulate.type_names(prototypes), suffixes)])


def sample_dynamic_neurons(rng: np.random.Generator, config: dict) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Parameters of every neuron (before calibration) and the motor coordinates (N, 3) in µm.

    The preferred direction is a nuisance like the orientation: one of the two motions across it,
    drawn per neuron. It is the angle of the motion on the screen, anticlockwise from rightward.
    """
    neurons, motor = simulate.sample_neurons(rng, config, N_DIMENSIONS)
    prototypes = neurons["type_prototype_coordinates"]
    neurons.update(temporal_parameters(neurons["type_coordinates"]))
    neurons["type_prototypes"] = np.column_stack([neurons["type_prototypes"],
                                                  *temporal_parameters(prototypes).values()])
    neurons["type_parameter_names"] = np.array([*simulate.TYPE_PARAMETERS, *TEMPORAL_PARAMETERS])
    neurons["type_names"] = dynamic_type_names(prototypes)
    backwards = rng.integers(2, size=len(neurons["orientation"]))
    neurons["preferred_direction"] = np.mod(neurons["orientation"] + np.pi * backwards, 2 * np.pi)
    neurons["frame_rate"] = np.array(FRAME_RATE)
    return neurons, motor


# ----------------------------------------------------------------------------------------------
# The response model


def temporal_kernels(neurons: dict, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each neuron's kernel and its copy delayed by a quarter period of its temporal frequency, (n, lags).

    Lag l weighs the frame l frames back: the kernel's area over that frame's display interval, so
    a step response is exact for frames held on screen. Lag 0 is the current frame (causal).
    """
    tau = PEAK_FREQUENCY_TAU / neurons["temporal_frequency"][idx]
    delay = 1 / (4 * neurons["temporal_frequency"][idx])
    span = special.gammaincinv(KERNEL_ORDER + 1, 1 - KERNEL_TAIL) * SLOW_RATIO * tau + delay
    frame_rate = float(neurons["frame_rate"])
    edges = np.arange(int(np.ceil(span.max() * frame_rate)) + 2) / frame_rate
    transience = neurons["transience"][idx, None]
    kernels = [_frame_areas(edges, shift, tau) - transience * _frame_areas(edges, shift, SLOW_RATIO * tau)
               for shift in (np.zeros_like(delay), delay)]
    return kernels[0], kernels[1]


def _frame_areas(edges: np.ndarray, shift: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """Areas (n, lags) of unit gamma kernels (time constants tau, starting `shift` s late) over the
    intervals between `edges` (s), rescaled to sum to 1 so the kernel's DC gain is exact."""
    start = np.maximum(edges[None] - shift[:, None], 0.0)
    areas = np.diff(special.gammainc(KERNEL_ORDER + 1, start / tau[:, None]), axis=1)
    return areas / areas.sum(axis=1, keepdims=True)


def causal_filter(signals: np.ndarray, kernels: np.ndarray) -> np.ndarray:
    """signals (c, T, n) convolved along T with one kernel (n, lags) per neuron, using only past frames.

    A sum of shifted copies, so an output frame never sees later frames, not even through rounding.
    """
    filtered = np.zeros(signals.shape, dtype=np.float64)
    for lag in range(min(kernels.shape[1], signals.shape[1])):
        filtered[:, lag:] += kernels[:, lag] * signals[:, :signals.shape[1] - lag]
    return filtered


def motion_sign(neurons: dict, idx: np.ndarray) -> np.ndarray:
    """+1 where the preferred motion runs along the Gabor's x' axis (METHODS §7), -1 against it."""
    return np.round(np.cos(neurons["preferred_direction"][idx] - neurons["orientation"][idx]))


def temporal_responses(neurons: dict, idx: np.ndarray, pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Filter outputs (6, T, n) of a movie (T, H·W in contrast), in simulate's filter order.

    Every spatial filter's output passes the neuron's temporal kernel; the centre pair gains the
    motion term: each filter's quadrature partner through the delayed kernel, so at the preferred
    temporal frequency the pair's amplitude is 1 + w for the preferred drift and 1 - w for the opposite.
    """
    kernel, delayed = temporal_kernels(neurons, idx)
    spatial = linear_responses(neurons, idx, pixels, height, width)
    filtered = causal_filter(spatial, kernel)
    even_late, odd_late = causal_filter(spatial[:2], delayed)
    weight = neurons["direction_selectivity"][idx] * motion_sign(neurons, idx)
    filtered[0] -= weight * odd_late
    filtered[1] += weight * even_late
    return filtered


def frame_behavior(behavior: np.ndarray | None) -> np.ndarray | None:
    """Behaviour (2, T) of a trial as simulate's (T, 3): pupil, its change from the previous frame, running."""
    if behavior is None:
        return None
    pupil, running = np.asarray(behavior, dtype=np.float64)
    return np.column_stack([pupil, np.diff(pupil, prepend=pupil[0]), running])


def dynamic_population_rates(neurons: dict, video: np.ndarray, behavior: np.ndarray | None = None,
                             pupil_center: np.ndarray | None = None) -> np.ndarray:
    """Noise-free rates (N, T) float32 of the true neurons for one movie (H, W, T), grey 0..255.

    `neurons` is the ground truth (or `simulate.load_ground_truth`'s); behaviour (2, T) None means gain
    1; pupil_center (2, T) None means the eye at EYE_CENTER. Causal: frame t's rates use frames <= t.
    """
    height, width = np.shape(video)[:2]
    eye = None if pupil_center is None else np.asarray(pupil_center).T
    pixels = contrast_pixels(neurons, np.moveaxis(np.asarray(video), -1, 0), eye)
    drive = simulate.population_drive(neurons, lambda idx: temporal_responses(neurons, idx, pixels, height, width))
    rates = simulate.behavior_gain(neurons, frame_behavior(behavior)) * (neurons["baseline"]
                                                                        + neurons["amplitude"] * drive)
    return rates.T.astype(np.float32)


def calibrate_dynamic(rng: np.random.Generator, neurons: dict, height: int, width: int, rate_spread: float) -> dict:
    """Add filter scales, amplitude and baseline, measured on a fixed set of natural movies
    (`simulate.calibrate_with`: every filter's RMS output 1, a log-normal mean rate, population mean 1)."""
    movies = natural_movies(np.random.default_rng(simulate.CALIBRATION_SEED), [CALIBRATION_FRAMES] * CALIBRATION_CLIPS,
                            height, width)
    pixels = [contrast_pixels(neurons, np.moveaxis(movie, -1, 0), None) for movie in movies]

    def responses(idx: np.ndarray) -> np.ndarray:
        return np.concatenate([temporal_responses(neurons, idx, clip, height, width) for clip in pixels], axis=1)

    return simulate.calibrate_with(rng, neurons, rate_spread, responses)


# ----------------------------------------------------------------------------------------------
# One mouse


def trial_behavior(rng: np.random.Generator, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Behaviour (2, T) = pupil dilation, running speed, and pupil_center (2, T) of one trial, float32.

    `simulate.simulate_behavior` over frames (a slow arousal drives pupil and running, the eye wanders),
    its sample-to-sample jitter smoothed by a causal exponential filter, as pupil and treadmill traces
    change smoothly at 30 Hz. Trials are independent draws of the stationary processes.
    """
    behavior, eye = simulate.simulate_behavior(rng, frames, AROUSAL_PERSISTENCE, EYE_PERSISTENCE)
    pupil_and_running = behavior[:, [0, 2]].astype(np.float64)
    start = signal.lfilter_zi([1 - JITTER_SMOOTHING], [1, -JITTER_SMOOTHING])[:, None] * pupil_and_running[0]
    smooth, _ = signal.lfilter([1 - JITTER_SMOOTHING], [1, -JITTER_SMOOTHING], pupil_and_running, axis=0, zi=start)
    return smooth.T.astype(np.float32), np.ascontiguousarray(eye.T)


def _shared_clips(config: dict, stimulus_seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """The oracle and test clips (the same in every mouse of a dataset) and the tier of each, in DYNAMIC_TIERS order.

    Bonus clips vary in length, from half a main trial up to one frame short of the padded length.
    """
    rng = np.random.default_rng(stimulus_seed)
    n_test, length, padded = config["n_test_clips"], config["trial_length"], config["padded_length"]
    lengths = {"oracle": [length] * config["n_oracle_clips"]}
    for tier in DYNAMIC_TIERS[2:]:
        bonus = tier.endswith("bonus")
        lengths[tier] = rng.integers(length // 2, padded, size=n_test).tolist() if bonus else [length] * n_test
    clips = natural_movies(rng, [frames for tier in lengths.values() for frames in tier],
                           config["image_height"], config["image_width"])
    return clips, np.repeat(list(lengths), [len(tier) for tier in lengths.values()])


def simulate_dynamic_mouse(params: dict, seed: int, stimulus_seed: int) -> tuple[DynamicMouseArrays, dict]:
    """Simulate one video mouse: the arrays as stored (trials shuffled, each at its true length) and the truth.

    Oracle and test clips come from `stimulus_seed` (shared by all mice of a dataset), each shown
    `test_repeats` times; train clips and everything else from `seed`. The truth holds every neuron's
    parameters, `clip_id` per trial (shared clips 0.., train clips offset by the seed, as simulate's
    image ids) and the noise-free `rates` (trials, neurons, padded_length), NaN after each trial.
    """
    config = dynamic_params(params)
    height, width, repeats = config["image_height"], config["image_width"], config["test_repeats"]
    rng = np.random.default_rng(seed)
    shared, shared_tiers = _shared_clips(config, stimulus_seed)
    train = natural_movies(rng, [config["trial_length"]] * config["n_train"], height, width)
    neurons, motor = sample_dynamic_neurons(rng, config)
    neurons = calibrate_dynamic(rng, neurons, height, width, config["rate_spread"])

    clips = shared + train
    sources = np.concatenate([np.repeat(np.arange(len(shared)), repeats), len(shared) + np.arange(len(train))])
    tiers = np.concatenate([np.repeat(shared_tiers, repeats), np.full(len(train), "train")])
    file_order = rng.permutation(len(tiers))
    sources, tiers = sources[file_order], tiers[file_order]
    clip_ids = np.where(sources < len(shared), sources, sources + seed * config["n_train"])

    videos, responses, behaviors, pupil_centers = [], [], [], []
    rates = np.full((len(tiers), config["neurons"], config["padded_length"]), np.nan, dtype=np.float32)
    for trial, source in enumerate(sources):
        video = clips[source].copy()  # repeats share no memory with each other
        behavior, eye = trial_behavior(rng, video.shape[-1])
        trial_rates = dynamic_population_rates(neurons, video, behavior, eye)
        rates[trial, :, :video.shape[-1]] = trial_rates
        videos.append(video)
        responses.append(simulate.noisy_responses(rng, trial_rates, config["noise_fano"]))
        behaviors.append(behavior)
        pupil_centers.append(eye)
    arrays = DynamicMouseArrays(
        videos=videos, responses=responses, behavior=behaviors, pupil_center=pupil_centers, tiers=tiers,
        trial_ids=np.arange(len(tiers), dtype=np.int64), padded_length=config["padded_length"],
        cell_motor_coordinates=motor, unit_ids=np.arange(1, config["neurons"] + 1, dtype=np.int64),
    )
    truth = {key: np.asarray(value) for key, value in {**neurons, "rates": rates, "clip_id": clip_ids}.items()}
    return arrays, truth
