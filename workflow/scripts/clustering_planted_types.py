"""Snakemake entry point of rule clustering_planted_types: ARI of every seed's clustering with the planted types."""
import logging

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.clustering.planted import planted_type_table
from v1twin.files import by_variant, rule_log, write_table

with rule_log(snakemake.log[0]):  # noqa: F821
    rule = snakemake  # noqa: F821
    labels = by_variant(rule.input.labels, rule.params.runs)
    table = planted_type_table(labels, list(rule.input.truth), list(rule.params.mice))
    write_table(rule.output[0], table)
    logging.info("%d rows -> %s", len(table), rule.output[0])
