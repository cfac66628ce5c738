"""Every file written with torch.save: atomic writes, safe reads, and resumable state tied to its run.

A job killed mid-way (time limit, preemption, SIGUSR1 from v1twin.walltime) resumes from the state
it saved, but only a state written by the very same run: its `identity` (model, settings, digests of
its inputs) is stored with it and compared on restore, so a stale file is refused, never resumed.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from v1twin import walltime
from v1twin.files import atomic_file

log = logging.getLogger(__name__)


class CheckpointError(ValueError):
    """A saved file that cannot be read, or that belongs to another run; the message names the file."""


def plain_json(value: Any) -> Any:
    """A JSON round trip: an identity compares equal however the config was spelt (tuples, YAML types)."""
    return json.loads(json.dumps(value, sort_keys=True))


def save(content: Any, path: str | Path) -> None:
    """torch.save through a temporary file: a killed job never leaves a half-written file."""
    with atomic_file(path) as temporary:
        torch.save(content, temporary)


def load(path: str | Path, what: str) -> Any:
    """torch.load of tensors and plain containers only (no code runs from the file)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CheckpointError(f"cannot read {what} {path} ({error})") from error


def load_state(path: str | Path, identity: Any, what: str, differs: str) -> dict[str, Any]:
    """The saved state at `path`, which must have been written by the run `identity` names.

    `differs` lists, for the message, what makes two runs different (e.g. "model, grid or settings").
    """
    content = load(path, what)
    stored = content.get("identity") if isinstance(content, dict) else None
    if stored != plain_json(identity):
        raise CheckpointError(
            f"{what} {path} belongs to a different run ({differs} differ): stored {stored}, this run "
            f"{plain_json(identity)}. Delete the file to start afresh."
        )
    return content


class ResumableState:
    """State of a long loop, saved atomically every `interval` seconds so a killed job resumes, and at
    once when the job is asked to stop before its time limit (v1twin.walltime).

    Without a path nothing is saved and nothing resumes (tests, interactive use).
    """

    def __init__(self, path: str | Path | None, identity: dict[str, Any], interval: float, differs: str):
        self.path = Path(path) if path is not None else None
        self.identity = plain_json(identity)
        self.interval = interval
        self.differs = differs
        self.last_save = time.monotonic()

    def restore(self) -> dict[str, Any] | None:
        if self.path is None or not self.path.exists():
            return None
        content = load_state(self.path, self.identity, "state", self.differs)
        log.info("resuming from %s", self.path)
        return content["state"]

    def due(self) -> bool:
        return self.path is not None and time.monotonic() - self.last_save >= self.interval

    def update(self, state: Callable[[], dict[str, Any]], where: str) -> None:
        """Call after each unit of work: saves `state()` when due; on a stop request saves it and stops
        the job (`where` says how far it got)."""
        stop = self.path is not None and walltime.requested()
        if stop or self.due():
            self.save(state())
        if stop:
            walltime.stop(f"to {self.path} {where}")

    def save(self, state: dict[str, Any]) -> None:
        save({"identity": self.identity, "state": state}, self.path)
        self.last_save = time.monotonic()

    def clear(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)
