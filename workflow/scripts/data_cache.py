"""Snakemake entry point of rule data_cache: one Sensorium mouse folder -> its memory-mappable cache.

The folder's layout picks the converter: Sensorium 2022 (images) or Sensorium 2023 (videos).
"""
import logging
from pathlib import Path

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.data.cache import build_cache
from v1twin.data.dynamic_cache import build_dynamic_cache
from v1twin.data.mouse_source import mouse_layout
from v1twin.files import rule_log

BUILDERS = {"static": build_cache, "dynamic": build_dynamic_cache}

with rule_log(snakemake.log[0]):  # noqa: F821
    mouse_folder, cache_dir = Path(snakemake.input[0]), Path(snakemake.output[0])  # noqa: F821
    layout = mouse_layout(mouse_folder)
    logging.info("building the %s cache %s from %s", layout, cache_dir, mouse_folder)
    BUILDERS[layout](mouse_folder, cache_dir)
    logging.info("done: %s", cache_dir)
