"""Snakemake entry point of rule pruning_model: the selected pruning step of one seed becomes model
<variant>-pruned, a saved model with test measures like every trained one."""

import logging
import shutil

import torch

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin import pruning, training
from v1twin.data.simulate import load_ground_truth
from v1twin.data.tensors import load_training_mice
from v1twin.device import configure_device
from v1twin.files import atomic_file, rule_log, write_json
from v1twin.model_run import load_model


def main(rule) -> None:
    torch.set_num_threads(rule.threads)
    configure_device(rule.params.device)  # first: `device: cuda` on a node without a GPU fails here
    names = list(rule.params.mice)
    selection = pruning.read_selection(rule.input.selection)
    step_models = list(rule.input.step_models)  # step 0 (the trained model) first
    if not 0 <= selection["step"] < len(step_models):
        raise ValueError(f"{rule.input.selection}: step {selection['step']} is not one of the {len(step_models)} steps")
    source = step_models[selection["step"]]
    with atomic_file(rule.output.model) as temporary:
        shutil.copyfile(source, temporary)

    data = load_training_mice(dict(zip(names, rule.input.caches, strict=True)), rule.params.image_scale)
    rates = {name: load_ground_truth(path)["rates"] for name, path in zip(names, rule.input.ground_truth)} or None
    model = load_model(rule.output.model)
    scores = training.evaluate(model, data, "test", rates)
    logging.info("%s (%d channels) test measures (mean over mice): %s", source, selection["channels"], scores["mean"])
    summary = {
        "source": source,
        "step": selection["step"],
        "channels": selection["channels"],
        "n_features": selection["n_features"],
        "val_correlation": training.validation_correlation(model, data),
        "fine_tune_epochs": pruning.fine_tune_epochs(list(rule.input.removals), selection["step"]),
    }
    write_json(rule.output.metrics, {**scores, "pruning": summary})


with rule_log(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
