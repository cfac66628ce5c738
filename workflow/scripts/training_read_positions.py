"""Snakemake entry point of rule training_read_positions: Gaussian read positions against the true RF centres."""

import logging

import torch

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.files import by_variant, rule_log, write_table
from v1twin.read_positions import load_simulated_mice, read_position_tables

with rule_log(snakemake.log[0]):  # noqa: F821
    rule = snakemake  # noqa: F821
    torch.set_num_threads(1)
    mice = load_simulated_mice(
        dict(zip(rule.params.mice, rule.input.caches, strict=True)),
        dict(zip(rule.params.mice, rule.input.truth, strict=True)),
        rule.params.image_scale,
    )
    summary, neurons = read_position_tables(by_variant(rule.input.models, rule.params.runs), mice)
    write_table(rule.output.table, summary)
    write_table(rule.output.neurons, neurons)
    logging.info(
        "%d models x mice, %d neurons -> %s, %s", len(summary), len(neurons), rule.output.table, rule.output.neurons
    )
