"""Collapsed runs: a seed whose fit failed, told apart from its seed-mates by its validation correlation.

A comparison across seeds (the ARI of their clusterings, a mean over seeds) that includes a failed fit
measures the failure, not the setting: strong regularization sometimes sends one seed of several to a
poor optimum. The regularization control and the regularization sweeps flag such runs, keep them in
their tables and report them apart (`clustering.collapse_fraction`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def collapsed(values: dict[int, float], fraction: float) -> dict[int, bool]:
    """Per seed: does its best validation correlation fall below `fraction` × the median of its
    seed-mates' (the other seeds of the same variant)? With a single seed nothing can be compared."""
    flags = {}
    for seed, value in values.items():
        others = [other for mate, other in values.items() if mate != seed]
        flags[seed] = bool(others) and value < fraction * float(np.median(others))
    return flags


def flag_collapsed(runs: pd.DataFrame, fraction: float) -> pd.DataFrame:
    """A table of runs (columns variant, seed, best_val_correlation; several rows per run allowed) with a
    `collapsed` column (see `collapsed`), per variant."""
    per_seed = runs.drop_duplicates(["variant", "seed"])
    flags = {}
    for variant, group in per_seed.groupby("variant", sort=False):
        for seed, flag in collapsed(dict(zip(group["seed"], group["best_val_correlation"])), fraction).items():
            flags[(variant, seed)] = flag
    return runs.assign(collapsed=[flags[(v, s)] for v, s in zip(runs["variant"], runs["seed"])])
