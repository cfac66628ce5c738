"""Snakemake entry point of rule prune_step: remove the cheapest feature and fine-tune the reduced model.

The masked evaluations and the fine-tuning checkpoint into the step's folder (candidates.json,
training_state.pt: not declared outputs, so a killed job resumes); both are removed once model.pt
is written.
"""
import logging
from dataclasses import asdict
from pathlib import Path

import torch

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin import pruning, training
from v1twin.data import load_training_mice
from v1twin.files import content_digest, rule_log, write_json


def main(rule) -> None:
    torch.set_num_threads(rule.threads)
    training.configure_device(rule.params.device)  # first: `device: cuda` on a node without a GPU fails here
    names, seed = list(rule.params.mice), int(rule.params.seed)
    model_path = Path(rule.output.model)
    data = load_training_mice(dict(zip(names, rule.input.caches, strict=True)), rule.params.image_scale)
    source = training.load_checkpoint(rule.input.model)
    model = training.load_model(rule.input.model)
    config = training.TrainingConfig.from_dict({**rule.params.training, "max_epochs": rule.params.fine_tune_epochs})
    input_digests = [content_digest(path) for path in [*rule.input.caches, rule.input.model]]
    removal = pruning.prune_and_fine_tune(model, data, config, model_path.parent, seed, source["variant"],
                                          history_path=Path(rule.output.history), input_digests=input_digests)
    logging.info("removed feature %d (%d left): validation correlation %.4f -> %.4f masked -> %.4f fine-tuned",
                 removal["removed_feature"], removal["channels"], removal["val_correlation_before"],
                 removal["val_correlation_masked"], removal["val_correlation"])
    removal = {"step": int(rule.params.step), **removal,
               "fine_tune": {**removal["fine_tune"], "training": asdict(config)}}
    mice_info = {name: training.mouse_info(mouse) for name, mouse in data.items()}
    extras = {**source["extras"], "pruning": removal}
    training.save_model(model_path, model, source["variant"], mice_info, source["input_shape"], extras)
    write_json(rule.output.removal, removal)
    for progress_file in (training.STATE_FILE, pruning.CANDIDATES_FILE):
        (model_path.parent / progress_file).unlink()
    logging.info("wrote %s", model_path)


with rule_log(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
