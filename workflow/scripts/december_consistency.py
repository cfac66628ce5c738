"""Snakemake entry point of rule december_consistency: agreement across seeds of the DECEMber labels (and
of their k-means starts), and D25 Figs. 4-6's table: DECEMber vs the converged GMM and k-means."""
import pandas as pd

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.december.baseline import load_baseline
from v1twin.december.plan import DecemberRun
from v1twin.december.tables import across_seed_table, vs_baseline_table
from v1twin.files import rule_log, write_table

with rule_log(snakemake.log[0]):  # noqa: F821
    rule = snakemake  # noqa: F821
    across = across_seed_table([DecemberRun(**run) for run in rule.params.runs], list(rule.input.clusters))
    write_table(rule.output.across, across)
    runs = pd.read_csv(rule.input.runs)
    write_table(rule.output.vs_baseline,
                vs_baseline_table(across, runs, load_baseline(rule.input.baseline), rule.params.variant))
