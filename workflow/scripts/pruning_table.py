"""Snakemake entry point of rule pruning_table: every pruned variant's curves in one table (R24 Fig. 4A),
and its trained, pruned and fine-tuned-only (matched-budget control) models side by side."""

import logging

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin import pruning
from v1twin.files import rule_log, write_table

with rule_log(snakemake.log[0]):  # noqa: F821
    rule = snakemake  # noqa: F821
    variants = list(rule.params.variants)
    curves = dict(zip(variants, rule.input.curves, strict=True))
    selections = {v: pruning.read_selection(path) for v, path in zip(variants, rule.input.selections, strict=True)}
    table = pruning.curves_table(curves, selections)
    write_table(rule.output.curves, table)
    models = pruning.models_table(
        [tuple(run) for run in rule.params.runs], rule.input.trained, rule.input.pruned, rule.input.finetuned
    )
    write_table(rule.output.models, models)
    logging.info("%d rows -> %s; %d rows -> %s", len(table), rule.output.curves, len(models), rule.output.models)
