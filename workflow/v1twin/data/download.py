"""Download and unpack the Sensorium mouse zips (2022 images, 2023 videos), safely.

A multi-gigabyte download over a flaky link fails in many ways (refused connection, 5xx, a body cut
short, a wrong file behind the right name). Each of these must end in a clear error and never in a
file that later steps would take for a complete download, so everything goes through a `.part` file
that is checked (length, checksum, zip integrity) before it is renamed into place.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import shutil
import socket
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from v1twin.data import DataError
from v1twin.data.mouse_source import check_zip_members, mouse_layout
from v1twin.data.sensorium_dynamic import validate_dynamic_layout
from v1twin.data.sensorium_static import validate_layout
from v1twin.files import staged_folder
from v1twin.progress import progress_bar

CHUNK_BYTES = 1 << 20
BACKOFF_SECONDS = 2.0
log = logging.getLogger(__name__)


class DownloadError(RuntimeError):
    """A download failed or delivered a bad file; the message names the URL and the problem."""


class _RetryableError(DownloadError):
    """A transient failure (connection, 5xx, cut-off body) worth another attempt."""


def _stream_to(url: str, part: Path, timeout: float) -> tuple[int, str]:
    """Stream the body into `part` with a progress bar; return (bytes written, sha256 hex digest)."""
    try:
        response = urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as error:
        message = f"{url}: HTTP {error.code} {error.reason}"
        raise (_RetryableError(message) if error.code >= 500 else DownloadError(message)) from error
    except (urllib.error.URLError, OSError) as error:
        raise _RetryableError(f"{url}: connection failed ({error})") from error
    digest = hashlib.sha256()
    written = 0
    with response:
        expected = response.headers.get("Content-Length")
        total = int(expected) if expected is not None else None
        try:
            with open(part, "wb") as out, progress_bar(total=total, unit="B", unit_scale=True,
                                                       desc=Path(url).name) as bar:
                while chunk := response.read(CHUNK_BYTES):
                    out.write(chunk)
                    digest.update(chunk)
                    written += len(chunk)
                    bar.update(len(chunk))
        except (http.client.IncompleteRead, socket.timeout, ConnectionError) as error:
            raise _RetryableError(f"{url}: transfer interrupted after {written} bytes ({error})") from error
    if total is not None and written != total:
        raise _RetryableError(f"{url}: truncated transfer, got {written} of {total} bytes (Content-Length)")
    return written, digest.hexdigest()


def _check_zip(url: str, part: Path) -> None:
    try:
        with zipfile.ZipFile(part) as archive:
            bad_member = archive.testzip()
    except (zipfile.BadZipFile, OSError) as error:
        raise DownloadError(f"{url}: corrupt zip file ({error})") from error
    if bad_member is not None:
        raise DownloadError(f"{url}: corrupt zip file, member {bad_member} fails its CRC check")


def _attempt(url: str, part: Path, sha256: str | None, timeout: float) -> None:
    _, digest = _stream_to(url, part, timeout)
    if sha256 is not None and digest.lower() != sha256.lower():
        raise DownloadError(f"{url}: checksum mismatch, expected sha256 {sha256.lower()}, got {digest}")
    _check_zip(url, part)


def _download_once(url: str, part: Path, dest: Path, sha256: str | None, timeout: float) -> None:
    """One verified attempt; the .part file never survives a failure."""
    try:
        _attempt(url, part, sha256, timeout)
        os.replace(part, dest)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def download_file(url: str, dest: Path, sha256: str | None = None, attempts: int = 4, timeout: float = 60) -> Path:
    """Download a zip to `dest` atomically, verified by length, optional sha256 and zip CRCs.

    Transient failures (connection errors, HTTP 5xx, truncated bodies) are retried with exponential
    backoff, up to `attempts` attempts in all; client errors such as 404 and bad content are not.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, got {attempts}")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_suffix(".part")
    for attempt in range(1, attempts):
        try:
            _download_once(url, part, dest, sha256, timeout)
            return dest
        except _RetryableError as error:
            wait = BACKOFF_SECONDS * 2 ** (attempt - 1)
            log.warning("%s; retrying in %.0f s (attempt %d of %d)", error, wait, attempt + 1, attempts)
            time.sleep(wait)
    try:
        _download_once(url, part, dest, sha256, timeout)
    except _RetryableError as error:
        raise DownloadError(f"{error} (gave up after {attempts} attempts)") from error
    return dest


# Either Sensorium tree downloads the same way: 2022 (images) and 2023 (videos).
LAYOUT_VALIDATORS = {"static": validate_layout, "dynamic": validate_dynamic_layout}


def _single_mouse_folder(extracted: Path, zip_path: Path) -> Path:
    """The one top-level folder of the archive that holds a data/ folder (extra entries tolerated)."""
    candidates = [p for p in extracted.iterdir() if p.is_dir() and (p / "data").is_dir()]
    if len(candidates) != 1:
        names = sorted(p.name for p in candidates)
        raise DataError(f"{zip_path}: expected one top folder holding data/ and meta/, found {names or 'none'}")
    return candidates[0]


def extract_mouse(zip_path: Path, mouse_folder: Path) -> None:
    """Unzip into a staged folder, check the Sensorium layout, and only then make it `mouse_folder`.

    A zip with a member that could land outside the folder (absolute path, '..', symlink) is refused
    before anything is extracted."""
    zip_path = Path(zip_path)
    with staged_folder(Path(mouse_folder)) as staging:
        unpacked = staging / ".unpacked"
        try:
            with zipfile.ZipFile(zip_path) as archive:
                check_zip_members(archive, zip_path)
                archive.extractall(unpacked)
        except (zipfile.BadZipFile, OSError) as error:
            raise DataError(f"{zip_path}: cannot extract ({error})") from error
        found = _single_mouse_folder(unpacked, zip_path)
        try:
            LAYOUT_VALIDATORS[mouse_layout(found)](found)
        except DataError as error:
            raise DataError(f"{zip_path}: not a Sensorium mouse archive: {error}") from error
        for item in found.iterdir():
            os.replace(item, staging / item.name)
        shutil.rmtree(unpacked)
