"""Snakemake entry point of rule insilico_gabor_search: the optimal Gabor of every neuron of one model.

A killed job resumes from the state file beside its output (params.state); it is removed once the
table is written.
"""
import logging
import time

import torch

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.device import configure_device
from v1twin.files import content_digest, rule_log, write_table
from v1twin.insilico.probes import model_probes
from v1twin.insilico.search import optimal_gabor_table
from v1twin.insilico.stimuli import GaborGrid
from v1twin.model_run import load_run


def main(rule) -> None:
    torch.set_num_threads(rule.threads)
    configure_device(rule.params.device)  # first: `device: cuda` on a node without a GPU fails here
    start = time.perf_counter()
    saved = load_run(rule.input.model)
    grid = GaborGrid.from_config(dict(rule.params.grid))
    logging.info("model %s (%s), %d Gabors, device %s", rule.input.model, saved.mice, len(grid),
                 next(saved.model.parameters()).device)
    table = optimal_gabor_table(
        model_probes(saved), grid, rule.params.location_stride, rule.params.batch_size, state_path=rule.params.state,
        identity={"model": content_digest(rule.input.model)}, checkpoint_seconds=rule.params.checkpoint_seconds)
    write_table(rule.output[0], table)
    logging.info("%d neurons -> %s in %.1f s", len(table), rule.output[0], time.perf_counter() - start)


with rule_log(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
