"""Snakemake entry point of rule december_pretrain: D25's pretraining as the first PE epochs of the
converged baseline run of the same variant and seed (a replay; v1twin.december.pretrain), shared by
every DECEMber run of that PE and seed."""
from pathlib import Path

import torch

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.data.simulate import load_ground_truth
from v1twin.data.tensors import load_training_mice
from v1twin.december.plan import PretrainRun
from v1twin.december.pretrain import read_history, replay_pretraining
from v1twin.device import configure_device
from v1twin.files import content_digest, rule_log
from v1twin.model_run import RunFiles
from v1twin.training import TrainingConfig


def main(rule) -> None:
    torch.set_num_threads(rule.threads)
    configure_device(rule.params.device)  # first: `device: cuda` on a node without a GPU fails here
    run = PretrainRun(**rule.params.run)
    data = load_training_mice(dict(zip(run.mice, rule.input.caches, strict=True)), rule.params.image_scale)
    rates = {name: load_ground_truth(path)["rates"] for name, path in zip(run.mice, rule.input.ground_truth)} or None
    replay_pretraining(RunFiles(Path(rule.output.model), Path(rule.output.history), Path(rule.output.metrics)),
                       run.model, data, TrainingConfig.from_dict(run.training), pe=run.pe, seed=run.seed,
                       image_scale=rule.params.image_scale, rates=rates,
                       input_digests=[content_digest(cache) for cache in rule.input.caches],
                       baseline_history=read_history(rule.input.baseline_history))


with rule_log(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
