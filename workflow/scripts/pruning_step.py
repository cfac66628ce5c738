"""Snakemake entry point of rule pruning_step: remove the cheapest feature and fine-tune the reduced model.

The masked evaluations and the fine-tuning checkpoint into the step's folder (candidates.json and
the training state: not declared outputs, so a killed job resumes); both are removed once model.pt
is written.
"""

import logging
from dataclasses import asdict
from pathlib import Path

import torch

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin import pruning, training
from v1twin.data.tensors import load_training_mice
from v1twin.device import configure_device
from v1twin.files import content_digest, rule_log, write_json
from v1twin.model_run import RunFiles, finish_run, load_run


def main(rule) -> None:
    torch.set_num_threads(rule.threads)
    configure_device(rule.params.device)  # first: `device: cuda` on a node without a GPU fails here
    names, seed = list(rule.params.mice), int(rule.params.seed)
    files = RunFiles(Path(rule.output.model), Path(rule.output.history))
    data = load_training_mice(dict(zip(names, rule.input.caches, strict=True)), rule.params.image_scale)
    source = load_run(rule.input.model)  # the model file is read once
    model = source.model
    config = training.TrainingConfig.from_dict(rule.params.training)  # the fine-tuning's (pruning.plan_variants)
    input_digests = [content_digest(path) for path in [*rule.input.caches, rule.input.model]]
    removal, result = pruning.prune_and_fine_tune(
        model,
        data,
        config,
        files.folder,
        seed,
        source.variant,
        history_path=files.history,
        input_digests=input_digests,
    )
    logging.info(
        "removed feature %d (%d left): validation correlation %.4f -> %.4f masked -> %.4f fine-tuned",
        removal["removed_feature"],
        removal["channels"],
        removal["val_correlation_before"],
        removal["val_correlation_masked"],
        removal["val_correlation"],
    )
    removal = {
        "step": int(rule.params.step),
        **removal,
        "fine_tune": {**removal["fine_tune"], "training": asdict(config)},
    }
    write_json(rule.output.removal, removal)
    # the source's extras (its training settings, seed, …) describe the model; the step adds its removal
    finish_run(
        files,
        model,
        data,
        source.variant,
        seed=seed,
        image_scale=rule.params.image_scale,
        config=config,
        result=result,
        extras={**source.extras, "pruning": removal},
        leftovers=(pruning.CANDIDATES_FILE,),
    )


with rule_log(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
