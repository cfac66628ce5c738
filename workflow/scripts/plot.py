"""Render one figure: `params.plot` names `module.function` in v1twin.plots.

The function receives the rule's named inputs as keyword arguments, `pdf` (the output path; the
PNG is written beside it) and the rule's `params.options`.
"""
import importlib
import logging

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
module_name, function_name = snakemake.params.plot.split(".")
plot = getattr(importlib.import_module(f"v1twin.plots.{module_name}"), function_name)
logging.info("rendering %s -> %s", snakemake.params.plot, snakemake.output.pdf)
plot(**dict(snakemake.input.items()), pdf=snakemake.output.pdf, **snakemake.params.options)
