"""Snakemake entry point of rule identifiability_table: per population and method the ARI with the planted
types at the true K, the across-seed ARI curve over K and the peak criterion."""
import logging

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.files import rule_log, write_table
from v1twin.identifiability import from_params
from v1twin.identifiability.tables import december_labels, detection_limit, identifiability_tables

with rule_log(snakemake.log[0]):  # noqa: F821
    rule = snakemake  # noqa: F821
    populations = from_params(rule.params.populations)
    labels = iter(rule.input.labels)  # population by population, each seed by seed
    labels_files = {p.variant: {seed: next(labels) for seed in rule.params.seeds} for p in populations}
    truth_files = dict(zip([p.mouse for p in populations], rule.input.truth, strict=True))
    runs = [(run["variant"], run["k"], run["seed"]) for run in rule.params.december_runs]
    december = december_labels(dict(zip(runs, rule.input.december, strict=True))) if runs else None
    summary, curves = identifiability_tables(populations, labels_files, truth_files, rule.params.true_k,
                                             rule.params.peak_margin, december)
    write_table(rule.output.summary, summary)
    write_table(rule.output.curves, curves)
    for method in summary["method"].unique():
        logging.info("%s: the across-seed ARI peaks at the true K down to separation %s", method,
                     detection_limit(summary, method))
