"""Snakemake entry point of rule training_run: train one variant with one seed on all mice.

The resumable state lives beside model.pt (v1twin.model_run.RunFiles) and is removed once model.pt
is written.
"""
from pathlib import Path

import torch

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin import training
from v1twin.data.simulate import load_ground_truth
from v1twin.data.tensors import load_training_mice
from v1twin.device import configure_device
from v1twin.files import content_digest, rule_log
from v1twin.model_run import RunFiles, train_new_run


def main(rule) -> None:
    torch.set_num_threads(rule.threads)
    configure_device(rule.params.device)  # first: `device: cuda` on a node without a GPU fails here
    names = list(rule.params.mice)
    config = training.TrainingConfig.from_dict(dict(rule.params.training))
    files = RunFiles(Path(rule.output.model), Path(rule.output.history), Path(rule.output.metrics))
    data = load_training_mice(dict(zip(names, rule.input.caches, strict=True)), rule.params.image_scale)
    rates = {name: load_ground_truth(path)["rates"] for name, path in zip(names, rule.input.ground_truth)} or None
    train_new_run(files, dict(rule.params.variant), data, config, seed=int(rule.params.seed),
                  image_scale=rule.params.image_scale, rates=rates,
                  input_digests=[content_digest(cache) for cache in rule.input.caches])


with rule_log(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
