"""The simulated video V1 population: causality, the planted temporal biology, the movies, the trial layout."""

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from v1twin.data import simulate
from v1twin.data import simulate_dynamic as dynamic
from v1twin.data.dynamic_arrays import DYNAMIC_TIERS, check_dynamic_arrays

SMALL = {
    "image_height": 18,
    "image_width": 32,
    "neurons": 12,
    "n_types": 3,
    "n_train": 6,
    "n_oracle_clips": 2,
    "n_test_clips": 1,
    "test_repeats": 2,
    "trial_length": 40,
    "padded_length": 50,
}
HEIGHT, WIDTH, FRAMES = 36, 64, 120


@pytest.fixture(scope="module")
def mouse():
    return dynamic.simulate_dynamic_mouse(SMALL, seed=5, stimulus_seed=0)


@pytest.fixture(scope="module")
def centred_neurons():
    """Six planted types, two neurons each, all looking at the frame centre (no border effects)."""
    config = dynamic.dynamic_params({"neurons": 12, "n_types": 6, "image_height": HEIGHT, "image_width": WIDTH})
    rng = np.random.default_rng(0)
    neurons, _ = dynamic.sample_dynamic_neurons(rng, config)
    neurons["rf_x"][:], neurons["rf_y"][:] = WIDTH / 2, HEIGHT / 2
    return dynamic.calibrate_dynamic(rng, neurons, HEIGHT, WIDTH, config["rate_spread"])


def one_neuron(neurons: dict, i: int, **overrides) -> dict:
    """The ground truth restricted to neuron i, with some of its parameters replaced."""
    n = len(neurons["rf_x"])
    single = {k: (v[[i]] if np.ndim(v) == 1 and len(v) == n and k != "type_names" else v) for k, v in neurons.items()}
    return {**single, **{key: np.array([value], dtype=np.float64) for key, value in overrides.items()}}


def grating_movie(neuron: dict, drift: float, frames: int = FRAMES, onset: int = 0) -> np.ndarray:
    """A grating (H, W, T) at the neuron's orientation, frequency and phase, drifting along its x' axis
    (METHODS §7) by `drift` cycles per second; grey before frame `onset`."""
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    theta = neuron["orientation"][0]
    rotated = np.cos(theta) * (xs - neuron["rf_x"][0]) - np.sin(theta) * (ys - neuron["rf_y"][0])
    t = np.arange(frames) / dynamic.FRAME_RATE
    phase = 2 * np.pi * neuron["spatial_frequency"][0] * rotated[..., None] + neuron["phase"][0] - 2 * np.pi * drift * t
    return 128 + 64 * np.cos(phase) * (np.arange(frames) >= onset)


def clean_cell(neurons: dict, i: int, **overrides) -> dict:
    """Neuron i as a pure complex cell without normalization, so only the temporal parameters act."""
    return one_neuron(neurons, i, phase_invariance=1.0, surround_suppression=0.0, cross_orientation=0.0, **overrides)


# ----------------------------------------------------------------------------------------------
# The response model: causal, direction selective, transient or sustained


def test_rates_at_a_frame_do_not_depend_on_later_frames_behaviour_or_eye_position(mouse):
    arrays, truth = mouse
    video, behavior, eye = arrays.videos[0], arrays.behavior[0], arrays.pupil_center[0]
    rates = dynamic.dynamic_population_rates(truth, video, behavior, eye)
    t = 17
    other = np.random.default_rng(1)
    changed = [array.copy() for array in (video, behavior, eye)]
    for array in changed:
        array[..., t + 1:] = other.uniform(0, 255, size=array[..., t + 1:].shape).round()
    changed_rates = dynamic.dynamic_population_rates(truth, *changed)
    assert np.array_equal(rates[:, :t + 1], changed_rates[:, :t + 1])
    assert not np.allclose(rates[:, t + 1:], changed_rates[:, t + 1:])


@pytest.mark.parametrize("backwards", [0, 1])
def test_a_direction_selective_cell_prefers_its_direction_and_a_non_selective_one_does_not(centred_neurons, backwards):
    neurons = centred_neurons
    direction = neurons["orientation"][0] + np.pi * backwards  # motion along +x' (backwards 0) or -x'
    selective = clean_cell(neurons, 0, direction_selectivity=1.0, preferred_direction=direction)
    plain = clean_cell(neurons, 0, direction_selectivity=0.0, preferred_direction=direction)
    frequency = selective["temporal_frequency"][0]

    def mean_drive(cell, drift):  # rates above baseline, after the kernels have filled (frame 60 on)
        return (dynamic.dynamic_population_rates(cell, grating_movie(cell, drift))[0, 60:] - cell["baseline"]).mean()

    along, against = mean_drive(selective, frequency), mean_drive(selective, -frequency)
    preferred, null = (along, against) if backwards == 0 else (against, along)
    assert preferred > 10 * null > 0
    assert mean_drive(plain, frequency) == pytest.approx(mean_drive(plain, -frequency), rel=0.02)


def test_direction_selectivity_is_strongest_at_the_preferred_temporal_frequency(centred_neurons):
    cell = clean_cell(centred_neurons, 1, direction_selectivity=1.0, temporal_frequency=2.0,
                      preferred_direction=centred_neurons["orientation"][1])

    def index(drift):
        along, against = (dynamic.dynamic_population_rates(cell, grating_movie(cell, d))[0, 60:].mean()
                          - cell["baseline"] for d in (drift, -drift))
        return (along - against) / (along + against)

    assert index(2.0) > 0.95 and index(2.0) > index(0.5) + 0.2 and index(2.0) > index(8.0) + 0.2


def test_a_transient_cell_answers_a_step_and_decays_while_a_sustained_cell_keeps_answering(centred_neurons):
    def step_response(transience):
        cell = clean_cell(centred_neurons, 2, transience=transience, direction_selectivity=0.0)
        rates = dynamic.dynamic_population_rates(cell, grating_movie(cell, 0.0, onset=20))[0] - cell["baseline"]
        return rates[20:].max(), rates[-10:].mean()

    peak, end = step_response(1.0)
    assert end < 0.01 * peak
    peak, end = step_response(0.0)
    assert end > 0.9 * peak


def test_kernels_are_causal_with_dc_gain_one_minus_transience_and_the_motion_partner_starts_late(centred_neurons):
    neurons = {**centred_neurons, "transience": np.array([0.0, 0.5, 1.0]),
               "temporal_frequency": np.array([1.0, 2.0, 6.0])}
    kernel, delayed = dynamic.temporal_kernels(neurons, np.arange(3))
    np.testing.assert_allclose(kernel.sum(axis=1), [1.0, 0.5, 0.0], atol=1e-12)
    np.testing.assert_allclose(delayed.sum(axis=1), [1.0, 0.5, 0.0], atol=1e-12)
    assert kernel[:, 0].all()  # the current frame counts
    # A quarter period late: 7.5, 3.75 and 1.25 frames at 30 Hz, so lags 0..6, 0..2 and 0 see nothing.
    assert not delayed[0, :7].any() and delayed[0, 7] != 0
    assert not delayed[1, :3].any() and delayed[1, 3] != 0
    assert delayed[2, 0] == 0 and delayed[2, 1] != 0


def test_the_transient_kernel_peaks_at_the_stated_frequency():
    # |fast - slow| of the continuous gamma kernels (order n, time constants τ and 2τ) peaks at f·τ = 0.05166
    frequency = np.linspace(1e-3, 0.5, 200_000)

    def gamma(tau):
        return (1 + 2j * np.pi * frequency * tau) ** -(dynamic.KERNEL_ORDER + 1)

    peak = frequency[np.argmax(np.abs(gamma(1.0) - gamma(dynamic.SLOW_RATIO)))]
    assert peak == pytest.approx(dynamic.PEAK_FREQUENCY_TAU, rel=1e-3)


# ----------------------------------------------------------------------------------------------
# Movies


def test_movies_have_one_over_f_spectra_in_space_and_time_and_integral_grey_levels():
    frames = 128
    movies = np.stack(dynamic.natural_movies(np.random.default_rng(0), [frames] * 16, 18, 32))
    assert movies.shape == (16, 18, 32, frames) and movies.dtype == np.float32
    assert movies.min() >= 0 and movies.max() <= 255 and np.array_equal(movies, np.round(movies))
    series = movies - movies.mean(axis=-1, keepdims=True)
    power = np.mean(np.abs(np.fft.rfft(series * np.hanning(frames), axis=-1)) ** 2, axis=(0, 1, 2))
    frequency = np.fft.rfftfreq(frames)
    band = (frequency > 0.02) & (frequency < 0.4)
    assert np.polyfit(np.log(frequency[band]), np.log(power[band]), 1)[0] == pytest.approx(-2.0, abs=0.4)
    images = movies[..., ::32].transpose(0, 3, 1, 2).reshape(-1, 18, 32)
    spatial = np.mean(np.abs(np.fft.fft2(images - images.mean(axis=(1, 2), keepdims=True))) ** 2, axis=0)
    radius = np.hypot(np.fft.fftfreq(32)[None], np.fft.fftfreq(18)[:, None])
    band = (radius > 0.05) & (radius < 0.4)
    assert np.polyfit(np.log(radius[band]), np.log(spatial[band]), 1)[0] == pytest.approx(-2.0, abs=0.2)


# ----------------------------------------------------------------------------------------------
# Types: eight dimensions, the same knobs


def sampled(**config) -> dict:
    params = dynamic.dynamic_params({"neurons": 600, **config})
    return dynamic.sample_dynamic_neurons(np.random.default_rng(3), params)[0]


def test_types_extend_to_the_temporal_parameters_and_are_tight_at_discreteness_one():
    neurons = sampled()
    assert neurons["type_coordinates"].shape == (600, dynamic.N_DIMENSIONS)
    assert neurons["type_prototypes"].shape == (6, dynamic.N_DIMENSIONS)
    assert list(neurons["type_parameter_names"][-3:]) == ["transience", "temporal_frequency", "direction_selectivity"]
    types = neurons["cell_type"]
    for name, column in (("transience", 5), ("temporal_frequency", 6), ("direction_selectivity", 7)):
        per_type_mean = np.array([neurons[name][types == k].mean() for k in range(6)])
        np.testing.assert_allclose(per_type_mean, neurons["type_prototypes"][:, column], rtol=0.1, atol=0.03)
    names = neurons["type_names"]
    assert len(set(names)) == 6 and all(("transient" in name) != ("sustained" in name) for name in names)
    continuum = sampled(discreteness=0.0)
    tight = np.mean([neurons["type_coordinates"][types == k].std(axis=0).mean() for k in range(6)])
    loose = np.mean([continuum["type_coordinates"][continuum["cell_type"] == k].std(axis=0).mean() for k in range(6)])
    assert loose > 4 * tight


def test_separation_zero_is_one_type_in_all_eight_dimensions():
    one = sampled(type_separation=0.0)
    prototypes = one["type_prototype_coordinates"]
    assert prototypes.shape == (6, 8) and np.allclose(prototypes, prototypes[0])
    labels = KMeans(6, n_init=10, random_state=0).fit_predict(one["type_coordinates"])
    assert adjusted_rand_score(one["cell_type"], labels) == pytest.approx(0.0, abs=0.02)
    assert float(sampled()["type_separation"]) == pytest.approx(simulate.design_separation(6, 8))


# ----------------------------------------------------------------------------------------------
# One mouse: layout, determinism, shared clips, ground truth


def test_arrays_pass_the_contract_with_the_sensorium_tiers_and_lengths(mouse):
    arrays, truth = mouse
    check_dynamic_arrays(arrays, "simulated")
    counts = {tier: int((arrays.tiers == tier).sum()) for tier in DYNAMIC_TIERS}
    assert counts == {"train": 6, "oracle": 4, "live_test_main": 2, "live_test_bonus": 2, "final_test_main": 2,
                      "final_test_bonus": 2}
    lengths = arrays.lengths
    assert np.all(lengths[~np.char.endswith(arrays.tiers.astype(str), "bonus")] == 40)
    assert lengths.max() < arrays.padded_length == 50 and lengths.min() >= 20
    assert np.array_equal(arrays.trial_ids, np.arange(18))
    assert (arrays.tiers[:-1] != arrays.tiers[1:]).sum() > 4  # tiers interleaved in the files
    for video, responses, behavior, eye in zip(arrays.videos, arrays.responses, arrays.behavior, arrays.pupil_center):
        assert video.dtype == responses.dtype == behavior.dtype == eye.dtype == np.float32
        assert np.all(np.isfinite(responses)) and responses.min() >= 0
        assert behavior[0].min() > 0 and behavior[1].min() >= 0  # pupil size, running speed
    assert truth["rates"].shape == (18, 12, 50)
    assert np.array_equal(np.isnan(truth["rates"][:, 0]), np.arange(50)[None] >= lengths[:, None])


def test_repeated_clips_are_identical_and_noise_free_rates_reproduce_from_the_saved_truth(mouse, tmp_path):
    arrays, truth = mouse
    for clip in np.unique(truth["clip_id"]):
        shown = [arrays.videos[i] for i in np.flatnonzero(truth["clip_id"] == clip)]
        assert all(np.array_equal(video, shown[0]) for video in shown)
    repeated = np.unique(truth["clip_id"][arrays.tiers == "oracle"], return_counts=True)[1]
    assert repeated.tolist() == [2, 2]
    simulate.save_ground_truth(tmp_path / "truth.npz", truth)
    loaded = simulate.load_ground_truth(tmp_path / "truth.npz")
    assert set(loaded) == set(truth)
    for trial in (0, 7):
        rates = dynamic.dynamic_population_rates(loaded, arrays.videos[trial], arrays.behavior[trial],
                                                 arrays.pupil_center[trial])
        np.testing.assert_allclose(rates, truth["rates"][trial, :, :arrays.lengths[trial]], rtol=1e-5)


def test_same_seeds_give_identical_mice(mouse):
    arrays, truth = mouse
    again, truth_again = dynamic.simulate_dynamic_mouse(SMALL, seed=5, stimulus_seed=0)
    for name in ("videos", "responses", "behavior", "pupil_center"):
        assert all(np.array_equal(a, b) for a, b in zip(getattr(arrays, name), getattr(again, name))), name
    for name in ("tiers", "trial_ids", "cell_motor_coordinates", "unit_ids"):
        assert np.array_equal(getattr(arrays, name), getattr(again, name)), name
    assert truth.keys() == truth_again.keys()
    assert all(np.array_equal(truth[k], truth_again[k], equal_nan=truth[k].dtype.kind == "f") for k in truth)


def test_oracle_and_test_clips_are_shared_across_mice_and_the_rest_differs(mouse):
    arrays, truth = mouse
    other, other_truth = dynamic.simulate_dynamic_mouse(SMALL, seed=9, stimulus_seed=0)

    def clips(a, t, train):
        rows = np.flatnonzero((a.tiers == "train") == train)
        return {int(t["clip_id"][i]): a.videos[i] for i in rows}

    shared, other_shared = clips(arrays, truth, False), clips(other, other_truth, False)
    assert shared.keys() == other_shared.keys() == set(range(6))  # 2 oracle clips, 1 per test tier
    assert all(np.array_equal(shared[k], other_shared[k]) for k in shared)
    train, other_train = clips(arrays, truth, True), clips(other, other_truth, True)
    assert not set(train) & set(other_train)
    assert not np.array_equal(next(iter(train.values())), next(iter(other_train.values())))
    assert not np.array_equal(arrays.cell_motor_coordinates, other.cell_motor_coordinates)
    assert not np.array_equal(truth["orientation"], other_truth["orientation"])


def test_bad_parameters_are_rejected_with_the_key_named():
    with pytest.raises(simulate.SimulationError, match="padded_length: expected more than trial_length = 40"):
        dynamic.dynamic_params({"trial_length": 40, "padded_length": 40})
    with pytest.raises(simulate.SimulationError, match=r"unknown keys \['n_validation'\]"):
        dynamic.dynamic_params({"n_validation": 3})
    with pytest.raises(simulate.SimulationError, match="n_oracle_clips"):
        dynamic.dynamic_params({"n_oracle_clips": 0})
    with pytest.raises(simulate.SimulationError, match="type_separation"):
        dynamic.dynamic_params({"type_separation": 1000.0})
