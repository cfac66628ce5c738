"""Neuron embeddings: readout feature vectors, L2-normalized and, for a rotation-equivariant core,
aligned along the rotation axis (METHODS §4; Ustyuzhaninov et al. 2019, discrete version).

Clustering should see what a neuron computes, not its gain; and the same neuron can be represented
by any cyclic shift of its vector along the rotation axis, so each vector is aligned to a common
template before it is compared with others.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from v1twin.clustering import ClusteringError
from v1twin.files import read_npz, write_npz

log = logging.getLogger(__name__)

MAX_ALIGNMENT_ITERATIONS = 100


@dataclass
class Embeddings:
    """Readout features of every neuron of every mouse, one row per neuron (mice in config order)."""

    embedding: np.ndarray  # (N, C) float32: pruned channels zeroed, L2-normalized, rotation-aligned where equivariant
    features: np.ndarray  # (N, C) float32: the raw readout feature vectors
    mouse: np.ndarray  # (N,) str
    unit_id: np.ndarray  # (N,) int64
    rotation_shift: np.ndarray  # (N,) int64: the cyclic shift applied by the alignment (0 without it)
    aligned: bool


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """Each row divided by its L2 norm (float64); an all-zero row stays zero."""
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def _rotation_view(vectors: np.ndarray, n_features: int, rotations: int) -> np.ndarray:
    """(N, F·R) rotation-major channels (index r·F + f) viewed as (N, F, R)."""
    if vectors.shape[1] != n_features * rotations:
        raise ValueError(f"{vectors.shape[1]} channels are not {n_features} features x {rotations} rotations")
    return vectors.reshape(len(vectors), rotations, n_features).transpose(0, 2, 1)


def _all_shifts(template: np.ndarray) -> np.ndarray:
    """The R cyclic shifts of a (F, R) template, stacked to (R, F, R)."""
    return np.stack([np.roll(template, shift, axis=-1) for shift in range(template.shape[-1])])


def _best_shifts(views: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Per neuron the shift s maximizing Σ_fr template[f, r] · view[f, (r + s) mod R]; first s on ties."""
    return np.einsum("nfr,sfr->ns", views, _all_shifts(template)).argmax(axis=1)


def _apply_shifts(views: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """aligned[n, f, r] = view[n, f, (r + shifts[n]) mod R]."""
    rotations = views.shape[-1]
    index = (np.arange(rotations)[None, :] + shifts[:, None]) % rotations
    return np.take_along_axis(views, np.broadcast_to(index[:, None, :], views.shape), axis=-1)


def align_rotations(
    features: np.ndarray, n_features: int, rotations: int, max_iterations: int = MAX_ALIGNMENT_ITERATIONS
) -> tuple[np.ndarray, np.ndarray]:
    """Rotation-aligned, L2-normalized embeddings (N, C) in the same channel layout, and the shifts (N,).

    Alternates two steps that each raise Σ_n ⟨template, aligned_n⟩ (like k-means with one
    cluster over each vector's R rotations): every neuron takes the cyclic shift that best matches
    the template, then the template becomes the mean aligned vector; it stops when no shift changes.
    The first template is the neuron closest to the unaligned mean: an actual vector (the mean of
    randomly rotated vectors is nearly flat along R, which would make every shift tie), chosen
    without regard to neuron order, so the result does not depend on how neurons are numbered.
    """
    views = _rotation_view(normalize_rows(features), n_features, rotations)
    closeness = np.einsum("nfr,sfr->ns", views, _all_shifts(views.mean(axis=0))).max(axis=1)
    template = views[int(np.argmax(closeness))]
    shifts = _best_shifts(views, template)
    for _ in range(max_iterations):
        template = _apply_shifts(views, shifts).mean(axis=0)
        new_shifts = _best_shifts(views, template)
        if np.array_equal(new_shifts, shifts):
            break
        shifts = new_shifts
    else:
        log.warning("rotation alignment did not settle within %d iterations", max_iterations)
    aligned = _apply_shifts(views, shifts)
    return aligned.transpose(0, 2, 1).reshape(len(aligned), -1), shifts.astype(np.int64)


def model_embeddings(model_path: str | Path, mice: list[str]) -> Embeddings:
    """The embeddings of a saved model (model.pt), rows of `mice` in that order.

    Unit ids come from the checkpoint's extras (written by the train_model rule).
    """
    # imported here: the tables and figures that only read embeddings then start without torch (~2 s a job)
    import torch

    from v1twin.model_run import load_model, read_model_file
    from v1twin.models import RotationEquivariantCore
    from v1twin.models.dynamic_cores import RotationEquivariantDynamicCore

    model_path = Path(model_path)
    content = read_model_file(model_path)
    model = load_model(model_path, device=torch.device("cpu"))
    unit_ids = content["extras"].get("unit_ids", {})
    missing = [mouse for mouse in mice if mouse not in model.readouts or mouse not in unit_ids]
    if missing:
        raise ClusteringError(f"{model_path}: no readout or unit ids for mice {missing} "
                              f"(it has {list(model.readouts)})")
    features, mouse_column, unit_column = [], [], []
    for mouse in mice:
        weights = model.readouts[mouse].features.detach().cpu().numpy()
        ids = np.asarray(unit_ids[mouse], dtype=np.int64)
        if len(ids) != len(weights):
            raise ClusteringError(f"{model_path}: mouse {mouse} has {len(weights)} readout rows "
                                  f"but {len(ids)} unit ids")
        features.append(weights)
        mouse_column.append(np.full(len(ids), mouse))
        unit_column.append(ids)
    features = np.concatenate(features)
    core = model.core
    # A pruned channel (mask 0) reaches no neuron, whatever its readout weight says.
    effective = features * core.channel_mask.cpu().numpy()
    aligned = isinstance(core, (RotationEquivariantCore, RotationEquivariantDynamicCore))
    if aligned:
        embedding, shifts = align_rotations(effective, core.n_features, core.rotations)
    else:
        embedding, shifts = normalize_rows(effective), np.zeros(len(features), dtype=np.int64)
    return Embeddings(
        embedding=embedding.astype(np.float32),
        features=features.astype(np.float32),
        mouse=np.concatenate(mouse_column).astype(str),
        unit_id=np.concatenate(unit_column),
        rotation_shift=shifts,
        aligned=aligned,
    )


def save_embeddings(path: str | Path, embeddings: Embeddings) -> None:
    """Write an .npz (no pickle) atomically."""
    write_npz(path, {
        "embedding": embeddings.embedding,
        "features": embeddings.features,
        "mouse": embeddings.mouse.astype(str),
        "unit_id": embeddings.unit_id,
        "rotation_shift": embeddings.rotation_shift,
        "aligned": np.array(embeddings.aligned),
    })


def load_embeddings(path: str | Path) -> Embeddings:
    """Read what `save_embeddings` wrote; a missing array or a row-count mismatch names the file."""
    content = read_npz(path, ("embedding", "features", "mouse", "unit_id", "rotation_shift", "aligned"),
                       ClusteringError)
    embeddings = Embeddings(
        embedding=content["embedding"],
        features=content["features"],
        mouse=content["mouse"],
        unit_id=content["unit_id"],
        rotation_shift=content["rotation_shift"],
        aligned=bool(content["aligned"]),
    )
    rows = {name: len(getattr(embeddings, name))
            for name in ("embedding", "features", "mouse", "unit_id", "rotation_shift")}
    if len(set(rows.values())) != 1 or embeddings.embedding.ndim != 2:
        raise ClusteringError(f"{path}: arrays disagree on the number of neurons {rows}")
    return embeddings
