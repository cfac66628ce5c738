"""Snakemake entry point of rule pruning_control: the matched-budget control of one seed's pruned model,
the trained model fine-tuned in the pruning path's rounds without removing a feature (model
<variant>-finetuned).

Each round checkpoints into rounds/round<n> beside model.pt (not a declared output, so a killed job
resumes); the folder is removed once model.pt is written.
"""

import logging
from dataclasses import asdict
from pathlib import Path

import torch

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin import pruning, training
from v1twin.data.simulate import load_ground_truth
from v1twin.data.tensors import load_training_mice
from v1twin.device import configure_device
from v1twin.files import content_digest, rule_log
from v1twin.model_run import RunFiles, finish_run, load_run


def main(rule) -> None:
    torch.set_num_threads(rule.threads)
    configure_device(rule.params.device)  # first: `device: cuda` on a node without a GPU fails here
    names, seed = list(rule.params.mice), int(rule.params.seed)
    files = RunFiles(Path(rule.output.model), Path(rule.output.history), Path(rule.output.metrics))
    data = load_training_mice(dict(zip(names, rule.input.caches, strict=True)), rule.params.image_scale)
    rates = {name: load_ground_truth(path)["rates"] for name, path in zip(names, rule.input.ground_truth)} or None
    selection = pruning.read_selection(rule.input.selection)
    round_epochs = pruning.fine_tune_epochs(list(rule.input.removals), selection["step"])
    source = load_run(rule.input.model)  # the model file is read once
    model = source.model
    config = training.TrainingConfig.from_dict(rule.params.training)  # the pruning steps' (pruning.plan_variants)
    input_digests = [content_digest(path) for path in [*rule.input.caches, rule.input.model]]
    result = pruning.fine_tune_control(
        model, data, config, round_epochs, files.folder, seed, source.variant, input_digests
    )
    logging.info(
        "fine-tuned %d rounds (%d epochs; the pruning path's: %s), no feature removed: validation correlation %.4f",
        len(round_epochs),
        result.epochs,
        round_epochs,
        result.best_score,
    )
    control = {
        "step": selection["step"],
        "round_epochs": round_epochs,
        "n_features": selection["n_features"],
        "training": asdict(config),
    }
    finish_run(
        files,
        model,
        data,
        source.variant,
        seed=seed,
        image_scale=rule.params.image_scale,
        config=config,
        result=result,
        rates=rates,
        summary={"control": control},
        extras=source.extras,
        leftovers=(pruning.CONTROL_ROUNDS,),
    )


with rule_log(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
