"""Snakemake entry point of rule december_planted_types: ARI of every DECEMber run's labels (and of its
k-means start) with the simulator's planted types."""
import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.december.plan import DecemberRun
from v1twin.december.tables import planted_type_table
from v1twin.files import rule_log, write_table

with rule_log(snakemake.log[0]):  # noqa: F821
    rule = snakemake  # noqa: F821
    runs = [DecemberRun(**run) for run in rule.params.runs]
    write_table(rule.output[0], planted_type_table(runs, list(rule.input.clusters), list(rule.input.truth),
                                                   list(rule.params.mice)))
