"""Snakemake entry point of rule data_cache: one Sensorium mouse folder -> its memory-mappable cache."""
import logging
from pathlib import Path

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.data.cache import build_cache
from v1twin.files import rule_log

with rule_log(snakemake.log[0]):  # noqa: F821
    mouse_folder, cache_dir = Path(snakemake.input[0]), Path(snakemake.output[0])  # noqa: F821
    logging.info("building cache %s from %s", cache_dir, mouse_folder)
    build_cache(mouse_folder, cache_dir)
    logging.info("done: %s", cache_dir)
