"""Snakemake entry point of rule clustering_labels: k-means and GMM labels of one embedding at every K."""
import logging

from threadpoolctl import threadpool_limits

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.clustering.embeddings import load_embeddings
from v1twin.clustering.labels import cluster_embedding, save_labels
from v1twin.files import rule_log

with rule_log(snakemake.log[0]), threadpool_limits(snakemake.threads):  # noqa: F821
    rule = snakemake  # noqa: F821
    embeddings = load_embeddings(rule.input[0])
    logging.info("clustering %d neurons at K = %s", len(embeddings.embedding), list(rule.params.k_values))
    labels = cluster_embedding(embeddings, list(rule.params.k_values), rule.params.n_init, rule.params.random_state)
    save_labels(rule.output[0], labels)
