"""The simulated V1 population: determinism, file contract, and the planted biology (known answers)."""

import hashlib

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from v1twin import metrics
from v1twin.data import DataError, simulate
from v1twin.data.sensorium_static import load_mouse, write_mouse

SMALL = {
    "image_height": 48,
    "image_width": 80,
    "n_train": 120,
    "n_validation": 30,
    "n_test_images": 8,
    "test_repeats": 4,
    "neurons": 40,
    "n_types": 4,
}
HEIGHT, WIDTH = 72, 128


@pytest.fixture(scope="module")
def mouse():
    return simulate.simulate_mouse(SMALL, seed=5, stimulus_seed=0)


@pytest.fixture(scope="module")
def centred_neurons():
    """Six planted types, 8 neurons each, all looking at the image centre (no border effects)."""
    config = simulate.simulation_params({"neurons": 48, "n_types": 6})
    rng = np.random.default_rng(0)
    neurons, _ = simulate.sample_neurons(rng, config)
    neurons["rf_x"][:], neurons["rf_y"][:] = WIDTH / 2, HEIGHT / 2
    return simulate.calibrate(rng, neurons, HEIGHT, WIDTH, config["rate_spread"])


def one_neuron(neurons: dict, i: int) -> dict:
    """The ground-truth dict restricted to neuron i (per-neuron arrays are those of length N)."""
    n = len(neurons["rf_x"])
    return {k: (v[[i]] if np.ndim(v) == 1 and len(v) == n and k != "type_names" else v) for k, v in neurons.items()}


def grating(neurons: dict, i: int, phase: float, radius: float | None = None, angle: float = 0.0,
            amplitude: float = 64.0) -> np.ndarray:
    """A grating (1, H, W) at neuron i's preferred frequency, rotated by `angle`, optionally a disk at its RF."""
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    dx, dy = xs - neurons["rf_x"][i], ys - neurons["rf_y"][i]
    theta = neurons["orientation"][i] + angle
    carrier = np.cos(2 * np.pi * neurons["spatial_frequency"][i] * (np.cos(theta) * dx - np.sin(theta) * dy) + phase)
    if radius is not None:
        carrier = carrier * (dx**2 + dy**2 <= radius**2)
    return (amplitude * carrier)[None]


def gabor(neurons: dict, i: int, offset: tuple[float, float] = (0.0, 0.0), angle: float = 0.0) -> np.ndarray:
    """Neuron i's own even Gabor (1, H, W), moved by `offset` (x, y) pixels and rotated by `angle`."""
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    dx, dy = xs - neurons["rf_x"][i] - offset[0], ys - neurons["rf_y"][i] - offset[1]
    theta, f, sigma = neurons["orientation"][i] + angle, neurons["spatial_frequency"][i], neurons["envelope_size"][i]
    rotated = np.cos(theta) * dx - np.sin(theta) * dy
    envelope = np.exp(-(dx**2 + dy**2) / (2 * sigma**2))
    return (64 * envelope * np.cos(2 * np.pi * f * rotated + neurons["phase"][i]))[None]


def rates_of(neurons: dict, i: int, stimuli: list[np.ndarray], **kwargs) -> np.ndarray:
    """Rates of neuron i for stimuli given as contrast patterns around gray."""
    return simulate.population_rates(one_neuron(neurons, i), 128 + np.stack(stimuli), **kwargs)[:, 0]


# ----------------------------------------------------------------------------------------------
# Determinism, trial structure, file contract


def test_same_seeds_give_identical_mice_and_other_seeds_differ(mouse):
    arrays, truth = mouse
    again, truth_again = simulate.simulate_mouse(SMALL, seed=5, stimulus_seed=0)
    for name in ("images", "responses", "behavior", "pupil_center", "tiers", "image_ids", "trial_idx",
                 "cell_motor_coordinates", "unit_ids"):
        assert np.array_equal(getattr(arrays, name), getattr(again, name)), name
    assert truth.keys() == truth_again.keys()
    assert all(np.array_equal(truth[k], truth_again[k]) for k in truth)
    other, _ = simulate.simulate_mouse(SMALL, seed=6, stimulus_seed=0)
    assert not np.array_equal(arrays.responses, other.responses)
    assert not np.array_equal(arrays.cell_motor_coordinates, other.cell_motor_coordinates)


def test_test_images_are_shared_across_mice_with_the_same_stimulus_seed(mouse):
    arrays, _ = mouse
    other, _ = simulate.simulate_mouse(SMALL, seed=9, stimulus_seed=0)

    def test_images(a):
        test = np.flatnonzero(a.tiers == "test")
        ids, first = np.unique(a.image_ids[test], return_index=True)
        return ids, a.images[test[first]]

    ids, images = test_images(arrays)
    other_ids, other_images = test_images(other)
    assert np.array_equal(ids, other_ids) and np.array_equal(images, other_images)
    train = arrays.images[arrays.tiers == "train"][:5]
    assert not np.array_equal(train, other.images[other.tiers == "train"][:5])
    new_stimuli, _ = simulate.simulate_mouse(SMALL, seed=5, stimulus_seed=1)
    assert not np.array_equal(images, test_images(new_stimuli)[1])


def test_tiers_repeats_and_shuffled_trial_order(mouse):
    arrays, _ = mouse
    tiers, ids = arrays.tiers, arrays.image_ids
    assert {t: int((tiers == t).sum()) for t in ("train", "validation", "test")} == {"train": 120, "validation": 30,
                                                                                      "test": 32}
    test_ids, counts = np.unique(ids[tiers == "test"], return_counts=True)
    assert len(test_ids) == 8 and np.all(counts == 4)
    for image_id in test_ids:
        shown = arrays.images[ids == image_id]
        assert np.all(shown == shown[0])
    unique_ids = ids[tiers != "test"]
    assert len(np.unique(unique_ids)) == len(unique_ids) and not np.isin(unique_ids, test_ids).any()
    assert sorted(arrays.trial_idx.tolist()) == list(range(len(tiers)))
    assert not np.array_equal(arrays.trial_idx, np.arange(len(tiers)))  # file index is not time order
    assert (tiers[:-1] != tiers[1:]).sum() > 10  # tiers interleaved, not in blocks


def test_arrays_have_the_sensorium_shapes_and_ranges(mouse):
    arrays, truth = mouse
    n_trials = 182
    assert arrays.images.shape == (n_trials, 1, 48, 80) and arrays.images.dtype == np.float32
    assert arrays.images.min() >= 0 and arrays.images.max() <= 255
    assert np.array_equal(arrays.images, np.round(arrays.images))  # uint8 values
    assert arrays.responses.shape == (n_trials, 40) and arrays.behavior.shape == (n_trials, 3)
    assert arrays.pupil_center.shape == (n_trials, 2) and arrays.cell_motor_coordinates.shape == (40, 3)
    assert np.all(np.isfinite(arrays.responses)) and arrays.responses.min() >= 0
    assert truth["rates"].shape == (n_trials, 40) and truth["rates"].dtype == np.float32
    assert truth["rates"].min() > 0


def test_write_and_load_mouse_round_trip_exactly(mouse, tmp_path):
    arrays, truth = mouse
    folder = tmp_path / "static1-2-3-GrayImageNet-sim"
    write_mouse(folder, arrays)
    truth_file = tmp_path / "m.ground_truth.npz"
    simulate.save_ground_truth(truth_file, truth)
    loaded = load_mouse(folder)
    for name in ("images", "responses", "behavior", "pupil_center", "tiers", "image_ids", "trial_idx",
                 "cell_motor_coordinates", "unit_ids"):
        assert np.array_equal(getattr(loaded, name), getattr(arrays, name)), name
    with np.load(truth_file, allow_pickle=False) as stored:
        assert set(stored.files) == set(truth)
    reloaded = simulate.load_ground_truth(truth_file)
    assert all(np.array_equal(reloaded[k], truth[k]) for k in truth)


def test_stored_rates_are_reproduced_by_population_rates_from_the_saved_truth(mouse, tmp_path):
    arrays, truth = mouse
    simulate.save_ground_truth(tmp_path / "truth.npz", truth)
    rates = simulate.population_rates(simulate.load_ground_truth(tmp_path / "truth.npz"), arrays.images,
                                      arrays.behavior, arrays.pupil_center)
    np.testing.assert_allclose(rates, truth["rates"], rtol=1e-5)


def test_missing_or_incomplete_ground_truth_names_the_file(tmp_path):
    path = tmp_path / "m.ground_truth.npz"
    with pytest.raises(DataError, match="m.ground_truth.npz.*missing"):
        simulate.load_ground_truth(path)
    np.savez(path, rates=np.zeros((2, 2)))
    with pytest.raises(DataError, match="m.ground_truth.npz.*lacks"):
        simulate.load_ground_truth(path)


def test_bad_parameters_are_rejected_with_the_key_named():
    with pytest.raises(simulate.SimulationError, match="unknown keys.*neuron_count"):
        simulate.simulation_params({"neuron_count": 3})
    with pytest.raises(simulate.SimulationError, match="discreteness"):
        simulate.simulation_params({"discreteness": 1.5})
    with pytest.raises(simulate.SimulationError, match="test_repeats"):
        simulate.simulation_params({"test_repeats": 1})
    with pytest.raises(simulate.SimulationError, match="noise_fano"):
        simulate.simulation_params({"noise_fano": "high"})
    assert simulate.simulation_params({"seed": 3}) == simulate.DEFAULTS  # the dataset seed is not a parameter
    with pytest.raises(simulate.SimulationError, match=r"type_fractions: expected 4 positive numbers .*n_types = 4"):
        simulate.simulation_params({"n_types": 4, "type_fractions": [1, 2, 3]})
    with pytest.raises(simulate.SimulationError, match="type_fractions"):
        simulate.simulation_params({"n_types": 2, "type_fractions": [1, 0]})
    with pytest.raises(simulate.SimulationError, match=r"unlabelled_types: expected distinct type indices in 0..3"):
        simulate.simulation_params({"n_types": 4, "unlabelled_types": [4]})
    with pytest.raises(simulate.SimulationError, match="at least one type labelled"):
        simulate.simulation_params({"n_types": 2, "unlabelled_types": [0, 1]})
    with pytest.raises(simulate.SimulationError, match=r"type_separation: expected a number in \[0, 1\d\.\d\d\]"):
        simulate.simulation_params({"type_separation": 40.0})
    with pytest.raises(simulate.SimulationError, match="rf_scatter"):
        simulate.simulation_params({"rf_scatter": -1.0})
    with pytest.raises(simulate.SimulationError, match="rate_spread"):
        simulate.simulation_params({"rate_spread": "wide"})


# ----------------------------------------------------------------------------------------------
# Unbalanced and unlabelled types (the retina-style check, D25 Fig. 3)

RETINA = [78, 40, 5, 22, 55]  # D25's first marmoset retina: 145 labelled cells, plus 55 unlabelled (ours)


def population_fingerprint(params: dict, seed: int) -> tuple[list[int], str]:
    """cell_type and a digest of the rng-drawn neuron parameters and of the generator's state afterwards
    (everything simulate_mouse draws later follows from that state)."""
    rng = np.random.default_rng(seed)
    neurons, _ = simulate.sample_neurons(rng, simulate.simulation_params(params))
    digest = hashlib.sha256()
    for key in ("cell_type", "type_coordinates", "orientation", "phase", "gain_running", "gain_pupil",
                "gain_pupil_derivative"):
        digest.update(np.ascontiguousarray(neurons[key]).tobytes())
    digest.update(np.int64(rng.integers(2**62)).tobytes())
    return neurons["cell_type"].tolist(), digest.hexdigest()


def test_absent_type_keys_reproduce_the_populations_of_before_the_keys_existed():
    # Recorded with the simulator of commit 9f22e2d (before type_fractions / unlabelled_types); a whole
    # simulate_mouse (images, responses, every truth array) was also compared bit for bit then.
    cell_type, digest = population_fingerprint({"neurons": 40, "n_types": 4, "discreteness": 0.7}, seed=5)
    assert cell_type == [2, 3, 0, 3, 1, 2, 2, 1, 3, 0, 1, 1, 2, 1, 0, 0, 0, 0, 0, 3, 0, 2, 3, 0, 1, 1, 1, 3, 0, 3,
                         3, 3, 0, 1, 2, 1, 2, 2, 2, 0]
    assert digest == "19308f6d435be42decd31274e6284097ceec0c66a0f64017e618c36dc4851190"
    explicit = {"neurons": 40, "n_types": 4, "discreteness": 0.7, "type_fractions": None, "unlabelled_types": []}
    assert population_fingerprint(explicit, seed=5) == (cell_type, digest)


def test_default_mouse_is_all_labelled_and_the_truth_says_so(mouse):
    _, truth = mouse
    assert truth["labelled"].dtype == bool and truth["labelled"].all() and len(truth["labelled"]) == 40


@pytest.mark.parametrize(("n", "counts"), [(200, [78, 40, 5, 22, 55]), (120, [47, 24, 3, 13, 33]),
                                           (7, [3, 1, 0, 1, 2]), (10, [4, 2, 0, 1, 3])])
def test_type_counts_are_exact_by_largest_remainder(n, counts):
    assert simulate.type_counts(n, RETINA).tolist() == counts
    assert simulate.type_counts(n, np.array(RETINA) / 7.0).tolist() == counts  # only proportions matter


def test_type_counts_break_ties_towards_the_lower_type():
    assert simulate.type_counts(4, [1, 1, 1]).tolist() == [2, 1, 1]
    assert simulate.type_counts(5, [1, 1, 1]).tolist() == [2, 2, 1]


@pytest.mark.parametrize("neurons", [200, 120])
def test_planted_types_follow_the_fractions_exactly_and_labelled_marks_the_labelled_types(neurons):
    params = {"neurons": neurons, "n_types": 5, "type_fractions": RETINA, "unlabelled_types": [4]}
    neurons_, _ = simulate.sample_neurons(np.random.default_rng(11), simulate.simulation_params(params))
    cell_type = neurons_["cell_type"]
    assert np.bincount(cell_type, minlength=5).tolist() == simulate.type_counts(neurons, RETINA).tolist()
    assert np.array_equal(neurons_["labelled"], cell_type != 4)
    assert len(np.unique(cell_type[:20])) > 2  # types in random order, not in blocks
    again, _ = simulate.sample_neurons(np.random.default_rng(11), simulate.simulation_params(params))
    other, _ = simulate.sample_neurons(np.random.default_rng(12), simulate.simulation_params(params))
    assert np.array_equal(again["cell_type"], cell_type) and not np.array_equal(other["cell_type"], cell_type)


def test_retina_like_mouse_round_trips_its_labelled_cells(tmp_path):
    params = {**SMALL, "neurons": 24, "n_types": 3, "type_fractions": [3, 1, 2], "unlabelled_types": [0, 2]}
    _, truth = simulate.simulate_mouse(params, seed=3, stimulus_seed=0)
    assert np.bincount(truth["cell_type"]).tolist() == [12, 4, 8]
    simulate.save_ground_truth(tmp_path / "truth.npz", truth)
    loaded = simulate.load_ground_truth(tmp_path / "truth.npz")
    assert np.array_equal(loaded["labelled"], truth["cell_type"] == 1)


def test_ground_truth_written_before_labelled_existed_reads_as_all_labelled(mouse, tmp_path):
    _, truth = mouse
    np.savez(tmp_path / "old.npz", **{k: v for k, v in truth.items() if k != "labelled"})
    assert simulate.load_ground_truth(tmp_path / "old.npz")["labelled"].tolist() == [True] * 40


# ----------------------------------------------------------------------------------------------
# Stimuli, behaviour, noise, oracle


def test_natural_images_have_a_one_over_f_amplitude_spectrum():
    images = simulate.natural_images(np.random.default_rng(0), 200, HEIGHT, WIDTH)[:, 0]
    power = np.mean(np.abs(np.fft.fft2(images - images.mean(axis=(1, 2), keepdims=True))) ** 2, axis=0)
    radius = np.hypot(np.fft.fftfreq(WIDTH)[None], np.fft.fftfreq(HEIGHT)[:, None])
    band = (radius > 0.02) & (radius < 0.4)
    slope = np.polyfit(np.log(radius[band]), np.log(power[band]), 1)[0]
    assert slope == pytest.approx(-2.0, abs=0.15)  # power 1/f² <=> amplitude 1/f


def test_behaviour_is_physical_and_running_goes_with_a_larger_pupil():
    behavior, eye = simulate.simulate_behavior(np.random.default_rng(1), 4000)
    pupil, derivative, running = behavior.T
    assert pupil.min() > 0 and running.min() >= 0 and 0.1 < (running > 0).mean() < 0.9
    assert np.corrcoef(pupil, running)[0, 1] > 0.4
    np.testing.assert_allclose(derivative[1:], np.diff(pupil), atol=1e-4)  # in time order
    np.testing.assert_allclose(eye.mean(axis=0), simulate.EYE_CENTER, atol=1.5)


def test_gamma_noise_has_the_rate_as_mean_and_fano_times_rate_as_variance():
    responses = simulate.noisy_responses(np.random.default_rng(0), np.full((200_000, 1), 2.0), fano=0.5)
    assert responses.min() >= 0
    assert responses.mean() == pytest.approx(2.0, rel=0.01)
    assert responses.var() == pytest.approx(1.0, rel=0.03)


def test_demo_noise_gives_a_realistic_oracle(mouse):
    arrays, _ = mouse
    test = arrays.tiers == "test"
    oracle = metrics.jackknife_oracle(arrays.responses[test], arrays.image_ids[test])
    assert 0.45 < oracle.mean() < 0.9  # demo size gives ≈0.70; few test images here widen the range


# ----------------------------------------------------------------------------------------------
# The planted biology


def test_rf_centres_follow_a_linear_retinotopic_map(mouse):
    arrays, truth = mouse
    motor = np.column_stack([arrays.cell_motor_coordinates[:, :2], np.ones(len(truth["rf_x"]))])
    for rf in (truth["rf_x"], truth["rf_y"]):
        fitted = motor @ np.linalg.lstsq(motor, rf, rcond=None)[0]
        assert 1 - np.var(rf - fitted) / np.var(rf) > 0.9
    margin = simulate.RF_MARGIN * SMALL["image_height"] / simulate.REFERENCE_HEIGHT
    assert truth["rf_x"].min() >= margin and truth["rf_x"].max() <= SMALL["image_width"] - margin


def test_types_are_tight_at_discreteness_one_and_a_continuum_at_zero():
    def within_type_spread(discreteness):
        config = simulate.simulation_params({"neurons": 600, "discreteness": discreteness})
        neurons, _ = simulate.sample_neurons(np.random.default_rng(3), config)
        coordinates, types = neurons["type_coordinates"], neurons["cell_type"]
        return np.mean([coordinates[types == k].std(axis=0).mean() for k in np.unique(types)]), neurons

    tight, neurons = within_type_spread(1.0)
    loose, _ = within_type_spread(0.0)
    assert loose > 4 * tight
    prototypes = neurons["type_prototype_coordinates"]
    gaps = np.linalg.norm(prototypes[:, None] - prototypes[None], axis=2)[np.triu_indices(len(prototypes), 1)]
    assert gaps.min() > 10 * tight  # well separated clusters
    assert len(set(neurons["type_names"])) == 6


# ----------------------------------------------------------------------------------------------
# Identifiability knobs: type separation and the nuisances


def separated_neurons(separation: float | None, n: int = 600, **config) -> dict:
    params = simulate.simulation_params({"neurons": n, "type_separation": separation, **config})
    return simulate.sample_neurons(np.random.default_rng(6), params)[0]


def kmeans_ari(features: np.ndarray, types: np.ndarray, k: int = 6) -> float:
    labels = KMeans(k, n_init=10, random_state=0).fit_predict(features)
    return adjusted_rand_score(types, labels)


def test_the_design_separation_is_about_fifteen_spreads_and_none_keeps_the_default_population():
    assert simulate.design_separation(6) == pytest.approx(15.0, abs=3.0)
    assert simulate.design_separation(1) == np.inf
    default, explicit = separated_neurons(None), separated_neurons(simulate.design_separation(6))
    for key in ("type_coordinates", "cell_type", "phase", "rf_x"):
        np.testing.assert_allclose(default[key], explicit[key], atol=1e-12)
    assert float(default["type_separation"]) == pytest.approx(simulate.design_separation(6))


def test_separation_zero_is_one_type_and_separation_scales_the_prototype_distances():
    one = separated_neurons(0.0)
    prototypes = one["type_prototype_coordinates"]
    assert np.allclose(prototypes, prototypes[0])
    # every planted type draws the same parameters and polarity: the labels carry nothing
    coordinates, types = one["type_coordinates"], one["cell_type"]
    assert kmeans_ari(coordinates, types) == pytest.approx(0.0, abs=0.02)
    for k in range(6):
        assert np.cos(one["phase"][types == k]).mean() == pytest.approx(0.0, abs=0.2)
    half = separated_neurons(7.5)["type_prototype_coordinates"]
    gaps = np.linalg.norm(half[:, None] - half[None], axis=2)[np.triu_indices(6, 1)]
    assert gaps.min() / simulate.WITHIN_TYPE_SPREAD == pytest.approx(7.5)


def test_planted_types_are_recovered_from_the_true_coordinates_in_proportion_to_the_separation():
    aris = [kmeans_ari(separated_neurons(s)["type_coordinates"], separated_neurons(s)["cell_type"])
            for s in (0.0, 1.0, 3.0, 6.0, None)]
    assert aris[-1] > 0.99 and aris[0] < 0.02
    assert aris == sorted(aris)


def battery_responses(separation: float | None, n: int = 120) -> tuple[np.ndarray, np.ndarray]:
    """A trivial model with the nuisances removed: centred neurons at one orientation, their noise-free
    rates to gratings over frequency and size summarized over phase (peak, mean, ON minus OFF) and to
    plaids, scaled by each neuron's peak. Returns (N, features) and the planted types."""
    config = simulate.simulation_params({"neurons": n, "type_separation": separation})
    rng = np.random.default_rng(0)
    neurons, _ = simulate.sample_neurons(rng, config)
    neurons["rf_x"][:], neurons["rf_y"][:], neurons["orientation"][:] = WIDTH / 2, HEIGHT / 2, 0.0
    neurons = simulate.calibrate(rng, neurons, HEIGHT, WIDTH, config["rate_spread"])
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH] - np.array([HEIGHT / 2, WIDTH / 2])[:, None, None]
    stimuli = []
    for frequency in (0.02, 0.03, 0.045, 0.07, 0.1):
        for radius in (6.0, 12.0, 24.0, 48.0):
            disk = np.hypot(xs, ys) <= radius
            stimuli += [64 * disk * np.cos(2 * np.pi * frequency * xs + phase) for phase in np.arange(8) * np.pi / 4]
            stimuli.append(32 * disk * (np.cos(2 * np.pi * frequency * xs) + np.cos(2 * np.pi * frequency * ys)))
    rates = simulate.population_rates(neurons, 128 + np.stack(stimuli)).T.reshape(n, 20, 9)
    gratings, plaids = rates[:, :, :8], rates[:, :, 8]
    features = np.hstack([gratings.max(axis=2), gratings.mean(axis=2), gratings[:, :, 0] - gratings[:, :, 4], plaids])
    return features / gratings.max(axis=(1, 2))[:, None], neurons["cell_type"]


def test_a_trivial_model_on_the_noise_free_rates_finds_separated_types_and_not_merged_ones():
    separate = kmeans_ari(*battery_responses(None))
    merged = kmeans_ari(*battery_responses(0.0))
    assert separate > 0.85 and abs(merged) < 0.05


def test_nuisance_knobs_set_rf_scatter_and_gain_spread():
    tight, loose = separated_neurons(None, rf_scatter=0.0), separated_neurons(None, rf_scatter=8.0)
    retinotopy = tight["retinotopy"]
    assert np.allclose(tight["retinotopy"], loose["retinotopy"])
    for key in ("rf_x", "rf_y"):  # same map and draws: the difference is the scatter (× image scale 1)
        assert np.std(loose[key] - tight[key]) == pytest.approx(8.0, rel=0.15)
    config = simulate.simulation_params({"neurons": 400, "rate_spread": 1.0})
    rng = np.random.default_rng(1)
    neurons, _ = simulate.sample_neurons(rng, config)
    neurons = simulate.calibrate(rng, neurons, HEIGHT, WIDTH, config["rate_spread"])
    assert np.std(np.log(neurons["baseline"])) == pytest.approx(1.0, rel=0.15)
    assert retinotopy.shape == (2, 3)


def test_complex_types_are_at_least_half_as_in_layer_2_3():
    column = list(simulate.TYPE_PARAMETERS).index("phase_invariance")
    for n_types in range(1, 13):
        assert np.mean(simulate.type_prototypes(n_types)[:, column] > 0.5) >= 0.5, n_types
    assert [name.split()[1] for name in simulate.type_names(simulate.type_prototypes(6))].count("complex") == 4


def test_orientation_is_independent_of_type_and_the_phase_has_the_type_polarity():
    def neurons_at(discreteness):
        config = simulate.simulation_params({"neurons": 3000, "discreteness": discreteness})
        return simulate.sample_neurons(np.random.default_rng(4), config)[0]

    typed = neurons_at(1.0)
    assert list(typed["type_polarity"]) == [1, -1, 1, -1, 1, -1]
    assert [name.split()[2] for name in typed["type_names"]] == ["ON", "OFF"] * 3
    polarity = typed["type_polarity"][typed["cell_type"]]
    assert np.all(polarity * np.cos(typed["phase"]) >= 0)
    for k in range(len(typed["type_names"])):
        members = typed["cell_type"] == k
        assert typed["orientation"][members].mean() == pytest.approx(np.pi / 2, abs=0.2)
        # uniform within the polarity's half circle: sin φ centred, |cos φ| averaging 2/π
        assert np.sin(typed["phase"][members]).mean() == pytest.approx(0.0, abs=0.1)
        assert np.abs(np.cos(typed["phase"][members])).mean() == pytest.approx(2 / np.pi, abs=0.05)
    continuum = neurons_at(0.0)  # no types, so no polarity either
    for k in range(len(continuum["type_names"])):
        assert np.cos(continuum["phase"][continuum["cell_type"] == k]).mean() == pytest.approx(0.0, abs=0.1)


def test_complex_types_are_phase_invariant_and_simple_types_are_not(centred_neurons):
    neurons = centred_neurons
    phases = np.arange(12) * 2 * np.pi / 12
    for i in range(len(neurons["rf_x"])):
        rates = rates_of(neurons, i, [grating(neurons, i, p) for p in phases])
        invariance = 1 - np.abs(np.mean(rates * np.exp(1j * phases))) / rates.mean()
        planted = neurons["phase_invariance"][i]
        if planted > 0.8:
            assert invariance > 0.8, i
        elif planted < 0.2:
            assert invariance < 0.5, i


def test_suppressed_types_prefer_an_optimal_size_over_a_large_grating(centred_neurons):
    neurons = centred_neurons
    radii = 0.05 * 1.23859 ** np.arange(15) * 40
    for i in range(len(neurons["rf_x"])):
        # at the neuron's own phase the grating matches its even filter
        rates = rates_of(neurons, i, [grating(neurons, i, neurons["phase"][i], r) for r in radii])
        suppression = (rates.max() - rates[-1]) / rates.max()
        if neurons["surround_suppression"][i] > 1.0:
            assert suppression > 0.5, i
        elif neurons["surround_suppression"][i] == 0:
            assert suppression < 0.05, i


def test_cross_orientation_types_are_suppressed_by_an_orthogonal_gabor(centred_neurons):
    neurons = centred_neurons
    for i in range(len(neurons["rf_x"])):
        preferred = gabor(neurons, i)
        orthogonal = gabor(neurons, i, angle=np.pi / 2)
        alone, plaid = rates_of(neurons, i, [preferred, preferred + orthogonal])
        if neurons["cross_orientation"][i] > 1.0:
            assert plaid < 0.7 * alone, i
        elif neurons["cross_orientation"][i] == 0:
            assert plaid > 0.85 * alone, i


def test_running_multiplies_each_rate_by_its_planted_gain(centred_neurons):
    neurons = centred_neurons
    images = simulate.natural_images(np.random.default_rng(2), 4, HEIGHT, WIDTH)
    sitting = np.tile([simulate.PUPIL_MEAN, 0.0, 0.0], (4, 1))
    running = np.tile([simulate.PUPIL_MEAN, 0.0, 20.0], (4, 1))
    ratio = simulate.population_rates(neurons, images, running) / simulate.population_rates(neurons, images, sitting)
    expected = np.exp(neurons["gain_running"] * 20.0 / simulate.RUNNING_SCALE)
    np.testing.assert_allclose(ratio, np.broadcast_to(expected, ratio.shape), rtol=1e-4)
    assert ratio.mean() > 1.2


def test_an_eye_shift_moves_the_receptive_field(centred_neurons):
    # A vertical carrier (orientation 0): moving the probe along y changes only the envelope overlap, so
    # the preferred y offset is not confounded by a residual x misalignment of an oblique carrier.
    neurons = {**centred_neurons, "eye_shift_gain": np.array(0.5),
               "orientation": np.zeros_like(centred_neurons["orientation"])}
    i = 0
    probe_offsets = np.arange(-8, 9)

    def preferred_offset(eye_offset: list[float], axis: int) -> int:
        """The probe position (along `axis`, 0 = x) that drives neuron i most with the eye moved."""
        shifts = np.zeros((len(probe_offsets), 2))
        shifts[:, axis] = probe_offsets
        stimuli = [gabor(neurons, i, tuple(shift)) for shift in shifts]
        pupil = np.tile(simulate.EYE_CENTER + eye_offset, (len(stimuli), 1))
        return probe_offsets[np.argmax(rates_of(neurons, i, stimuli, pupil_center=pupil))]

    assert preferred_offset([0.0, 0.0], axis=0) == 0
    assert preferred_offset([8.0, 0.0], axis=0) == 4  # 8 camera px × 0.5 px per camera px
    assert preferred_offset([-8.0, 0.0], axis=0) == -4
    assert preferred_offset([0.0, 6.0], axis=1) == 3
    assert preferred_offset([8.0, 0.0], axis=1) == 0
