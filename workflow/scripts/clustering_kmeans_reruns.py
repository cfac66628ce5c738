"""Snakemake entry point of rule clustering_kmeans_reruns: ARI between k-means reruns on one embedding (R24 A.4)."""
import logging

from threadpoolctl import threadpool_limits

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.clustering.agreement import kmeans_rerun_agreement
from v1twin.clustering.embeddings import load_embeddings
from v1twin.files import rule_log, write_table

with rule_log(snakemake.log[0]), threadpool_limits(snakemake.threads):  # noqa: F821
    rule = snakemake  # noqa: F821
    embeddings = load_embeddings(rule.input[0])
    pairs = kmeans_rerun_agreement(embeddings, list(rule.params.k_values), rule.params.reruns,
                                   rule.params.n_init, rule.params.random_state)
    logging.info("mean ARI per K:\n%s", pairs.groupby("k")["ari"].mean().to_string())
    write_table(rule.output[0], pairs)
