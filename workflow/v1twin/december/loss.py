"""DECEMber's loss as a training extension (`training.StepExtension`), and the embedding it clusters.

D25's protocol (App. B.6): the loss acts on the RAW readout feature weights of a CNN core, all mice's
neurons stacked, pruned channels zeroed: no rotation alignment and no L2 normalization (D25 presents
not needing the equivariant core and its post-hoc alignment as DECEMber's advantage, and states no
normalization). Only a rotation-equivariant core, our extension (no config runs it), is clustered in the
consistency analysis's frame (METHODS §4): L2-normalized rows, cyclically shifted by per-neuron
rotations found once at initialization and then kept fixed, so that the embedding stays a
differentiable function of the weights.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from v1twin.clustering.embeddings import align_rotations
from v1twin.december import DecemberError
from v1twin.december.mixture import (
    PROBABILITY_FLOOR,
    SATURATED_POSTERIOR,
    clustering_loss,
    em_step,
    kmeans_init,
    saturated_fraction,
    soft_assignments,
)
from v1twin.models import RotationEquivariantCore, V1Model

log = logging.getLogger(__name__)


def readout_features(model: V1Model, mice: list[str]) -> torch.Tensor:
    """Readout feature vectors of `mice` stacked (N, C), pruned channels zeroed; differentiable."""
    missing = [mouse for mouse in mice if mouse not in model.readouts]
    if missing:
        raise DecemberError(f"the model has no readout for mice {missing} (it has {list(model.readouts)})")
    features = torch.cat([model.readouts[mouse].features for mouse in mice])
    return features * model.core.channel_mask


def rotation_shape(model: V1Model) -> tuple[int, int] | None:
    """(features, rotations) of a rotation-equivariant core, None for a core without a rotation axis."""
    core = model.core
    return (core.n_features, core.rotations) if isinstance(core, RotationEquivariantCore) else None


def embed(features: torch.Tensor, shifts: torch.Tensor | None, shape: tuple[int, int] | None) -> torch.Tensor:
    """The embedding the loss clusters: the raw features for a core without a rotation axis (`shape`
    None, D25's CNN path), else (our extension) L2-normalized rows cyclically shifted along the rotation
    axis by `shifts` (N,).

    Channels are rotation-major (index r·F + f); row n becomes aligned[r·F + f] = x[((r + s_n) mod R)·F + f],
    the same layout and convention as clustering.align_rotations.
    """
    if shape is None:
        return features
    normalized = F.normalize(features, dim=1)
    if shifts is None:
        return normalized
    n_features, rotations = shape
    view = normalized.reshape(len(normalized), rotations, n_features)
    index = (torch.arange(rotations, device=shifts.device)[None, :] + shifts[:, None]) % rotations
    aligned = torch.gather(view, 1, index[:, :, None].expand(-1, -1, n_features))
    return aligned.reshape(len(normalized), -1)


@dataclass(frozen=True)
class DecemberSettings:
    """The clustering loss of one run: K clusters, strength β, t degrees of freedom ν, k-means init."""

    k: int
    beta: float
    nu: float
    kmeans_n_init: int
    random_state: int

    def __post_init__(self) -> None:
        if self.k < 2:
            raise DecemberError(f"DECEMber needs K >= 2 clusters, got {self.k}")
        if self.beta < 0 or self.nu <= 0 or self.kmeans_n_init < 1:
            raise DecemberError(f"need beta >= 0, nu > 0 and kmeans_n_init >= 1, got {self}")


def _synchronize(tensor: torch.Tensor) -> None:
    """Wait for the GPU, so a timing covers the work and not only its launch."""
    if tensor.is_cuda:
        torch.cuda.synchronize(tensor.device)


class DecemberLoss:
    """DECEMber as a `training.StepExtension`: the β·KL loss every step and one EM step after it.

    State: the cluster means and scales (K, D), the fixed rotation shifts (N,), and the k-means
    labels (N,) and saturated share of the start. It also times the EM step and the loss's forward
    pass (`seconds_per_step`), the overhead D25 budgets.
    """

    def __init__(self, settings: DecemberSettings, mice: list[str]):
        self.settings = settings
        self.mice = list(mice)
        self.means: torch.Tensor | None = None
        self.scales: torch.Tensor | None = None
        self.shifts: torch.Tensor | None = None  # None: the core has no rotation axis
        self.initial_labels: torch.Tensor | None = None
        self.initial_saturation: torch.Tensor | None = None
        self._step_inputs: tuple[torch.Tensor, torch.Tensor] | None = None
        self.steps = 0
        self.em_seconds = 0.0
        self.loss_seconds = 0.0

    def embedding(self, model: V1Model) -> torch.Tensor:
        """The embedding the loss clusters (differentiable with respect to the readout features)."""
        return embed(readout_features(model, self.mice), self.shifts, rotation_shape(model))

    def start(self, model: V1Model) -> None:
        """Find the rotation shifts and the initial clusters (k-means) on the pretrained embedding."""
        features = readout_features(model, self.mice).detach()
        device = features.device
        shape = rotation_shape(model)
        if shape is not None:
            _, shifts = align_rotations(features.cpu().numpy(), *shape)
            self.shifts = torch.as_tensor(shifts, device=device)
        x = embed(features, self.shifts, shape)
        means, scales, labels = kmeans_init(x.cpu().numpy(), self.settings.k, self.settings.kmeans_n_init,
                                            self.settings.random_state)
        self.means = torch.as_tensor(means, dtype=x.dtype, device=device)
        self.scales = torch.as_tensor(scales, dtype=x.dtype, device=device)
        self.initial_labels = torch.as_tensor(labels, dtype=torch.long)
        q = soft_assignments(x, self.means, self.scales, self.settings.nu).cpu()
        self.initial_saturation = torch.tensor(saturated_fraction(q))
        log.info("DECEMber: %d neurons x %d dims, k-means init of K = %d, cluster sizes %s, %.0f%% of the "
                 "posteriors already >= %g", *x.shape, self.settings.k,
                 np.bincount(labels, minlength=self.settings.k).tolist(), 100 * float(self.initial_saturation),
                 SATURATED_POSTERIOR)

    def _on(self, device: torch.device) -> None:
        """Cluster state on the model's device (a checkpoint is loaded on the CPU)."""
        self.means, self.scales = self.means.to(device), self.scales.to(device)
        if self.shifts is not None:
            self.shifts = self.shifts.to(device)

    def loss(self, model: V1Model) -> torch.Tensor:
        """β·KL(p‖q) over all neurons; keeps the embedding and q for this step's EM update."""
        start = time.perf_counter()
        if self.means is None:
            raise DecemberError("DECEMber loss used before start() or load_state_dict()")
        self._on(model.core.channel_mask.device)
        x = self.embedding(model)
        q = soft_assignments(x, self.means, self.scales, self.settings.nu)
        self._step_inputs = (x.detach(), q.detach().clamp_min(PROBABILITY_FLOOR))
        loss = clustering_loss(q, self.settings.beta)
        _synchronize(x)
        self.loss_seconds += time.perf_counter() - start
        return loss

    def after_step(self, model: V1Model) -> None:
        """EM on the embedding and assignments of this step's loss (before the optimizer moved the weights)."""
        start = time.perf_counter()
        x, q = self._step_inputs
        self.means, self.scales = em_step(x, q, self.means, self.scales, self.settings.nu)
        _synchronize(x)
        self.steps += 1
        self.em_seconds += time.perf_counter() - start

    def seconds_per_step(self) -> dict[str, float]:
        """Mean seconds of the EM step and of the loss's forward pass per optimizer step (this process)."""
        steps = max(self.steps, 1)
        return {"em_seconds_per_step": self.em_seconds / steps, "loss_seconds_per_step": self.loss_seconds / steps}

    def state_dict(self) -> dict[str, Any]:
        state = {"means": self.means, "scales": self.scales, "initial_labels": self.initial_labels,
                 "initial_saturation": self.initial_saturation}
        if self.shifts is not None:
            state["shifts"] = self.shifts
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.means, self.scales = state["means"], state["scales"]
        self.initial_labels, self.initial_saturation = state["initial_labels"], state["initial_saturation"]
        self.shifts = state.get("shifts")

    @torch.no_grad()
    def assignments(self, model: V1Model) -> tuple[np.ndarray, np.ndarray]:
        """The embedding (N, D) and soft assignments q (N, K) of the model's current weights."""
        self._on(model.core.channel_mask.device)
        x = self.embedding(model)
        return x.cpu().numpy(), soft_assignments(x, self.means, self.scales, self.settings.nu).cpu().numpy()
