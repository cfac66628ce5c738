"""Snakemake entry point of rule december_run: continue a pretrained model with the DECEMber clustering loss.

The pretrained weights (the first PE epochs of the converged baseline run) are loaded, β is set to
`beta_ratio` × the model loss per step of these weights (D25 Sec. 4: β of the order of the model loss),
clusters are initialized by k-means, and training goes on with the loss and the baseline's training
settings (early stopping on validation correlation, at most its max_epochs less PE), with a fresh optimizer
and fresh early stopping (D25 Alg. 1 starts a new training). The resumable state lives beside model.pt
(weights, optimizer and cluster state; v1twin.model_run.RunFiles) and is removed once the outputs are written.
"""
import logging
import time
from dataclasses import asdict
from pathlib import Path

import torch

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin import training
from v1twin.clustering.embeddings import save_embeddings
from v1twin.data.simulate import load_ground_truth
from v1twin.data.tensors import load_training_mice
from v1twin.december.clusters import run_outputs, run_summary, save_clusters
from v1twin.december.loss import DecemberLoss
from v1twin.december.plan import DecemberRun
from v1twin.december.pretrain import model_loss_per_step
from v1twin.device import configure_device
from v1twin.files import content_digest, rule_log
from v1twin.model_run import RunFiles, check_unit_ids, finish_run, load_model


def main(rule) -> None:
    torch.set_num_threads(rule.threads)
    configure_device(rule.params.device)  # first: `device: cuda` on a node without a GPU fails here
    run = DecemberRun(**rule.params.run)
    names = run.mice
    config = training.TrainingConfig.from_dict(run.training)
    files = RunFiles(Path(rule.output.model), Path(rule.output.history), Path(rule.output.metrics))
    data = load_training_mice(dict(zip(names, rule.input.caches, strict=True)), rule.params.image_scale)
    rates = {name: load_ground_truth(path)["rates"] for name, path in zip(names, rule.input.ground_truth)} or None
    check_unit_ids(rule.input.pretrained, data)  # the pretrained model must have been trained on these neurons
    model = load_model(rule.input.pretrained)
    initial_loss = model_loss_per_step(model, data, config.batch_size)
    settings = run.settings(beta=run.beta_ratio * initial_loss)
    loss = DecemberLoss(settings, names)
    logging.info("beta = %g x the model loss per step at the start (%g) = %g", run.beta_ratio, initial_loss,
                 settings.beta)
    logging.info("DECEMber %s from %s, training %s", settings, rule.input.pretrained, config)

    def report_overhead(epoch: int) -> None:
        logging.info("epoch %d: DECEMber per step: EM %.2f ms, loss forward %.2f ms", epoch,
                     *(1e3 * value for value in loss.seconds_per_step().values()))

    identity = {**run.model, "december": asdict(settings), "pretrain_epochs": run.pe}
    input_digests = [content_digest(path) for path in [*rule.input.caches, rule.input.pretrained]]
    start = time.perf_counter()
    result = training.train(model, data, config, files.folder, run.seed, identity, history_path=files.history,
                            on_epoch_end=report_overhead, extension=loss, input_digests=input_digests)
    step_seconds = (time.perf_counter() - start) / loss.steps if loss.steps else float("nan")
    clusters, embeddings = run_outputs(model, loss, {name: mouse.unit_ids for name, mouse in data.items()})
    summary = {"pretrain_epochs": run.pe, "beta": settings.beta, "beta_ratio": run.beta_ratio,
               "initial_loss": initial_loss, **run_summary(loss, clusters, step_seconds)}
    logging.info("DECEMber summary %s", summary)
    december_state = {**asdict(settings), **{key: value.cpu() for key, value in loss.state_dict().items()}}
    save_clusters(rule.output.clusters, clusters)
    save_embeddings(rule.output.embedding, embeddings)
    finish_run(files, model, data, run.model, seed=run.seed, image_scale=rule.params.image_scale, config=config,
               result=result, rates=rates, summary=summary, extras={"december": december_state})


with rule_log(snakemake.log[0]):  # noqa: F821
    main(snakemake)  # noqa: F821
