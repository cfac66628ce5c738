"""The simulator's planted cell types: how well clustering recovers them, and how separable they are
in an embedding whether or not clustering finds them (simulated data only)."""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.metrics import adjusted_rand_score
from sklearn.model_selection import StratifiedKFold, cross_val_score

from v1twin.clustering import ClusteringError
from v1twin.clustering.embeddings import load_embeddings
from v1twin.clustering.labels import METHODS, load_labels
from v1twin.data.simulate import load_ground_truth

log = logging.getLogger(__name__)


def load_truths(truth_files: list[str | Path], mice: list[str]) -> dict[str, dict]:
    """mouse -> ground-truth dict, one file per mouse in `mice` order."""
    if len(truth_files) != len(mice):
        raise ValueError(f"{len(truth_files)} ground-truth files for mice {mice}")
    return {mouse: load_ground_truth(Path(path)) for mouse, path in zip(mice, truth_files)}


def truth_columns(
    truths: dict[str, dict], mouse_column: np.ndarray, keys: tuple[str, ...], truth_files: list[str | Path]
) -> dict[str, np.ndarray]:
    """Per-neuron ground-truth arrays for every row of an embedding (rows grouped by mouse in `truths` order).

    Ground-truth arrays are in the stored neuron order, which is the order of the readout rows;
    `truth_files` (where `truths` came from) name the files in the error.
    """
    counts = {mouse: len(truth["cell_type"]) for mouse, truth in truths.items()}
    expected_column = np.concatenate([np.full(count, mouse) for mouse, count in counts.items()])
    if not np.array_equal(expected_column, np.asarray(mouse_column).astype(str)):
        raise ClusteringError(f"ground truth {[str(path) for path in truth_files]} (neurons per mouse {counts}) "
                              f"does not match the embedding's rows")
    return {key: np.concatenate([np.asarray(truth[key]) for truth in truths.values()]) for key in keys}


def planted_types(truth_files: list[str | Path], mice: list[str], mouse_column: np.ndarray) -> np.ndarray:
    """The simulator's cell type of every row of an embedding."""
    return truth_columns(load_truths(truth_files, mice), mouse_column, ("cell_type",), truth_files)["cell_type"]


def planted_type_table(
    labels_files: dict[str, dict[int, str | Path]], truth_files: list[str | Path], mice: list[str]
) -> pd.DataFrame:
    """ARI of each seed's clustering with the planted types, per variant, seed, method and K.

    `truth_files` hold the ground truth of `mice`; each label file is compared with that of its own mice (so
    variants fitted to different populations, e.g. static and video mice, share one table).
    """
    rows = []
    truths = load_truths(truth_files, mice)
    for variant, files in labels_files.items():
        for seed, path in files.items():
            labels = load_labels(path)
            own = list(dict.fromkeys(np.asarray(labels.mouse).astype(str).tolist()))
            missing = [mouse for mouse in own if mouse not in truths]
            if missing:
                raise ClusteringError(f"{path}: no ground truth for mice {missing} (given: {mice})")
            truth = truth_columns({mouse: truths[mouse] for mouse in own}, labels.mouse, ("cell_type",),
                                  truth_files)["cell_type"]
            for method, k in itertools.product(METHODS, labels.k_values.tolist()):
                ari = adjusted_rand_score(truth, labels.at(method, k))
                rows.append({"variant": variant, "seed": seed, "method": method, "k": k, "ari": ari})
    return pd.DataFrame(rows, columns=["variant", "seed", "method", "k", "ari"])


# ----------------------------------------------------------------------------------------------
# Why planted types do or do not come out as clusters (simulated data)
#
# Two questions per embedding: is the planted type in it at all (cross-validated accuracy of a linear
# discriminant, against the chance of always guessing the largest type), and what spreads the
# neurons of one type (share of the within-type variance that follows the parameters the simulator
# draws at random for every neuron: preferred orientation and phase, versus the type parameters'
# own scatter). High accuracy with a low ARI means the types are there but not as compact clusters.

SEPARABILITY_FOLDS = 5
ORIENTATION_HARMONICS = 8  # cos/sin(2kθ), k = 1..8: any function of θ (period 180°) down to 22.5° detail,
#                            including the 45° period a discrete alignment over 8 rotations leaves
PHASE_HARMONICS = 2  # cos/sin(kφ), k = 1, 2
SEPARABILITY_COLUMNS = ("variant", "seed", "n_neurons", "decoding_accuracy", "chance_accuracy",
                        "orientation_share", "phase_share", "type_parameter_share", "nuisance_share")


def decoding_accuracy(embedding: np.ndarray, types: np.ndarray, seed: int) -> float:
    """Cross-validated accuracy of a linear discriminant predicting the planted type (stratified folds)."""
    folds = min(SEPARABILITY_FOLDS, int(np.bincount(types).min()))
    if folds < 2:
        raise ClusteringError(f"a planted type has {np.bincount(types).min()} neurons: too few to cross-validate")
    splits = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return float(cross_val_score(LinearDiscriminantAnalysis(), embedding, types, cv=splits).mean())


def harmonics(angle: np.ndarray, orders: range) -> np.ndarray:
    """cos and sin of k·angle for every k in `orders`, (N, 2·len(orders))."""
    return np.column_stack([f(k * angle) for k in orders for f in (np.cos, np.sin)])


def within_type_share(embedding: np.ndarray, types: np.ndarray, regressors: np.ndarray) -> float:
    """Share of the within-type variance a per-type linear fit on `regressors` explains, adjusted for
    their number (as adjusted R², so noise alone scores about 0), pooled over types.

    Types with no more neurons than fitted coefficients cannot be judged and are left out.
    """
    explained_residual, total = 0.0, 0.0
    n_coefficients = regressors.shape[1] + 1
    for cell_type in np.unique(types):
        rows = types == cell_type
        n = int(rows.sum())
        if n <= n_coefficients:
            continue
        centred = embedding[rows] - embedding[rows].mean(axis=0)
        design = np.column_stack([np.ones(n), regressors[rows]])
        residual = centred - design @ np.linalg.lstsq(design, centred, rcond=None)[0]
        explained_residual += (residual**2).sum() * (n - 1) / (n - n_coefficients)
        total += (centred**2).sum()
    if total == 0:
        log.warning("no planted type has more than %d neurons with any spread: share not measurable", n_coefficients)
        return float("nan")
    return float(1.0 - explained_residual / total)


def type_separability(embedding: np.ndarray, truth: dict[str, np.ndarray], seed: int) -> dict[str, float]:
    """Decoding accuracy and the within-type variance shares of one embedding (see the section note)."""
    types = truth["cell_type"].astype(np.int64)
    orientation = harmonics(2 * truth["orientation"], range(1, ORIENTATION_HARMONICS + 1))
    phase = harmonics(truth["phase"], range(1, PHASE_HARMONICS + 1))
    embedding = np.asarray(embedding, dtype=np.float64)
    return {
        "n_neurons": len(types),
        "decoding_accuracy": decoding_accuracy(embedding, types, seed),
        "chance_accuracy": float(np.bincount(types).max() / len(types)),
        "orientation_share": within_type_share(embedding, types, orientation),
        "phase_share": within_type_share(embedding, types, phase),
        "type_parameter_share": within_type_share(embedding, types, truth["type_coordinates"]),
        "nuisance_share": within_type_share(embedding, types, np.column_stack([orientation, phase])),
    }


def separability_table(
    embedding_files: dict[str, dict[int, str | Path]], truth_files: list[str | Path], mice: list[str], seed: int
) -> pd.DataFrame:
    """`type_separability` of every variant and seed's embedding."""
    rows = []
    truths = load_truths(truth_files, mice)  # read once; each embedding's rows are checked against it
    for variant, files in embedding_files.items():
        for model_seed, path in files.items():
            embeddings = load_embeddings(path)
            truth = truth_columns(truths, embeddings.mouse, ("cell_type", "orientation", "phase", "type_coordinates"),
                                  truth_files)
            rows.append({"variant": variant, "seed": model_seed,
                         **type_separability(embeddings.embedding, truth, seed)})
    return pd.DataFrame(rows, columns=SEPARABILITY_COLUMNS)

