"""Small file-system helpers shared by every stage: atomic outputs, rule logs and content digests.

A cluster job can be killed at any moment; outputs are therefore written into a temporary sibling
and renamed into place at the end, so nothing half-written can look complete.
"""
import contextlib
import hashlib
import json
import logging
import math
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from v1twin import walltime


@contextlib.contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """Yield an empty temporary sibling of `target`; on success it replaces `target`, on error it is removed."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling path to write; on success it replaces `path`, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def content_digest(path: str | Path) -> str:
    """A sha256 digest of a file, or of a folder's files (each one's relative name, size and bytes).

    Names what a resumable state was computed from: the same contents at another path match, a
    changed file does not.
    """
    path = Path(path)
    files = sorted(item for item in path.rglob("*") if item.is_file()) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for file in files:
        name = file.relative_to(path).as_posix() if path.is_dir() else ""
        digest.update(f"{name}\0{file.stat().st_size}\0".encode())
        with open(file, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def rule_log(log_path: str | Path) -> Iterator[None]:
    """Send logging and stderr (progress bars, warnings) of a rule's script to its log file.

    A failure is logged with its traceback before it propagates, so the log alone explains it.
    Snakemake removes a job's log before each attempt; a retry's log says where it resumed from.
    SIGUSR1 (SLURM's warning before the time limit) makes the script's long loop write its
    checkpoint and stop; the script then exits with walltime.EXIT_STATUS, so that a retry resumes.
    """
    with open(log_path, "a") as log_file, contextlib.redirect_stderr(log_file):
        logging.basicConfig(stream=log_file, level=logging.INFO, force=True,
                            format="%(asctime)s %(levelname)s %(message)s")
        logging.info("---- start (pid %d) ----", os.getpid())
        walltime.install()
        try:
            yield
        except walltime.StopRequested as stop:
            logging.warning("%s; exiting with status %d so that a retry resumes from it", stop, walltime.EXIT_STATUS)
            raise SystemExit(walltime.EXIT_STATUS) from None
        except Exception:
            logging.exception("failed")
            raise


def _json_ready(value):
    """NaN/inf (e.g. FEVE when no neuron is kept) become null, so the file stays valid JSON."""
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: str | Path, content: dict) -> None:
    """Write `content` as JSON atomically."""
    with atomic_file(path) as temporary:
        temporary.write_text(json.dumps(_json_ready(content), indent=2, allow_nan=False))


def read_json(path: str | Path, required: tuple[str, ...], error: type[Exception] = ValueError) -> dict:
    """A JSON object that must hold `required` keys; an unreadable file or a missing key is an `error`
    naming the file."""
    try:
        content = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as problem:
        raise error(f"cannot read {path}: {problem}") from problem
    missing = [key for key in required if key not in content]
    if missing:
        raise error(f"{path} lacks {missing}")
    return content


def write_npz(path: str | Path, arrays: dict[str, np.ndarray], compressed: bool = False) -> None:
    """Write arrays as one .npz (no pickle) atomically."""
    with atomic_file(path) as temporary, open(temporary, "wb") as handle:
        (np.savez_compressed if compressed else np.savez)(handle, **arrays)


def read_npz(path: str | Path, required: tuple[str, ...], error: type[Exception] = ValueError) -> dict[str, np.ndarray]:
    """All arrays of an .npz written without pickle; `error` names the file when it is unreadable or incomplete."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            content = {key: stored[key] for key in stored.files}
    except (OSError, ValueError, EOFError) as problem:
        raise error(f"{path}: cannot read ({problem})") from problem
    missing = sorted(set(required) - set(content))
    if missing:
        raise error(f"{path}: lacks {missing}; it has {sorted(content)}")
    return content


def write_table(path: str | Path, frame: pd.DataFrame) -> None:
    """A table as CSV (no index), written atomically: a killed job never leaves half a table."""
    with atomic_file(path) as temporary:
        frame.to_csv(temporary, index=False)


def read_table(path: str | Path, columns: tuple[str, ...], error: type[Exception] = ValueError) -> pd.DataFrame:
    """A CSV file that must hold `columns`; an unreadable file or a missing column is an `error` naming the file."""
    try:
        frame = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as problem:
        raise error(f"cannot read {path}: {problem}") from problem
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise error(f"{path} lacks column(s) {missing}; it has {list(frame.columns)}")
    return frame


def by_variant(files: list, runs: list) -> dict[str, dict[int, object]]:
    """variant -> seed -> file, from a rule's parallel lists of input files and (variant, seed) runs."""
    table: dict[str, dict[int, object]] = {}
    for path, (variant, seed) in zip(files, runs, strict=True):
        table.setdefault(variant, {})[int(seed)] = path
    return table
