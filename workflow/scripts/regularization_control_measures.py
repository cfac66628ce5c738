"""Snakemake entry point of rule regularization_control_measures: one model's silhouettes beside matched
nulls, its readout sparsity, ARI with the planted types and its performance."""
import logging

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.clustering.embeddings import load_embeddings
from v1twin.clustering.labels import load_labels
from v1twin.files import rule_log, write_table
from v1twin.model_run import read_metrics
from v1twin.regularization_control import ControlRun, ControlSettings, planted_types_if_typed, run_measures

with rule_log(snakemake.log[0]):  # noqa: F821
    rule = snakemake  # noqa: F821
    run = ControlRun(**rule.params.run)
    embeddings = load_embeddings(rule.input.embedding)
    cell_type = planted_types_if_typed(list(rule.input.truth), list(rule.params.mice), embeddings.mouse)
    table = run_measures(run, embeddings, load_labels(rule.input.labels), cell_type,
                         read_metrics(rule.input.metrics, ("mean", "best_val_correlation")),
                         ControlSettings(**rule.params.settings))
    write_table(rule.output[0], table)
    logging.info("%s seed %d (gamma %g): %s", run.variant, run.seed, run.gamma, table.to_dict("records"))
