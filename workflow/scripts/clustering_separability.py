"""Snakemake entry point of rule clustering_separability: how well each embedding separates the planted types."""
import logging

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.clustering.planted import separability_table
from v1twin.files import by_variant, rule_log, write_table

with rule_log(snakemake.log[0]):  # noqa: F821
    rule = snakemake  # noqa: F821
    embeddings = by_variant(rule.input.embeddings, rule.params.runs)
    table = separability_table(embeddings, list(rule.input.truth), list(rule.params.mice), rule.params.seed)
    write_table(rule.output[0], table)
    logging.info("%d rows -> %s", len(table), rule.output[0])
