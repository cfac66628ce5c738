"""Snakemake entry point of rule prune_evaluate_channel: validation correlation with one remaining feature masked."""
import logging

import torch

from v1twin import pruning, training
from v1twin.data import load_training_mice
from v1twin.files import rule_log, write_json


def main(rule) -> None:
    torch.set_num_threads(rule.threads)
    data = load_training_mice(dict(zip(rule.params.mice, rule.input.caches, strict=True)), rule.params.image_scale)
    model = training.load_model(rule.input.model)
    candidate = pruning.evaluate_slot(model, data, int(rule.params.slot))
    logging.info("step %s, slot %s: feature %d masked of %d -> validation correlation %.4f", rule.params.step,
                 rule.params.slot, candidate["feature"], candidate["channels"], candidate["val_correlation"])
    write_json(rule.output[0], {"step": int(rule.params.step), **candidate})


with rule_log(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
