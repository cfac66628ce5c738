"""DECEMber's tables: its runs beside the converged baseline, agreement across seeds against the converged
GMM and k-means (D25 Figs. 4-6), and the retina-style check against planted types (D25 Fig. 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, confusion_matrix

from v1twin.clustering.agreement import AGREEMENT_MEASURES, agreement, summarize
from v1twin.clustering.planted import load_truths, truth_columns
from v1twin.december import DecemberError
from v1twin.december.baseline import BASELINE_METHODS, BaselineLabels, seed_pairs
from v1twin.december.clusters import DecemberClusters, load_clusters
from v1twin.december.plan import DecemberRun
from v1twin.model_run import read_metrics

DECEMBER_METHOD = "december"
INITIAL_METHOD = "december_init"  # the k-means partition a DECEMber run started from
VS_BASELINE_METHODS = (DECEMBER_METHOD, INITIAL_METHOD, *BASELINE_METHODS)
CORRELATION = "test_single_trial_correlation"  # the test measure the tables report as test_correlation
SETTING_KEYS = ("variant", "pe", "k", "beta_ratio", "lr")


def _metrics_row(path: str | Path) -> dict[str, Any]:
    """The run-level numbers of a metrics.json and its test measures (mean over mice) as test_<measure>."""
    content = read_metrics(path)
    measures = {f"test_{key}": value for key, value in content["mean"].items() if not key.startswith("n_")}
    scalars = {key: value for key, value in content.items() if not isinstance(value, (dict, list))}
    return {**scalars, **measures}


def run_table(
    runs: list[DecemberRun], metrics_files: list[str | Path], baselines: list[tuple[str, int, str | Path]]
) -> pd.DataFrame:
    """One row per DECEMber run (model 'DECEMber': settings, β, the ratio and the initial model loss it came
    from, test measures, timings) and per converged baseline model (model 'baseline': (variant, seed, metrics))."""
    rows = [{"model": "DECEMber", **_metrics_row(path), **run.row()}
            for run, path in zip(runs, metrics_files, strict=True)]
    rows += [{"model": "baseline", "variant": variant, "seed": seed, **_metrics_row(path)}
             for variant, seed, path in baselines]
    return pd.DataFrame(rows).astype({"pe": "Int64", "k": "Int64"})  # empty on the baseline rows


def _settings_of(runs: list[DecemberRun]) -> dict[tuple, dict[int, int]]:
    """Run index per seed, grouped by everything but the seed."""
    groups: dict[tuple, dict[int, int]] = {}
    for index, run in enumerate(runs):
        groups.setdefault(tuple(getattr(run, key) for key in SETTING_KEYS), {})[run.seed] = index
    return groups


def _check_same_neurons(clusters: dict[int, DecemberClusters], what: str) -> None:
    first = next(iter(clusters.values()))
    for seed, other in clusters.items():
        if not (np.array_equal(first.mouse, other.mouse) and np.array_equal(first.unit_id, other.unit_id)):
            raise DecemberError(f"DECEMber clusters of seed {seed} ({what}) differ in neurons from the first seed's")


def across_seed_table(runs: list[DecemberRun], clusters_files: list[str | Path]) -> pd.DataFrame:
    """Per setting with at least 2 seeds: ARI, FMI, V-measure over seed pairs (mean, sd) of the DECEMber
    labels (method 'december') and of the k-means partitions the runs started from ('december_init')."""
    tables = []
    for setting, seeds in _settings_of(runs).items():
        if len(seeds) < 2:
            continue
        clusters = {seed: load_clusters(clusters_files[index]) for seed, index in seeds.items()}
        _check_same_neurons(clusters, str(setting))
        pairs = seed_pairs(clusters)
        for method, field in ((DECEMBER_METHOD, "labels"), (INITIAL_METHOD, "initial_labels")):
            rows = [{"seed_a": a, "seed_b": b, **agreement(getattr(clusters[a], field), getattr(clusters[b], field))}
                    for a, b in pairs]
            summary = summarize(pd.DataFrame(rows).assign(k=setting[2]), ["k"], AGREEMENT_MEASURES)
            tables.append(summary.assign(method=method, **dict(zip(SETTING_KEYS, setting))))
    if not tables:
        raise DecemberError("no DECEMber setting has two seeds to compare")
    return pd.concat(tables, ignore_index=True)


def baseline_agreement(baseline: BaselineLabels, keep: np.ndarray | None = None) -> pd.DataFrame:
    """ARI, FMI, V-measure over seed pairs (mean, sd) per method and K of the converged baseline's labels
    (of the neurons in `keep`, all by default)."""
    rows = []
    for method in BASELINE_METHODS:
        for k in baseline.k_values:
            for a, b in seed_pairs(baseline.seeds):
                labels_a, labels_b = baseline.at(method, int(k), a), baseline.at(method, int(k), b)
                if keep is not None:
                    labels_a, labels_b = labels_a[keep], labels_b[keep]
                rows.append({"method": method, "k": int(k), **agreement(labels_a, labels_b)})
    if not rows:
        raise DecemberError(f"the converged baseline has {len(baseline.seeds)} seed(s): no pair to compare")
    return summarize(pd.DataFrame(rows), ["method", "k"], AGREEMENT_MEASURES)


VS_COLUMNS = ["variant", "method", "k", "beta_ratio", "beta", "pe", "lr", "n_pairs",
              *[f"{m}_{s}" for m in AGREEMENT_MEASURES for s in ("mean", "sd")], "test_correlation"]


def vs_baseline_table(across: pd.DataFrame, run_rows: pd.DataFrame, baseline: BaselineLabels,
                      variant: str) -> pd.DataFrame:
    """D25 Figs. 4-6 as one table: per DECEMber setting of `variant` (method 'december') its agreement
    across seed pairs, its mean β over seeds and mean test correlation, and the agreement of the k-means
    partitions those runs started from ('december_init', the control without the loss: no β or test
    correlation of its own); per K the converged GMM and k-means ('gmm_converged', 'kmeans_converged': no
    β, PE or lr) with the baseline models' mean test correlation."""
    ours = across[across["method"].isin([DECEMBER_METHOD, INITIAL_METHOD]) & (across["variant"] == variant)]
    runs = run_rows[(run_rows["model"] == "DECEMber") & (run_rows["variant"] == variant)]
    means = runs.groupby(["pe", "k", "beta_ratio", "lr"])[["beta", CORRELATION]].mean().reset_index()
    means["k"] = means["k"].astype(int)
    ours = ours.merge(means.rename(columns={CORRELATION: "test_correlation"}), on=["pe", "k", "beta_ratio", "lr"],
                      how="left", validate="many_to_one")
    ours.loc[ours["method"] == INITIAL_METHOD, ["beta", "test_correlation"]] = np.nan
    theirs = baseline_agreement(baseline)
    models = run_rows[(run_rows["model"] == "baseline") & (run_rows["variant"] == variant)]
    theirs = theirs.assign(variant=variant, test_correlation=models[CORRELATION].mean())
    return pd.concat([ours, theirs], ignore_index=True).reindex(columns=VS_COLUMNS)


# ----------------------------------------------------------------------------------------------
# The retina-style check: planted types, labelled cells only


def planted_labels(truth_files: list[str | Path], mice: list[str], mouse_column: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Planted type and labelled flag of every row (mice in order), and the type names."""
    truths = load_truths(truth_files, mice)
    columns = truth_columns(truths, mouse_column, ("cell_type", "labelled"), truth_files)
    names = [str(name) for name in next(iter(truths.values()))["type_names"]]
    return columns["cell_type"].astype(np.int64), columns["labelled"].astype(bool), names


def matched_confusion(truth: np.ndarray, labels: np.ndarray, types: list[int], k: int) -> np.ndarray:
    """Counts (len(types) × max(k, len(types))): rows the planted `types`, columns the clusters reordered to
    best match them (Hungarian on the counts), unmatched clusters after."""
    columns = max(k, len(types))
    counts = confusion_matrix(truth, labels, labels=np.arange(max(columns, max(types) + 1)))[types][:, :columns]
    _, order = linear_sum_assignment(-counts)
    order = np.concatenate([order, np.setdiff1d(np.arange(columns), order)])
    return counts[:, order]


def _sd(values: list[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")


def retina_tables(runs: list[DecemberRun], clusters_files: list[str | Path], metrics_files: list[str | Path],
                  baseline: BaselineLabels, baseline_metrics: list[str | Path], truth_files: list[str | Path]
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """D25 Fig. 3 on the simulated stand-in, labelled cells only. First table: per method (DECEMber, the
    converged GMM and k-means) at the check's K the ARI across seed pairs and with the planted types (mean,
    sd over seeds), mean test correlation, β. Second: DECEMber's confusion counts per seed (seed, type,
    cluster in matched order, count)."""
    if not runs:
        raise DecemberError("the retina-style check has no DECEMber runs")
    k = runs[0].k
    clusters = {run.seed: load_clusters(path) for run, path in zip(runs, clusters_files, strict=True)}
    _check_same_neurons(clusters, "retina-style check")
    first = next(iter(clusters.values()))
    if not (np.array_equal(first.mouse, baseline.mouse) and np.array_equal(first.unit_id, baseline.unit_id)):
        raise DecemberError("the DECEMber runs and the converged baseline of the retina-style check differ in neurons")
    cell_type, labelled, names = planted_labels(truth_files, runs[0].mice, first.mouse)
    labelled_types = sorted(set(cell_type[labelled].tolist()))
    partitions = {DECEMBER_METHOD: {seed: c.labels for seed, c in clusters.items()}}
    partitions.update({m: {int(s): baseline.at(m, k, int(s)) for s in baseline.seeds} for m in BASELINE_METHODS})
    metrics = [_metrics_row(path) for path in metrics_files]
    correlation = {DECEMBER_METHOD: np.mean([row[CORRELATION] for row in metrics])}
    correlation.update({m: np.mean([_metrics_row(path)[CORRELATION] for path in baseline_metrics])
                        for m in BASELINE_METHODS})
    rows = []
    for method, by_seed in partitions.items():
        across = [adjusted_rand_score(by_seed[a][labelled], by_seed[b][labelled]) for a, b in seed_pairs(by_seed)]
        truth = [adjusted_rand_score(cell_type[labelled], labels[labelled]) for labels in by_seed.values()]
        rows.append({"variant": runs[0].variant, "method": method, "k": k, "pe": runs[0].pe,
                     "beta_ratio": runs[0].beta_ratio if method == DECEMBER_METHOD else np.nan,
                     "beta": np.mean([row["beta"] for row in metrics]) if method == DECEMBER_METHOD else np.nan,
                     "n_labelled": int(labelled.sum()), "n_seeds": len(by_seed), "n_pairs": len(across),
                     "ari_mean": np.mean(across), "ari_sd": _sd(across),
                     "ari_truth_mean": np.mean(truth), "ari_truth_sd": _sd(truth),
                     "test_correlation": correlation[method]})
    confusion = []
    for seed, labels in partitions[DECEMBER_METHOD].items():
        counts = matched_confusion(cell_type[labelled], labels[labelled], labelled_types, k)
        confusion += [{"seed": seed, "type": names[t], "cluster": c, "count": int(counts[i, c])}
                      for i, t in enumerate(labelled_types) for c in range(counts.shape[1])]
    return pd.DataFrame(rows), pd.DataFrame(confusion)
