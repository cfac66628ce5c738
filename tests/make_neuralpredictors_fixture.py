"""Write tests/neuralpredictors_fixture.npz: inputs, weights, outputs and penalties of small models built
with neuralpredictors 0.3.0, which tests/test_neuralpredictors.py reproduces with our modules.

Run once, in an environment of its own (never the project's):
    python3.11 -m venv /tmp/npvenv
    /tmp/npvenv/bin/pip install torch==2.13.0 numpy scipy
    /tmp/npvenv/bin/pip install --no-deps neuralpredictors==0.3.0
    /tmp/npvenv/bin/python tests/make_neuralpredictors_fixture.py

neuralpredictors 0.3.0 does not import on Python 3.11 as released; shims below, site-packages untouched:
1. `from collections import Iterable` (cores/conv2d.py) — removed in Python 3.10: alias collections.abc.Iterable.
2. `math.factorial(<numpy float>)` (hermite.py) — refused since Python 3.10: a factorial of int(n).
3. `import torchvision` (cores/conv2d.py), used only by TransferLearningCore: an empty stub module.
Also, 0.3.0's `RotationEquivariant2dCore.laplace` and `.group_sparsity` read `features[l].conv`, a layer
named `hermite_conv` (fixed after 0.3.0): the fixture aliases `conv` to it outside the module registry
(the state dict is unchanged), and calls the core's Laplace regularizer on a contiguous copy of
`weights_all_rotations` (the regularizer `.view`s it, which fails on the permuted weight).

The rotation-equivariant model is R24's setting at small size (13×13 input and 5×5 hidden kernels,
8 rotations, readout of the last layer, signed factorized mask, constrain_pos off); the CNN model is
the Sensorium 2022 baseline's (SE2dCore, depth-separable, no conv bias) with L21's position network.
"""

import collections
import collections.abc
import copy
import math
import sys
import types
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch

# neuralpredictors is imported only after the shims patched what it needs, hence `noqa: E402` on its imports.
collections.Iterable = collections.abc.Iterable  # shim 1
sys.modules["torchvision"] = types.ModuleType("torchvision")  # shim 3
from neuralpredictors.layers import hermite  # noqa: E402

hermite.math = types.SimpleNamespace(factorial=lambda n: math.factorial(int(n)))  # shim 2

from neuralpredictors.layers.cores import RotationEquivariant2dCore, SE2dCore  # noqa: E402
from neuralpredictors.layers.encoders import FiringRateEncoder  # noqa: E402
from neuralpredictors.layers.readouts import FullFactorized2d, FullGaussian2d, MultiReadoutSharedParametersBase  # noqa: E402
from neuralpredictors.layers.shifters import MLPShifter  # noqa: E402

assert version("neuralpredictors") == "0.3.0", version("neuralpredictors")
OUTPUT = Path(__file__).with_name("neuralpredictors_fixture.npz")
GAUSSIAN, FACTORIZED, CNN = "m1", "m2", "m3"  # data keys: one mouse per model


class MultipleFullGaussian2d(MultiReadoutSharedParametersBase):
    _base_readout = FullGaussian2d  # as R24's sensorium/models/readouts.py


class MultipleFullFactorized2d(MultiReadoutSharedParametersBase):
    _base_readout = FullFactorized2d


def randomize_norms(model: torch.nn.Module, generator: torch.Generator) -> None:
    """Non-trivial BatchNorm statistics and affine parameters, so the converter's mapping is checked."""
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            size = module.num_features
            module.running_mean.copy_(0.2 * torch.randn(size, generator=generator))
            module.running_var.copy_(0.5 + torch.rand(size, generator=generator))
            module.weight.data.copy_(0.5 + torch.rand(size, generator=generator))
            module.bias.data.copy_(0.2 * torch.randn(size, generator=generator))


def rotation_models(generator: torch.Generator) -> tuple[FiringRateEncoder, FiringRateEncoder]:
    core = RotationEquivariant2dCore(
        input_channels=2, hidden_channels=2, input_kern=13, hidden_kern=5, layers=3, num_rotations=8,
        gamma_input=500.0, gamma_hidden=500000.0, momentum=0.9, pad_input=False, stack=-1,
        laplace_padding=None, use_avg_reg=False,
    )
    randomize_norms(core, generator)
    shape = {key: (16, 12, 12) for key in (GAUSSIAN, FACTORIZED)}
    gaussian = MultipleFullGaussian2d(
        in_shape_dict={GAUSSIAN: shape[GAUSSIAN]}, n_neurons_dict={GAUSSIAN: 9}, bias=True, init_mu_range=0.3,
        init_sigma=0.1, gauss_type="full", feature_reg_weight=50.0,
    )
    readout = gaussian[GAUSSIAN]
    readout._mu.data.uniform_(-1.3, 1.3, generator=generator)  # some positions start off the grid
    readout._features.data.normal_(generator=generator)
    readout.bias.data.normal_(generator=generator)
    shifter = MLPShifter([GAUSSIAN], input_channels=2, hidden_channels_shifter=5, shift_layers=3)
    for parameter in shifter.parameters():
        parameter.data.normal_(generator=generator)
    factorized = MultipleFullFactorized2d(
        in_shape_dict={FACTORIZED: shape[FACTORIZED]}, n_neurons_dict={FACTORIZED: 7}, bias=True,
        spatial_and_feature_reg_weight=0.003, positive_spatial=True, positive_weights=False, normalize=True,
    )
    readout = factorized[FACTORIZED]
    for parameter in (readout.spatial, readout._features, readout.bias):
        parameter.data.normal_(generator=generator)
    return (FiringRateEncoder(core=core, readout=gaussian, shifter=shifter),
            FiringRateEncoder(core=core, readout=factorized, shifter=None))


def cnn_model(generator: torch.Generator) -> FiringRateEncoder:
    core = SE2dCore(
        input_channels=2, hidden_channels=4, input_kern=9, hidden_kern=7, layers=3, depth_separable=True,
        gamma_input=6.3831, momentum=0.9, pad_input=False, stack=-1, bias=False,
    )
    randomize_norms(core, generator)
    coordinates = np.random.default_rng(0).normal(size=(6, 3)) * 100
    readout = MultipleFullGaussian2d(
        in_shape_dict={CNN: (4, 16, 16)}, n_neurons_dict={CNN: 6}, bias=True, init_mu_range=0.3, init_sigma=0.1,
        gauss_type="full", grid_mean_predictor={"hidden_layers": 1, "hidden_features": 30, "final_tanh": True},
        grid_mean_predictor_type="cortex", source_grids={CNN: coordinates[:, :2]},
    )
    for parameter in readout[CNN].parameters():
        parameter.data.normal_(generator=generator)
    return FiringRateEncoder(core=core, readout=readout, shifter=None), coordinates


def library_basis(kernel: int, rotations: int) -> np.ndarray:
    """The library's downsampled rotated basis (R, B, k, k): the weights of unit coefficients."""
    module = hermite.HermiteConv2D(1, kernel * (kernel + 1) // 2, kernel, 0, 1, rotations, 2, first_layer=True)
    module.coeffs.data = torch.eye(module.n_coeffs).unsqueeze(1)
    module(torch.zeros(1, 1, kernel, kernel))
    weights = module.weights_all_rotations[:, 0]  # (R·B, k, k), rotation-major
    return weights.reshape(rotations, -1, kernel, kernel).detach().numpy()


def main() -> None:
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    images = torch.randn(3, 2, 24, 24, generator=generator)
    pupil_center = 1.5 * torch.randn(3, 2, generator=generator)
    gaussian_model, factorized_model = rotation_models(generator)
    cnn, coordinates = cnn_model(generator)
    arrays = {"version": np.array(version("neuralpredictors")), "images": images, "pupil_center": pupil_center,
              "cnn_coordinates": coordinates, "basis_5": library_basis(5, 8), "basis_13": library_basis(13, 8)[:2]}
    with torch.no_grad():
        for model in (gaussian_model, factorized_model, cnn):
            model.eval()
        core = gaussian_model.core
        arrays["rotation_core_output"] = core(images)
        arrays["gaussian_output"] = gaussian_model(images, data_key=GAUSSIAN, pupil_center=pupil_center)
        arrays["gaussian_l1"] = gaussian_model.readout[GAUSSIAN].feature_l1()
        arrays["factorized_output"] = factorized_model(images, data_key=FACTORIZED)
        arrays["factorized_l1"] = factorized_model.readout[FACTORIZED].l1()
        arrays["factorized_regularizer"] = factorized_model.readout.regularizer(FACTORIZED)
        for layer in core.features:
            object.__setattr__(layer, "conv", layer.hermite_conv)  # unregistered alias, see the module docstring
        arrays["core_laplace"] = core._input_weights_regularizer(
            core.features[0].conv.weights_all_rotations.contiguous(), avg=False)
        arrays["core_group_sparsity"] = core.group_sparsity()
        arrays["cnn_output"] = cnn(images, data_key=CNN)
        arrays["rotation_core_train_output"] = copy.deepcopy(core).train()(images)  # batch statistics
    for name, model in (("gaussian", gaussian_model), ("factorized", factorized_model), ("cnn", cnn)):
        for key, value in model.state_dict().items():
            if ".rotate_hermite." not in key:  # the basis buffers are recomputed (and would make the file 1 MB)
                arrays[f"state:{name}:{key}"] = value
    arrays = {key: value.numpy() if isinstance(value, torch.Tensor) else value for key, value in arrays.items()}
    np.savez_compressed(OUTPUT, **arrays)
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size / 1e3:.0f} kB) with neuralpredictors {version('neuralpredictors')}")


if __name__ == "__main__":
    main()
