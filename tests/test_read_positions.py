"""The read-position check: known offsets, shifts and slopes of constructed models, the image-to-input
pixel conversion against the workflow's own resize, and the rule and figure on the tiny config."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from v1twin.data.cache import load_cache
from v1twin.data.mouse_arrays import compute_statistics
from v1twin.data.simulate import load_ground_truth
from v1twin.insilico.probes import gaussian_positions
from v1twin.model_run import load_run
from v1twin.models import MouseInfo, build_model
from v1twin.read_positions import (
    NEURON_COLUMNS,
    SUMMARY_COLUMNS,
    ReadPositionError,
    SimulatedMouse,
    mouse_read_positions,
    true_centres,
)

from conftest import draw_figure, tiny_results
from helpers import TOY_TRIALS, legends_off_the_data, mouse_arrays, panels, tiny_config

torch.set_num_threads(1)

IMAGE_SHAPE = (24, 32)  # image pixels; the model sees 12 x 16 at scale 0.5
SCALE = 0.5
CORE = {"type": "cnn", "channels": 4, "layers": 2, "input_kernel": 5, "hidden_kernel": 3}
OUTPUT = (8, 12)  # core output (height, width): 12 x 16 shrunk by the unpadded 5 x 5 input layer
MARGIN = 2.0  # input pixel of the output's first pixel: (input_kernel - 1) / 2
N_NEURONS = 6
GAIN = 0.4
EYE_CENTER = np.array([160.0, 120.0])


def _toy_mouse(images: np.ndarray | None = None) -> SimulatedMouse:
    """A mouse of TOY_TRIALS on IMAGE_SHAPE images with planted RF centres (image pixels) and eye-shift gain."""
    rng = np.random.default_rng(3)
    if images is None:
        images = rng.uniform(0, 255, (TOY_TRIALS.count, 1, *IMAGE_SHAPE))
    arrays = mouse_arrays(TOY_TRIALS, images, rng.poisson(2.0, (TOY_TRIALS.count, N_NEURONS)), rng)
    arrays.pupil_center = (EYE_CENTER + rng.normal(0, 4, (TOY_TRIALS.count, 2))).astype(np.float32)
    truth = {
        "rf_x": rng.uniform(10, 18, N_NEURONS),
        "rf_y": rng.uniform(10, 14, N_NEURONS),
        "eye_center": EYE_CENTER,
        "eye_shift_gain": np.array(GAIN),
    }
    return SimulatedMouse.from_arrays("m1", arrays, truth, SCALE)


def _true_input_pixels(data: SimulatedMouse) -> np.ndarray:
    """The planted centres at the mean training eye position, in input pixels, computed by hand."""
    eye = data.pupil_camera[data.training_trials].mean(axis=0)
    x = data.truth["rf_x"] + GAIN * (eye[0] - EYE_CENTER[0])
    y = data.truth["rf_y"] + GAIN * (eye[1] - EYE_CENTER[1])
    return np.column_stack([(x + 0.5) * SCALE - 0.5, (y + 0.5) * SCALE - 0.5])


def _model_reading_at(data: SimulatedMouse, pixels: np.ndarray):
    """A Gaussian-readout model (free positions, with a shifter) whose read positions are `pixels` (x, y)."""
    torch.manual_seed(0)
    info = MouseInfo(N_NEURONS, data.tensors.cell_motor_coordinates, np.ones(N_NEURONS))
    model = build_model(
        {"core": CORE, "readout": {"type": "gaussian", "shifter": True}}, {"m1": info}, data.tensors.input_shape
    )
    grid = 2 * (pixels - MARGIN) / (np.array(OUTPUT[::-1]) - 1) - 1
    model.readouts["m1"].mu_free.data = torch.tensor(grid, dtype=torch.float32)
    return model.eval()


def _constant_shifter(model, shift: tuple[float, float]) -> None:
    """The L21 shifter made to output `shift` (grid units) at any eye position: zero weights, output bias atanh."""
    shifter = model.shifters["m1"]
    for parameter in shifter.parameters():
        parameter.data.zero_()
    shifter[4].bias.data = torch.atanh(torch.tensor(shift))


def test_a_known_offset_is_returned_exactly_with_and_without_a_biased_shifter():
    data = _toy_mouse()
    true = _true_input_pixels(data)
    model = _model_reading_at(data, true + [1.5, -2.0])
    _constant_shifter(model, (0.2, -0.1))
    neurons, summary = mouse_read_positions(model, "m1", data.tensors.input_shape, data)
    np.testing.assert_allclose(neurons[["true_x", "true_y"]], true, atol=1e-9)
    np.testing.assert_allclose(neurons[["read_x", "read_y"]], true + [1.5, -2.0], atol=1e-5)
    assert (summary["offset_x"], summary["offset_y"]) == pytest.approx((1.5, -2.0), abs=1e-5)
    assert summary["rms"] < 1e-5
    shift = (0.2 * (OUTPUT[1] - 1) / 2, -0.1 * (OUTPUT[0] - 1) / 2)  # grid units -> input pixels: 1.1, -0.35
    assert (summary["shift_x"], summary["shift_y"]) == pytest.approx(shift, abs=1e-5)
    assert (summary["shifted_offset_x"], summary["shifted_offset_y"]) == pytest.approx((2.6, -2.35), abs=1e-5)
    assert summary["shifted_rms"] < 1e-5
    np.testing.assert_allclose(neurons[["zero_eye_x", "zero_eye_y"]], true + [2.6, -2.35], atol=1e-5)
    assert (summary["slope_x"], summary["slope_y"]) == pytest.approx((0.0, 0.0), abs=1e-6)  # a constant shift
    assert (summary["true_slope_x"], summary["true_slope_y"]) == pytest.approx((GAIN * SCALE, GAIN * SCALE))
    assert summary["shifter"] and summary["n_neurons"] == N_NEURONS


def test_the_shifters_slope_is_its_shift_per_camera_pixel():
    """A linear shifter W·z on z-scored pupil centres moves read positions by W/σ·(size − 1)/2 px per camera px."""
    data = _toy_mouse()
    model = _model_reading_at(data, _true_input_pixels(data))
    linear = nn.Linear(2, 2)
    linear.weight.data = torch.tensor([[0.05, 0.0], [0.0, -0.03]])
    linear.bias.data.zero_()
    model.shifters["m1"] = linear
    _, summary = mouse_read_positions(model, "m1", data.tensors.input_shape, data)
    sigma = data.pupil_camera[data.training_trials].std(axis=0)
    assert summary["slope_x"] == pytest.approx(0.05 / sigma[0] * (OUTPUT[1] - 1) / 2, rel=1e-4)
    assert summary["slope_y"] == pytest.approx(-0.03 / sigma[1] * (OUTPUT[0] - 1) / 2, rel=1e-4)
    assert (summary["shift_x"], summary["shift_y"]) == pytest.approx((0.0, 0.0), abs=1e-5)  # z̄ = 0 on training trials


def test_without_a_shifter_every_position_is_the_position_networks():
    data = _toy_mouse()
    true = _true_input_pixels(data)
    model = _model_reading_at(data, true + [-0.5, 1.0])
    del model.shifters["m1"]
    neurons, summary = mouse_read_positions(model, "m1", data.tensors.input_shape, data)
    for name in ("mean_eye", "zero_eye"):
        np.testing.assert_array_equal(neurons[[f"{name}_x", f"{name}_y"]], neurons[["read_x", "read_y"]])
    assert not summary["shifter"] and summary["shift_x"] == summary["slope_x"] == 0.0
    assert (summary["shifted_offset_x"], summary["shifted_offset_y"]) == pytest.approx((-0.5, 1.0), abs=1e-5)


def test_true_centres_map_image_pixels_to_input_pixels_as_the_workflows_resize_does():
    """A linear ramp survives the antialiased bilinear resize as its value at each input pixel's centre, so
    the resized ramps hold the image coordinates of the input pixels: true_centres must map them back."""
    columns, rows = np.meshgrid(np.arange(IMAGE_SHAPE[1]), np.arange(IMAGE_SHAPE[0]))
    ramps = np.stack([columns, rows] * (TOY_TRIALS.count // 2))[:, None].astype(np.float64)
    data = _toy_mouse(ramps)
    statistics = compute_statistics(
        mouse_arrays(TOY_TRIALS, ramps, np.zeros((TOY_TRIALS.count, 1)), np.random.default_rng(0))
    )["images"]["all"]
    resized = data.tensors.images[:2, 0].double().numpy() * float(statistics["std"]) + float(statistics["mean"])
    height, width = data.tensors.input_shape[1:]
    inner = (slice(2, height - 2), slice(2, width - 2))  # away from the border, where the filter is cut
    input_rows, input_columns = np.mgrid[0:height, 0:width]
    truth = {
        "rf_x": resized[0][inner].ravel(),
        "rf_y": resized[1][inner].ravel(),
        "eye_center": EYE_CENTER,
        "eye_shift_gain": np.array(GAIN),
    }
    centres = true_centres(replace(data, truth=truth), EYE_CENTER, data.tensors.input_shape)  # the eye at rest
    expected = np.column_stack([input_columns[inner].ravel(), input_rows[inner].ravel()])
    np.testing.assert_allclose(centres, expected, atol=1e-3)


def test_a_factorized_readout_or_a_mismatched_truth_is_refused():
    data = _toy_mouse()
    info = MouseInfo(N_NEURONS, data.tensors.cell_motor_coordinates, np.ones(N_NEURONS))
    model = build_model({"core": CORE, "readout": {"type": "factorized"}}, {"m1": info}, data.tensors.input_shape)
    with pytest.raises(ReadPositionError, match="Gaussian readout, not FactorizedReadout"):
        mouse_read_positions(model, "m1", data.tensors.input_shape, data)
    rng = np.random.default_rng(0)
    arrays = mouse_arrays(
        TOY_TRIALS,
        rng.uniform(0, 255, (TOY_TRIALS.count, 1, *IMAGE_SHAPE)),
        rng.poisson(2.0, (TOY_TRIALS.count, N_NEURONS)),
        rng,
    )
    with pytest.raises(ReadPositionError, match=f"{N_NEURONS} neurons, its ground truth has 2"):
        SimulatedMouse.from_arrays("m1", arrays, {**data.truth, "rf_x": np.zeros(2)}, SCALE)


# ----------------------------------------------------------------------------------------------
# The rule and the figure on the tiny config


TABLE, NEURONS = "tables/read_positions.csv", "read_positions/neurons.csv"


@pytest.fixture(scope="module")
def results(tiny_workdir):
    return tiny_results(tiny_workdir, TABLE, NEURONS, figures=["read_positions"])


@pytest.mark.slow
def test_the_table_has_a_row_per_gaussian_study_run_and_mouse(results):
    config = tiny_config()
    summary = pd.read_csv(results / TABLE)
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    # gaussian_g0 is the tiny config's only Gaussian variant on the study's mice (the others have their own mice)
    expected = {("gaussian_g0", seed, mouse) for seed in config["seeds"] for mouse in config["dataset"]["mice"]}
    assert set(zip(summary["variant"], summary["seed"], summary["mouse"])) == expected and len(summary) == 4
    assert summary["shifter"].all() and (summary["n_neurons"] == 40).all()
    gain = 0.25  # the simulator's default eye-shift gain; the model input is half the image size
    np.testing.assert_allclose(summary[["true_slope_x", "true_slope_y"]], gain * 0.5)


@pytest.mark.slow
def test_the_neuron_positions_are_the_models_and_the_simulators(results, tiny_workdir):
    neurons = pd.read_csv(results / NEURONS)
    assert list(neurons.columns) == list(NEURON_COLUMNS)
    rows = neurons[(neurons["variant"] == "gaussian_g0") & (neurons["seed"] == 2) & (neurons["mouse"] == "m2")]
    saved = load_run(results / "models" / "gaussian_g0" / "seed2" / "model.pt", torch.device("cpu"))
    np.testing.assert_allclose(
        rows[["read_y", "read_x"]], gaussian_positions(saved.model, "m2", saved.input_shape), atol=1e-6
    )
    resources = tiny_workdir / "resources" / "tiny"
    truth, arrays = load_ground_truth(resources / "m2.ground_truth.npz"), load_cache(resources / "m2.cache")
    eye = np.asarray(arrays.pupil_center, dtype=np.float64)[np.asarray(arrays.tiers) == "train"].mean(axis=0)
    true_x = (truth["rf_x"] + 0.25 * (eye[0] - truth["eye_center"][0]) + 0.5) * 0.5 - 0.5
    np.testing.assert_allclose(rows["true_x"], true_x, atol=1e-6)
    summary = pd.read_csv(results / TABLE).set_index(["variant", "seed", "mouse"]).loc[("gaussian_g0", 2, "m2")]
    assert summary["offset_x"] == pytest.approx((rows["read_x"] - rows["true_x"]).mean(), abs=1e-6)
    assert summary["shifted_offset_y"] == pytest.approx((rows["mean_eye_y"] - rows["true_y"]).mean(), abs=1e-6)


@pytest.mark.slow
def test_the_figure_draws_each_seeds_offsets_and_the_first_seeds_neurons(results, tiny_workdir, tmp_path):
    drawn = draw_figure(tiny_workdir, "read_positions", tmp_path / "read_positions.pdf")
    summary = pd.read_csv(results / TABLE)
    offsets, scatter_x, scatter_y = panels(drawn.figure)
    tips = {
        (round(line.get_xdata()[1], 6), round(line.get_ydata()[1], 6))
        for line in offsets.get_lines()
        if len(line.get_xdata()) == 2 and line.get_xdata()[0] == 0 and line.get_ydata()[0] == 0
    }
    for prefix in ("", "shifted_"):
        for x, y in zip(summary[f"{prefix}offset_x"], summary[f"{prefix}offset_y"]):
            assert (round(x, 6), round(y, 6)) in tips
    first = pd.read_csv(results / NEURONS).query("seed == 1")
    points = [line for line in scatter_x.get_lines() if line.get_linestyle() == "None"]
    assert sum(len(line.get_xdata()) for line in points) == 2 * len(first) == 2 * 80  # with and without shifter
    np.testing.assert_allclose(
        np.sort(np.concatenate([line.get_xdata() for line in points])), np.sort(np.tile(first["true_x"], 2))
    )
    assert scatter_y.get_xlabel() == "true RF centre y (input px)"
    assert legends_off_the_data(drawn.figure)
