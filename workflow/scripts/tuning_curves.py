"""Snakemake entry point of rule tuning_curves: tuning experiments from each neuron's optimal Gabor.

A killed job resumes from the state file beside its output (params.state).
"""
import logging
import time

import torch

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin import insilico, training
from v1twin.files import content_digest, read_table, rule_log


def main(rule) -> None:
    torch.set_num_threads(rule.threads)
    training.configure_device(rule.params.device)  # first: `device: cuda` on a node without a GPU fails here
    start = time.perf_counter()
    saved = insilico.SavedModel.load(rule.input.model)
    optimal = read_table(rule.input.optimal, insilico.OPTIMAL_COLUMNS).astype({"mouse": str})
    config = insilico.TuningConfig.from_config(dict(rule.params.tuning))
    identity = {"model": content_digest(rule.input.model), "optimal": content_digest(rule.input.optimal)}
    curves = insilico.tuning_curves(saved, optimal, config, rule.params.batch_size, state_path=rule.params.state,
                                    identity=identity, checkpoint_seconds=rule.params.checkpoint_seconds)
    indices = insilico.tuning_indices(curves, config)
    logging.info("mean indices:\n%s", indices.mean().to_string())
    insilico.save_tuning(rule.output[0], optimal, curves, indices, config)
    logging.info("%d neurons -> %s in %.1f s", len(optimal), rule.output[0], time.perf_counter() - start)


with rule_log(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
