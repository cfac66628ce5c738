"""Identifiability results: per population and method the ARI with the planted types at the true K, the
across-seed ARI curve over K, and the peak criterion (package docstring: the analysis)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from v1twin.clustering.agreement import seed_pair_agreement
from v1twin.clustering.labels import ClusterLabels, load_labels
from v1twin.clustering.planted import planted_types
from v1twin.identifiability import Population

SUMMARY_COLUMNS = ("population", "separation", "method", "true_k", "n_seeds", "ari_truth_mean", "ari_truth_sd",
                   "ari_seeds_at_true_k", "peak_k", "prominence", "peaks_at_true_k")
CURVE_COLUMNS = ("population", "separation", "method", "k", "n_pairs", "ari_mean", "ari_sd")


def _number(separation: float | None) -> float:
    """A separation as a table value: NaN for the continuum."""
    return float("nan") if separation is None else separation


# ----------------------------------------------------------------------------------------------
# The peak criterion


def peak(curve: pd.DataFrame, true_k: int, margin: float) -> dict:
    """Does an across-seed ARI curve (columns k, ari_mean) peak at the true K?

    D25: "we would expect ARI to peak noticeably at the true number of clusters". Stated here as: the
    curve's maximum over the tested K is at the true K, and exceeds the higher of its two neighbours by
    at least `margin`. Returns peak_k (the curve's argmax), prominence (the true K's value minus its
    higher neighbour) and peaks_at_true_k.
    """
    curve = curve.sort_values("k")
    ks, values = curve["k"].to_numpy(), curve["ari_mean"].to_numpy(dtype=float)
    position = np.flatnonzero(ks == true_k)
    if len(position) != 1 or not 0 < position[0] < len(ks) - 1:
        raise ValueError(f"the true K {true_k} must be an inner value of the tested K {ks.tolist()}")
    at = position[0]
    prominence = values[at] - max(values[at - 1], values[at + 1])
    peak_k = int(ks[np.argmax(values)])
    return {"peak_k": peak_k, "prominence": float(prominence),
            "peaks_at_true_k": bool(peak_k == true_k and prominence >= margin)}


# ----------------------------------------------------------------------------------------------
# Tables


DECEMBER_METHOD = "december"
METHOD_NAMES = {"kmeans": "k-means", "gmm": "GMM", DECEMBER_METHOD: "DECEMber"}  # and the order tables show


def methods_of(summary: pd.DataFrame) -> dict[str, str]:
    """The summary's methods with their names, in the order of METHOD_NAMES (DECEMber only where it ran)."""
    return {method: name for method, name in METHOD_NAMES.items() if method in set(summary["method"])}


def december_labels(clusters_files: dict[tuple[str, int, int], str | Path]) -> dict[str, dict[int, ClusterLabels]]:
    """DECEMber's labels as clustering labels: variant -> seed -> labels of method "december" over its K.

    `clusters_files`: (variant, K, seed) -> a DECEMber run's clusters.npz. Each run clustered at one K;
    the runs of one variant and seed together cover the K values, as one k-means/GMM labels file does.
    """
    from v1twin.december.clusters import load_clusters  # imports torch: only the table needs it, not the figure

    by_run: dict[tuple[str, int], dict] = {}
    for (variant, k, seed), path in clusters_files.items():
        by_run.setdefault((variant, seed), {})[k] = load_clusters(path)
    labels: dict[str, dict[int, ClusterLabels]] = {}
    for (variant, seed), runs in by_run.items():
        k_values = sorted(runs)
        first = runs[k_values[0]]
        labels.setdefault(variant, {})[seed] = ClusterLabels(
            k_values=np.asarray(k_values, dtype=np.int64),
            labels={DECEMBER_METHOD: np.stack([runs[k].labels for k in k_values])},
            mouse=first.mouse, unit_id=first.unit_id)
    return labels


def method_rows(population: Population, labels: dict[int, ClusterLabels], truth: np.ndarray, true_k: int,
                margin: float) -> tuple[list[dict], pd.DataFrame]:
    """Summary rows (one per method of `labels`) and across-seed curves (per method and K) of one population."""
    first = next(iter(labels.values()))
    pairs = seed_pair_agreement(labels, what=f"labels of {population.variant}")
    curves = (pairs.groupby(["method", "k"], sort=False)["ari"].agg(["size", "mean", "std"]).reset_index()
              .rename(columns={"size": "n_pairs", "mean": "ari_mean", "std": "ari_sd"})
              .assign(population=population.label, separation=_number(population.separation)))
    rows = []
    for method in first.labels:
        truth_aris = [adjusted_rand_score(truth, seed_labels.at(method, true_k)) for seed_labels in labels.values()]
        curve = curves[curves["method"] == method]
        at_true_k = curve.loc[curve["k"] == true_k, "ari_mean"]
        rows.append({"population": population.label, "separation": _number(population.separation), "method": method,
                     "true_k": true_k, "n_seeds": len(labels), "ari_truth_mean": float(np.mean(truth_aris)),
                     "ari_truth_sd": float(np.std(truth_aris, ddof=1)), "ari_seeds_at_true_k": float(at_true_k.iloc[0]),
                     **peak(curve, true_k, margin)})
    return rows, curves[list(CURVE_COLUMNS)]


def identifiability_tables(populations_: list[Population], labels_files: dict[str, dict[int, str | Path]],
                           truth_files: dict[str, str | Path], true_k: int, margin: float,
                           december: dict[str, dict[int, ClusterLabels]] | None = None,
                           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The summary (population × method) and the across-seed curves (population × method × K).

    `labels_files`: variant -> seed -> k-means/GMM clustering labels; `truth_files`: mouse -> ground truth;
    `december`: variant -> seed -> DECEMber's labels (`december_labels`), where DECEMber ran.
    """
    summary, curves = [], []
    for population in populations_:
        labels = {seed: load_labels(path) for seed, path in labels_files[population.variant].items()}
        truth = planted_types([truth_files[population.mouse]], [population.mouse], next(iter(labels.values())).mouse)
        per_method = [labels] + ([december[population.variant]] if december else [])
        for method_labels in per_method:
            rows, curve = method_rows(population, method_labels, truth, true_k, margin)
            summary += rows
            curves.append(curve)
    return pd.DataFrame(summary, columns=list(SUMMARY_COLUMNS)), pd.concat(curves, ignore_index=True)


def detection_limit(summary: pd.DataFrame, method: str) -> float:
    """The smallest separation at which `method`'s curve still peaks at the true K, every larger
    separation peaking too; NaN where even the largest does not."""
    rows = summary[(summary["method"] == method) & summary["separation"].notna()].sort_values("separation",
                                                                                             ascending=False)
    limit = float("nan")
    for separation, peaks in zip(rows["separation"], rows["peaks_at_true_k"]):
        if not peaks:
            break
        limit = float(separation)
    return limit
