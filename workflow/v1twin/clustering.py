"""Neuron embeddings, their clustering, and how consistent both are across seeds (METHODS §4).

The embedding of a neuron is its readout feature vector, L2-normalized: clustering should see what
a neuron computes, not its gain. For a rotation-equivariant core the same neuron can be represented
by any cyclic shift of its vector along the rotation axis, so each vector is first aligned to a
common template (Ustyuzhaninov et al. 2019, discrete version). Labels from k-means and a diagonal
GMM at every K are then compared across seeds (ARI, Fowlkes–Mallows, V-measure), across k-means
reruns on one embedding (R24 A.4) and, on simulated data, with the planted cell types (and how
separable those types are in the embedding, whether or not clustering finds them). Sweeps over
regularization strengths are summarized by their ARI across seeds beside their performance (R24
Fig. 3, L25 Fig. 5), and the adaptive regularizer's learned per-neuron strengths β are tabulated
beside what they might reflect (prediction quality, oracle, planted type).
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from openTSNE import TSNE
from sklearn.cluster import KMeans
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.metrics import adjusted_rand_score, fowlkes_mallows_score, v_measure_score
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import StratifiedKFold, cross_val_score

from v1twin import metrics
from v1twin.data import MouseTensors
from v1twin.files import read_npz, read_table, write_npz
from v1twin.models import RotationEquivariantCore
from v1twin.models.network import CORE_DEFAULTS, READOUT_DEFAULTS, resolve_config
from v1twin.progress import progress_bar
from v1twin.simulate import load_ground_truth
from v1twin.training import TrainingConfig, load_checkpoint, load_model, performance_table, predict

log = logging.getLogger(__name__)

METHODS = ("kmeans", "gmm")
AGREEMENT_MEASURES = ("ari", "fmi", "v_measure")
GMM_REG_COVAR = 1e-6  # D25's baseline
MAX_ALIGNMENT_ITERATIONS = 100
MIN_PERPLEXITY = 5.0  # n/100 is meaningless for a few hundred neurons (tests, tiny configs)
ALL_MICE = "all"  # the row of the response-correlation table that pools every neuron


class ClusteringError(ValueError):
    """A missing or inconsistent embedding, label or model file; the message names the file."""


# ----------------------------------------------------------------------------------------------
# Embeddings


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
    model_path = Path(model_path)
    content = load_checkpoint(model_path)
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
    aligned = isinstance(core, RotationEquivariantCore)
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


# ----------------------------------------------------------------------------------------------
# Clustering


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


def _check_k_values(k_values: list[int], n_neurons: int) -> None:
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
    _check_k_values(k_values, len(embeddings.embedding))
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


def kmeans_rerun_agreement(
    embeddings: Embeddings, k_values: list[int], reruns: int, n_init: int, random_state: int
) -> pd.DataFrame:
    """R24 A.4: ARI between k-means runs on the same embedding with random states random_state + r.

    One row per K and pair of runs (k, run_a, run_b, ari); the spread of this ARI is the part of the
    across-seed disagreement that k-means itself causes.
    """
    _check_k_values(k_values, len(embeddings.embedding))
    rows = []
    for k in progress_bar(k_values, desc="k-means reruns", unit="k"):
        runs = [kmeans_labels(embeddings.embedding, k, n_init, random_state + run) for run in range(reruns)]
        for run_a, run_b in itertools.combinations(range(reruns), 2):
            rows.append({"k": k, "run_a": run_a, "run_b": run_b, "ari": adjusted_rand_score(runs[run_a], runs[run_b])})
    return pd.DataFrame(rows, columns=["k", "run_a", "run_b", "ari"])


# ----------------------------------------------------------------------------------------------
# Agreement


def agreement(labels_a: np.ndarray, labels_b: np.ndarray) -> dict[str, float]:
    """ARI, Fowlkes–Mallows index and V-measure of two labelings of the same neurons."""
    return {
        "ari": float(adjusted_rand_score(labels_a, labels_b)),
        "fmi": float(fowlkes_mallows_score(labels_a, labels_b)),
        "v_measure": float(v_measure_score(labels_a, labels_b)),
    }


def _check_same_neurons(labels: dict[int, ClusterLabels], what: str) -> None:
    """Comparing labels only makes sense row by row on the same neurons with the same K values."""
    first_seed, first = next(iter(labels.items()))
    for seed, other in labels.items():
        same = (
            np.array_equal(other.mouse, first.mouse)
            and np.array_equal(other.unit_id, first.unit_id)
            and np.array_equal(other.k_values, first.k_values)
        )
        if not same:
            raise ClusteringError(f"{what}: seeds {first_seed} and {seed} differ in neurons or K values")


def seed_pair_agreement(labels: dict[int, ClusterLabels], what: str = "labels") -> pd.DataFrame:
    """Agreement of every pair of seeds, per method and K.

    Columns: method, k, seed_a, seed_b, ari, fmi, v_measure. `what` names the labels in errors.
    """
    _check_same_neurons(labels, what)
    first = next(iter(labels.values()))
    rows = []
    for method, k in itertools.product(METHODS, first.k_values.tolist()):
        for seed_a, seed_b in itertools.combinations(labels, 2):
            scores = agreement(labels[seed_a].at(method, k), labels[seed_b].at(method, k))
            rows.append({"method": method, "k": k, "seed_a": seed_a, "seed_b": seed_b, **scores})
    return pd.DataFrame(rows, columns=["method", "k", "seed_a", "seed_b", *AGREEMENT_MEASURES])


def summarize(pairs: pd.DataFrame, by: list[str], measures: tuple[str, ...]) -> pd.DataFrame:
    """Mean and sample sd (ddof 1; NaN for a single pair) of each measure per group, with the pair count."""
    grouped = pairs.groupby(by, sort=False)
    summary = grouped.size().rename("n_pairs").to_frame()
    for measure in measures:
        summary[f"{measure}_mean"] = grouped[measure].mean()
        summary[f"{measure}_sd"] = grouped[measure].std(ddof=1)
    return summary.reset_index()


def across_seed_table(labels_files: dict[str, dict[int, str | Path]]) -> pd.DataFrame:
    """Per variant, method and K: mean ± sd over seed pairs of ARI, FMI and V-measure.

    `labels_files` maps variant -> seed -> labels file.
    """
    tables = []
    for variant, files in labels_files.items():
        if len(files) < 2:
            raise ValueError(f"variant {variant}: agreement across seeds needs at least 2 seeds, got {list(files)}")
        labels = {seed: load_labels(path) for seed, path in files.items()}
        pairs = seed_pair_agreement(labels, what=f"labels of variant {variant} ({', '.join(map(str, files.values()))})")
        tables.append(summarize(pairs, ["method", "k"], AGREEMENT_MEASURES).assign(variant=variant))
    table = pd.concat(tables, ignore_index=True)
    return table[["variant", *table.columns.drop("variant")]]


def kmeans_rerun_table(rerun_files: dict[str, str | Path], seeds: dict[str, int]) -> pd.DataFrame:
    """Per variant and K: mean ± sd over rerun pairs of the k-means ARI (the kmeans_reruns rule's files)."""
    tables = []
    for variant, path in rerun_files.items():
        pairs = pd.read_csv(path)
        missing = sorted({"k", "run_a", "run_b", "ari"} - set(pairs.columns))
        if missing:
            raise ClusteringError(f"{path}: lacks column(s) {missing}")
        summary = summarize(pairs, ["k"], ("ari",))
        tables.append(summary.assign(variant=variant, seed=seeds[variant]))
    table = pd.concat(tables, ignore_index=True)
    return table[["variant", "seed", "k", "n_pairs", "ari_mean", "ari_sd"]]


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
    """ARI of each seed's clustering with the planted types, per variant, seed, method and K."""
    rows = []
    truth = None
    for variant, files in labels_files.items():
        for seed, path in files.items():
            labels = load_labels(path)
            if truth is None:
                truth = planted_types(truth_files, mice, labels.mouse)
            if len(truth) != len(labels.unit_id):
                raise ClusteringError(f"{path}: {len(labels.unit_id)} neurons, the ground truth has {len(truth)}")
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


# ----------------------------------------------------------------------------------------------
# Response correlation across seeds


def _check_unit_ids(model_path: str | Path, data: dict[str, MouseTensors]) -> None:
    """The model must have been fitted to exactly these neurons of every mouse."""
    unit_ids = load_checkpoint(Path(model_path))["extras"].get("unit_ids", {})
    for name, mouse in data.items():
        stored_ids = unit_ids.get(name)
        if stored_ids is None or not np.array_equal(np.asarray(stored_ids), np.asarray(mouse.unit_ids)):
            raise ClusteringError(f"{model_path}: unit ids of mouse {name} do not match its data")


def predict_test_tier(model_path: str | Path, data: dict[str, MouseTensors]) -> dict[str, np.ndarray]:
    """Predictions (test trials, N) of a saved model for every mouse, checked against the model's unit ids."""
    _check_unit_ids(model_path, data)
    model = load_model(Path(model_path))
    return {name: predict(model, mouse, mouse.indices("test")) for name, mouse in data.items()}


def prediction_correlation(
    predictions_a: dict[str, np.ndarray], predictions_b: dict[str, np.ndarray]
) -> dict[str, float]:
    """Mean over neurons of the Pearson r between two fits' predictions, per mouse and over all neurons."""
    per_neuron = {mouse: metrics.correlation(predictions_a[mouse], predictions_b[mouse]) for mouse in predictions_a}
    return {
        **{mouse: float(values.mean()) for mouse, values in per_neuron.items()},
        ALL_MICE: float(np.concatenate(list(per_neuron.values())).mean()),
    }


def response_correlation_table(
    model_files: dict[str, dict[int, str | Path]], data: dict[str, MouseTensors]
) -> pd.DataFrame:
    """Per variant, seed pair and mouse (and 'all'): mean per-neuron correlation of the test predictions."""
    rows = []
    for variant, files in model_files.items():
        predictions = {seed: predict_test_tier(path, data) for seed, path in progress_bar(files.items(), desc=variant)}
        for seed_a, seed_b in itertools.combinations(files, 2):
            for mouse, value in prediction_correlation(predictions[seed_a], predictions[seed_b]).items():
                rows.append({"variant": variant, "seed_a": seed_a, "seed_b": seed_b, "mouse": mouse,
                             "correlation": value})
    return pd.DataFrame(rows, columns=["variant", "seed_a", "seed_b", "mouse", "correlation"])


# ----------------------------------------------------------------------------------------------
# t-SNE


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


# ----------------------------------------------------------------------------------------------
# Regularization sweeps (R24 Fig. 3, L25 Fig. 5)


def performance_summary(performance: pd.DataFrame) -> pd.DataFrame:
    """Per variant: mean and sample sd over seeds of the fraction oracle (the 'mean' rows over mice)."""
    runs = performance[performance["mouse"] == "mean"]
    grouped = runs.groupby("variant", sort=False)["fraction_oracle"]
    summary = grouped.agg(fraction_oracle_mean="mean", fraction_oracle_sd="std", n_seeds="size")
    return summary.reset_index()


def base_parameter_values(base: dict, parameters: list[str]) -> dict[str, Any]:
    """The value of each swept parameter (e.g. "core.gamma_input") in a variant {core, readout, training},
    model defaults filled in, so the base variant takes its place on the sweep's axis."""
    settings = {
        "core": resolve_config("core", base["core"], CORE_DEFAULTS, "cnn")[1],
        "readout": resolve_config("readout", base["readout"], READOUT_DEFAULTS, "gaussian")[1],
        "training": vars(TrainingConfig.from_dict(base.get("training"))),
    }
    values = {}
    for parameter in parameters:
        section, key = parameter.split(".")
        values[parameter] = settings[section].get(key)
    return values


def sweep_table(across_seeds: pd.DataFrame, performance: pd.DataFrame, sweeps: dict[str, dict]) -> pd.DataFrame:
    """ARI across seeds (per method and K) beside the fraction oracle of every point of every sweep.

    `sweeps` maps a sweep name to {"base": variant, "base_config": its {core, readout, training},
    "points": {variant: {parameter: value}}} (see config.landscape_sweep). One row per sweep, variant,
    method and K; the sweep's base variant is included with role "base" and its own values of the swept
    parameters. Parameter columns are named by the dotted parameter (e.g. "readout.gamma").
    """
    performance_by_variant = performance_summary(performance).set_index("variant")
    tables = []
    for sweep, spec in sweeps.items():
        parameters = list(next(iter(spec["points"].values())))
        roles = {
            spec["base"]: ("base", base_parameter_values(spec["base_config"], parameters)),
            **{variant: ("point", values) for variant, values in spec["points"].items()},
        }
        for variant, (role, values) in roles.items():
            rows = across_seeds[across_seeds["variant"] == variant]
            if rows.empty or variant not in performance_by_variant.index:
                raise ClusteringError(f"sweep {sweep}: variant {variant} is missing from the across-seeds "
                                      f"or the performance table (needs at least 2 trained seeds)")
            rows = rows[["variant", "method", "k", "n_pairs", "ari_mean", "ari_sd"]].assign(sweep=sweep, role=role,
                                                                                            **values)
            tables.append(rows.assign(**performance_by_variant.loc[variant].to_dict()))
    table = pd.concat(tables, ignore_index=True).astype({"n_seeds": np.int64})
    leading = ["sweep", "variant", "role"]
    return table[leading + [column for column in table.columns if column not in leading]]


def sweep_table_from_files(
    across_seeds: str | Path, metrics_files: list[str | Path], runs: list[tuple[str, int]], sweeps: dict[str, dict]
) -> pd.DataFrame:
    """`sweep_table` of the across-seeds CSV and the metrics.json of every (variant, seed) run of the sweeps."""
    return sweep_table(
        read_table(across_seeds, ("variant", "method", "k", "n_pairs", "ari_mean", "ari_sd"), ClusteringError),
        performance_table(metrics_files, runs),
        sweeps,
    )


def adaptive_beta_table(
    model_files: dict[str, str | Path], data: dict[str, MouseTensors], truth_files: list[str | Path] = (),
) -> pd.DataFrame:
    """Per neuron of each adaptively regularized model: its learned β, and what β might reflect.

    Columns: variant, mouse, unit_id, beta, test_correlation (single trial), oracle (jackknife) and,
    with ground-truth files (one per mouse of `data`, same order), the planted cell_type.
    """
    rows = []
    for variant, path in model_files.items():
        _check_unit_ids(path, data)
        model = load_model(Path(path), device=torch.device("cpu"))
        for name, mouse in data.items():
            readout = model.readouts[name]
            if getattr(readout, "regularizer_type", None) != "adaptive":
                raise ClusteringError(f"{path}: the readout of mouse {name} is not adaptively regularized")
            test = mouse.indices("test")
            responses = mouse.responses[torch.as_tensor(test)].numpy()
            rows.append(pd.DataFrame({
                "variant": variant,
                "mouse": name,
                "unit_id": np.asarray(mouse.unit_ids),
                "beta": readout.beta.detach().cpu().numpy().astype(np.float64),
                "test_correlation": metrics.correlation(responses, predict(model, mouse, test)),
                "oracle": metrics.jackknife_oracle(responses, mouse.image_ids[test]),
            }))
    table = pd.concat(rows, ignore_index=True)
    if truth_files:
        mice = list(data)
        for variant, group in table.groupby("variant", sort=False):
            table.loc[group.index, "cell_type"] = planted_types(truth_files, mice, group["mouse"].to_numpy())
        table["cell_type"] = table["cell_type"].astype(np.int64)
    return table
