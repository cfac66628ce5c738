"""Regularization sweeps (R24 Fig. 3, L25 Fig. 5): ARI across seeds beside performance at every point,
with the points whose seeds include a collapsed run (v1twin.collapsed_runs) counted, and the adaptive
regularizer's learned per-neuron strengths β beside what they might reflect."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from v1twin import metrics
from v1twin.clustering import ClusteringError
from v1twin.clustering.planted import planted_types
from v1twin.collapsed_runs import flag_collapsed
from v1twin.data.tensors import MouseTensors
from v1twin.files import read_table
from v1twin.model_run import check_unit_ids, load_model, performance_table
from v1twin.training import predict


def performance_summary(performance: pd.DataFrame, collapse_fraction: float) -> pd.DataFrame:
    """Per variant: mean and sample sd over seeds of the fraction oracle (the 'mean' rows over mice), the
    number of seeds and how many of them collapsed (`collapsed_runs.collapsed` at `collapse_fraction`)."""
    runs = flag_collapsed(performance[performance["mouse"] == "mean"], collapse_fraction)
    grouped = runs.groupby("variant", sort=False)
    summary = grouped["fraction_oracle"].agg(fraction_oracle_mean="mean", fraction_oracle_sd="std", n_seeds="size")
    summary["n_collapsed"] = grouped["collapsed"].sum()
    return summary.reset_index()


def base_parameter_values(base: dict, parameters: list[str]) -> dict[str, Any]:
    """The value of each swept parameter (e.g. "core.gamma_input") in a resolved variant {core, readout,
    training}, so the base variant takes its place on the sweep's axis.

    The workflow has filled in the schema's defaults, so a value the variant leaves out is read, not re-derived.
    """
    values = {}
    for parameter in parameters:
        section, key = parameter.split(".")
        values[parameter] = base[section][key]
    return values


def sweep_table(across_seeds: pd.DataFrame, performance: pd.DataFrame, sweeps: dict[str, dict],
                collapse_fraction: float) -> pd.DataFrame:
    """ARI across seeds (per method and K) beside the fraction oracle and the collapsed seeds of every
    point of every sweep.

    `sweeps` maps a sweep name to {"base": variant, "base_config": its {core, readout, training},
    "points": {variant: {parameter: value}}} (see config.landscape_sweep). One row per sweep, variant,
    method and K; the sweep's base variant is included with role "base" and its own values of the swept
    parameters. Parameter columns are named by the dotted parameter (e.g. "readout.gamma").
    """
    performance_by_variant = performance_summary(performance, collapse_fraction).set_index("variant")
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
    table = pd.concat(tables, ignore_index=True).astype({"n_seeds": np.int64, "n_collapsed": np.int64})
    leading = ["sweep", "variant", "role"]
    return table[leading + [column for column in table.columns if column not in leading]]


def sweep_table_from_files(
    across_seeds: str | Path, metrics_files: list[str | Path], runs: list[tuple[str, int]], sweeps: dict[str, dict],
    collapse_fraction: float,
) -> pd.DataFrame:
    """`sweep_table` of the across-seeds CSV and the metrics.json of every (variant, seed) run of the sweeps."""
    return sweep_table(
        read_table(across_seeds, ("variant", "method", "k", "n_pairs", "ari_mean", "ari_sd"), ClusteringError),
        performance_table(metrics_files, runs),
        sweeps,
        collapse_fraction,
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
        check_unit_ids(path, data)
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
