"""Snakemake entry point of rule pruning_selection: per-seed pruning curves of a variant and the
channel count kept (R24 A.5)."""

import logging

import pandas as pd

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin import pruning
from v1twin.files import rule_log, write_json, write_table


def main(rule) -> None:
    seeds, steps = list(rule.params.seeds), int(rule.params.steps)
    removals = list(rule.input.removals)
    if len(removals) != len(seeds) * steps:
        raise ValueError(f"expected {steps} step summaries for each of seeds {seeds}, got {len(removals)} files")
    curves = pd.concat(
        [pruning.pruning_curve(seed, removals[i * steps : (i + 1) * steps]) for i, seed in enumerate(seeds)],
        ignore_index=True,
    )
    selection = {"variant": rule.params.variant, **pruning.select_channel_count(curves)}
    logging.info(
        "%s: keep %d of %d features (best %d; threshold %.4f); %.0f%% removed without loss",
        selection["variant"],
        selection["channels"],
        selection["n_features"],
        selection["best_channels"],
        selection["threshold"],
        100 * selection["fraction_removed"],
    )
    write_table(rule.output.curves, curves)
    write_json(rule.output.selection, selection)


with rule_log(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
