"""Snakemake entry point of rule clustering_response_correlation: correlation of two seeds' test predictions."""
import logging

import torch

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.clustering.responses import response_correlation_table
from v1twin.data.tensors import load_training_mice
from v1twin.files import by_variant, rule_log, write_table

with rule_log(snakemake.log[0]):  # noqa: F821
    rule = snakemake  # noqa: F821
    torch.set_num_threads(rule.threads)
    data = load_training_mice(dict(zip(rule.params.mice, rule.input.caches, strict=True)), rule.params.image_scale)
    table = response_correlation_table(by_variant(rule.input.models, rule.params.runs), data)
    write_table(rule.output[0], table)
    logging.info("%d rows -> %s", len(table), rule.output[0])
