"""Snakemake entry point of rule clustering_sweeps: ARI across seeds and performance of every landscape point."""
import logging

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.clustering.sweeps import sweep_table_from_files
from v1twin.files import rule_log, write_table

with rule_log(snakemake.log[0]):  # noqa: F821
    rule = snakemake  # noqa: F821
    runs = [tuple(run) for run in rule.params.runs]
    table = sweep_table_from_files(rule.input.across_seeds, list(rule.input.metrics), runs, dict(rule.params.sweeps),
                                   rule.params.collapse_fraction)
    write_table(rule.output[0], table)
    logging.info("%d rows -> %s", len(table), rule.output[0])
    collapsed = table.drop_duplicates("variant").query("n_collapsed > 0")
    logging.info("points with a collapsed seed: %s", dict(zip(collapsed["variant"], collapsed["n_collapsed"])))
