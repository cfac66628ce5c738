"""Snakemake entry point of rule december: continue a pretrained model with the DECEMber clustering loss.

The pretrained weights (PE epochs without the loss) are loaded, clusters initialized by k-means, and
training goes on with a fresh optimizer and fresh early stopping (D25's procedure). The resumable
state lives beside model.pt as training_state.pt (weights, optimizer and cluster state) and is
removed once the outputs are written.
"""
import logging
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import adjusted_rand_score

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin import december, training
from v1twin.clustering import save_embeddings
from v1twin.data import load_training_mice
from v1twin.files import content_digest, rule_log, write_json
from v1twin.models import MouseInfo
from v1twin.simulate import load_ground_truth


def check_units(model_path, data) -> None:
    """The pretrained model must have been trained on exactly these neurons."""
    stored = training.load_checkpoint(model_path)["extras"].get("unit_ids", {})
    for name, mouse in data.items():
        if name not in stored or not np.array_equal(np.asarray(stored[name]), np.asarray(mouse.unit_ids)):
            raise december.DecemberError(f"{model_path}: unit ids of mouse {name} do not match its data")


def main(rule) -> None:
    torch.set_num_threads(rule.threads)
    training.configure_device(rule.params.device)  # first: `device: cuda` on a node without a GPU fails here
    names, run, variant = list(rule.params.mice), dict(rule.params.run), dict(rule.params.variant)
    seed = run["seed"]
    settings = december.DecemberSettings(k=run["k"], beta=run["beta"], **rule.params.mixture, random_state=seed)
    config = training.TrainingConfig.from_dict({**rule.params.training, "lr": run["lr"]})
    model_path = Path(rule.output.model)
    data = load_training_mice(dict(zip(names, rule.input.caches, strict=True)), rule.params.image_scale)
    rates = {name: load_ground_truth(path)["rates"] for name, path in zip(names, rule.input.ground_truth)} or None
    check_units(rule.input.pretrained, data)
    model = training.load_model(rule.input.pretrained)
    loss = december.DecemberLoss(settings, names)
    logging.info("DECEMber %s from %s, training %s", settings, rule.input.pretrained, config)

    def report_overhead(epoch: int) -> None:
        logging.info("epoch %d: DECEMber per step: EM %.2f ms, loss forward %.2f ms", epoch,
                     *(1e3 * value for value in loss.seconds_per_step().values()))

    identity = {**variant, "december": asdict(settings), "pretrain_epochs": run["pe"]}
    input_digests = [content_digest(path) for path in [*rule.input.caches, rule.input.pretrained]]
    start = time.perf_counter()
    result = training.train(model, data, config, model_path.parent, seed, identity,
                            history_path=Path(rule.output.history), on_epoch_end=report_overhead, extension=loss,
                            input_digests=input_digests)
    step_seconds = (time.perf_counter() - start) / loss.steps if loss.steps else float("nan")
    overhead = loss.seconds_per_step()
    scores = training.evaluate(model, data, "test", rates)
    clusters, embeddings = december.run_outputs(model, loss, {name: mouse.unit_ids for name, mouse in data.items()})
    sizes = np.bincount(clusters.labels, minlength=settings.k).tolist()
    start_vs_end = {"saturated_initial": float(loss.initial_saturation),
                    "saturated_final": december.saturated_fraction(clusters.q),
                    "ari_initial_final": adjusted_rand_score(clusters.initial_labels, clusters.labels)}
    logging.info("test measures (mean over mice): %s; cluster sizes %s; start vs end %s", scores["mean"], sizes,
                 start_vs_end)
    summary = {"epochs": result.epochs, "best_epoch": result.best_epoch, "best_val_correlation": result.best_score,
               "train_seconds": result.seconds, "pretrain_epochs": run["pe"],
               "step_seconds": step_seconds, **overhead, "em_fraction": overhead["em_seconds_per_step"] / step_seconds,
               **start_vs_end, "cluster_sizes": sizes}
    extras = {**summary, "seed": seed, "image_scale": float(rule.params.image_scale), "training": asdict(config),
              "mice": names, "unit_ids": {name: mouse.unit_ids for name, mouse in data.items()},
              "behavior_median": training.behavior_medians(data),
              "december": {**asdict(settings), **{key: value.cpu() for key, value in loss.state_dict().items()}}}
    mice_info = training.load_checkpoint(rule.input.pretrained)["mice"]
    info = {name: MouseInfo(**mice_info[name]) for name in names}
    training.save_model(model_path, model, variant, info, data[names[0]].input_shape, extras)
    training.write_history(Path(rule.output.history), result.history)
    december.save_clusters(rule.output.clusters, clusters)
    save_embeddings(rule.output.embedding, embeddings)
    write_json(rule.output.metrics, {**scores, **summary})
    (model_path.parent / training.STATE_FILE).unlink()
    logging.info("wrote %s", model_path)


with rule_log(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
