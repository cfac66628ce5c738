"""Unit tests of the in-silico experiments (METHODS §7): stimuli, the all-neuron search against the
per-neuron reference on small trained models, tuning indices on curves with known answers, NMAE, and
the same protocol on the simulator's own neurons against the simulator and the planted types."""
import dataclasses
import itertools
import math

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from v1twin import walltime
from v1twin.checkpoint import CheckpointError, ResumableState
from v1twin.data.receptive_fields import gabor_pair
from v1twin.data.simulate import population_rates, simulate_mouse
from v1twin.data.tensors import normalization, normalized_images, prepare_mouse
from v1twin.insilico import InSilicoError, search
from v1twin.insilico.consistency import consistency_table, nmae
from v1twin.insilico.ground_truth import (
    axial_circular_correlation,
    ground_truth_check,
    orientation_error,
    planted_neuron_table,
)
from v1twin.insilico.indices import (
    amplitude_over_mean,
    cross_orientation_inhibition,
    orientation_selectivity,
    phase_invariance,
    preferred_orientation,
    surround_suppression,
    tuning_indices,
)
from v1twin.insilico.probes import gaussian_positions, make_probe, model_probes, receptive_field_size
from v1twin.insilico.search import edge_shares, optimal_gabor_table, reference_search, search_probe
from v1twin.insilico.stimuli import GRID_AXES, GaborGrid, gabor, grating_disk
from v1twin.insilico.true_neurons import TrueNeuronProbe, downscaling
from v1twin.insilico.tuning import INDEX_NAMES, TuningConfig, load_tuning, load_tunings, save_tuning, tuning_curves
from v1twin.model_run import RunFiles, finish_run, load_run
from v1twin.models import CNNCore, RotationEquivariantCore, build_model
from v1twin.training import TrainingConfig, mouse_info, seed_everything, train

from helpers import REPO, insilico_settings, model_settings, training_settings

CPU = torch.device("cpu")
TINY_SIMULATION = {"image_height": 32, "image_width": 48, "n_train": 160, "n_validation": 32, "n_test_images": 4,
                   "test_repeats": 2, "neurons": 24, "n_types": 3}
TINY_CORE = {"type": "cnn", "channels": 4, "layers": 2, "input_kernel": 5, "hidden_kernel": 3}
GRID = GaborGrid.from_config({
    "sizes": {"min": 4, "max": 8, "count": 2}, "relative_sf": {"min": 1.0, "max": 2.0, "count": 2},
    "contrasts": {"min": 0.5, "max": 1.75, "count": 2}, "orientations": 4, "phases": 2,
})
# Tuning axes that contain the grid's orientations (every 2nd of 8) and phases (every 2nd of 4 and of 2).
TUNING = TuningConfig.from_config(insilico_settings(tuning={
    "orientations": 8, "orientation_phases": 2, "phases": 4, "surround": {"sizes": 4, "total_size": 12},
    "plaid": {"contrasts": 2, "min_contrast": 0.1, "phases": 2}})["tuning"])


# ----------------------------------------------------------------------------------------------
# Small trained models


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny convolutions only get slower with more threads on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_mouse():
    arrays, _ = simulate_mouse(TINY_SIMULATION, seed=3, stimulus_seed=0)
    return prepare_mouse("m1", arrays, image_scale=0.5)  # 16 x 24 input


def _trained_model(folder, mouse, readout):
    variant = {"core": TINY_CORE, "readout": readout}
    seed_everything(0)
    info = {"m1": mouse_info(mouse)}
    model = build_model(variant, info, mouse.input_shape)
    settings = TrainingConfig.from_dict(training_settings(batch_size=32, max_epochs=2))
    result = train(model, {"m1": mouse}, settings, folder, seed=0, variant_config=variant)
    files = RunFiles(folder / "model.pt", folder / "training_log.csv")
    finish_run(files, model, {"m1": mouse}, variant, seed=0, image_scale=0.5, config=settings, result=result)
    return files.model


@pytest.fixture(scope="module")
def gaussian_model(tmp_path_factory, tiny_mouse):
    return _trained_model(tmp_path_factory.mktemp("gaussian"), tiny_mouse, {"type": "gaussian", "shifter": True})


@pytest.fixture(scope="module")
def factorized_model(tmp_path_factory, tiny_mouse):
    return _trained_model(tmp_path_factory.mktemp("factorized"), tiny_mouse, {"type": "factorized", "gamma": 0.01})


def _snap_to_interior_pixels(saved):
    """Read positions on whole output pixels away from the border: there the shortcut is exact."""
    readout = saved.model.readouts["m1"]
    height, width = saved.model.core.output_size(*saved.input_shape[1:])  # 12 x 20
    rng = np.random.default_rng(0)
    rows, cols = (rng.integers(2, height - 2, readout.mu_free.shape[0]),
                  rng.integers(2, width - 2, readout.mu_free.shape[0]))
    mu = np.column_stack([2 * cols / (width - 1) - 1, 2 * rows / (height - 1) - 1])
    readout.mu_free.data = torch.tensor(mu, dtype=torch.float32)


# ----------------------------------------------------------------------------------------------
# Stimuli


def test_gabor_pixels_follow_the_formula_at_hand_picked_parameters():
    size, relative_sf, theta, phi, contrast = 8.0, 2.0, math.pi / 6, math.pi / 3, 0.5
    image = gabor(size, relative_sf, theta, phi, contrast, 12, 16, (5.0, 7.0))[0].numpy()
    sigma, frequency = size / 4, relative_sf / size
    for row, col in [(5, 7), (5, 8), (2, 11), (9, 0)]:
        x, y = col - 7.0, row - 5.0
        rotated = math.cos(theta) * x - math.sin(theta) * y
        expected = (contrast * math.exp(-(x**2 + y**2) / (2 * sigma**2))
                    * math.cos(2 * math.pi * frequency * rotated + phi))
        assert image[row, col] == pytest.approx(expected, abs=1e-6)
    assert image[5, 7] == pytest.approx(contrast * math.cos(phi))  # the centre: envelope 1, x' = 0


def test_gabor_orientation_and_phase_follow_the_simulators_convention():
    """The same (θ, φ, f, σ) gives the simulator's even filter: recovered orientations compare directly."""
    height, width, sigma, frequency = 40, 40, 4.0, 0.12
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    for theta, phi in [(0.3, 0.0), (2.0, 1.0), (np.pi / 2, np.pi)]:
        even, _ = gabor_pair(xs[None] - 20.0, ys[None] - 17.0, np.array([theta]), np.array([frequency]),
                              np.array([phi]), np.array([sigma]))
        ours = gabor(4 * sigma, frequency * 4 * sigma, theta, phi, 1.0, height, width, (17.0, 20.0))
        assert np.corrcoef(even.ravel(), ours.numpy().ravel())[0, 1] > 0.995


def test_grating_disk_is_the_carrier_inside_the_disk_and_zero_outside():
    disks = grating_disk(torch.tensor([0.0, 6.0]), 0.1, 0.4, 0.2, 1.5, 11, 11, (5.0, 5.0))
    assert torch.all(disks[0] == 0)  # diameter 0: blank
    rows, cols = np.mgrid[0:11, 0:11]
    inside = (rows - 5) ** 2 + (cols - 5) ** 2 < 9
    carrier = 1.5 * np.cos(2 * np.pi * 0.1 * (np.cos(0.4) * (cols - 5) - np.sin(0.4) * (rows - 5)) + 0.2)
    np.testing.assert_allclose(disks[1].numpy(), np.where(inside, carrier, 0.0), atol=1e-6)


def test_grid_follows_the_config_and_flat_indices_run_in_axis_order():
    assert GRID.orientation == pytest.approx((0, np.pi / 4, np.pi / 2, 3 * np.pi / 4))
    assert GRID.phase == pytest.approx((0, np.pi))
    assert GRID.size == pytest.approx((4, 8)) and len(GRID) == 2 * 2 * 2 * 4 * 2
    paper = GaborGrid.from_config({
        "sizes": {"min": 4, "max": 25, "count": 8}, "contrasts": {"min": 0.0175, "max": 1.75, "count": 6},
        "relative_sf": {"min": 1 / 1.3, "max": 1.3**8, "count": 10}, "orientations": 12, "phases": 8})
    np.testing.assert_allclose(paper.relative_sf, [1.3**k / 1.3 for k in range(10)])
    assert len(paper) == 46080
    values = GRID.parameters(torch.arange(len(GRID)))
    for flat, combination in enumerate(itertools.product(*(getattr(GRID, axis) for axis in GRID_AXES))):
        assert [float(values[axis][flat]) for axis in GRID_AXES] == pytest.approx(combination)
    np.testing.assert_array_equal(GRID.axis_indices(np.array([0, len(GRID) - 1])), [[0, 0, 0, 0, 0], [1, 1, 1, 3, 1]])


def test_receptive_field_size_is_measured_from_the_core():
    cnn = CNNCore(4, **model_settings("core", "cnn", channels=3, layers=3, input_kernel=5, hidden_kernel=3)).eval()
    assert receptive_field_size(cnn, 4, CPU) == 5 + 2 + 2
    equivariant = RotationEquivariantCore(4, **model_settings(
        "core", "rotation_equivariant", channels=2, rotations=4, layers=3, input_kernel=9, hidden_kernel=5)).eval()
    assert receptive_field_size(equivariant, 4, CPU) == 9 + 4 + 4


# ----------------------------------------------------------------------------------------------
# The search


def test_all_neuron_search_finds_the_per_neuron_reference_argmax_gaussian(gaussian_model):
    saved = load_run(gaussian_model, CPU)
    _snap_to_interior_pixels(saved)
    table = optimal_gabor_table(model_probes(saved), GRID, location_stride=1, batch_size=7)
    assert len(table) == TINY_SIMULATION["neurons"] and (table["location_index"] == 0).all()
    for neuron in range(len(table)):
        response, index = reference_search(saved.model, "m1", neuron, saved.behavior_median["m1"], GRID,
                                           saved.input_shape, batch_size=13)
        assert index == table["gabor_index"][neuron]
        assert response == pytest.approx(table["response"][neuron], rel=1e-4)
    positions = gaussian_positions(saved.model, "m1", saved.input_shape)
    np.testing.assert_allclose(table[["y", "x"]].to_numpy(), positions)
    np.testing.assert_allclose(positions, np.round(positions), atol=1e-4)  # snapped: whole input pixels


def test_all_neuron_search_finds_the_per_neuron_reference_argmax_factorized(factorized_model):
    saved = load_run(factorized_model, CPU)
    table = optimal_gabor_table(model_probes(saved), GRID, location_stride=4, batch_size=16)
    locations = make_probe(saved, "m1").search_locations(4)
    assert len(locations) == 3 * 5  # centres 2..13 x 2..21 (the core output's footprint), every 4th pixel
    for neuron in range(0, len(table), 8):
        response, index = reference_search(saved.model, "m1", neuron, saved.behavior_median["m1"], GRID,
                                           saved.input_shape, locations=locations)
        row = table.iloc[neuron]
        assert index == row["location_index"] * len(GRID) + row["gabor_index"]
        assert response == pytest.approx(row["response"], rel=1e-4)
        np.testing.assert_allclose([row["y"], row["x"]], locations[row["location_index"]])


class ScriptedProbe:
    """Returns preset responses (n_stimuli, N) in the order the search asks for them."""

    def __init__(self, responses, start=0):
        self.table, self.next = torch.as_tensor(responses, dtype=torch.float32), start
        self.n_neurons, self.device, self.mouse, self.height, self.width = self.table.shape[1], CPU, "m", 3, 3

    def responses(self, images):
        chunk = self.table[self.next:self.next + len(images)]
        self.next += len(images)
        return chunk


def test_search_keeps_the_first_index_on_ties_within_and_across_batches():
    responses = np.zeros((len(GRID), 3))
    responses[[3, 7], 0] = 5.0  # tie across batches of 4
    responses[[5, 6], 1] = 2.0  # tie within one batch
    best, index = search_probe(ScriptedProbe(responses), GRID, np.zeros((1, 2)), batch_size=4)
    assert index.tolist() == [3, 5, 0] and best.tolist() == [5.0, 2.0, 0.0]


def test_search_resumed_from_a_saved_state_ends_where_an_uninterrupted_one_does():
    responses = np.random.default_rng(0).normal(size=(2 * len(GRID), 5))  # two locations
    locations, states = np.zeros((2, 2)), {}

    def record(next_batch, best, index):
        states[next_batch] = {"next": next_batch, "best": best.clone(), "index": index.clone()}

    full = search_probe(ScriptedProbe(responses), GRID, locations, batch_size=6, checkpoint=record)
    second_batch_of_location_1 = math.ceil(len(GRID) / 6) + 1
    resumed = search_probe(ScriptedProbe(responses, start=len(GRID) + 6), GRID, locations, batch_size=6,
                           state=states[second_batch_of_location_1])
    assert torch.equal(full[0], resumed[0]) and torch.equal(full[1], resumed[1])
    assert int(full[1].max()) >= len(GRID)  # some neuron's optimum is at the second location


def test_checkpoint_restores_its_own_state_and_refuses_another_runs(tmp_path):
    path = tmp_path / "state.pt"
    checkpoint = ResumableState(path, {"model": "a"}, interval=0, differs="model, grid or settings")
    assert checkpoint.restore() is None and checkpoint.due()
    checkpoint.save({"next": 3, "values": torch.arange(4)})
    assert ResumableState(path, {"model": "a"}, 0, "model, grid or settings").restore()["next"] == 3
    with pytest.raises(CheckpointError, match="different run"):
        ResumableState(path, {"model": "b"}, 0, "model, grid or settings").restore()
    checkpoint.clear()
    assert not path.exists()


def test_stop_signal_saves_the_search_state_and_the_rerun_ends_as_an_uninterrupted_search(
        gaussian_model, tmp_path, monkeypatch, send_stop_signal):
    saved = load_run(gaussian_model, CPU)
    uninterrupted = optimal_gabor_table(model_probes(saved), GRID, location_stride=4, batch_size=8)
    render, rendered = search._render_gabors, []

    def signal_in_batch_3(*args):
        rendered.append(args)
        if len(rendered) == 3:
            send_stop_signal()
        return render(*args)

    monkeypatch.setattr(search, "_render_gabors", signal_in_batch_3)
    state = tmp_path / "search.state.pt"
    with pytest.raises(walltime.StopRequested, match="in the Gabor search of mouse m1 after batch 3"):
        optimal_gabor_table(model_probes(saved), GRID, 4, 8, state_path=state, checkpoint_seconds=3600)
    assert state.exists()
    monkeypatch.setattr(walltime, "_requested", False)  # the retry is a new process
    resumed = optimal_gabor_table(model_probes(saved), GRID, 4, 8, state_path=state, checkpoint_seconds=3600)
    assert len(rendered) == len(GRID) // 8  # the rerun searched only the batches left
    pd.testing.assert_frame_equal(resumed, uninterrupted)
    assert not state.exists()


# ----------------------------------------------------------------------------------------------
# Tuning experiments


@pytest.mark.parametrize("model_name", ["gaussian_model", "factorized_model"])
def test_tuning_curves_pass_through_the_optimal_gabors_response(model_name, request):
    """The orientation and phase experiments contain the optimal Gabor itself: its response must reappear."""
    saved = load_run(request.getfixturevalue(model_name), CPU)
    optimal = optimal_gabor_table(model_probes(saved), GRID, location_stride=4, batch_size=32)
    curves = tuning_curves(model_probes(saved), optimal, TUNING, batch_size=32)
    neurons = np.arange(len(optimal))
    response = optimal["response"].to_numpy()
    np.testing.assert_allclose(curves["orientation"][neurons, 2 * optimal["orientation_index"]], response, rtol=1e-4)
    np.testing.assert_allclose(curves["phase"][neurons, 2 * optimal["phase_index"]], response, rtol=1e-4)
    assert (curves["orientation"][:, ::2] <= response[:, None] * (1 + 1e-4)).all()  # the grid's optimum
    assert curves["surround"].shape == (len(optimal), 5) and curves["cross_orientation"].shape == (len(optimal), 3, 3)
    blank = curves["surround"][:, 0]  # the gray screen, whatever the neuron's optimum
    np.testing.assert_allclose(curves["cross_orientation"][:, 0, 0], blank, rtol=1e-4)
    indices = tuning_indices(curves, TUNING)
    assert indices.notna().all().all() and indices["orientation_selectivity"].between(0, 1).all()


def test_disk_diameters_and_plaid_contrasts_follow_r24():
    config = TuningConfig.from_config(insilico_settings()["tuning"])  # R24's, the schema's defaults
    diameters = config.disk_diameters()
    assert diameters[0] == 0 and len(diameters) == 16
    assert diameters[1] == pytest.approx(2.0) and diameters[-1] == pytest.approx(40.0, rel=1e-3)
    contrasts = config.plaid_contrast_values()
    assert contrasts[0] == 0 and len(contrasts) == 10 and contrasts[-1] == pytest.approx(1.75 / 2)


# ----------------------------------------------------------------------------------------------
# Indices on curves with known answers


def test_orientation_selectivity_of_a_cosine_is_half_its_modulation_depth():
    angles = np.pi * np.arange(24) / 24
    curve = 2.0 + 1.0 * np.cos(2 * (angles - 0.7))  # a = 2, b = 1
    assert orientation_selectivity(curve, angles) == pytest.approx(0.25)  # F2/F0 = (b/2)/a
    assert amplitude_over_mean(curve, angles, 2) == pytest.approx(0.5)  # b/a
    assert preferred_orientation(curve, angles) == pytest.approx(0.7)
    assert orientation_selectivity(np.full(24, 3.0), angles) == pytest.approx(0.0)


def test_phase_invariance_of_a_cosine_and_of_a_flat_curve():
    phases = 2 * np.pi * np.arange(12) / 12
    curves = np.stack([1.0 + 1.0 * np.cos(phases - 2.0), 1.0 + 0.5 * np.cos(phases), np.full(12, 4.0)])
    np.testing.assert_allclose(phase_invariance(curves, phases), [0.5, 0.75, 1.0])
    np.testing.assert_allclose(amplitude_over_mean(curves, phases, 1), [1.0, 0.5, 0.0], atol=1e-12)


def test_surround_suppression_uses_the_first_size_within_95_percent_of_the_maximum():
    curves = np.array([
        [0.5, 1.0, 4.0, 9.6, 10.0, 9.0, 6.0],  # 9.6 is the first >= 9.5: SI = (9.6 − 6)/9.6
        [0.5, 2.0, 4.0, 6.0, 8.0, 9.0, 10.0],  # still growing at the largest disk: SI = 0
        [1.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0],  # a plateau: SI = 0
    ])
    np.testing.assert_allclose(surround_suppression(curves), [3.6 / 9.6, 0.0, 0.0])


def test_cross_orientation_inhibition_of_a_known_suppression_matrix():
    preferred = np.array([1.0, 2.0, 4.0])  # T[0, p]: the preferred grating alone
    suppression = np.array([1.0, 0.9, 0.5])  # factor by orthogonal contrast
    table = np.outer(suppression, preferred)
    table[:, 0] = [1.0, 0.1, 0.1]  # the orthogonal grating alone is left out of the index
    assert cross_orientation_inhibition(table) == pytest.approx(0.5)
    assert cross_orientation_inhibition(np.outer(np.ones(3), preferred)) == pytest.approx(0.0)


# ----------------------------------------------------------------------------------------------
# Consistency and the ground-truth check


def test_nmae_is_zero_for_identical_inputs_and_matches_a_hand_computation():
    values = np.array([0.1, 0.5, 0.2, 0.9])
    assert nmae(values, values) == 0.0
    # |a − b| = [1, 0, 0, 1] → 0.5; MAD(a) = 1.0, MAD(b) = 0.5 → 0.5 / 0.75
    assert nmae(np.array([0, 1, 2, 3]), np.array([1, 1, 2, 2])) == pytest.approx(2 / 3)
    assert nmae(np.array([0, 1, np.nan, 3]), np.array([1, 1, 2, 2])) == pytest.approx(
        nmae(np.array([0, 1, 3]), np.array([1, 1, 2])))


def test_nmae_of_unrelated_fits_is_about_square_root_of_two():
    rng = np.random.default_rng(0)
    assert nmae(rng.normal(size=200_000), rng.normal(size=200_000)) == pytest.approx(np.sqrt(2), rel=0.01)


def test_axial_circular_correlation_and_orientation_error():
    rng = np.random.default_rng(1)
    planted = rng.uniform(0, np.pi, 500)
    assert axial_circular_correlation(planted, np.mod(planted + 0.3, np.pi)) == pytest.approx(1.0)
    assert abs(axial_circular_correlation(planted, rng.uniform(0, np.pi, 500))) < 0.15
    np.testing.assert_allclose(orientation_error(np.radians([179.0, 10.0]), np.radians([1.0, 100.0])),
                               np.radians([2.0, 90.0]))


def _fake_tuning(path, n, invariance, suppression, orientation, seed=0):
    rng = np.random.default_rng(seed)
    optimal = pd.DataFrame({"mouse": ["m1"] * n, "unit_id": np.arange(1, n + 1)})
    curves = {"orientation": rng.uniform(1, 2, (n, 8)), "phase": rng.uniform(1, 2, (n, 4)),
              "surround": rng.uniform(1, 2, (n, 5)), "cross_orientation": rng.uniform(1, 2, (n, 3, 3))}
    indices = tuning_indices(curves, TUNING).assign(
        phase_invariance=invariance, surround_suppression=suppression, preferred_orientation=orientation)
    save_tuning(path, optimal, curves, indices, TUNING)


def test_consistency_table_of_identical_seeds_has_zero_nmae(tmp_path):
    n = 20
    for seed in (1, 2):
        _fake_tuning(tmp_path / f"seed{seed}.npz", n, np.linspace(0, 1, n), np.linspace(0, 0.5, n), np.zeros(n))
    correlation = pd.DataFrame({"variant": "v", "seed_a": 1, "seed_b": 2, "mouse": ["m1", "all"],
                                "correlation": [0.5, 0.8]})
    table = consistency_table({"v": {1: tmp_path / "seed1.npz", 2: tmp_path / "seed2.npz"}}, correlation)
    row = table.set_index("variant").loc["v"]
    assert row["response_correlation"] == pytest.approx(0.8) and row["n_pairs"] == 1
    for column in INDEX_NAMES:
        assert row[f"nmae_{column}"] == 0.0


def _edge_table(size_index, relative_sf_index):
    """An optimal-Gabor table that only says where each neuron's optimum is on the grid."""
    n = len(size_index)
    return pd.DataFrame({"size_index": size_index, "relative_sf_index": relative_sf_index,
                         "contrast_index": np.zeros(n, int), "orientation_index": np.arange(n) % 4,
                         "phase_index": np.zeros(n, int)})


def test_edge_shares_count_optima_at_each_end_of_the_ordered_axes():
    grid = GaborGrid.from_config({"sizes": {"min": 4, "max": 16, "count": 3}, "relative_sf": {"min": 1, "max": 2,
                                  "count": 2}, "contrasts": {"min": 1, "max": 1, "count": 1}, "orientations": 4,
                                  "phases": 1})
    # sizes 0, 1, 2, 2, 2 of 0..2: 1/5 smallest, 3/5 largest; relative SF 0, 0, 0, 1, 1 of 0..1
    shares = edge_shares(_edge_table([0, 1, 2, 2, 2], [0, 0, 0, 1, 1]), grid)
    assert list(shares.index) == ["size", "relative_sf"]  # one contrast: no edge; orientation is circular
    np.testing.assert_allclose(shares.loc["size"], [0.2, 0.6])
    np.testing.assert_allclose(shares.loc["relative_sf"], [0.6, 0.4])


def test_ground_truth_check_compares_indices_with_the_planted_types(tmp_path):
    n = 40
    cell_type = np.arange(n) % 2  # type 0 simple and suppressed, type 1 complex and unsuppressed
    planted_orientation = np.linspace(0, np.pi, n, endpoint=False)
    truth = {"m1": {
        "type_parameter_names": np.array(["spatial_frequency", "envelope_size", "phase_invariance",
                                          "surround_suppression", "cross_orientation"]),
        "type_prototype_coordinates": np.array([[0.5, 0.5, 0.1, 0.9, 0.1], [0.5, 0.5, 0.9, 0.1, 0.1]]),
        "type_prototypes": np.array([[0.05, 10, 0.1, 3.0, 0.0], [0.05, 10, 0.9, 0.0, 0.0]]),
        "type_names": np.array(["T0 simple", "T1 complex"]), "cell_type": cell_type,
        "orientation": planted_orientation,
    }}
    _fake_tuning(tmp_path / "t.npz", n, np.where(cell_type == 1, 0.9, 0.3), np.where(cell_type == 0, 0.2, 0.0),
                 np.mod(planted_orientation + 0.05, np.pi))
    grid = GaborGrid.from_config(insilico_settings()["grid"])  # R24's: 8 sizes, 10 relative SFs, 6 contrasts
    optimal = _edge_table(np.where(np.arange(n) < 10, 7, 3), np.zeros(n, int))  # a quarter at the largest size
    check = ground_truth_check({("v", 1): load_tuning(tmp_path / "t.npz")}, {("v", 1): optimal},
                               planted_neuron_table(truth), grid)
    row = check.iloc[0]
    assert row["phase_invariance_complex"] == pytest.approx(0.9)
    assert row["phase_invariance_simple"] == pytest.approx(0.3)
    assert row["surround_suppression_suppressed"] == pytest.approx(0.2)
    assert row["complex_more_invariant"] and row["suppressed_more_suppressed"]
    assert row["orientation_circular_correlation"] == pytest.approx(1.0)
    assert row["orientation_median_error_deg"] == pytest.approx(np.degrees(0.05))
    assert row["size_at_largest"] == 0.25 and row["size_at_smallest"] == 0.0
    assert row["relative_sf_at_smallest"] == 1.0 and row["contrast_at_smallest"] == 1.0


def test_tuning_files_of_several_mice_load_as_one_and_different_axes_are_refused(tmp_path):
    for seed, name in enumerate(("a", "b")):
        _fake_tuning(tmp_path / f"{name}.npz", 3 + seed, np.zeros(3 + seed), np.zeros(3 + seed), np.zeros(3 + seed),
                     seed=seed)
    joined = load_tunings([tmp_path / "a.npz", tmp_path / "b.npz"])
    parts = [load_tuning(tmp_path / f"{name}.npz") for name in ("a", "b")]
    np.testing.assert_array_equal(joined["surround"], np.concatenate([part["surround"] for part in parts]))
    np.testing.assert_array_equal(joined["disk_diameters"], parts[0]["disk_diameters"])
    other = dataclasses.replace(TUNING, orientations=12)
    curves = {name: parts[0][name] for name in ("phase", "surround", "cross_orientation")}
    curves["orientation"] = np.ones((3, 12))
    save_tuning(tmp_path / "c.npz", pd.DataFrame({"mouse": ["m2"] * 3, "unit_id": [1, 2, 3]}), curves,
                tuning_indices(curves, other), other)
    with pytest.raises(InSilicoError, match="c.npz: its arrays or tuning axes differ"):
        load_tunings([tmp_path / "a.npz", tmp_path / "c.npz"])


# ----------------------------------------------------------------------------------------------
# The simulator's own neurons under the same protocol


@pytest.fixture(scope="module")
def simulated_mouse():
    """The tiny simulated mouse (32 x 48 images, 16 x 24 model input at scale 0.5) and its ground truth."""
    return simulate_mouse(TINY_SIMULATION, seed=3, stimulus_seed=0)


def test_downscaling_operators_are_the_model_inputs_scaling_and_the_preimage_is_seen_as_the_stimulus():
    rows, columns = downscaling(32, 48, 0.5)
    assert rows.shape == (16, 32) and columns.shape == (24, 48)
    images = np.random.default_rng(0).normal(size=(3, 1, 32, 48)).astype(np.float32)
    scaled = normalized_images(images, 0.0, 1.0, 0.5).numpy()[:, 0]
    np.testing.assert_allclose(rows @ images[:, 0] @ columns.T, scaled, atol=1e-5)


def test_true_neuron_probe_gives_the_simulators_noise_free_rates_in_model_units(simulated_mouse):
    arrays, truth = simulated_mouse
    probe = TrueNeuronProbe("m1", truth, arrays, 0.5)
    assert (probe.height, probe.width) == (16, 24) and probe.centre == (7, 11)
    units = normalization("m1", arrays)
    stimuli = 1.75 * torch.as_tensor(np.random.default_rng(1).normal(size=(5, 16, 24)), dtype=torch.float32)
    shown = probe.full_images(stimuli)
    # The model would see exactly the stimulus: the stored-pixel image normalized and downscaled as in training.
    np.testing.assert_allclose(normalized_images(shown[:, None], units.image_mean, units.image_std, 0.5)[:, 0],
                               stimuli.numpy(), atol=1e-4)
    # Every neuron moved to the canvas centre, input pixel (7, 11) = stored pixel ((7 + ½)·2 − ½, (11 + ½)·2 − ½).
    centred = {**truth, "rf_y": np.full(24, 14.5), "rf_x": np.full(24, 22.5)}
    train = arrays.tiers == "train"
    behavior = np.median(arrays.behavior[train], axis=0, keepdims=True).repeat(len(shown), axis=0)
    expected = population_rates(centred, shown, behavior) / units.response_scale
    np.testing.assert_allclose(probe.responses(stimuli).numpy(), expected, rtol=1e-4)
    some = torch.tensor([3, 0, 17])
    np.testing.assert_allclose(probe.responses(stimuli, some).numpy(), expected[:, some.numpy()], rtol=1e-4)
    # Positions reported in input pixels: (stored + ½)/2 − ½.
    table = optimal_gabor_table({"m1": probe}, GRID, location_stride=4, batch_size=16)
    np.testing.assert_allclose(table[["y", "x"]].to_numpy(),
                               np.column_stack([truth["rf_y"], truth["rf_x"]]) / 2 - 0.25)
    assert (table["readout"] == "ground_truth").all() and table["unit_id"].tolist() == list(arrays.unit_ids)


def _own_gabor_table(truth, probe):
    """Each true neuron's own Gabor as its optimum: its orientation, phase and frequency (input pixels),
    size 4σ; a neuron per row, each its own tuning group."""
    n = probe.n_neurons
    size = 4 * truth["envelope_size"] / 2  # stored pixels -> input pixels at scale 0.5
    return pd.DataFrame({
        "mouse": "m1", "unit_id": np.arange(1, n + 1), "neuron": np.arange(n), "readout": "ground_truth",
        "response": 1.0, "location_index": 0, "x": 0.0, "y": 0.0, "input_height": 16, "input_width": 24,
        "size": size, "relative_sf": truth["spatial_frequency"] * 2 * size, "contrast": 1.75,
        "orientation": truth["orientation"], "phase": truth["phase"],
        **{f"{axis}_index": np.arange(n) for axis in GRID_AXES}})


def test_true_surround_index_is_high_with_a_surround_and_zero_without(simulated_mouse):
    """The surround experiment at each neuron's own Gabor: the same neurons with surround weight 3 and 0."""
    arrays, truth = simulated_mouse
    config = TuningConfig.from_config(insilico_settings(tuning={
        "orientations": 4, "orientation_phases": 1, "phases": 2, "plaid": {"contrasts": 1, "phases": 1},
        "surround": {"sizes": 8, "smallest": 0.1, "growth": 1.39, "total_size": 16}})["tuning"])
    index = {}
    for weight in (0.0, 3.0):
        probe = TrueNeuronProbe("m1", {**truth, "surround_suppression": np.full(24, weight)}, arrays, 0.5)
        curves = tuning_curves({"m1": probe}, _own_gabor_table(truth, probe), config, batch_size=64)
        index[weight] = tuning_indices(curves, config)["surround_suppression"].to_numpy()
    small = truth["envelope_size"] < 4  # small receptive fields: the whole surround fits in the 16 x 24 input
    assert small.sum() >= 5
    # Without a surround the disk curve saturates: SI is at most 0, at least 1 − 1/0.95 (the 95% criterion).
    assert (index[0.0][small] <= 1e-6).all() and (index[0.0][small] >= 1 - 1 / 0.95).all()
    assert (index[3.0][small] > 0.3).all()


def test_demo_protocol_on_the_true_neurons_separates_suppressed_from_unsuppressed_types():
    """The demo's grid and experiments (config/config.yaml) on 60 true neurons of the demo's geometry."""
    demo = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    insilico = insilico_settings(**demo["insilico"])
    simulation = {**demo["dataset"]["simulation"], "n_train": 40, "n_validation": 0, "neurons": 60}
    arrays, truth = simulate_mouse(simulation, seed=5, stimulus_seed=0)
    probes = {"m1": TrueNeuronProbe("m1", truth, arrays, demo["dataset"]["image_scale"])}
    optimal = optimal_gabor_table(probes, GaborGrid.from_config(insilico["grid"]), 4, 512)
    config = TuningConfig.from_config(insilico["tuning"])
    indices = tuning_indices(tuning_curves(probes, optimal, config, 512), config)
    planted = planted_neuron_table({"m1": truth})
    suppressed, index = planted["suppressed_type"].to_numpy(), indices["surround_suppression"].to_numpy()
    assert 0 < suppressed.sum() < len(suppressed)
    assert (index[~suppressed] <= 1e-6).all() and (index[~suppressed] >= 1 - 1 / 0.95).all()  # no suppression
    assert index[suppressed].mean() > 0.15
    complex_type = planted["complex_type"].to_numpy()
    assert indices["phase_invariance"][complex_type].mean() > indices["phase_invariance"][~complex_type].mean() + 0.3
