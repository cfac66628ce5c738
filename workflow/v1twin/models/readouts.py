"""Per-mouse readouts mapping core feature maps to neuron responses (METHODS §2).

Every readout exposes `.features` (N, C) — the neuron embedding studied downstream — and
`.regularizer()`. Readouts return the linear drive; the model applies ELU(x) + 1.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from v1twin.models.regularizers import adaptive_l1, factorized_sparsity, l1_features


def _mean_response_bias(mean_response: np.ndarray) -> nn.Parameter:
    """Bias initialized at each neuron's mean training response (METHODS decision)."""
    return nn.Parameter(torch.as_tensor(np.asarray(mean_response), dtype=torch.float32).clone())


def _centred_scaled(coordinates: np.ndarray) -> torch.Tensor:
    """Cortical (x, y) positions centred and divided by their largest absolute value (aspect ratio kept)."""
    xy = np.asarray(coordinates, dtype=np.float64)[:, :2]
    xy = xy - xy.mean(axis=0, keepdims=True)
    extent = np.abs(xy).max()
    if extent > 0:
        xy = xy / extent
    return torch.tensor(xy, dtype=torch.float32)


class PositionNetwork(nn.Sequential):
    """L21 retinotopic grid predictor: cortical position → receptive-field position in [−1, 1]²."""

    def __init__(self):
        super().__init__(nn.Linear(2, 30), nn.ELU(), nn.Linear(30, 2), nn.Tanh())


class Shifter(nn.Sequential):
    """L21 shifter: z-scored pupil centre → shift in [−1, 1]² of every neuron's read position.

    The output layer starts at zero, so training starts without any shift: a randomly initialized
    shifter moves every read position by an arbitrary amount per trial, which slows early training
    of the readout badly (seen on the simulated data: validation correlation 0.40 instead of 0.63
    after 8 epochs).
    """

    def __init__(self):
        super().__init__(nn.Linear(2, 5), nn.Tanh(), nn.Linear(5, 5), nn.Tanh(), nn.Linear(5, 2), nn.Tanh())
        nn.init.zeros_(self[4].weight)
        nn.init.zeros_(self[4].bias)


class GaussianReadout(nn.Module):
    """Each neuron reads one point of the core output (L21).

    Training samples the point from N(μ_n, Σ_nΣ_nᵀ) per image, which lets gradients explore the
    neighbourhood; evaluation reads at μ_n. Positions are (x, y) = (width, height) in grid_sample units.
    `clamp_positions` "after_shift" keeps every shifted position on the grid; "before_shift" is
    neuralpredictors' order (R24, L21): positions are clamped and then shifted, so a large shift moves
    a neuron off the grid, where it reads the zero padding.
    """

    def __init__(
        self,
        in_channels: int,
        cell_motor_coordinates: np.ndarray,
        mean_response: np.ndarray,
        *,
        init_mu_range: float,
        init_sigma: float,
        position_network: bool,
        regularizer: str,
        gamma: float,
        adaptive_sigma: float,
        clamp_positions: str,
    ):
        super().__init__()
        n_neurons = len(mean_response)
        self.regularizer_type = regularizer
        self.gamma = gamma
        self.adaptive_sigma = adaptive_sigma
        self.clamp_before_shift = clamp_positions == "before_shift"
        if position_network:
            self.position_network = PositionNetwork()
            self.register_buffer("cortical_positions", _centred_scaled(cell_motor_coordinates))
        else:
            self.position_network = None
            self.mu_free = nn.Parameter(torch.empty(n_neurons, 2).uniform_(-init_mu_range, init_mu_range))
        self.sigma = nn.Parameter(torch.empty(n_neurons, 2, 2).uniform_(-init_sigma, init_sigma))
        self.features = nn.Parameter(torch.full((n_neurons, in_channels), 1.0 / in_channels))
        self.bias = _mean_response_bias(mean_response)
        if regularizer == "adaptive":
            self.log_beta = nn.Parameter(torch.zeros(n_neurons))

    @property
    def mu(self) -> torch.Tensor:
        """Mean read positions (N, 2), clamped to the grid."""
        raw = self.position_network(self.cortical_positions) if self.position_network is not None else self.mu_free
        return raw.clamp(-1.0, 1.0)

    @property
    def beta(self) -> torch.Tensor:
        """Per-neuron adaptive L1 strengths β_n = exp(b_n) (adaptive regularizer only)."""
        if self.regularizer_type != "adaptive":
            raise AttributeError(f"beta exists only for the adaptive regularizer, not {self.regularizer_type!r}")
        return self.log_beta.exp()

    def positions(self, batch: int, shift: torch.Tensor | None = None) -> torch.Tensor:
        """Read positions (B, N, 2): sampled in training, μ in evaluation, plus the shifter's shift."""
        mu = self.mu.unsqueeze(0).expand(batch, -1, -1)
        if self.training:
            noise = torch.randn_like(mu)
            mu = mu + torch.einsum("nij,bnj->bni", self.sigma, noise)
        if self.clamp_before_shift:
            mu = mu.clamp(-1.0, 1.0)
        if shift is not None:
            mu = mu + shift.unsqueeze(1)
        return mu if self.clamp_before_shift else mu.clamp(-1.0, 1.0)

    def forward(self, x: torch.Tensor, shift: torch.Tensor | None = None) -> torch.Tensor:
        # contiguous: grid_sample on the strided grid that einsum and expand leave runs 4.5x slower on the CPU
        grid = self.positions(x.shape[0], shift).unsqueeze(2).contiguous()
        sampled = F.grid_sample(x, grid, mode="bilinear", align_corners=True).squeeze(-1)
        # Σ_c sampled[b, c, n]·features[n, c] as a product and a sum: einsum's batched matmul over the
        # neurons runs one tiny product per neuron on the CPU (4.5x slower, forward and backward)
        return (sampled * self.features.t()).sum(dim=1) + self.bias

    def regularizer(self) -> torch.Tensor:
        if self.regularizer_type == "l1":
            return self.gamma * l1_features(self.features)
        if self.regularizer_type == "adaptive":
            return adaptive_l1(self.features, self.log_beta, self.gamma, self.adaptive_sigma)
        return self.features.new_zeros(())


class FactorizedReadout(nn.Module):
    """Klindt et al. (2017): a spatial mask and a feature vector per neuron.

    The mask is normalized to unit L2 norm so it carries no scale of its own. `positive_mask` takes
    its absolute value first; R24's configuration left neuralpredictors' mask signed (it passed
    `positive_spatial`, a name `FullFactorized2d` does not know, so `constrain_pos` stayed off).
    `l1_form` picks the penalty (see `factorized_sparsity`): "per_neuron" (Klindt) or
    "product_of_sums" (neuralpredictors, the form R24's γ values refer to).
    """

    def __init__(
        self,
        in_channels: int,
        output_size: tuple[int, int],
        mean_response: np.ndarray,
        *,
        gamma: float,
        l1_form: str,
        positive_mask: bool,
    ):
        super().__init__()
        n_neurons = len(mean_response)
        self.gamma = gamma
        self.l1_form = l1_form
        self.positive_mask = positive_mask
        self.mask_weight = nn.Parameter(torch.randn(n_neurons, *output_size))
        self.features = nn.Parameter(torch.full((n_neurons, in_channels), 1.0 / in_channels))
        self.bias = _mean_response_bias(mean_response)

    @property
    def mask(self) -> torch.Tensor:
        """Normalized spatial masks (N, h, w): |m_n| / ‖m_n‖₂, or m_n / (‖m_n‖₂ + 10⁻⁶) as neuralpredictors."""
        norm = self.mask_weight.flatten(1).norm(dim=1).view(-1, 1, 1)
        if self.positive_mask:
            return self.mask_weight.abs() / norm.clamp_min(1e-12)
        return self.mask_weight / (norm + 1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.einsum("bchw,nhw->bnc", x, self.mask)
        return (pooled * self.features).sum(dim=-1) + self.bias

    def regularizer(self) -> torch.Tensor:
        return self.gamma * factorized_sparsity(self.mask, self.features, self.l1_form)
