"""Snakemake entry point of rule data_download: one Sensorium 2022 zip -> its mouse folder."""
import logging
from pathlib import Path

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.data.download import download_file, extract_mouse
from v1twin.files import rule_log


def fetch_mouse(url: str, sha256: str | None, retries: int, mouse_folder: Path) -> None:
    """Download next to the output (same filesystem, so renames are atomic), extract, drop the zip."""
    archive = mouse_folder.parent / f".{mouse_folder.name}.download.zip"
    try:
        logging.info("downloading %s", url)
        download_file(url, archive, sha256=sha256, attempts=1 + retries)
        logging.info("extracting %s into %s", archive, mouse_folder)
        extract_mouse(archive, mouse_folder)
    finally:
        archive.unlink(missing_ok=True)
    logging.info("done: %s", mouse_folder)


with rule_log(snakemake.log[0]):  # noqa: F821
    params = snakemake.params  # noqa: F821
    fetch_mouse(params.url, params.sha256 or None, int(params.retries), Path(snakemake.output[0]))  # noqa: F821
