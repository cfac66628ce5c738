"""Snakemake entry point of rule december_run_table: every DECEMber run's β (ratio × initial model loss),
test measures and EM overhead, beside the converged baseline models of its variants."""
import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.december.plan import DecemberRun
from v1twin.december.tables import run_table
from v1twin.files import rule_log, write_table

with rule_log(snakemake.log[0]):  # noqa: F821
    rule = snakemake  # noqa: F821
    runs = [DecemberRun(**run) for run in rule.params.runs]
    baselines = [(variant, seed, path) for (variant, seed), path
                 in zip(rule.params.baseline_runs, rule.input.baseline, strict=True)]
    write_table(rule.output[0], run_table(runs, list(rule.input.metrics), baselines))
