"""What a trained DECEMber run leaves: labels and cluster parameters per neuron, its embedding, its numbers."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import adjusted_rand_score

from v1twin.clustering.embeddings import Embeddings
from v1twin.december import DecemberError
from v1twin.december.loss import DecemberLoss, readout_features
from v1twin.december.mixture import saturated_fraction
from v1twin.files import read_npz, write_npz
from v1twin.models import V1Model


@dataclass
class DecemberClusters:
    """Labels (argmax q) and cluster parameters of a trained DECEMber model; neurons as in the embeddings."""

    labels: np.ndarray  # (N,)
    initial_labels: np.ndarray  # (N,) the k-means partition the run started from
    q: np.ndarray  # (N, K)
    means: np.ndarray  # (K, D)
    scales: np.ndarray  # (K, D)
    mouse: np.ndarray  # (N,) str
    unit_id: np.ndarray  # (N,)


def run_outputs(
    model: V1Model, loss: DecemberLoss, unit_ids: dict[str, np.ndarray]
) -> tuple[DecemberClusters, Embeddings]:
    """The clusters of a trained model and its embedding (in clustering.Embeddings form, for t-SNE)."""
    x, q = loss.assignments(model)
    mouse = np.concatenate([np.full(len(unit_ids[m]), m) for m in loss.mice]).astype(str)
    unit_id = np.concatenate([np.asarray(unit_ids[m], dtype=np.int64) for m in loss.mice])
    if len(unit_id) != len(x):
        raise DecemberError(f"{len(unit_id)} unit ids for {len(x)} readout rows of mice {loss.mice}")
    clusters = DecemberClusters(
        labels=q.argmax(axis=1).astype(np.int64), initial_labels=loss.initial_labels.cpu().numpy().astype(np.int64),
        q=q.astype(np.float32),
        means=loss.means.cpu().numpy(), scales=loss.scales.cpu().numpy(), mouse=mouse, unit_id=unit_id,
    )
    shifts = loss.shifts.cpu().numpy() if loss.shifts is not None else np.zeros(len(x), dtype=np.int64)
    features = readout_features(model, loss.mice).detach().cpu().numpy()
    embeddings = Embeddings(embedding=x.astype(np.float32), features=features.astype(np.float32), mouse=mouse,
                            unit_id=unit_id, rotation_shift=shifts.astype(np.int64), aligned=loss.shifts is not None)
    return clusters, embeddings


def run_summary(loss: DecemberLoss, clusters: DecemberClusters, step_seconds: float) -> dict[str, Any]:
    """DECEMber's numbers for metrics.json: its overhead per training step (D25 budgets it), and how far
    the partition moved from its k-means start (the loss cannot move saturated neurons)."""
    overhead = loss.seconds_per_step()
    return {"step_seconds": step_seconds, **overhead, "em_fraction": overhead["em_seconds_per_step"] / step_seconds,
            "saturated_initial": float(loss.initial_saturation), "saturated_final": saturated_fraction(clusters.q),
            "ari_initial_final": adjusted_rand_score(clusters.initial_labels, clusters.labels),
            "cluster_sizes": np.bincount(clusters.labels, minlength=loss.settings.k).tolist()}


def save_clusters(path: str | Path, clusters: DecemberClusters) -> None:
    write_npz(path, {key: np.asarray(value) for key, value in asdict(clusters).items()})


def load_clusters(path: str | Path) -> DecemberClusters:
    """Read what `save_clusters` wrote; shapes are checked."""
    content = read_npz(path, ("labels", "initial_labels", "q", "means", "scales", "mouse", "unit_id"), DecemberError)
    clusters = DecemberClusters(**content)
    n = len(clusters.labels)
    if {clusters.q.shape[0], len(clusters.initial_labels), len(clusters.mouse), len(clusters.unit_id)} != {n}:
        raise DecemberError(f"{path}: labels, initial_labels, q, mouse and unit_id disagree on the number of neurons")
    return clusters
