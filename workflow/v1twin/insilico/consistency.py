"""Consistency of the tuning indices across seeds (R24 Table 1): NMAE of every index per seed pair."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from v1twin.insilico import InSilicoError
from v1twin.insilico.tuning import INDEX_NAMES, load_tuning


def mean_absolute_deviation(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64)
    return float(np.abs(values - values.mean()).mean())


def nmae(a: np.ndarray, b: np.ndarray) -> float:
    """mean_n |a_n − b_n| / (½(MAD(a) + MAD(b))): 0 for identical fits, about √2 for unrelated ones.

    Neurons where either value is undefined (NaN) are left out.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"NMAE compares the same neurons; got {a.shape} and {b.shape}")
    defined = np.isfinite(a) & np.isfinite(b)
    a, b = a[defined], b[defined]
    scale = (mean_absolute_deviation(a) + mean_absolute_deviation(b)) / 2
    if not a.size or scale == 0:
        return 0.0 if a.size and np.array_equal(a, b) else float("nan")
    return float(np.abs(a - b).mean() / scale)


def _same_neurons(tuning: dict[int, dict[str, np.ndarray]], files: dict[int, Any]) -> None:
    first_seed = next(iter(tuning))
    reference = tuning[first_seed]
    for seed, content in tuning.items():
        if not (np.array_equal(content["mouse"], reference["mouse"])
                and np.array_equal(content["unit_id"], reference["unit_id"])):
            raise InSilicoError(f"{files[seed]} and {files[first_seed]} describe different neurons")


def index_nmae_pairs(tuning_files: dict[str, dict[int, str | Path]]) -> pd.DataFrame:
    """NMAE of every index for every variant and seed pair."""
    rows = []
    for variant, files in tuning_files.items():
        tuning = {seed: load_tuning(path) for seed, path in files.items()}
        _same_neurons(tuning, files)
        for seed_a, seed_b in itertools.combinations(sorted(tuning), 2):
            row = {"variant": variant, "seed_a": seed_a, "seed_b": seed_b}
            for column, index in INDEX_NAMES.items():
                row[f"nmae_{column}"] = nmae(tuning[seed_a][index], tuning[seed_b][index])
            rows.append(row)
    return pd.DataFrame(rows, columns=["variant", "seed_a", "seed_b", *(f"nmae_{c}" for c in INDEX_NAMES)])


def consistency_table(tuning_files: dict[str, dict[int, str | Path]], response_correlation: pd.DataFrame,
                      ) -> pd.DataFrame:
    """R24 Table 1: per variant, the response correlation across seeds and the NMAE of each index,
    each the mean over seed pairs (with its sd; the pair count in n_pairs)."""
    pairs = index_nmae_pairs(tuning_files)
    pooled = response_correlation[response_correlation["mouse"].astype(str) == "all"]
    correlation = pooled.groupby("variant")["correlation"]
    columns = [f"nmae_{column}" for column in INDEX_NAMES]
    summary = pairs.groupby("variant", sort=False)[columns].agg(["mean", "std"])
    summary.columns = [name if statistic == "mean" else f"{name}_std" for name, statistic in summary.columns]
    summary.insert(0, "response_correlation", correlation.mean())
    summary.insert(1, "response_correlation_std", correlation.std())
    summary.insert(0, "n_pairs", pairs.groupby("variant", sort=False).size())
    missing = summary.index[summary["response_correlation"].isna()].tolist()
    if missing:
        raise InSilicoError(f"the response-correlation table has no pooled ('all') rows for {missing}")
    return summary.reset_index().rename(columns={"index": "variant"})
