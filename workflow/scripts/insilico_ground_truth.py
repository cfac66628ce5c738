"""Snakemake entry point of rule insilico_ground_truth: do the tuning indices recover the planted neurons, and
what does the same protocol give on the simulator's own neurons?"""
import logging

import pandas as pd

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.data.simulate import load_ground_truth
from v1twin.files import read_table, rule_log, write_table
from v1twin.insilico.ground_truth import TRUTH, TRUTH_SEED, ground_truth_check, planted_neuron_table
from v1twin.insilico.search import OPTIMAL_COLUMNS
from v1twin.insilico.stimuli import GaborGrid
from v1twin.insilico.tuning import load_tuning, load_tunings

with rule_log(snakemake.log[0]):  # noqa: F821
    rule = snakemake  # noqa: F821
    runs = [(variant, int(seed)) for variant, seed in rule.params.runs]
    truth = {mouse: load_ground_truth(path) for mouse, path in zip(rule.params.mice, rule.input.truth, strict=True)}
    tuning = {run: load_tuning(path) for run, path in zip(runs, rule.input.tuning, strict=True)}
    optimal = {run: read_table(path, OPTIMAL_COLUMNS) for run, path in zip(runs, rule.input.optimal, strict=True)}
    tuning[(TRUTH, TRUTH_SEED)] = load_tunings(list(rule.input.truth_tuning))
    optimal[(TRUTH, TRUTH_SEED)] = pd.concat([read_table(path, OPTIMAL_COLUMNS) for path in rule.input.truth_optimal],
                                             ignore_index=True)
    grid = GaborGrid.from_config(dict(rule.params.grid))
    table = ground_truth_check(tuning, optimal, planted_neuron_table(truth), grid)
    write_table(rule.output[0], table)
    logging.info("%d rows -> %s\n%s", len(table), rule.output[0], table.to_string())
