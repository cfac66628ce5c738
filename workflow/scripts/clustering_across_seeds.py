"""Snakemake entry point of rule clustering_across_seeds: agreement of the clusterings across seed pairs."""
import logging

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.clustering.agreement import across_seed_table
from v1twin.files import by_variant, rule_log, write_table

with rule_log(snakemake.log[0]):  # noqa: F821
    rule = snakemake  # noqa: F821
    table = across_seed_table(by_variant(rule.input.labels, rule.params.runs))
    write_table(rule.output[0], table)
    logging.info("%d rows -> %s", len(table), rule.output[0])
