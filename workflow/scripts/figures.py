"""Render one figure of the registry (workflow/rules/figures.smk): `params.plot` names `module.function`
in v1twin.plots.

The function receives the rule's named inputs as keyword arguments, `pdf` (the output path; the
PNG is written beside it) and the rule's `params.options`.
"""
import logging

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.figures import plot_function
from v1twin.files import rule_log

with rule_log(snakemake.log[0]):  # noqa: F821
    rule = snakemake  # noqa: F821
    logging.info("rendering %s -> %s", rule.params.plot, rule.output.pdf)
    plot_function(rule.params.plot)(**dict(rule.input.items()), pdf=rule.output.pdf, **rule.params.options)
