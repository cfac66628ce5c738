"""Snakemake entry point of rule clustering_embeddings: a model's readout features as aligned, normalized embeddings."""
import logging

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.clustering.embeddings import model_embeddings, save_embeddings
from v1twin.files import rule_log

with rule_log(snakemake.log[0]):  # noqa: F821
    rule = snakemake  # noqa: F821
    embeddings = model_embeddings(rule.input.model, list(rule.params.mice))
    logging.info("%d neurons x %d channels, rotation-aligned: %s", *embeddings.embedding.shape, embeddings.aligned)
    save_embeddings(rule.output[0], embeddings)
