"""Snakemake entry point of the consistency tables (results/<dataset>/consistency/*.csv).

One script for the table rules: each reads the files its rule names and writes one CSV; the
rule's name picks the table.
"""
import logging

import torch

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin import clustering
from v1twin.data import load_training_mice
from v1twin.files import by_variant, rule_log, write_table


def across_seeds(rule):
    return clustering.across_seed_table(by_variant(rule.input.labels, rule.params.runs))


def kmeans_reruns(rule):
    variants = list(rule.params.seeds)
    return clustering.kmeans_rerun_table(dict(zip(variants, rule.input.pairs, strict=True)), dict(rule.params.seeds))


def planted_types(rule):
    labels = by_variant(rule.input.labels, rule.params.runs)
    return clustering.planted_type_table(labels, list(rule.input.truth), list(rule.params.mice))


def planted_type_separability(rule):
    embeddings = by_variant(rule.input.embeddings, rule.params.runs)
    return clustering.separability_table(embeddings, list(rule.input.truth), list(rule.params.mice), rule.params.seed)


def response_correlation(rule):
    torch.set_num_threads(rule.threads)
    data = load_training_mice(dict(zip(rule.params.mice, rule.input.caches, strict=True)), rule.params.image_scale)
    return clustering.response_correlation_table(by_variant(rule.input.models, rule.params.runs), data)


def sweeps(rule):
    runs = [tuple(run) for run in rule.params.runs]
    return clustering.sweep_table_from_files(rule.input.across_seeds, list(rule.input.metrics), runs,
                                             dict(rule.params.sweeps))


def adaptive_beta(rule):
    torch.set_num_threads(rule.threads)
    data = load_training_mice(dict(zip(rule.params.mice, rule.input.caches, strict=True)), rule.params.image_scale)
    models = dict(zip(rule.params.variants, rule.input.models, strict=True))
    return clustering.adaptive_beta_table(models, data, list(rule.input.truth))


TABLES = {
    "clustering_across_seeds": across_seeds,
    "kmeans_rerun_table": kmeans_reruns,
    "planted_type_table": planted_types,
    "planted_type_separability": planted_type_separability,
    "response_correlation": response_correlation,
    "sweep_table": sweeps,
    "adaptive_beta": adaptive_beta,
}

with rule_log(snakemake.log[0]):  # noqa: F821
    rule = snakemake  # noqa: F821
    table = TABLES[rule.rule](rule)
    write_table(rule.output[0], table)
    logging.info("%d rows -> %s", len(table), rule.output[0])
