"""Snakemake entry point of rule training_performance: collect every model's test measures into one CSV."""
import logging

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.files import rule_log
from v1twin.model_run import performance_table

with rule_log(snakemake.log[0]):  # noqa: F821
    rule = snakemake  # noqa: F821
    table = performance_table(list(rule.input.metrics), [tuple(run) for run in rule.params.runs])
    table.to_csv(rule.output[0], index=False)
    logging.info("%d rows from %d models -> %s", len(table), len(rule.input.metrics), rule.output[0])
