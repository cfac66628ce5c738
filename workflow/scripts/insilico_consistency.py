"""Snakemake entry point of rule insilico_consistency: R24 Table 1, the tuning indices' consistency across seeds."""
import logging

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.files import by_variant, read_table, rule_log, write_table
from v1twin.insilico.consistency import consistency_table

with rule_log(snakemake.log[0]):  # noqa: F821
    rule = snakemake  # noqa: F821
    correlation = read_table(rule.input.response_correlation, ("variant", "seed_a", "seed_b", "mouse", "correlation"))
    table = consistency_table(by_variant(rule.input.tuning, rule.params.runs), correlation)
    write_table(rule.output[0], table)
    logging.info("%d rows -> %s\n%s", len(table), rule.output[0], table.to_string())
