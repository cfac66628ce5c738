"""Snakemake entry point of rule transfer_table: one row per point of the transfer plan (v1twin.transfer)."""

import logging

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.files import rule_log, write_table
from v1twin.transfer import plan_runs, transfer_table

with rule_log(snakemake.log[0]):  # noqa: F821
    rule = snakemake  # noqa: F821
    plan = plan_runs(dict(rule.params.settings))
    table = transfer_table(dict(zip(rule.params.runs, rule.input.metrics, strict=True)), plan)
    write_table(rule.output[0], table)
    logging.info("%d points of %d runs -> %s", len(table), len(plan.runs), rule.output[0])
