"""Cluster labels of one embedding: k-means and a diagonal GMM at every K, saved per model."""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture

from v1twin.clustering import ClusteringError
from v1twin.clustering.embeddings import Embeddings
from v1twin.files import read_npz, write_npz
from v1twin.progress import progress_bar

log = logging.getLogger(__name__)

METHODS = ("kmeans", "gmm")
GMM_REG_COVAR = 1e-6  # D25's baseline


def kmeans_labels(embedding: np.ndarray, k: int, n_init: int, random_state: int) -> np.ndarray:
    """k-means cluster of every row; the same arguments give the same labels."""
    model = KMeans(n_clusters=k, n_init=n_init, random_state=random_state)
    return model.fit_predict(np.asarray(embedding, dtype=np.float64)).astype(np.int64)


def gmm_labels(embedding: np.ndarray, k: int, n_init: int, random_state: int) -> np.ndarray:
    """Most likely component of a diagonal Gaussian mixture (reg_covar 1e-6, k-means init; D25's baseline)."""
    model = GaussianMixture(
        n_components=k, covariance_type="diag", reg_covar=GMM_REG_COVAR, init_params="kmeans",
        n_init=n_init, random_state=random_state,
    )
    vectors = np.asarray(embedding, dtype=np.float64)
    return model.fit(vectors).predict(vectors).astype(np.int64)


CLUSTERERS = {"kmeans": kmeans_labels, "gmm": gmm_labels}


def check_k_values(k_values: list[int], n_neurons: int) -> None:
    """Every K must be between 1 and the number of neurons, or k-means and the GMM cannot fit."""
    too_large = [k for k in k_values if not 1 <= k <= n_neurons]
    if too_large:
        raise ValueError(f"cannot form K = {too_large} clusters of {n_neurons} neurons")


@dataclass
class ClusterLabels:
    """Labels of one embedding: labels[method] is (len(k_values), N); neurons as in the embedding."""

    k_values: np.ndarray
    labels: dict[str, np.ndarray]
    mouse: np.ndarray
    unit_id: np.ndarray

    def at(self, method: str, k: int) -> np.ndarray:
        """Labels of one method at one K."""
        if method not in self.labels:
            raise KeyError(f"no {method!r} labels (have {sorted(self.labels)})")
        matches = np.flatnonzero(self.k_values == k)
        if matches.size == 0:
            raise KeyError(f"no labels at K = {k} (have {self.k_values.tolist()})")
        return self.labels[method][matches[0]]


def cluster_embedding(embeddings: Embeddings, k_values: list[int], n_init: int, random_state: int) -> ClusterLabels:
    """k-means and GMM labels at every K."""
    check_k_values(k_values, len(embeddings.embedding))
    labels = {method: [] for method in METHODS}
    for k, method in progress_bar(list(itertools.product(k_values, METHODS)), desc="clustering"):
        labels[method].append(CLUSTERERS[method](embeddings.embedding, k, n_init, random_state))
        log.info("%s with K = %d done", method, k)
    return ClusterLabels(
        k_values=np.asarray(k_values, dtype=np.int64),
        labels={method: np.stack(rows) for method, rows in labels.items()},
        mouse=embeddings.mouse,
        unit_id=embeddings.unit_id,
    )


def save_labels(path: str | Path, labels: ClusterLabels) -> None:
    write_npz(path, dict(k_values=labels.k_values, mouse=labels.mouse.astype(str), unit_id=labels.unit_id,
                         **labels.labels))


def load_labels(path: str | Path) -> ClusterLabels:
    """Read what `save_labels` wrote; shapes are checked against the K values and neurons."""
    content = read_npz(path, ("k_values", "mouse", "unit_id", *METHODS), ClusteringError)
    labels = ClusterLabels(
        k_values=content["k_values"],
        labels={method: content[method] for method in METHODS},
        mouse=content["mouse"],
        unit_id=content["unit_id"],
    )
    expected = (len(labels.k_values), len(labels.unit_id))
    wrong = {method: rows.shape for method, rows in labels.labels.items() if rows.shape != expected}
    if wrong or len(labels.mouse) != len(labels.unit_id):
        raise ClusteringError(f"{path}: label arrays {wrong} do not have shape (K values, neurons) = {expected}")
    return labels
