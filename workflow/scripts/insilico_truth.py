"""Snakemake entry point of rule insilico_truth: the Gabor search and the tuning experiments of the models,
run on the simulator's own noise-free neurons of one mouse (the ground truth beside every in-silico result)."""

import logging
import time

import torch

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.files import rule_log, write_table
from v1twin.insilico.indices import tuning_indices
from v1twin.insilico.search import optimal_gabor_table
from v1twin.insilico.stimuli import GaborGrid
from v1twin.insilico.true_neurons import true_neuron_probes
from v1twin.insilico.tuning import TuningConfig, save_tuning, tuning_curves


def main(rule) -> None:
    torch.set_num_threads(rule.threads)
    start = time.perf_counter()
    mouse = rule.wildcards.mouse
    probes = true_neuron_probes({mouse: rule.input.truth}, {mouse: rule.input.cache}, rule.params.image_scale)
    grid = GaborGrid.from_config(dict(rule.params.grid))
    optimal = optimal_gabor_table(probes, grid, rule.params.location_stride, rule.params.batch_size)
    write_table(rule.output.optimal, optimal)
    config = TuningConfig.from_config(dict(rule.params.tuning))
    curves = tuning_curves(probes, optimal, config, rule.params.batch_size)
    indices = tuning_indices(curves, config)
    logging.info("mean indices of the true neurons:\n%s", indices.mean().to_string())
    save_tuning(rule.output.tuning, optimal, curves, indices, config)
    logging.info("%d true neurons -> %s in %.1f s", len(optimal), rule.output.tuning, time.perf_counter() - start)


with rule_log(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
