"""Snakemake entry point of rule train_model: train one variant with one seed on all mice.

The resumable state lives beside model.pt as training_state.pt; it is not a declared output
(Snakemake deletes the outputs of a failed job) and is removed once model.pt is written.
"""
import logging
from dataclasses import asdict
from pathlib import Path

import torch

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin import training
from v1twin.data import load_training_mice
from v1twin.files import content_digest, rule_log, write_json
from v1twin.models import build_model
from v1twin.simulate import load_ground_truth


def main(rule) -> None:
    torch.set_num_threads(rule.threads)
    training.configure_device(rule.params.device)  # first: `device: cuda` on a node without a GPU fails here
    names, seed, variant = list(rule.params.mice), int(rule.params.seed), dict(rule.params.variant)
    config = training.TrainingConfig.from_dict(dict(rule.params.training))
    model_path = Path(rule.output.model)
    data = load_training_mice(dict(zip(names, rule.input.caches, strict=True)), rule.params.image_scale)
    rates = {name: load_ground_truth(path)["rates"] for name, path in zip(names, rule.input.ground_truth)} or None

    training.seed_everything(seed)
    mice_info = {name: training.mouse_info(mouse) for name, mouse in data.items()}
    input_shape = data[names[0]].input_shape
    model = build_model(variant, mice_info, input_shape)
    n_parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)
    logging.info("variant %s, seed %d, mice %s, %d parameters, device %s",
                 variant, seed, names, n_parameters, training.default_device())

    result = training.train(model, data, config, model_path.parent, seed, variant,
                            history_path=Path(rule.output.history),
                            input_digests=[content_digest(cache) for cache in rule.input.caches])
    scores = training.evaluate(model, data, "test", rates)
    logging.info("test measures (mean over mice): %s", scores["mean"])
    summary = {"epochs": result.epochs, "best_epoch": result.best_epoch, "best_val_correlation": result.best_score,
               "train_seconds": result.seconds, "n_parameters": n_parameters}
    extras = {**summary, "seed": seed, "image_scale": float(rule.params.image_scale), "training": asdict(config),
              "mice": names, "unit_ids": {name: mouse.unit_ids for name, mouse in data.items()},
              "behavior_median": training.behavior_medians(data)}
    training.save_model(model_path, model, variant, mice_info, input_shape, extras)
    training.write_history(Path(rule.output.history), result.history)
    write_json(rule.output.metrics, {**scores, **summary})
    (model_path.parent / training.STATE_FILE).unlink()
    logging.info("wrote %s", model_path)


with rule_log(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
