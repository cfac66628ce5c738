"""Snakemake entry point of rule transfer_run: train one run of the transfer experiments (v1twin.transfer)."""
import torch

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin import training
from v1twin.files import rule_log, write_json
from v1twin.transfer import TransferRun, train_run


def main(rule) -> None:
    torch.set_num_threads(rule.threads)
    training.configure_device(rule.params.device)  # first: `device: cuda` on a node without a GPU fails here
    run = TransferRun(**{**rule.params.run, "mice": tuple(rule.params.run["mice"])})
    caches = dict(zip(run.mice, rule.input.caches, strict=True))
    core_model = rule.input.core[0] if rule.input.core else None
    scores = train_run(run, dict(rule.params.settings), caches, rule.params.image_scale,
                       rule.output.model, rule.output.history, core_model)
    write_json(rule.output.metrics, scores)


with rule_log(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
