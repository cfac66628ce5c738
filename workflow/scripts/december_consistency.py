"""Snakemake entry point of rule december_consistency: agreement across seeds of the DECEMber labels (and
of their k-means starts), beside k-means and GMM of the base variant trained without the loss."""
import pandas as pd

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.december.plan import DecemberRun
from v1twin.december.tables import across_seed_table, with_baseline
from v1twin.files import rule_log, write_table

with rule_log(snakemake.log[0]):  # noqa: F821
    rule = snakemake  # noqa: F821
    table = across_seed_table([DecemberRun(**run) for run in rule.params.runs], list(rule.input.clusters))
    baseline = pd.read_csv(rule.input.baseline)
    write_table(rule.output[0], with_baseline(table, baseline, rule.params.variant, list(rule.params.k_values)))
