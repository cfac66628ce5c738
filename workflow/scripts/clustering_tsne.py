"""Snakemake entry point of rule clustering_tsne: a 2-D openTSNE map of one embedding's neuron subset."""
import logging

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.clustering.embeddings import load_embeddings
from v1twin.clustering.tsne import tsne_table
from v1twin.files import rule_log, write_table

with rule_log(snakemake.log[0]):  # noqa: F821
    rule = snakemake  # noqa: F821
    settings = rule.params.tsne
    table = tsne_table(load_embeddings(rule.input[0]), settings["neurons_per_mouse"], settings["exaggeration"],
                       settings["seed"], n_jobs=rule.threads)
    logging.info("t-SNE of %d neurons", len(table))
    write_table(rule.output[0], table)
