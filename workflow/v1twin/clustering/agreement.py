"""How far labelings agree: across seeds (ARI, Fowlkes–Mallows, V-measure) and across k-means reruns
on one embedding (R24 A.4), the part of the disagreement that k-means itself causes."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score, fowlkes_mallows_score, v_measure_score

from v1twin.clustering import ClusteringError
from v1twin.clustering.embeddings import Embeddings
from v1twin.clustering.labels import ClusterLabels, check_k_values, kmeans_labels, load_labels
from v1twin.progress import progress_bar

AGREEMENT_MEASURES = ("ari", "fmi", "v_measure")


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
    """Agreement of every pair of seeds, per method (those of the labels) and K.

    Columns: method, k, seed_a, seed_b, ari, fmi, v_measure. `what` names the labels in errors.
    """
    _check_same_neurons(labels, what)
    first = next(iter(labels.values()))
    rows = []
    for method, k in itertools.product(first.labels, first.k_values.tolist()):
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


def kmeans_rerun_agreement(
    embeddings: Embeddings, k_values: list[int], reruns: int, n_init: int, random_state: int
) -> pd.DataFrame:
    """R24 A.4: ARI between k-means runs on the same embedding with random states random_state + r.

    One row per K and pair of runs (k, run_a, run_b, ari); the spread of this ARI is the part of the
    across-seed disagreement that k-means itself causes.
    """
    check_k_values(k_values, len(embeddings.embedding))
    rows = []
    for k in progress_bar(k_values, desc="k-means reruns", unit="k"):
        runs = [kmeans_labels(embeddings.embedding, k, n_init, random_state + run) for run in range(reruns)]
        for run_a, run_b in itertools.combinations(range(reruns), 2):
            rows.append({"k": k, "run_a": run_a, "run_b": run_b, "ari": adjusted_rand_score(runs[run_a], runs[run_b])})
    return pd.DataFrame(rows, columns=["k", "run_a", "run_b", "ari"])


def kmeans_rerun_table(rerun_files: dict[str, str | Path], seeds: dict[str, int]) -> pd.DataFrame:
    """Per variant and K: mean ± sd over rerun pairs of the k-means ARI (the clustering_kmeans_reruns rule's files)."""
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
