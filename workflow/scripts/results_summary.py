"""Snakemake entry point of rule results_summary: the results page from the reported tables and benchmark files."""

import logging
from pathlib import Path

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.files import atomic_file, rule_log
from v1twin.results_summary import PageSettings, Tables, results_page

with rule_log(snakemake.log[0]):  # noqa: F821
    rule = snakemake  # noqa: F821
    folder = Path(rule.output[0]).parent  # results/<dataset>: the page cites each table by its path under it
    tables = Tables({name: path for name, path in rule.input.items() if name != "figures"}, folder)
    page = results_page(tables, PageSettings(**rule.params.settings), rule.params.benchmarks)
    with atomic_file(rule.output[0]) as temporary:
        temporary.write_text(page)
    logging.info("%s from %d tables: %s", rule.output[0], len(tables.used()), ", ".join(tables.used()))
