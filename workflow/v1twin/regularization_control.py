"""Can readout regularization fake cell types? L25's landscapes with a continuum control.

L25 (Fig. 3) reads the high-density modes that strong L1 readout regularization produces in t-SNE maps
of real V1 embeddings as structure. Each row of this stage is one population fitted at increasing L1
strength γ (the simulated demo: a population with planted types and a continuum without any), and
every model is measured against what a population without clusters would give:

- k-means silhouette of the embedding beside two matched nulls without clusters: a Gaussian with the
  embedding's mean and covariance, and the embedding with every dimension shuffled independently
  across neurons (the marginals kept, their dependence removed);
- readout sparsity: the share of weights below `weight_threshold` of their neuron's largest |w|;
- agreement across seeds (do the modes recur?) and, where types were planted, with the planted types;
- collapsed runs (v1twin.collapsed_runs): a seed whose best validation correlation is far below its
  seed-mates' median. They stay in every table, flagged; agreement across seeds is reported over all
  seed pairs and over the pairs of seeds that did not collapse.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score, silhouette_score

from v1twin.clustering.agreement import agreement
from v1twin.clustering.embeddings import Embeddings
from v1twin.clustering.labels import METHODS, ClusterLabels, kmeans_labels
from v1twin.clustering.planted import load_truths, truth_columns
from v1twin.files import read_table
from v1twin.progress import progress_bar


class ControlError(ValueError):
    """A regularization-control input that does not fit the stage's plan."""


@dataclass(frozen=True)
class ControlSettings:
    """How the stage measures one model (config `regularization_control`, clustering's n_init and seed)."""

    k_values: list[int]
    null_draws: int
    silhouette_sample: int
    weight_threshold: float
    n_init: int
    random_state: int


@dataclass(frozen=True)
class ControlRun:
    """One model of the stage: its row (population), the variant, its L1 γ and seed."""

    row: str
    variant: str
    gamma: float
    seed: int


def plan(rows: dict[str, list[str]], variants: dict[str, dict]) -> list[ControlRun]:
    """Every (row, variant, seed) of the stage, γ read from each variant's readout."""
    return [ControlRun(row, variant, float(variants[variant]["readout"]["gamma"]), seed)
            for row, names in rows.items() for variant in names for seed in variants[variant]["seeds"]]


# ----------------------------------------------------------------------------------------------
# Measures of one model


def readout_sparsity(features: np.ndarray, threshold: float) -> float:
    """Share of readout weights whose |w| is below `threshold` × the largest |w| of their neuron."""
    magnitude = np.abs(np.asarray(features, dtype=np.float64))
    largest = magnitude.max(axis=1, keepdims=True)
    return float(np.mean(magnitude < threshold * largest))


def gaussian_null(embedding: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """As many points as `embedding` from the Gaussian with its mean and covariance: one blob, no clusters."""
    x = np.asarray(embedding, dtype=np.float64)
    return rng.multivariate_normal(x.mean(axis=0), np.cov(x, rowvar=False), size=len(x), method="eigh")


def shuffled_null(embedding: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Every dimension permuted independently across neurons: the marginals kept, their dependence gone."""
    x = np.asarray(embedding, dtype=np.float64)
    return np.column_stack([rng.permutation(column) for column in x.T])


NULLS = {"gaussian": gaussian_null, "shuffled": shuffled_null}


def kmeans_silhouette(embedding: np.ndarray, k: int, settings: ControlSettings) -> float:
    """Silhouette (Euclidean) of the k-means partition, on at most `silhouette_sample` neurons."""
    labels = kmeans_labels(embedding, k, settings.n_init, settings.random_state)
    sample = settings.silhouette_sample if len(embedding) > settings.silhouette_sample else None
    return float(silhouette_score(embedding, labels, sample_size=sample, random_state=settings.random_state))


def silhouettes_with_nulls(embedding: np.ndarray, settings: ControlSettings) -> pd.DataFrame:
    """Per K: the embedding's k-means silhouette and, per null, mean and sd over `null_draws` draws."""
    rng = np.random.default_rng(settings.random_state)
    draws = {name: [make(embedding, rng) for _ in range(settings.null_draws)] for name, make in NULLS.items()}
    rows = []
    for k in progress_bar(settings.k_values, desc="silhouettes"):
        row = {"k": k, "silhouette": kmeans_silhouette(embedding, k, settings)}
        for name, samples in draws.items():
            values = [kmeans_silhouette(sample, k, settings) for sample in samples]
            row[f"null_{name}_mean"], row[f"null_{name}_sd"] = float(np.mean(values)), float(np.std(values))
        rows.append(row)
    return pd.DataFrame(rows)


def planted_types_if_typed(truth_files: list[str | Path], mice: list[str], mouse_column: np.ndarray
                           ) -> np.ndarray | None:
    """The planted type of every row where the population has types; None for real data (no ground
    truth) and for a continuum (discreteness 0: the simulator's type labels are bookkeeping there)."""
    if not truth_files:
        return None
    truths = load_truths(truth_files, mice)
    if any(float(truth["discreteness"]) == 0 for truth in truths.values()):
        return None
    return truth_columns(truths, mouse_column, ("cell_type",), truth_files)["cell_type"]


def planted_agreement(labels: ClusterLabels, cell_type: np.ndarray | None) -> pd.DataFrame:
    """ARI with the planted types per method and K (NaN without planted types)."""
    rows = []
    for method, k in itertools.product(METHODS, labels.k_values.tolist()):
        ari = np.nan if cell_type is None else adjusted_rand_score(cell_type, labels.at(method, k))
        rows.append({"method": method, "k": k, "ari_planted": ari})
    return pd.DataFrame(rows)


def run_measures(run: ControlRun, embeddings: Embeddings, labels: ClusterLabels, cell_type: np.ndarray | None,
                 metrics: dict, settings: ControlSettings) -> pd.DataFrame:
    """One model's row per K of `settings.k_values`: test correlation, best validation correlation,
    sparsity, silhouette and its nulls, ARI with the planted types (k-means, GMM)."""
    if not (np.array_equal(embeddings.unit_id, labels.unit_id) and np.array_equal(embeddings.mouse, labels.mouse)):
        raise ControlError(f"{run.variant} seed {run.seed}: the embedding and the cluster labels differ in neurons")
    silhouettes = silhouettes_with_nulls(embeddings.embedding, settings)
    planted = planted_agreement(labels, cell_type).pivot(index="k", columns="method", values="ari_planted")
    planted = planted.rename(columns={method: f"ari_planted_{method}" for method in METHODS}).reset_index()
    table = silhouettes.merge(planted, on="k", how="left", validate="one_to_one")
    return table.assign(row=run.row, variant=run.variant, gamma=run.gamma, seed=run.seed,
                        test_correlation=metrics["mean"]["single_trial_correlation"],
                        best_val_correlation=metrics["best_val_correlation"],
                        sparsity=readout_sparsity(embeddings.features, settings.weight_threshold),
                        n_neurons=len(embeddings.unit_id))


# ----------------------------------------------------------------------------------------------
# The stage's tables


RUN_COLUMNS = ("row", "variant", "gamma", "seed", "k", "silhouette", "null_gaussian_mean", "null_shuffled_mean",
               "test_correlation", "best_val_correlation", "sparsity")


def _agreement_over(labels: dict[int, ClusterLabels], seeds: list[int], method: str, k: int) -> list[float]:
    return [agreement(labels[a].at(method, k), labels[b].at(method, k))["ari"]
            for a, b in itertools.combinations(seeds, 2)]


def across_seeds(labels: dict[int, ClusterLabels], ok_seeds: list[int], k_values: list[int]) -> pd.DataFrame:
    """Per method and K: ARI over all seed pairs and over the pairs of seeds that did not collapse."""
    rows = []
    for method, k in itertools.product(METHODS, k_values):
        every, ok = _agreement_over(labels, sorted(labels), method, k), _agreement_over(labels, ok_seeds, method, k)
        rows.append({"method": method, "k": k, "n_pairs": len(every), "ari_mean": np.mean(every),
                     "ari_sd": np.std(every, ddof=1) if len(every) > 1 else np.nan,
                     "n_pairs_ok": len(ok), "ari_ok_mean": np.mean(ok) if ok else np.nan})
    return pd.DataFrame(rows)


def summary_table(runs: pd.DataFrame, labels: dict[str, dict[int, ClusterLabels]]) -> pd.DataFrame:
    """Per row, variant (γ) and K: means over seeds of the run measures, the number of collapsed seeds,
    and ARI across seeds for k-means and the GMM (columns ari_<method>_mean/sd/ok_mean)."""
    means = (runs.groupby(["row", "variant", "gamma", "k"], sort=False)
             [["test_correlation", "sparsity", "silhouette", "null_gaussian_mean", "null_shuffled_mean",
               "ari_planted_kmeans", "ari_planted_gmm"]].mean().reset_index())
    counts = runs.groupby(["variant", "k"], sort=False).agg(n_seeds=("seed", "size"), n_collapsed=("collapsed", "sum"))
    table = means.merge(counts.reset_index(), on=["variant", "k"], validate="one_to_one")
    wide = []
    for variant, group in runs.groupby("variant", sort=False):
        ok_seeds = sorted(group.loc[~group["collapsed"], "seed"].unique().tolist())
        agreement_table = across_seeds(labels[variant], ok_seeds, sorted(group["k"].unique().tolist()))
        pivoted = agreement_table.pivot(index="k", columns="method", values=["ari_mean", "ari_sd", "ari_ok_mean"])
        pivoted.columns = [f"ari_{method}_{measure.removeprefix('ari_')}" for measure, method in pivoted.columns]
        wide.append(pivoted.reset_index().assign(variant=variant))
    return table.merge(pd.concat(wide, ignore_index=True), on=["variant", "k"], validate="one_to_one")


def read_runs(paths: list[str | Path]) -> pd.DataFrame:
    """The per-run measure tables of the stage, stacked."""
    return pd.concat([read_table(path, RUN_COLUMNS, ControlError) for path in paths], ignore_index=True)
