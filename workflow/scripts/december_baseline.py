"""Snakemake entry point of rule december_baseline: k-means and diagonal GMM labels at every K on the
embeddings (the raw readout features DECEMber's loss sees) of the variant's converged models (D25's baseline)."""
import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.december.baseline import baseline_labels, save_baseline
from v1twin.files import rule_log

with rule_log(snakemake.log[0]):  # noqa: F821
    rule = snakemake  # noqa: F821
    models = dict(zip(rule.params.seeds, rule.input.models, strict=True))
    save_baseline(rule.output[0], baseline_labels(models, list(rule.params.mice), list(rule.params.k_values),
                                                  rule.params.n_init, rule.params.random_state))
