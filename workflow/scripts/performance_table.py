"""Snakemake entry point of rule performance_table: collect every model's test measures into one CSV."""
import logging

from v1twin.training import performance_table

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
table = performance_table(list(snakemake.input.metrics), [tuple(run) for run in snakemake.params.runs])
table.to_csv(snakemake.output[0], index=False)
logging.info("%d rows from %d models -> %s", len(table), len(snakemake.input.metrics), snakemake.output[0])
