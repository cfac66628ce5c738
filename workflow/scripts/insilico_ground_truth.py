"""Snakemake entry point of rule insilico_ground_truth: do the tuning indices recover the planted neurons?"""
import logging

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.data.simulate import load_ground_truth
from v1twin.files import by_variant, rule_log, write_table
from v1twin.insilico.ground_truth import ground_truth_check, planted_neuron_table

with rule_log(snakemake.log[0]):  # noqa: F821
    rule = snakemake  # noqa: F821
    truth = {mouse: load_ground_truth(path) for mouse, path in zip(rule.params.mice, rule.input.truth, strict=True)}
    table = ground_truth_check(by_variant(rule.input.tuning, rule.params.runs), planted_neuron_table(truth))
    write_table(rule.output[0], table)
    logging.info("%d rows -> %s\n%s", len(table), rule.output[0], table.to_string())
