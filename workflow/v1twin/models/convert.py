"""Load models trained with neuralpredictors 0.3.0, the library behind R24's code and the Sensorium baselines.

`from_neuralpredictors` reads the architecture off the state dict of a `FiringRateEncoder`, builds the
matching variant with `build_model` and copies the weights, so a published or lab-trained model can go
through every downstream stage (write it with `model_run.save_model`). Supported: the
`RotationEquivariant2dCore` and the `Stacked2dCore`/`SE2dCore` (no conv biases, no squeeze-excitation),
read out at the last layer only (`stack=-1`); `FullGaussian2d` readouts (`gauss_type="full"`, free or
cortex-predicted positions) with the 2-5-5-2 MLP shifter, and `FullFactorized2d` readouts
(`normalize=True`, `constrain_pos=False`, as R24 ran them). Anything else raises ValueError.
Regularization strengths are not part of a state dict: the variant has the defaults (unregularized
Gaussian readout); the L1 form, mask sign, position clamping and Hermite basis are the library's.
"""

from __future__ import annotations

import math

import torch

from v1twin.models.network import MouseInfo, V1Model, build_model

# Library buffers that our modules recompute (the Hermite basis and its rotation matrices).
_RECOMPUTED = (".rotate_hermite.H", ".rotate_hermite.Rs.")
_NORM_STATISTICS = ("running_mean", "running_var", "num_batches_tracked")


def _section(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The entries under `prefix`, with the prefix removed."""
    return {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}


def _check_used(part: str, state: dict[str, torch.Tensor]) -> None:
    """Entries left over after conversion belong to a module we cannot represent."""
    left = sorted(key for key in state if not any(marker in key for marker in _RECOMPUTED))
    if left:
        raise ValueError(f"unsupported neuralpredictors {part}: no counterpart for {left}")


def _kernel_size(n_coefficients: int) -> int:
    """Kernel k of a Hermite basis with k(k+1)/2 functions."""
    kernel = round((math.sqrt(8 * n_coefficients + 1) - 1) / 2)
    if kernel * (kernel + 1) // 2 != n_coefficients:
        raise ValueError(f"{n_coefficients} Hermite coefficients do not fit any kernel size")
    return kernel


def _layer_count(core: dict[str, torch.Tensor]) -> int:
    return len({key.split(".")[0] for key in core})


def _norm_weights(core: dict[str, torch.Tensor], layer: int, norm: str, target: str, affine: bool) -> dict:
    """BatchNorm statistics, plus scale and bias when `affine`: from the norm itself or from the separate
    scale/bias layers that later library versions add (BN without affine + bias layer ≡ BN with scale 1)."""
    prefix = f"layer{layer}.{norm}."
    weights = {f"{target}.{name}": core.pop(prefix + name) for name in _NORM_STATISTICS}
    scale = core.pop(prefix + "weight", None)
    bias = core.pop(prefix + "bias", None)
    scale = core.pop(f"layer{layer}.scale.scale", None) if scale is None else scale
    bias = core.pop(f"layer{layer}.bias.bias", None) if bias is None else bias
    if affine:
        mean = weights[f"{target}.running_mean"]
        weights[f"{target}.weight"] = torch.ones_like(mean) if scale is None else scale.flatten()
        weights[f"{target}.bias"] = torch.zeros_like(mean) if bias is None else bias.flatten()
    return weights


def _has_final_affine(core: dict[str, torch.Tensor], layers: int) -> bool:
    last = f"layer{layers - 1}."
    return any(key.startswith(last) and key.endswith(("norm.batch_norm.weight", "bias.bias", "scale.scale"))
               for key in core)


def _rotation_core(core: dict[str, torch.Tensor]) -> tuple[dict, dict]:
    """Variant and weights of a RotationEquivariant2dCore; coefficients go from (B, in, out) to (out, in, B)."""
    layers = _layer_count(core)
    coefficients = [core.pop(f"layer{layer}.hermite_conv.coeffs") for layer in range(layers)]
    kernels = [_kernel_size(weight.shape[0]) for weight in coefficients]
    if len(set(kernels[1:])) > 1:
        raise ValueError(f"hidden kernels differ between layers: {kernels[1:]}")
    basis = core.get("layer0.hermite_conv.rotate_hermite.H")
    if basis is not None and basis.shape[-1] != 2 * kernels[0]:
        raise ValueError("only the library's default Hermite upsampling of 2 is supported")
    channels = coefficients[0].shape[2]
    # hidden layers read all rotations of the previous layer; a one-layer core only has its rotation matrices
    rotations = (coefficients[1].shape[1] // channels if layers > 1
                 else sum(".rotate_hermite.Rs." in key for key in core))
    variant = {
        "type": "rotation_equivariant",
        "channels": channels,
        "rotations": rotations,
        "layers": layers,
        "input_kernel": kernels[0],
        "hidden_kernel": kernels[-1],
        "hermite_basis": "neuralpredictors",
        "final_batchnorm_affine": _has_final_affine(core, layers),
    }
    weights = {f"core.convs.{layer}.coefficients": weight.permute(2, 1, 0) for layer, weight in enumerate(coefficients)}
    for layer in range(layers):
        affine = layer < layers - 1 or variant["final_batchnorm_affine"]
        weights.update(_norm_weights(core, layer, "norm.batch_norm", f"core.norms.{layer}.norm", affine))
    return variant, weights


def _cnn_core(core: dict[str, torch.Tensor]) -> tuple[dict, dict]:
    """Variant and weights of a Stacked2dCore / SE2dCore (the Sensorium 2022 baseline core)."""
    layers = _layer_count(core)
    depth_separable = any(".ds_conv." in key for key in core)
    weights = {"core.input_conv.weight": core.pop("layer0.conv.weight")}
    for layer in range(1, layers):
        target = f"core.hidden_convs.{layer - 1}"
        if depth_separable:
            for ours, theirs in (("pointwise_in", "in_depth_conv"), ("spatial", "spatial_conv"),
                                 ("pointwise_out", "out_depth_conv")):
                weights[f"{target}.{ours}.weight"] = core.pop(f"layer{layer}.ds_conv.{theirs}.weight")
        else:
            weights[f"{target}.weight"] = core.pop(f"layer{layer}.conv.weight")
    for layer in range(layers):
        weights.update(_norm_weights(core, layer, "norm", f"core.activations.{layer}.0", affine=True))
    input_weight = weights["core.input_conv.weight"]
    hidden = weights.get("core.hidden_convs.0.spatial.weight", weights.get("core.hidden_convs.0.weight", input_weight))
    variant = {
        "type": "cnn",
        "channels": input_weight.shape[0],
        "layers": layers,
        "input_kernel": input_weight.shape[-1],
        "hidden_kernel": hidden.shape[-1],
        "depth_separable": depth_separable,
    }
    return variant, weights


def _gaussian_readout(readout: dict[str, torch.Tensor], target: str) -> dict:
    """FullGaussian2d: positions (1, N, 1, 2), scales (1, N, 2, 2), features (1, C, 1, N)."""
    if readout["sigma"].shape[-2:] != (2, 2):
        raise ValueError("only gauss_type='full' Gaussian readouts are supported")
    features = readout.pop("_features")[0, :, 0].T
    weights = {f"{target}.sigma": readout.pop("sigma")[0], f"{target}.features": features}
    weights[f"{target}.bias"] = readout.pop("bias", features.new_zeros(len(features)))
    if "_mu" in readout:
        weights[f"{target}.mu_free"] = readout.pop("_mu")[0, :, 0]
    else:
        weights[f"{target}.cortical_positions"] = readout.pop("source_grid")
        for key in [key for key in readout if key.startswith("mu_transform.")]:
            weights[f"{target}.position_network.{key[len('mu_transform.'):]}"] = readout.pop(key)
    return weights


def _factorized_readout(readout: dict[str, torch.Tensor], target: str) -> dict:
    """FullFactorized2d: spatial masks (N, h, w) and features (N, C)."""
    features = readout.pop("_features")
    weights = {f"{target}.mask_weight": readout.pop("spatial"), f"{target}.features": features}
    weights[f"{target}.bias"] = readout.pop("bias", features.new_zeros(len(features)))
    return weights


def _readout_variant(readout: dict[str, torch.Tensor], shifter: bool) -> dict:
    if "spatial" in readout:
        if shifter:
            raise ValueError("a factorized readout cannot take a shifter (neuralpredictors raises on a shift too)")
        return {"type": "factorized", "l1_form": "product_of_sums", "positive_mask": False}
    return {
        "type": "gaussian",
        "shifter": shifter,
        "position_network": "_mu" not in readout,
        "clamp_positions": "before_shift",
    }


def _readouts(state: dict[str, torch.Tensor], mice: list[str]) -> tuple[dict, dict]:
    """Readout variant (one for all mice) and the weights of every mouse's readout and shifter."""
    variants, weights = [], {}
    for mouse in mice:
        readout = _section(state, f"readout.{mouse}.")
        shifter = _section(state, f"shifter.{mouse}.mlp.")
        variants.append(_readout_variant(readout, bool(shifter)))
        convert = _factorized_readout if variants[-1]["type"] == "factorized" else _gaussian_readout
        weights.update(convert(readout, f"readouts.{mouse}"))
        _check_used("readout", readout)
        weights.update({f"shifters.{mouse}.{key}": value for key, value in shifter.items()})
    if any(other != variants[0] for other in variants):
        raise ValueError(f"the mice's readouts differ ({variants}); a model has one readout type")
    return variants[0], weights


def from_neuralpredictors(
    state_dict: dict[str, torch.Tensor], mice: dict[str, MouseInfo], input_shape: tuple[int, int, int]
) -> tuple[dict, V1Model]:
    """The variant config and the model (evaluation mode) of a neuralpredictors FiringRateEncoder state dict.

    `mice` is keyed by the library's data keys (the readouts' names); their coordinates and mean
    responses only size the readouts, whose weights come from the state dict.
    """
    state = {key: value.detach().cpu() for key, value in state_dict.items()}
    data_keys = {key.split(".")[1] for key in state if key.startswith("readout.")}
    if data_keys != set(mice):
        raise ValueError(f"the state dict has readouts {sorted(data_keys)} but mice {sorted(mice)} were given")
    core = _section(state, "core.features.")
    core_variant, weights = _rotation_core(core) if "layer0.hermite_conv.coeffs" in core else _cnn_core(core)
    _check_used("core", core)
    readout_variant, readout_weights = _readouts(state, list(mice))
    variant = {"core": core_variant, "readout": readout_variant}
    model = build_model(variant, mice, input_shape)
    own_buffers = {key: value for key, value in model.state_dict().items() if key.endswith((".basis", "channel_mask"))}
    try:
        model.load_state_dict({**own_buffers, **weights, **readout_weights})
    except RuntimeError as error:
        raise ValueError(f"the neuralpredictors model does not fit variant {variant} (is the core read out at its "
                         f"last layer only, stack=-1?): {error}") from error
    return variant, model.eval()
