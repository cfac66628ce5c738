"""Our modules against neuralpredictors 0.3.0 (the library R24 ran), through a fixture the library made.

tests/make_neuralpredictors_fixture.py wrote tests/neuralpredictors_fixture.npz: small models in R24's
setting (rotation-equivariant core with 13×13 and 5×5 kernels and 8 rotations; Gaussian readout with
shifter; factorized readout) and the Sensorium baseline's CNN core with a position network, their
weights, outputs and penalties. The weights go through `from_neuralpredictors`; the outputs must agree
to float precision.
"""

from pathlib import Path

import numpy as np
import pytest
import torch

from v1twin.model_run import load_model, save_model
from v1twin.models import MouseInfo
from v1twin.models.convert import from_neuralpredictors
from v1twin.models.cores import neuralpredictors_hermite_basis
from v1twin.models.regularizers import factorized_sparsity, group_sparsity, l1_features, laplace_smoothness

torch.set_num_threads(1)

FIXTURE = np.load(Path(__file__).with_name("neuralpredictors_fixture.npz"))
INPUT_SHAPE = (2, 24, 24)


def expected(name: str) -> torch.Tensor:
    return torch.from_numpy(FIXTURE[name])


def assert_float_close(actual: torch.Tensor, name: str) -> None:
    """Equal up to float32 rounding: a few ulps of the largest value (our float64 differs from both as much)."""
    reference = expected(name)
    torch.testing.assert_close(actual, reference, rtol=0, atol=2e-6 * reference.abs().max().item())


def converted(model: str, mice: dict[str, int]):
    """The fixture's `model` state dict converted, with placeholder mouse data (the weights replace it)."""
    prefix = f"state:{model}:"
    state = {key[len(prefix):]: torch.from_numpy(FIXTURE[key]) for key in FIXTURE.files if key.startswith(prefix)}
    infos = {name: MouseInfo(n, np.zeros((n, 3)), np.ones(n)) for name, n in mice.items()}
    return from_neuralpredictors(state, infos, INPUT_SHAPE)


def test_fixture_comes_from_neuralpredictors_0_3_0():
    assert str(FIXTURE["version"]) == "0.3.0"


@pytest.mark.parametrize(("kernel", "name", "rotations"), [(5, "basis_5", 8), (13, "basis_13", 2)])
def test_hermite_basis_matches_library(kernel, name, rotations):
    ours = neuralpredictors_hermite_basis(kernel, 2 * np.pi * np.arange(8) / 8)[:rotations]
    np.testing.assert_allclose(ours, FIXTURE[name], atol=1e-6)


def test_converted_rotation_core_matches_library_in_both_modes():
    _, model = converted("gaussian", {"m1": 9})
    with torch.no_grad():
        assert_float_close(model.core(expected("images")), "rotation_core_output")
        model.core.train()
        assert_float_close(model.core(expected("images")), "rotation_core_train_output")


def test_core_penalties_match_library():
    _, model = converted("gaussian", {"m1": 9})
    hidden = torch.stack([group_sparsity(weight) for weight in model.core.hidden_filters()]).mean()
    torch.testing.assert_close(laplace_smoothness(model.core.input_filters()), expected("core_laplace"),
                               rtol=1e-5, atol=0)
    torch.testing.assert_close(hidden, expected("core_group_sparsity"), rtol=1e-5, atol=0)


def test_converted_gaussian_readout_with_shifter_matches_library():
    variant, model = converted("gaussian", {"m1": 9})
    assert variant["core"]["hermite_basis"] == "neuralpredictors" and variant["core"]["final_batchnorm_affine"]
    assert variant["readout"] == {"type": "gaussian", "shifter": True, "position_network": False,
                                  "clamp_positions": "before_shift"}
    images, pupil_center = expected("images"), expected("pupil_center")
    with torch.no_grad():
        shift = model.shifters["m1"](pupil_center)
        positions = model.readouts["m1"].positions(len(images), shift)
        assert_float_close(model(images, "m1", pupil_center), "gaussian_output")
    assert positions.abs().max() > 1  # the shift moves neurons off the grid: the clamping order matters
    torch.testing.assert_close(l1_features(model.readouts["m1"].features), expected("gaussian_l1"), rtol=1e-6, atol=0)


def test_converted_factorized_readout_and_its_l1_match_library():
    variant, model = converted("factorized", {"m2": 7})
    assert variant["readout"] == {"type": "factorized", "l1_form": "product_of_sums", "positive_mask": False}
    readout = model.readouts["m2"]
    readout.gamma = 0.003
    with torch.no_grad():
        assert_float_close(model(expected("images"), "m2"), "factorized_output")
    l1 = factorized_sparsity(readout.mask, readout.features, "product_of_sums")
    torch.testing.assert_close(l1, expected("factorized_l1"), rtol=1e-6, atol=0)
    torch.testing.assert_close(readout.regularizer(), expected("factorized_regularizer"), rtol=1e-6, atol=0)


def test_converted_cnn_core_with_position_network_matches_library():
    variant, model = converted("cnn", {"m3": 6})
    assert variant["core"] == {"type": "cnn", "channels": 4, "layers": 3, "input_kernel": 9, "hidden_kernel": 7,
                               "depth_separable": True}
    assert variant["readout"]["position_network"]
    with torch.no_grad():
        assert_float_close(model(expected("images"), "m3"), "cnn_output")


def test_converted_model_survives_save_and_load(tmp_path):
    """Downstream stages read models with load_model: the converted variant must rebuild the same model."""
    variant, model = converted("gaussian", {"m1": 9})
    infos = {"m1": MouseInfo(9, np.zeros((9, 3)), np.ones(9))}
    save_model(tmp_path / "model.pt", model, variant, infos, INPUT_SHAPE)
    loaded = load_model(tmp_path / "model.pt", device=torch.device("cpu"))
    with torch.no_grad():
        assert_float_close(loaded(expected("images"), "m1", expected("pupil_center")), "gaussian_output")


def test_converter_rejects_what_it_cannot_represent():
    prefix = "state:cnn:"
    state = {key[len(prefix):]: torch.from_numpy(FIXTURE[key]) for key in FIXTURE.files if key.startswith(prefix)}
    state["core.features.layer0.conv.bias"] = torch.zeros(4)
    with pytest.raises(ValueError, match="layer0.conv.bias"):
        from_neuralpredictors(state, {"m3": MouseInfo(6, np.zeros((6, 3)), np.ones(6))}, INPUT_SHAPE)
    with pytest.raises(ValueError, match="readouts"):
        from_neuralpredictors(state, {"other": MouseInfo(6, np.zeros((6, 3)), np.ones(6))}, INPUT_SHAPE)
