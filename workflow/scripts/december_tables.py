"""Snakemake entry point of the DECEMber tables; the rule's name picks the table.

Runs arrive as parallel lists: `params.runs` (each a dict of DecemberRun fields) and the files.
"""
import logging

import pandas as pd

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin import december
from v1twin.files import rule_log, write_table


def runs_of(rule) -> list[december.DecemberRun]:
    return [december.DecemberRun(**run) for run in rule.params.runs]


def run_table(rule) -> pd.DataFrame:
    return december.run_table(runs_of(rule), list(rule.input.metrics), list(rule.input.baseline),
                              list(rule.params.baseline_seeds))


def consistency(rule) -> pd.DataFrame:
    table = december.across_seed_table(runs_of(rule), list(rule.input.clusters))
    baseline = pd.read_csv(rule.input.baseline)
    return december.with_baseline(table, baseline, rule.params.variant, list(rule.params.k_values))


def planted_types(rule) -> pd.DataFrame:
    return december.planted_type_table(runs_of(rule), list(rule.input.clusters), list(rule.input.truth),
                                       list(rule.params.mice))


TABLES = {"december_run_table": run_table, "december_consistency": consistency,
          "december_planted_types": planted_types}

with rule_log(snakemake.log[0]):  # noqa: F821
    rule = snakemake  # noqa: F821
    table = TABLES[rule.rule](rule)
    write_table(rule.output[0], table)
    logging.info("%d rows -> %s", len(table), rule.output[0])
