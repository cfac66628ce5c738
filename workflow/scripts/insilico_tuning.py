"""Snakemake entry point of rule insilico_tuning: tuning experiments from each neuron's optimal Gabor.

A killed job resumes from the state file beside its output (params.state).
"""
import logging
import time

import torch

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.device import configure_device
from v1twin.files import content_digest, read_table, rule_log
from v1twin.insilico.indices import tuning_indices
from v1twin.insilico.probes import model_probes
from v1twin.insilico.search import OPTIMAL_COLUMNS
from v1twin.insilico.tuning import TuningConfig, save_tuning, tuning_curves
from v1twin.model_run import load_run


def main(rule) -> None:
    torch.set_num_threads(rule.threads)
    configure_device(rule.params.device)  # first: `device: cuda` on a node without a GPU fails here
    start = time.perf_counter()
    saved = load_run(rule.input.model)
    optimal = read_table(rule.input.optimal, OPTIMAL_COLUMNS).astype({"mouse": str})
    config = TuningConfig.from_config(dict(rule.params.tuning))
    identity = {"model": content_digest(rule.input.model), "optimal": content_digest(rule.input.optimal)}
    curves = tuning_curves(model_probes(saved), optimal, config, rule.params.batch_size, state_path=rule.params.state,
                           identity=identity, checkpoint_seconds=rule.params.checkpoint_seconds)
    indices = tuning_indices(curves, config)
    logging.info("mean indices:\n%s", indices.mean().to_string())
    save_tuning(rule.output[0], optimal, curves, indices, config)
    logging.info("%d neurons -> %s in %.1f s", len(optimal), rule.output[0], time.perf_counter() - start)


with rule_log(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
