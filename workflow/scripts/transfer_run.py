"""Snakemake entry point of rule transfer_run: train one run of the transfer experiments (v1twin.transfer)."""

from pathlib import Path

import torch

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.device import configure_device
from v1twin.files import rule_log
from v1twin.model_run import RunFiles
from v1twin.transfer import TransferRun, train_run


def main(rule) -> None:
    torch.set_num_threads(rule.threads)
    configure_device(rule.params.device)  # first: `device: cuda` on a node without a GPU fails here
    run = TransferRun.from_dict(rule.params.run)
    caches = dict(zip(run.mice, rule.input.caches, strict=True))
    core_model = rule.input.core[0] if rule.input.core else None
    files = RunFiles(Path(rule.output.model), Path(rule.output.history), Path(rule.output.metrics))
    train_run(run, dict(rule.params.settings), caches, rule.params.image_scale, files, core_model)


with rule_log(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
