"""Snakemake entry point of the in-silico tables: R24 Table 1 (consistency across seeds) and, on
simulated data, the check against the planted neurons. The rule's name picks the table."""
import logging

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin import insilico
from v1twin.files import by_variant, read_table, rule_log, write_table
from v1twin.simulate import load_ground_truth


def consistency(rule):
    correlation = read_table(rule.input.response_correlation, ("variant", "seed_a", "seed_b", "mouse", "correlation"))
    return insilico.consistency_table(by_variant(rule.input.tuning, rule.params.runs), correlation)


def ground_truth(rule):
    truth = {mouse: load_ground_truth(path) for mouse, path in zip(rule.params.mice, rule.input.truth, strict=True)}
    return insilico.ground_truth_check(by_variant(rule.input.tuning, rule.params.runs),
                                       insilico.planted_neuron_table(truth))


TABLES = {"insilico_consistency": consistency, "insilico_ground_truth": ground_truth}

with rule_log(snakemake.log[0]):  # noqa: F821
    rule = snakemake  # noqa: F821
    table = TABLES[rule.rule](rule)
    write_table(rule.output[0], table)
    logging.info("%d rows -> %s\n%s", len(table), rule.output[0], table.to_string())
