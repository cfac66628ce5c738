"""Snakemake entry point of rule regularization_control_table: the per-run measures with collapsed runs
flagged, and per row, gamma and K their means and ARI across seeds."""
import logging

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.clustering.labels import load_labels
from v1twin.collapsed_runs import flag_collapsed
from v1twin.files import rule_log, write_table
from v1twin.regularization_control import ControlRun, read_runs, summary_table

with rule_log(snakemake.log[0]):  # noqa: F821
    rule = snakemake  # noqa: F821
    plan = [ControlRun(**run) for run in rule.params.runs]
    runs = flag_collapsed(read_runs(list(rule.input.measures)), rule.params.collapse_fraction)
    labels = {}
    for run, path in zip(plan, rule.input.labels, strict=True):
        labels.setdefault(run.variant, {})[run.seed] = load_labels(path)
    write_table(rule.output.runs, runs)
    summary = summary_table(runs, labels)
    write_table(rule.output.summary, summary)
    flagged = runs.drop_duplicates(["variant", "seed"]).query("collapsed")
    logging.info("%d runs, collapsed: %s", len(plan), flagged[["variant", "seed"]].to_dict("records"))
