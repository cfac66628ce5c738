"""Convolutional cores shared by all neurons (METHODS §2): the Sensorium CNN and the
rotation-equivariant Hermite CNN of Ecker et al. (2019).

Both cores: input layer without padding, hidden layers with "same" padding, BatchNorm + ELU after
every layer, output = last layer multiplied by a `channel_mask` buffer (pruning sets entries to 0).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import numpy as np
import torch
from scipy.special import eval_genlaguerre
from torch import nn

from v1twin.models.regularizers import group_sparsity, laplace_smoothness


def check_core_settings(input_kernel: int, hidden_kernel: int, hermite_basis: str | None = None, **counts: int) -> None:
    """Counts (channels, layers, ...) at least 1; odd kernels, because they keep "same" padding symmetric,
    which rotation equivariance relies on; a known Hermite basis where the core has one."""
    for name, value in counts.items():
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    for name, kernel in (("input_kernel", input_kernel), ("hidden_kernel", hidden_kernel)):
        if kernel < 1 or kernel % 2 == 0:
            raise ValueError(f"{name} must be a positive odd integer, got {kernel}")
    if hermite_basis is not None and hermite_basis not in HERMITE_BASES:
        raise ValueError(f"hermite_basis must be one of {sorted(HERMITE_BASES)}, got {hermite_basis!r}")


class Core(nn.Module, ABC):
    """Geometry, channel mask and regularizer common to both cores.

    Subclasses define `input_filters()` (first-layer conv weight) and `hidden_filters()`
    (the spatial weights of the hidden layers), `n_features` and `feature_channels`.
    """

    def __init__(self, output_channels: int, input_kernel: int, gamma_input: float, gamma_hidden: float):
        super().__init__()
        self.output_channels = output_channels
        self.input_kernel = input_kernel
        self.gamma_input = gamma_input
        self.gamma_hidden = gamma_hidden
        self.register_buffer("channel_mask", torch.ones(output_channels))

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """Spatial size of the core output: only the unpadded input layer shrinks the image."""
        return height - self.input_kernel + 1, width - self.input_kernel + 1

    def apply_channel_mask(self, features: torch.Tensor) -> torch.Tensor:
        """Mask the channel axis (1) of image (B, C, H, W) or video (B, C, T, H, W) features."""
        return features * self.channel_mask.view(-1, *(1,) * (features.dim() - 2))

    def regularizer(self) -> torch.Tensor:
        """gamma_input·Laplace smoothness of the input filters + gamma_hidden·mean group sparsity of hidden layers."""
        penalty = self.gamma_input * laplace_smoothness(self.input_filters())
        hidden = self.hidden_filters()
        if hidden:
            penalty = penalty + self.gamma_hidden * torch.stack([group_sparsity(w) for w in hidden]).mean()
        return penalty

    @abstractmethod
    def input_filters(self) -> torch.Tensor:
        """First-layer conv weight (out, in, k, k), the target of the Laplace penalty."""

    @abstractmethod
    def hidden_filters(self) -> list[torch.Tensor]:
        """Spatial conv weights of the hidden layers, the targets of the group-sparsity penalty."""

    @abstractmethod
    def feature_channels(self, feature: int) -> list[int]:
        """Output channel indices of one prunable feature."""


def _batchnorm_elu(channels: int, momentum: float) -> nn.Sequential:
    return nn.Sequential(nn.BatchNorm2d(channels, momentum=momentum), nn.ELU())


class DepthSeparableConv(nn.Module):
    """1×1 conv → depthwise k×k conv → 1×1 conv: far fewer weights than a full k×k conv."""

    def __init__(self, channels: int, kernel: int):
        super().__init__()
        self.pointwise_in = nn.Conv2d(channels, channels, 1, bias=False)
        self.spatial = nn.Conv2d(channels, channels, kernel, padding=kernel // 2, groups=channels, bias=False)
        self.pointwise_out = nn.Conv2d(channels, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise_out(self.spatial(self.pointwise_in(x)))


class CNNCore(Core):
    """Sensorium 2022 baseline core (no conv biases: BatchNorm's shift plays that role)."""

    def __init__(
        self,
        in_channels: int,
        *,
        channels: int,
        layers: int,
        input_kernel: int,
        hidden_kernel: int,
        depth_separable: bool,
        gamma_input: float,
        gamma_hidden: float,
        bn_momentum: float,
    ):
        check_core_settings(input_kernel, hidden_kernel, channels=channels, layers=layers, in_channels=in_channels)
        super().__init__(channels, input_kernel, gamma_input, gamma_hidden)
        self.n_features = channels
        self.input_conv = nn.Conv2d(in_channels, channels, input_kernel, bias=False)
        self.hidden_convs = nn.ModuleList(
            DepthSeparableConv(channels, hidden_kernel)
            if depth_separable
            else nn.Conv2d(channels, channels, hidden_kernel, padding=hidden_kernel // 2, bias=False)
            for _ in range(layers - 1)
        )
        self.activations = nn.ModuleList(_batchnorm_elu(channels, bn_momentum) for _ in range(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.activations[0](self.input_conv(x))
        for conv, activation in zip(self.hidden_convs, self.activations[1:]):
            x = activation(conv(x))
        return self.apply_channel_mask(x)

    def feature_channels(self, feature: int) -> list[int]:
        """Output channels that make up one prunable feature (one channel for the plain CNN)."""
        return [feature]

    def input_filters(self) -> torch.Tensor:
        return self.input_conv.weight

    def hidden_filters(self) -> list[torch.Tensor]:
        """Hidden spatial kernels; for depth-separable layers the depthwise ones.

        neuralpredictors instead skips group sparsity for depth-separable layers (it warns and ignores
        gamma_hidden); no paper configuration sets gamma_hidden with them, so penalizing is our choice.
        """
        return [conv.spatial.weight if isinstance(conv, DepthSeparableConv) else conv.weight
                for conv in self.hidden_convs]


def hermite_orders(kernel: int) -> list[tuple[int, int, str]]:
    """(order n, angular frequency m, 'cos'|'sin') of the k(k+1)/2 real steerable basis functions.

    Order n holds m ∈ {n, n−2, …, ≥0}; m > 0 contributes a cos and a sin function, so n+1 per order.
    """
    terms = []
    for order in range(kernel):
        for frequency in range(order % 2, order + 1, 2):
            terms.append((order, frequency, "cos"))
            if frequency > 0:
                terms.append((order, frequency, "sin"))
    return terms


def _grid_polar(kernel: int) -> tuple[np.ndarray, np.ndarray]:
    """Polar coordinates of the kernel's pixel centres, in units where the Hermite functions are exp(−r²/2)-windowed.

    The scale puts the classical turning point √(2n+1) of the highest order n = k−1 at the kernel edge,
    so every basis function fits inside the kernel. Angles are measured from the column axis
    towards decreasing row index, which makes a +90° rotation equal to torch.rot90(·, 1, (-2, -1)).
    """
    half_width = (kernel - 1) / 2
    scale = math.sqrt(2 * kernel - 1) / half_width if kernel > 1 else 1.0
    offsets = (np.arange(kernel) - half_width) * scale
    rows, cols = np.meshgrid(offsets, offsets, indexing="ij")
    radius = np.hypot(cols, rows)
    angle = np.arctan2(-rows, cols)
    return radius, angle


def _radial(order: int, frequency: int, radius: np.ndarray) -> np.ndarray:
    """Radial part r^m L_{(n−m)/2}^{(m)}(r²) e^{−r²/2} of the Hermite function of order n, angular frequency m."""
    return (radius**frequency * eval_genlaguerre((order - frequency) // 2, frequency, radius**2)
            * np.exp(-(radius**2) / 2))


def hermite_basis(kernel: int, angles: np.ndarray) -> np.ndarray:
    """Steerable 2-D Hermite (Gauss–Laguerre) basis sampled on a k×k grid, rotated analytically.

    Returns (len(angles), k(k+1)/2, k, k). Function (n, m): r^m L_{(n−m)/2}^{(m)}(r²) e^{−r²/2} ·
    cos|sin(m(φ−θ)); the functions of order n span the same space as the Cartesian Hermite functions
    H_i(x)H_j(y)e^{−r²/2} with i+j = n, and a rotation only mixes the cos/sin pair of each (n, m).
    Each function is scaled to unit norm at θ = 0 and keeps that scale at every angle, so the rotated
    basis is exactly a linear image of the unrotated one.
    """
    radius, angle = _grid_polar(kernel)
    terms = hermite_orders(kernel)
    basis = np.empty((len(angles), len(terms), kernel, kernel))
    for index, (order, frequency, phase) in enumerate(terms):
        radial = _radial(order, frequency, radius)
        harmonic = np.cos if phase == "cos" else np.sin
        norm = np.linalg.norm(radial * harmonic(frequency * angle))
        for rotation, theta in enumerate(angles):
            basis[rotation, index] = radial * harmonic(frequency * (angle - theta)) / norm
    return basis


def neuralpredictors_hermite_basis(kernel: int, angles: np.ndarray, upsampling: int = 2) -> np.ndarray:
    """The basis of neuralpredictors 0.3.0 (`hermite.py`), which R24's models were trained with.

    Returns (len(angles), k(k+1)/2, k, k), in the same (n, m, cos|sin) order as `hermite_basis`.
    Differences from `hermite_basis`, all needed to load the library's coefficients: the functions are
    sampled on a grid `upsampling`× finer whose outermost points lie at ±√(2k)(1 − 1/(k·upsampling)),
    so the envelope is wider; the radial part carries a sign (−1)^((n−m)/2) and the angle is
    atan2(row, col); each function is normalized on the fine grid, a rotation by θ mixes each
    normalized cos/sin pair with cos(mθ), sin(mθ) (exact only for multiples of 90°), and every
    upsampling × upsampling block of the fine grid is summed into one kernel pixel.
    """
    points = kernel * upsampling
    offsets = np.linspace(-1.0, 1.0, points) * math.sqrt(2 * kernel) * (1 - 1 / points)
    rows, cols = np.meshgrid(offsets, offsets, indexing="ij")
    radius, angle = np.hypot(rows, cols), np.arctan2(rows, cols)
    functions = {}
    for order, frequency, phase in hermite_orders(kernel):
        harmonic = np.cos if phase == "cos" else np.sin
        function = (-1) ** ((order - frequency) // 2) * _radial(order, frequency, radius) * harmonic(frequency * angle)
        functions[order, frequency, phase] = function / np.linalg.norm(function)
    terms = hermite_orders(kernel)
    basis = np.empty((len(angles), len(terms), points, points))
    for rotation, theta in enumerate(angles):
        for index, (order, frequency, phase) in enumerate(terms):
            cosine, sine = functions[order, frequency, "cos"], functions.get((order, frequency, "sin"), 0.0)
            c, s = math.cos(frequency * theta), math.sin(frequency * theta)
            basis[rotation, index] = c * cosine - s * sine if phase == "cos" else s * cosine + c * sine
    return basis.reshape(len(angles), len(terms), kernel, upsampling, kernel, upsampling).sum(axis=(3, 5))


HERMITE_BASES = {"analytic": hermite_basis, "neuralpredictors": neuralpredictors_hermite_basis}


class HermiteConv(nn.Module):
    """Rotation-equivariant conv: each filter is a learned combination of the Hermite basis, applied at R angles.

    Output channels are rotation-major (r·F + f). With `rotated_input` the input channels are R blocks
    of F_in (a previous equivariant layer) and rotation r rolls those blocks by r, which makes the layer
    equivariant to the rotation group rather than only to rotations of the image.
    """

    def __init__(
        self,
        in_channels: int,
        features: int,
        kernel: int,
        rotations: int,
        rotated_input: bool,
        padding: int,
        basis: str,
    ):
        super().__init__()
        self.features = features
        self.rotations = rotations
        self.rotated_input = rotated_input
        self.padding = padding
        angles = 2 * np.pi * np.arange(rotations) / rotations
        self.register_buffer("basis", torch.tensor(HERMITE_BASES[basis](kernel, angles), dtype=torch.float32))
        n_basis = self.basis.shape[1]
        self.coefficients = nn.Parameter(torch.randn(features, in_channels, n_basis) / math.sqrt(in_channels * n_basis))

    def weight(self) -> torch.Tensor:
        """Full conv weight (R·F, C_in, k, k) over all rotations, built by one batched product per step."""
        features, n_basis = self.coefficients.shape[0], self.coefficients.shape[-1]
        if self.rotated_input:
            # rotation r reads input block (j − r) mod R where the unrotated filter reads block j
            blocks = self.coefficients.view(features, self.rotations, -1, n_basis)
            rolled = (torch.arange(self.rotations)[None, :] - torch.arange(self.rotations)[:, None]) % self.rotations
            coefficients = blocks[:, rolled].transpose(0, 1).flatten(2, 3)  # (R, F, C_in, B)
        else:
            coefficients = self.coefficients.expand(self.rotations, *self.coefficients.shape)
        weight = torch.einsum("rfib,rbxy->rfixy", coefficients, self.basis)
        return weight.flatten(0, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.conv2d(x, self.weight(), padding=self.padding)


class RotationSharedBatchNorm(nn.Module):
    """BatchNorm whose statistics, scale and bias are shared by the R rotations of each feature.

    Takes images (B, R·F, H, W) or videos (B, R·F, T, H, W); for videos the statistics also run over frames.
    """

    def __init__(self, features: int, rotations: int, momentum: float, affine: bool):
        super().__init__()
        self.features = features
        self.rotations = rotations
        self.norm = nn.BatchNorm3d(features, momentum=momentum, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, R, F, rows, W) with rows = H for images and T·H for videos: BatchNorm3d's 5-D input either way
        grouped = x.reshape(x.shape[0], self.rotations, self.features, -1, x.shape[-1]).transpose(1, 2)
        return self.norm(grouped).transpose(1, 2).reshape(x.shape)


class RotationEquivariantCore(Core):
    """Ecker et al. (2019) core: F features × R rotations, equivariant to rotations by 2π/R.

    The last BatchNorm has no trainable scale or bias: they would let the core rescale features
    and so undo the readout's sparsity penalty. `final_batchnorm_affine` gives it both, only to hold
    models trained with them (neuralpredictors 0.3.0 has no option to turn them off).
    `hermite_basis` picks the filter basis: "analytic" (`hermite_basis`) or "neuralpredictors"
    (`neuralpredictors_hermite_basis`, the one R24 trained with).
    """

    def __init__(
        self,
        in_channels: int,
        *,
        channels: int,
        rotations: int,
        layers: int,
        input_kernel: int,
        hidden_kernel: int,
        gamma_input: float,
        gamma_hidden: float,
        bn_momentum: float,
        hermite_basis: str,
        final_batchnorm_affine: bool,
    ):
        check_core_settings(input_kernel, hidden_kernel, hermite_basis, channels=channels, rotations=rotations,
                            layers=layers, in_channels=in_channels)
        super().__init__(channels * rotations, input_kernel, gamma_input, gamma_hidden)
        self.n_features = channels
        self.rotations = rotations
        self.convs = nn.ModuleList(
            [HermiteConv(in_channels, channels, input_kernel, rotations, rotated_input=False, padding=0,
                         basis=hermite_basis)]
        )
        self.convs.extend(
            HermiteConv(
                channels * rotations,
                channels,
                hidden_kernel,
                rotations,
                rotated_input=True,
                padding=hidden_kernel // 2,
                basis=hermite_basis,
            )
            for _ in range(layers - 1)
        )
        self.norms = nn.ModuleList(
            RotationSharedBatchNorm(channels, rotations, bn_momentum,
                                    affine=layer < layers - 1 or final_batchnorm_affine)
            for layer in range(layers)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv, norm in zip(self.convs, self.norms):
            x = nn.functional.elu(norm(conv(x)))
        return self.apply_channel_mask(x)

    def feature_channels(self, feature: int) -> list[int]:
        """All R rotated copies of one feature: pruning removes them together."""
        return [rotation * self.n_features + feature for rotation in range(self.rotations)]

    def input_filters(self) -> torch.Tensor:
        return self.convs[0].weight()

    def hidden_filters(self) -> list[torch.Tensor]:
        return [conv.weight() for conv in self.convs[1:]]
