"""Regularization terms of cores and readouts (METHODS §2), as plain functions of weights.

Kept apart from the modules so each formula can be checked against a hand computation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LAPLACIAN_3X3 = torch.tensor([[0.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 0.0]])


def laplace_smoothness(weight: torch.Tensor) -> torch.Tensor:
    """Σ(L ⊛ w)² / Σw² over all 2-D filters of a conv weight (out, in, k, k).

    Normalizing by the filters' energy makes the penalty scale-free, so BatchNorm cannot
    dodge it by shrinking the weights.
    """
    out_channels, in_channels, height, width = weight.shape
    filters = weight.reshape(out_channels * in_channels, 1, height, width)
    kernel = LAPLACIAN_3X3.to(weight).reshape(1, 1, 3, 3)
    laplace = F.conv2d(filters, kernel, padding=1)
    return laplace.pow(2).sum() / filters.pow(2).sum()


def group_sparsity(weight: torch.Tensor) -> torch.Tensor:
    """Mean over (out, in) of each spatial kernel's L2 norm: drives whole input-output links to zero."""
    return weight.pow(2).sum(dim=(2, 3)).sqrt().mean()


def l1_features(features: torch.Tensor) -> torch.Tensor:
    """Σ_n ‖w_n‖₁ over the readout feature matrix (N, C) — a sum, not a mean (R24)."""
    return features.abs().sum()


def adaptive_l1(features: torch.Tensor, log_beta: torch.Tensor, gamma: float, sigma: float) -> torch.Tensor:
    """R24 eq. 2: γ·Σ_n β_n‖w_n‖₁ + (1/σ²)·Σ_n (log β_n)² with β_n = exp(log_beta_n).

    The log-normal hyperprior (median 1) lets each neuron pick its own sparsity strength.
    """
    beta = log_beta.exp()
    weighted_l1 = (beta * features.abs().sum(dim=1)).sum()
    return gamma * weighted_l1 + log_beta.pow(2).sum() / sigma**2


def factorized_sparsity(mask: torch.Tensor, features: torch.Tensor, form: str) -> torch.Tensor:
    """L1 of the factorized readout's normalized masks (N, h, w) and features (N, C).

    "per_neuron": Σ_n ‖s_n‖₁·‖w_n‖₁ (Klindt et al. 2017). "product_of_sums": (Σ_n ‖s_n‖₁)·(Σ_m ‖w_m‖₁),
    what neuralpredictors' `FullFactorized2d.l1` computes (it sums an N × N outer product), so the
    quantity R24's γ values were tuned on: about N times larger, and it couples all neurons' gradients.
    """
    mask_l1 = mask.abs().flatten(1).sum(dim=1)
    feature_l1 = features.abs().sum(dim=1)
    if form == "product_of_sums":
        return mask_l1.sum() * feature_l1.sum()
    return (mask_l1 * feature_l1).sum()
