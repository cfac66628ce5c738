"""Snakemake entry point of rule clustering_kmeans_rerun_table: k-means rerun ARI per variant and K (R24 A.4)."""
import logging

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.clustering.agreement import kmeans_rerun_table
from v1twin.files import rule_log, write_table

with rule_log(snakemake.log[0]):  # noqa: F821
    rule = snakemake  # noqa: F821
    seeds = dict(rule.params.seeds)
    table = kmeans_rerun_table(dict(zip(seeds, rule.input.pairs, strict=True)), seeds)
    write_table(rule.output[0], table)
    logging.info("%d rows -> %s", len(table), rule.output[0])
