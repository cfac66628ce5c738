"""Known-answer tests of v1twin.models: equivariance, steerability, regularizers, readout geometry."""

import math

import numpy as np
import pytest
import torch

from v1twin.models import (
    CNNCore,
    FactorizedReadout,
    GaussianReadout,
    MouseInfo,
    RotationEquivariantCore,
    build_model,
    hermite_basis,
)
from v1twin.models.regularizers import group_sparsity, laplace_smoothness

from helpers import model_settings

torch.set_num_threads(1)

INPUT_SHAPE = (4, 20, 24)


def mouse(n_neurons: int = 6, seed: int = 0) -> MouseInfo:
    rng = np.random.default_rng(seed)
    return MouseInfo(n_neurons, rng.uniform(0, 500, (n_neurons, 3)), rng.uniform(0.5, 1.5, n_neurons))


def small_model(readout: dict | None = None, core: dict | None = None, seed: int = 0):
    torch.manual_seed(seed)
    core = core or {"type": "cnn", "channels": 4, "layers": 2, "input_kernel": 5, "hidden_kernel": 3}
    readout = {"type": "gaussian", **(readout or {})}
    return build_model({"core": core, "readout": readout}, {"m1": mouse(), "m2": mouse(3, 1)}, INPUT_SHAPE)


def gaussian_readout(n_neurons: int = 2, channels: int = 3, **settings) -> GaussianReadout:
    info = mouse(n_neurons)
    return GaussianReadout(channels, info.cell_motor_coordinates, info.mean_response,
                           **model_settings("readout", "gaussian", **settings))


# ---- rotation-equivariant core -------------------------------------------------------------------


def equivariant_core(rotations: int = 8, basis: str = "analytic") -> RotationEquivariantCore:
    torch.manual_seed(0)
    core = RotationEquivariantCore(4, **model_settings(
        "core", "rotation_equivariant", channels=3, rotations=rotations, layers=3, input_kernel=7, hidden_kernel=5,
        hermite_basis=basis))
    core.train()
    with torch.no_grad():  # move BatchNorm running statistics away from their trivial init
        core(torch.randn(4, 4, 19, 19))
    return core.eval()


@pytest.mark.parametrize("basis", ["analytic", "neuralpredictors"])
@pytest.mark.parametrize("quarter_turns", [1, 2, 3])
def test_equivariant_core_rotates_maps_and_rolls_rotation_axis(quarter_turns, basis):
    core = equivariant_core(basis=basis)
    x = torch.randn(2, 4, 19, 19)
    with torch.no_grad():
        out = core(x)
        out_rotated_input = core(torch.rot90(x, quarter_turns, dims=(-2, -1)))
    batch, channels, height, width = out.shape
    expected = torch.rot90(out, quarter_turns, dims=(-2, -1)).view(batch, 8, 3, height, width)
    expected = torch.roll(expected, shifts=2 * quarter_turns, dims=1).reshape(batch, channels, height, width)
    torch.testing.assert_close(out_rotated_input, expected, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(out_rotated_input, torch.rot90(out, quarter_turns, dims=(-2, -1)), atol=1e-2)


def test_equivariant_core_shapes_and_shared_batchnorm():
    core = RotationEquivariantCore(4, **model_settings("core", "rotation_equivariant"))  # R24's core
    assert core.output_channels == 128
    assert core.output_size(36, 64) == (24, 52)
    assert core.convs[0].coefficients.shape == (16, 4, 13 * 14 // 2)
    assert core.convs[1].coefficients.shape == (16, 128, 5 * 6 // 2)
    assert core.norms[0].norm.weight.shape == (16,)  # one scale per feature, shared by its rotations
    assert list(core.norms[-1].parameters()) == []  # last BatchNorm has no trainable scale/bias
    assert core.feature_channels(3) == [3 + 16 * r for r in range(8)]


@pytest.mark.parametrize("kernel", [1, 3, 5, 7])
def test_hermite_basis_size_and_independence(kernel):
    basis = hermite_basis(kernel, np.array([0.0]))[0]
    assert basis.shape == (kernel * (kernel + 1) // 2, kernel, kernel)
    assert np.linalg.matrix_rank(basis.reshape(len(basis), -1)) == len(basis)


@pytest.mark.parametrize("angle", [0.3, 1.1, 2 * np.pi / 8 * 3])
def test_hermite_basis_is_steerable(angle):
    basis = hermite_basis(7, np.array([0.0, angle]))
    unrotated = basis[0].reshape(len(basis[0]), -1).T
    rotated = basis[1].reshape(len(basis[1]), -1).T
    coefficients, *_ = np.linalg.lstsq(unrotated, rotated, rcond=None)
    np.testing.assert_allclose(unrotated @ coefficients, rotated, atol=1e-10)
    # the same holds order by order: rotating never mixes different orders n
    assert np.abs(coefficients[:3, 3:]).max() < 1e-8


def test_hermite_basis_quarter_turn_matches_rot90():
    basis = hermite_basis(5, np.array([0.0, np.pi / 2]))
    np.testing.assert_allclose(basis[1], np.rot90(basis[0], 1, axes=(-2, -1)), atol=1e-12)


# ---- core regularizers -----------------------------------------------------------------------------


def test_laplace_smoothness_hand_values():
    delta = torch.zeros(1, 1, 3, 3)
    delta[0, 0, 1, 1] = 1.0
    assert laplace_smoothness(delta).item() == pytest.approx(20.0)  # centre 4², four neighbours (−1)²
    ones = torch.ones(1, 1, 2, 2)
    assert laplace_smoothness(ones).item() == pytest.approx(4.0)  # every pixel 4−2 = 2: 4·2² / 4


def test_group_sparsity_hand_values():
    weight = torch.tensor([[[[3.0, 4.0]]], [[[0.0, 1.0]]]])
    assert group_sparsity(weight).item() == pytest.approx(3.0)  # mean(5, 1)


def test_cnn_core_regularizer_combines_both_terms():
    core = CNNCore(1, **model_settings("core", "cnn", channels=1, layers=2, input_kernel=3, hidden_kernel=1,
                                       gamma_input=2.0, gamma_hidden=0.5))
    with torch.no_grad():
        core.input_conv.weight.zero_()
        core.input_conv.weight[0, 0, 1, 1] = 3.0
        core.hidden_convs[0].spatial.weight.fill_(-2.0)
    assert core.regularizer().item() == pytest.approx(2.0 * 20.0 + 0.5 * 2.0)


def test_cnn_core_output_geometry():
    core = CNNCore(4, **model_settings("core", "cnn"))  # the Sensorium 2022 baseline
    assert core(torch.randn(2, 4, 36, 64)).shape == (2, 64, 28, 56)
    assert core.output_size(36, 64) == (28, 56)


# ---- readout regularizers ---------------------------------------------------------------------------

FEATURES = [[1.0, -2.0], [0.0, 3.0]]


def test_l1_readout_regularizer_is_a_sum():
    readout = gaussian_readout(channels=2, regularizer="l1", gamma=0.5)
    with torch.no_grad():
        readout.features.copy_(torch.tensor(FEATURES))
    assert readout.regularizer().item() == pytest.approx(0.5 * 6.0)


def test_adaptive_regularizer_value_and_gradients():
    readout = gaussian_readout(channels=2, regularizer="adaptive", gamma=0.5, adaptive_sigma=0.1)
    with torch.no_grad():
        readout.features.copy_(torch.tensor(FEATURES))
        readout.log_beta.copy_(torch.tensor([math.log(2.0), 0.0]))
    penalty = readout.regularizer()
    assert penalty.item() == pytest.approx(0.5 * (2 * 3 + 1 * 3) + 100 * math.log(2.0) ** 2, rel=1e-6)
    penalty.backward()
    # d/dw = γ β_n sign(w): the per-neuron β must reach the feature gradients
    torch.testing.assert_close(readout.features.grad, torch.tensor([[1.0, -1.0], [0.0, 0.5]]))
    torch.testing.assert_close(readout.log_beta.grad, torch.tensor([0.5 * 2 * 3 + 200 * math.log(2.0), 0.5 * 3]))
    torch.testing.assert_close(readout.beta, torch.tensor([2.0, 1.0]))


def test_adaptive_term_changes_feature_gradients_through_the_model():
    def feature_grad(readout_config):
        model = small_model(readout_config)
        with torch.no_grad():
            if readout_config["regularizer"] == "adaptive":
                model.readouts["m1"].log_beta.fill_(math.log(3.0))
        model.regularizer("m1").backward()
        return model.readouts["m1"].features.grad

    l1 = feature_grad({"regularizer": "l1", "gamma": 2.0})
    adaptive = feature_grad({"regularizer": "adaptive", "gamma": 2.0})
    torch.testing.assert_close(l1, torch.full_like(l1, 2.0))  # features init 1/C > 0
    torch.testing.assert_close(adaptive, 3.0 * l1)


def test_factorized_readout_value_and_regularizer():
    readout = FactorizedReadout(2, (2, 2), np.array([0.25]), **model_settings("readout", "factorized", gamma=0.5))
    with torch.no_grad():
        readout.mask_weight.copy_(torch.tensor([[[3.0, 0.0], [0.0, -4.0]]]))
        readout.features.copy_(torch.tensor([[1.0, -2.0]]))
    torch.testing.assert_close(readout.mask, torch.tensor([[[0.6, 0.0], [0.0, 0.8]]]))
    assert readout.regularizer().item() == pytest.approx(0.5 * 1.4 * 3.0)
    x = torch.tensor([[[[1.0, 9.0], [9.0, 2.0]], [[5.0, 9.0], [9.0, -1.0]]]])
    # channel 0: 0.6·1 + 0.8·2 = 2.2; channel 1: 0.6·5 − 0.8·1 = 2.2 → 1·2.2 − 2·2.2 + 0.25
    assert readout(x).item() == pytest.approx(-2.2 + 0.25)


def test_factorized_l1_forms_and_signed_mask():
    """Two neurons: per neuron Σ‖s‖₁‖w‖₁ = 1.4·3 + 1·1; neuralpredictors' (Σ‖s‖₁)(Σ‖w‖₁) = 2.4·4."""
    masks = {}
    for form, expected in (("per_neuron", 5.2), ("product_of_sums", 9.6)):
        settings = model_settings("readout", "factorized", gamma=1.0, l1_form=form, positive_mask=False)
        readout = FactorizedReadout(2, (2, 2), np.zeros(2), **settings)
        with torch.no_grad():
            readout.mask_weight.copy_(torch.tensor([[[3.0, 0.0], [0.0, -4.0]], [[0.0, 2.0], [0.0, 0.0]]]))
            readout.features.copy_(torch.tensor([[1.0, -2.0], [0.0, 1.0]]))
        assert readout.regularizer().item() == pytest.approx(expected, rel=1e-5)
        masks[form] = readout.mask
    torch.testing.assert_close(masks["per_neuron"][0], torch.tensor([[0.6, 0.0], [0.0, -0.8]]))


@pytest.mark.parametrize(("clamp", "expected_x"), [("after_shift", 1.0), ("before_shift", 1.5)])
def test_gaussian_readout_clamps_before_or_after_the_shift(clamp, expected_x):
    readout = gaussian_readout(n_neurons=1, clamp_positions=clamp).eval()
    with torch.no_grad():
        readout.mu_free.copy_(torch.tensor([[1.2, 0.0]]))
        positions = readout.positions(1, shift=torch.tensor([[0.5, 0.0]]))
    assert positions[0, 0, 0].item() == pytest.approx(expected_x)


# ---- Gaussian readout geometry ------------------------------------------------------------------------


def grid_coordinate(index: int, size: int) -> float:
    return -1.0 + 2.0 * index / (size - 1)


def test_gaussian_readout_reads_feature_vector_at_grid_node():
    torch.manual_seed(0)
    readout = gaussian_readout(n_neurons=2, channels=3).eval()
    feature_map = torch.randn(1, 3, 5, 7)
    nodes = [(1, 2), (4, 6)]  # (row, column)
    with torch.no_grad():
        readout.mu_free.copy_(torch.tensor([[grid_coordinate(col, 7), grid_coordinate(row, 5)] for row, col in nodes]))
        readout.features.copy_(torch.tensor([[1.0, -2.0, 0.5], [0.0, 1.0, 3.0]]))
        out = readout(feature_map)
    for neuron, (row, col) in enumerate(nodes):
        expected = feature_map[0, :, row, col] @ readout.features[neuron] + readout.bias[neuron]
        assert out[0, neuron].item() == pytest.approx(expected.item(), abs=1e-5)


def test_gaussian_readout_samples_only_in_training():
    torch.manual_seed(0)
    readout = gaussian_readout(n_neurons=4, channels=3)
    feature_map = torch.randn(3, 3, 9, 9)
    readout.eval()
    first, second = readout(feature_map), readout(feature_map)
    torch.testing.assert_close(first, second)
    torch.testing.assert_close(readout.positions(3), readout.mu.expand(3, -1, -1))
    readout.train()
    assert not torch.allclose(readout(feature_map), readout(feature_map))
    with torch.no_grad():
        readout.sigma.zero_()
    torch.testing.assert_close(readout(feature_map), first)


def test_position_network_maps_coordinates_into_grid():
    torch.manual_seed(0)
    info = MouseInfo(50, np.random.default_rng(0).uniform(-5e4, 5e4, (50, 3)), np.ones(50))
    readout = GaussianReadout(3, info.cell_motor_coordinates, info.mean_response,
                              **model_settings("readout", "gaussian", position_network=True))
    centred = readout.cortical_positions
    torch.testing.assert_close(centred.mean(0), torch.zeros(2), atol=1e-6, rtol=0)
    assert centred.abs().max().item() == pytest.approx(1.0)
    raw = readout.position_network(centred)
    assert raw.abs().max() < 1.0 and raw.std(0).min() > 0  # tanh output, different neurons, different places
    assert readout.mu.shape == (50, 2)
    assert not hasattr(readout, "mu_free")


def test_shifter_moves_read_position():
    model = small_model({"shifter": True}).eval()
    readout, shifter = model.readouts["m1"], model.shifters["m1"]
    with torch.no_grad():
        shifter[-2].weight.zero_()
        shifter[-2].bias.copy_(torch.atanh(torch.tensor([0.2, -0.1])))
    x = torch.randn(2, *INPUT_SHAPE)
    with torch.no_grad():
        shifted = model(x, "m1", pupil_center=torch.randn(2, 2))
        unshifted = model(x, "m1")
        readout.mu_free.add_(torch.tensor([0.2, -0.1]))
        moved = model(x, "m1")
    assert not torch.allclose(shifted, unshifted)
    torch.testing.assert_close(shifted, moved)


def test_a_new_shifter_starts_without_shift():
    model = small_model({"shifter": True}).eval()
    x, pupil = torch.randn(3, *INPUT_SHAPE), 5 * torch.randn(3, 2)
    torch.testing.assert_close(model.shifters["m1"](pupil), torch.zeros(3, 2))
    with torch.no_grad():
        torch.testing.assert_close(model(x, "m1", pupil_center=pupil), model(x, "m1"))


# ---- the whole model ---------------------------------------------------------------------------------


def test_channel_mask_zeroes_exactly_one_channel_cnn():
    model = small_model().eval()
    x = torch.randn(2, *INPUT_SHAPE)
    with torch.no_grad():
        before = model.core(x)
        model.core.channel_mask[model.core.feature_channels(1)] = 0.0
        after = model.core(x)
        masked_response = model(x, "m1")
        model.core.channel_mask.fill_(1.0)
        model.readouts["m1"].features[:, 1] = 0.0
        response_without_channel = model(x, "m1")
    assert after[:, 1].abs().max() == 0
    torch.testing.assert_close(after[:, [0, 2, 3]], before[:, [0, 2, 3]])
    torch.testing.assert_close(masked_response, response_without_channel)


def test_channel_mask_zeroes_all_rotations_of_a_feature():
    core = equivariant_core(rotations=4)
    x = torch.randn(2, 4, 19, 19)
    masked = core.feature_channels(2)
    kept = [c for c in range(core.output_channels) if c not in masked]
    with torch.no_grad():
        before = core(x)
        core.channel_mask[masked] = 0.0
        after = core(x)
    assert masked == [2, 5, 8, 11]
    assert after[:, masked].abs().max() == 0
    torch.testing.assert_close(after[:, kept], before[:, kept])


@pytest.mark.parametrize(
    "config",
    [
        {"readout": {"type": "gaussian", "shifter": True, "position_network": True}},
        {"readout": {"type": "factorized"}},
        {"core": {"type": "rotation_equivariant", "channels": 2, "rotations": 4, "layers": 2, "input_kernel": 5}},
    ],
)
def test_outputs_are_positive_and_shaped(config):
    model = small_model(config.get("readout"), config.get("core"))
    out = model(torch.randn(5, *INPUT_SHAPE), "m2", pupil_center=torch.randn(5, 2))
    assert out.shape == (5, 3) and (out > 0).all()
    model.regularizer("m2").backward()


def test_output_stays_positive_for_very_negative_drive():
    model = small_model().eval()
    with torch.no_grad():
        model.readouts["m1"].bias.fill_(-60.0)
        out = model(torch.randn(2, *INPUT_SHAPE), "m1")
    assert (out > 0).all()


def test_factorized_mask_matches_core_output_size():
    model = small_model({"type": "factorized", "gamma": 0.1})
    assert model.readouts["m1"].mask.shape == (6, 16, 20)
    assert model.readouts["m1"].features.shape == (6, 4)


@pytest.mark.parametrize(
    "config, bad_key",
    [
        ({"core": {"type": "cnn", "chanels": 8}}, "chanels"),
        ({"readout": {"type": "factorized", "shifter": True}}, "shifter"),
        ({"readout": {"type": "gaussian", "gama": 1.0}}, "gama"),
        ({"cores": {}}, "cores"),
        ({"core": {"type": "resnet"}}, "resnet"),
        ({"readout": {"type": "gaussian", "regularizer": "l2"}}, "l2"),
    ],
)
def test_bad_config_raises_naming_the_key(config, bad_key):
    with pytest.raises(ValueError, match=bad_key):
        build_model({"core": {"type": "cnn"}, "readout": {"type": "gaussian"}, **config}, {"m1": mouse()}, INPUT_SHAPE)


def test_mouse_info_shape_mismatch_raises():
    with pytest.raises(ValueError, match="mean_response"):
        MouseInfo(3, np.zeros((3, 3)), np.zeros(4))


def test_same_seed_same_init():
    config = {"type": "rotation_equivariant", "channels": 2, "rotations": 4, "layers": 2, "input_kernel": 5}
    first = small_model({"shifter": True}, config, seed=3).state_dict()
    second = small_model({"shifter": True}, config, seed=3).state_dict()
    other = small_model({"shifter": True}, config, seed=4).state_dict()
    assert first.keys() == second.keys()
    assert all(torch.equal(first[key], second[key]) for key in first)
    assert not all(torch.equal(first[key], other[key]) for key in first)


def test_bias_starts_at_mean_response_and_features_at_one_over_c():
    model = small_model()
    info = mouse()
    torch.testing.assert_close(model.readouts["m1"].bias.detach(), torch.tensor(info.mean_response))
    torch.testing.assert_close(model.readouts["m1"].features.detach(), torch.full((6, 4), 0.25))


def test_each_seed_starts_from_its_own_core():
    """Embedding consistency compares seeds: their initial cores must differ (and one seed must repeat)."""
    from v1twin.training import seed_everything  # noqa: PLC0415

    core = {"type": "rotation_equivariant", "channels": 4, "rotations": 8, "layers": 2, "input_kernel": 5,
            "hidden_kernel": 3}

    def initial_core(seed: int) -> dict[str, torch.Tensor]:
        seed_everything(seed)  # as model_run.train_new_run does before building
        model = build_model({"core": core, "readout": {"type": "gaussian"}}, {"m1": mouse()}, INPUT_SHAPE)
        return {name: value.detach().clone() for name, value in model.core.named_parameters()}

    first, second, again = initial_core(1), initial_core(2), initial_core(1)
    assert first.keys() == second.keys() and len(first) > 0
    random = [name for name in first if first[name].numel() > 1 and first[name].std() > 0]  # not constant inits
    assert random
    for name in first:
        assert torch.equal(first[name], again[name]), name
    for name in random:
        assert not torch.allclose(first[name], second[name]), name
