"""Snakemake entry point of rule december_tsne: the openTSNE map of a DECEMber model's embedding, with the
consistency stage's settings (the same neurons as its maps)."""
import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.clustering.embeddings import load_embeddings
from v1twin.clustering.tsne import tsne_table
from v1twin.files import rule_log, write_table

with rule_log(snakemake.log[0]):  # noqa: F821
    rule = snakemake  # noqa: F821
    write_table(rule.output[0], tsne_table(load_embeddings(rule.input[0]), **rule.params.tsne, n_jobs=rule.threads))
