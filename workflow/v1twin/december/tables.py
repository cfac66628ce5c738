"""DECEMber's tables: its runs beside the baseline, agreement across seeds, agreement with planted types."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from v1twin.clustering.agreement import AGREEMENT_MEASURES, agreement, summarize
from v1twin.clustering.planted import planted_types
from v1twin.december import DecemberError
from v1twin.december.clusters import load_clusters
from v1twin.december.plan import DecemberRun
from v1twin.model_run import read_metrics

DECEMBER_METHOD = "december"
INITIAL_METHOD = "december_init"  # the k-means partition a DECEMber run started from


def _metrics_row(path: str | Path) -> dict[str, Any]:
    """The run-level numbers of a metrics.json and its test measures (mean over mice) as test_<measure>."""
    content = read_metrics(path)
    measures = {f"test_{key}": value for key, value in content["mean"].items() if not key.startswith("n_")}
    scalars = {key: value for key, value in content.items() if not isinstance(value, (dict, list))}
    return {**scalars, **measures}


def run_table(
    runs: list[DecemberRun],
    metrics_files: list[str | Path],
    baseline_files: list[str | Path],
    baseline_seeds: list[int],
) -> pd.DataFrame:
    """One row per DECEMber run (model 'DECEMber') and per seed of the base variant trained without
    the loss (model 'baseline'): settings, test measures and timings."""
    rows = [{"model": "DECEMber", **run.row(), **_metrics_row(path)}
            for run, path in zip(runs, metrics_files, strict=True)]
    rows += [{"model": "baseline", "variant": runs[0].variant, "seed": seed, **_metrics_row(path)}
             for seed, path in zip(baseline_seeds, baseline_files, strict=True)]
    return pd.DataFrame(rows).astype({"pe": "Int64", "k": "Int64"})  # empty on the baseline rows


def _settings_of(runs: list[DecemberRun]) -> dict[tuple, dict[int, int]]:
    """Run index per seed, grouped by everything but the seed."""
    groups: dict[tuple, dict[int, int]] = {}
    for index, run in enumerate(runs):
        groups.setdefault((run.variant, run.pe, run.k, run.beta, run.lr), {})[run.seed] = index
    return groups


def across_seed_table(runs: list[DecemberRun], clusters_files: list[str | Path]) -> pd.DataFrame:
    """Per setting with at least 2 seeds: ARI, FMI, V-measure over seed pairs (mean, sd) of the DECEMber
    labels (method 'december') and of the k-means partitions the runs started from ('december_init')."""
    tables = []
    for (variant, pe, k, beta, lr), seeds in _settings_of(runs).items():
        if len(seeds) < 2:
            continue
        clusters = {seed: load_clusters(clusters_files[index]) for seed, index in seeds.items()}
        pairs = list(itertools.combinations(clusters, 2))
        for seed_a, seed_b in pairs:
            a, b = clusters[seed_a], clusters[seed_b]
            if not (np.array_equal(a.mouse, b.mouse) and np.array_equal(a.unit_id, b.unit_id)):
                raise DecemberError(f"DECEMber clusters of seeds {seed_a} and {seed_b} ({variant}, {pe}, {k}) "
                                    f"differ in neurons")
        for method, field in ((DECEMBER_METHOD, "labels"), (INITIAL_METHOD, "initial_labels")):
            rows = [{"seed_a": a, "seed_b": b, **agreement(getattr(clusters[a], field), getattr(clusters[b], field))}
                    for a, b in pairs]
            summary = summarize(pd.DataFrame(rows).assign(k=k), ["k"], AGREEMENT_MEASURES)
            tables.append(summary.assign(method=method, variant=variant, pe=pe, beta=beta, lr=lr))
    if not tables:
        raise DecemberError("no DECEMber setting has two seeds to compare")
    return pd.concat(tables, ignore_index=True)


def with_baseline(
    december: pd.DataFrame, baseline_table: pd.DataFrame, variant: str, k_values: list[int]
) -> pd.DataFrame:
    """The DECEMber rows beside the k-means and GMM rows of the same variant (trained without the loss) at
    `k_values`."""
    baseline = baseline_table[(baseline_table["variant"] == variant) & baseline_table["k"].isin(k_values)]
    missing = sorted(set(k_values) - set(baseline["k"]))
    if missing:
        raise DecemberError(f"the consistency table has no rows of variant {variant} at K = {missing}; "
                            f"december.k_values must be among clustering.k_values")
    columns = ["method", "variant", "pe", "beta", "lr", "k", "n_pairs",
               *[f"{m}_{s}" for m in AGREEMENT_MEASURES for s in ("mean", "sd")]]
    return pd.concat([december, baseline], ignore_index=True).reindex(columns=columns)


def planted_type_table(
    runs: list[DecemberRun], clusters_files: list[str | Path], truth_files: list[str | Path], mice: list[str]
) -> pd.DataFrame:
    """ARI with the simulator's planted types of every run's labels and of the k-means partition it started from."""
    rows, truth = [], None
    for run, path in zip(runs, clusters_files, strict=True):
        clusters = load_clusters(path)
        if truth is None:
            truth = planted_types(truth_files, mice, clusters.mouse)
        rows.append({**run.row(), "ari": adjusted_rand_score(truth, clusters.labels),
                     "ari_initial": adjusted_rand_score(truth, clusters.initial_labels)})
    return pd.DataFrame(rows)
