"""2-D t-SNE maps of an embedding, on the same subset of neurons for every model of a figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
from openTSNE import TSNE

from v1twin.clustering.embeddings import Embeddings

MIN_PERPLEXITY = 5.0  # n/100 is meaningless for a few hundred neurons (tests, tiny configs)


def tsne_subset(mouse: np.ndarray, unit_id: np.ndarray, neurons_per_mouse: int, seed: int) -> np.ndarray:
    """Row indices (ascending) of up to `neurons_per_mouse` random neurons per mouse.

    Neurons are drawn by (mouse, unit id), not by row position, so every embedding of the same
    population gives the same neurons: the panels of a figure show the same cells.
    """
    mouse, unit_id = np.asarray(mouse).astype(str), np.asarray(unit_id)
    rng = np.random.default_rng(seed)
    chosen = []
    for name in np.unique(mouse):
        rows = np.flatnonzero(mouse == name)
        rows = rows[np.argsort(unit_id[rows], kind="stable")]
        if len(rows) > neurons_per_mouse:
            rows = rng.choice(rows, size=neurons_per_mouse, replace=False)
        chosen.append(rows)
    return np.sort(np.concatenate(chosen))


def tsne(embedding: np.ndarray, exaggeration: float, seed: int, n_jobs: int = 1) -> np.ndarray:
    """2-D openTSNE map (Kobak & Berens 2019): PCA init, perplexity n/100, learning rate n/12.

    The perplexity is kept within [5, (n − 1)/3]: below 5 the affinities are degenerate, above
    (n − 1)/3 there are not enough neighbours.
    """
    n = len(embedding)
    if n < 4:
        raise ValueError(f"t-SNE needs at least 4 neurons, got {n}")
    perplexity = min(max(n / 100, MIN_PERPLEXITY), (n - 1) / 3)
    model = TSNE(
        perplexity=perplexity, learning_rate=n / 12, early_exaggeration=exaggeration,
        initialization="pca", random_state=seed, n_jobs=n_jobs,
    )
    return np.asarray(model.fit(np.asarray(embedding, dtype=np.float64)))


def tsne_table(
    embeddings: Embeddings, neurons_per_mouse: int, exaggeration: float, seed: int, n_jobs: int = 1
) -> pd.DataFrame:
    """t-SNE of a subset of neurons: columns mouse, unit_id, x, y."""
    rows = tsne_subset(embeddings.mouse, embeddings.unit_id, neurons_per_mouse, seed)
    coordinates = tsne(embeddings.embedding[rows], exaggeration, seed, n_jobs)
    return pd.DataFrame({"mouse": embeddings.mouse[rows], "unit_id": embeddings.unit_id[rows],
                         "x": coordinates[:, 0], "y": coordinates[:, 1]})
