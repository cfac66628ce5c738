"""Snakemake entry point of rule december_pretrain: the base variant trained for PE epochs without the
clustering loss (D25's pretraining), shared by every DECEMber run of that PE and seed."""
from pathlib import Path

import torch

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.data.simulate import load_ground_truth
from v1twin.data.tensors import load_training_mice
from v1twin.december.plan import PretrainRun
from v1twin.device import configure_device
from v1twin.files import content_digest, rule_log
from v1twin.model_run import RunFiles, train_new_run
from v1twin.training import TrainingConfig


def main(rule) -> None:
    torch.set_num_threads(rule.threads)
    configure_device(rule.params.device)  # first: `device: cuda` on a node without a GPU fails here
    run, names = PretrainRun(**rule.params.run), list(rule.params.mice)
    data = load_training_mice(dict(zip(names, rule.input.caches, strict=True)), rule.params.image_scale)
    rates = {name: load_ground_truth(path)["rates"] for name, path in zip(names, rule.input.ground_truth)} or None
    train_new_run(RunFiles(Path(rule.output.model), Path(rule.output.history), Path(rule.output.metrics)),
                  run.model, data, TrainingConfig.from_dict(run.training), seed=run.seed,
                  image_scale=rule.params.image_scale, rates=rates,
                  input_digests=[content_digest(cache) for cache in rule.input.caches])


with rule_log(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
