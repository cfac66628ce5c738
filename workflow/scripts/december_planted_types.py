"""Snakemake entry point of rule december_planted_types: the retina-style check (D25 Fig. 3) on the simulated
stand-in: DECEMber vs the converged GMM and k-means (ARI across seeds and with the planted types, labelled
cells only), and DECEMber's confusion counts against the planted labels."""
import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.december.baseline import load_baseline
from v1twin.december.plan import DecemberRun
from v1twin.december.tables import retina_tables
from v1twin.files import rule_log, write_table

with rule_log(snakemake.log[0]):  # noqa: F821
    rule = snakemake  # noqa: F821
    runs = [DecemberRun(**run) for run in rule.params.runs]
    table, confusion = retina_tables(runs, list(rule.input.clusters), list(rule.input.metrics),
                                     load_baseline(rule.input.baseline), list(rule.input.baseline_metrics),
                                     list(rule.input.truth))
    write_table(rule.output.table, table)
    write_table(rule.output.confusion, confusion)
