"""Snakemake entry point of rule december_toy: D25's toy example (DEC vs DECEMber, both target readings), as .npz."""
import logging

import torch

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.december.toy import ToySettings, toy_example
from v1twin.files import rule_log, write_npz

with rule_log(snakemake.log[0]):  # noqa: F821
    rule = snakemake  # noqa: F821
    torch.set_num_threads(rule.threads)
    settings = ToySettings(stimuli=rule.params.stimuli, nu=rule.params.nu)
    logging.info("toy example %s", settings)
    write_npz(rule.output[0], toy_example(settings))
