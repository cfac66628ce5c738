"""Video (dynamic) cores with rotation-equivariant spatial convolutions (METHODS §10), and the per-frame readout.

The core of Hoefling et al. 2022 / Vystrčilová et al. 2024 with the spatial filters of the static
`RotationEquivariantCore`: F features × R rotations, every spatial filter a combination of the steerable
Hermite basis, BatchNorm shared by the R rotations of a feature. Two forms: full space-time convolutions
(`RotationEquivariant3dCore`) and space-then-time convolutions (`RotationEquivariantFactorizedCore`).

Inputs are (batch, channels, frames, height, width); behaviour (and pupil centre) enter as extra channels
broadcast over space (`with_behavior_channels`, as neuralpredictors' AddBehaviorAsChannels does for videos).
Time is causal: every temporal convolution pads k_t − 1 zero frames in the past and none in the future, so
the output has as many frames as the input and frame t sees input frames ≤ t only. The first frames see
the zero padding (a burn-in of Σ(k_t − 1) frames over the layers); Sensorium 2023 scores from frame 50 on.
neuralpredictors' 3-D cores pad nothing in time instead, so their output is Σ(k_t − 1) frames shorter.

In training mode BatchNorm normalizes with the mean and variance over batch, frames and positions, so every
output depends on every input frame through those two numbers per feature (as in any BatchNorm3d video core).
Causality holds for everything else: with the batch statistics fixed, future frames cannot change past outputs.
"""

from __future__ import annotations

from abc import abstractmethod

import torch
import torch.nn.functional as F
from torch import nn

from v1twin.models.cores import (
    Core,
    HermiteConv,
    RotationSharedBatchNorm,
    check_core_settings,
)
from v1twin.models.readouts import GaussianReadout


def with_behavior_channels(videos: torch.Tensor, *signals: torch.Tensor) -> torch.Tensor:
    """Videos (B, C, T, H, W) with per-frame signals (B, T, S) — behaviour, pupil centre — appended as
    channels constant over space, so the core can modulate its features frame by frame."""
    batch, _, frames, height, width = videos.shape
    channels = [videos]
    for signal in signals:
        if signal.dim() != 3 or signal.shape[:2] != (batch, frames):
            raise ValueError(f"per-frame signal has shape {tuple(signal.shape)}, expected ({batch}, {frames}, S) "
                             f"for videos of shape {tuple(videos.shape)}")
        channels.append(signal.transpose(1, 2)[..., None, None].expand(-1, -1, -1, height, width))
    return torch.cat(channels, dim=1)


class HermiteConv3d(nn.Module):
    """Causal space-time conv whose every temporal slice is a rotation-equivariant Hermite spatial filter.

    The k_t slices of each input channel are handed to a `HermiteConv` (`slices`) as k_t input channels of
    their own (index c·k_t + t, so a rotated input's R blocks stay contiguous and keep their roll), which builds the
    weight (R·F, C_in·k_t, k, k) with the static core's basis and rotation machinery; it is then read as
    (R·F, C_in, k_t, k, k). Only the past is padded in time: output frame t sees input frames t − k_t + 1 … t.
    """

    def __init__(
        self,
        in_channels: int,
        features: int,
        kernel: int,
        kernel_time: int,
        rotations: int,
        rotated_input: bool,
        padding: int,
        basis: str,
    ):
        super().__init__()
        self.kernel_time = kernel_time
        self.slices = HermiteConv(in_channels * kernel_time, features, kernel, rotations, rotated_input,
                                   padding=padding, basis=basis)

    def weight(self) -> torch.Tensor:
        """Full conv weight (R·F, C_in, k_t, k, k)."""
        flat = self.slices.weight()
        return flat.view(flat.shape[0], -1, self.kernel_time, *flat.shape[-2:])

    def forward(self, x: torch.Tensor, added: torch.Tensor | None = None) -> torch.Tensor:
        """The conv of x, plus `added` (broadcast to the output) where given."""
        past_padded = F.pad(x, (0, 0, 0, 0, self.kernel_time - 1, 0))
        out = F.conv3d(past_padded, self.weight(), padding=(0, self.slices.padding, self.slices.padding))
        return out if added is None else out + added


class FactorizedHermiteConv(nn.Module):
    """A Hermite spatial conv on every frame, then an equivariant causal temporal conv mixing the channels.

    The temporal conv is a `HermiteConv3d` with a 1×1 spatial kernel: its single basis function is a
    constant, so what remains is a k_t-tap filter per (output feature, input channel) whose R rotated copies
    read the input's rotation blocks rolled, i.e. shared across the R rotations of a feature. It mixes
    channels as neuralpredictors' Factorized3dCore's temporal conv does, restricted to keep equivariance.
    """

    def __init__(self, in_channels: int, features: int, kernel: int, kernel_time: int, rotations: int,
                 rotated_input: bool, padding: int, basis: str):
        super().__init__()
        self.spatial = HermiteConv3d(in_channels, features, kernel, 1, rotations, rotated_input, padding, basis)
        self.temporal = HermiteConv3d(features * rotations, features, 1, kernel_time, rotations,
                                      rotated_input=True, padding=0, basis=basis)

    def forward(self, x: torch.Tensor, added: torch.Tensor | None = None) -> torch.Tensor:
        """The temporal conv of the spatial conv of x, `added` to the latter where given."""
        return self.temporal(self.spatial(x, added))


class FrameSignalInput(nn.Module):
    """The input layer's weights on the per-frame signals (behaviour, pupil centre): channels 1… of a video
    core's input, constant over space (`with_behavior_channels`).

    A k×k filter meets a constant only through its sum, so each signal gets one weight per (feature, frame
    lag), shared by the R rotated copies of a feature (a constant is rotation invariant): the same functions
    as k×k Hermite filters on these channels, but without their DC gain, which weights a constant far above
    a natural image's contrast. The weights start at zero, so the core first fits the video and the signals
    enter as far as the loss asks. On the demo's video mouse the factorized core with k×k filters on the
    signals fitted only their slow gain (validation ρ_st stuck at 0.16 for 10 epochs); with these weights
    it reached 0.39 after 15 epochs.
    """

    def __init__(self, signals: int, features: int, rotations: int, kernel_time: int):
        super().__init__()
        self.rotations = rotations
        self.kernel_time = kernel_time
        self.weight = nn.Parameter(torch.zeros(features, signals, kernel_time))

    def forward(self, signals: torch.Tensor) -> torch.Tensor:
        """Signal channels (B, S, T, H, W) -> their causal drive (B, R·F, T, 1, 1) of every rotated feature."""
        per_frame = F.pad(signals.mean(dim=(-2, -1)), (self.kernel_time - 1, 0))  # past frames only
        drive = F.conv1d(per_frame, self.weight)  # (B, F, T)
        return drive.repeat(1, self.rotations, 1)[..., None, None]  # rotation-major channels r·F + f


class RotationEquivariantDynamicCore(Core):
    """What both video cores share: layers, BatchNorm + ELU, channel layout, regularizers.

    Subclasses name their layer's convolution (`layer_class`, built with `HermiteConv3d`'s arguments) and
    which conv of a layer holds its spatial filters (`spatial_convs`).

    Channels are rotation-major (r·F + f) as in the static core, so pruning and rotation alignment treat
    both alike. Input layer without spatial padding, hidden layers with "same" padding. Of the input, channel
    0 (the video) meets the input layer's Hermite filters and channels 1… (per-frame signals, constant over
    space) a `FrameSignalInput`, added to the spatial conv's output. The last BatchNorm is built with
    affine=False: it has no scale or bias at all (nothing an optimizer or weight decay could touch, nothing
    in the state dict), because they would let the core rescale its features and so undo the readout's
    sparsity penalty.
    """

    layer_class: type[nn.Module]

    def __init__(
        self,
        in_channels: int,
        *,
        channels: int,
        rotations: int,
        layers: int,
        input_kernel: int,
        hidden_kernel: int,
        input_kernel_time: int,
        hidden_kernel_time: int,
        gamma_input: float,
        gamma_hidden: float,
        bn_momentum: float,
        hermite_basis: str,
    ):
        check_core_settings(input_kernel, hidden_kernel, hermite_basis, channels=channels, rotations=rotations,
                            layers=layers, in_channels=in_channels, input_kernel_time=input_kernel_time,
                            hidden_kernel_time=hidden_kernel_time)
        super().__init__(channels * rotations, input_kernel, gamma_input, gamma_hidden)
        self.n_features = channels
        self.rotations = rotations
        self.convs = nn.ModuleList(
            [self.layer_class(1, channels, input_kernel, input_kernel_time, rotations,
                             rotated_input=False, padding=0, basis=hermite_basis)]
        )
        self.convs.extend(
            self.layer_class(channels * rotations, channels, hidden_kernel, hidden_kernel_time, rotations,
                            rotated_input=True, padding=hidden_kernel // 2, basis=hermite_basis)
            for _ in range(layers - 1)
        )
        self.norms = nn.ModuleList(
            RotationSharedBatchNorm(channels, rotations, bn_momentum, affine=layer < layers - 1)
            for layer in range(layers)
        )
        self.signal_input = (FrameSignalInput(in_channels - 1, channels, rotations, self.spatial_convs()[0].kernel_time)
                             if in_channels > 1 else None)

    @abstractmethod
    def spatial_convs(self) -> list[HermiteConv3d]:
        """Per layer, the conv that holds its spatial filters: the targets of the core regularizers."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5:
            raise ValueError(f"{type(self).__name__} expects (batch, channels, frames, height, width), "
                             f"got shape {tuple(x.shape)}")
        signals = None if self.signal_input is None else self.signal_input(x[:, 1:])
        x = F.elu(self.norms[0](self.convs[0](x[:, :1], signals)))
        for conv, norm in zip(self.convs[1:], self.norms[1:]):
            x = F.elu(norm(conv(x)))
        return self.apply_channel_mask(x)

    def feature_channels(self, feature: int) -> list[int]:
        """All R rotated copies of one feature: pruning removes them together."""
        return [rotation * self.n_features + feature for rotation in range(self.rotations)]

    def input_filters(self) -> torch.Tensor:
        """Every temporal slice of the input layer's video filters as a 2-D filter, (R·F, k_t, k, k): Laplace
        smoothness in space, normalized once over all slices."""
        return self.spatial_convs()[0].weight().flatten(1, 2)

    def hidden_filters(self) -> list[torch.Tensor]:
        """Hidden weights as (R·F, C_in, k_t·k, k): each input-output link's whole space-time kernel is one
        group of the group-sparsity penalty, so it drives links, not single frames, to zero."""
        return [conv.weight().flatten(2, 3) for conv in self.spatial_convs()[1:]]


class RotationEquivariant3dCore(RotationEquivariantDynamicCore):
    """Full space-time convolutions: each layer's kernel (R·F, C_in, k_t, k, k)."""

    layer_class = HermiteConv3d

    def spatial_convs(self) -> list[HermiteConv3d]:
        return list(self.convs)


class RotationEquivariantFactorizedCore(RotationEquivariantDynamicCore):
    """Factorized convolutions: per layer a spatial (R·F, C_in, 1, k, k) conv, then a temporal (k_t × 1 × 1) one.

    The regularizers act on the spatial convs only, as neuralpredictors' Factorized3dCore puts its Laplace
    penalty on the spatial input conv.
    """

    layer_class = FactorizedHermiteConv

    def spatial_convs(self) -> list[HermiteConv3d]:
        return [layer.spatial for layer in self.convs]


class PerFrameReadout(nn.Module):
    """A static `GaussianReadout` applied to every frame of a video core's output.

    Frames are folded into the batch (as the Sensorium 2023 starter kit does), so each neuron keeps one read
    position μ_n for all frames, training samples a position per frame, and a shift (B, T, 2) — the `Shifter`
    applied to the pupil centre (B, T, 2), which acts frame by frame on the last axis — moves each frame's read
    positions by that frame's own shift. Returns the drive (B, T, N); `V1Model` applies ELU + 1 to it.
    """

    def __init__(self, readout: GaussianReadout):
        super().__init__()
        self.readout = readout

    @property
    def features(self) -> torch.Tensor:
        """The neuron embedding (N, C), as for the static readouts."""
        return self.readout.features

    def forward(self, x: torch.Tensor, shift: torch.Tensor | None = None) -> torch.Tensor:
        batch, channels, frames, height, width = x.shape
        frames_as_batch = x.transpose(1, 2).reshape(batch * frames, channels, height, width)
        if shift is not None:
            if shift.shape != (batch, frames, 2):
                raise ValueError(f"shift has shape {tuple(shift.shape)}, expected ({batch}, {frames}, 2)")
            shift = shift.reshape(batch * frames, 2)
        return self.readout(frames_as_batch, shift).view(batch, frames, -1)

    def regularizer(self) -> torch.Tensor:
        return self.readout.regularizer()
