"""Snakemake entry point of rule clustering_labels: a model's aligned, normalized embedding and its
k-means and GMM labels at every K."""
import logging

from threadpoolctl import threadpool_limits

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.clustering.embeddings import model_embeddings, save_embeddings
from v1twin.clustering.labels import cluster_embedding, save_labels
from v1twin.files import rule_log

with rule_log(snakemake.log[0]), threadpool_limits(snakemake.threads):  # noqa: F821
    rule = snakemake  # noqa: F821
    embeddings = model_embeddings(rule.input.model, list(rule.params.mice))
    logging.info("%d neurons x %d channels, rotation-aligned: %s", *embeddings.embedding.shape, embeddings.aligned)
    save_embeddings(rule.output.embedding, embeddings)
    logging.info("clustering at K = %s", list(rule.params.k_values))
    labels = cluster_embedding(embeddings, list(rule.params.k_values), rule.params.n_init, rule.params.random_state)
    save_labels(rule.output.labels, labels)
