"""Snakemake entry point of rule clustering_adaptive_beta: each neuron's learned β along the adaptive sweep."""
import logging

import torch

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.clustering.sweeps import adaptive_beta_table
from v1twin.data.tensors import load_training_mice
from v1twin.files import rule_log, write_table

with rule_log(snakemake.log[0]):  # noqa: F821
    rule = snakemake  # noqa: F821
    torch.set_num_threads(rule.threads)
    data = load_training_mice(dict(zip(rule.params.mice, rule.input.caches, strict=True)), rule.params.image_scale)
    models = dict(zip(rule.params.variants, rule.input.models, strict=True))
    table = adaptive_beta_table(models, data, list(rule.input.truth))
    write_table(rule.output[0], table)
    logging.info("%d rows -> %s", len(table), rule.output[0])
