"""A mouse's file tree read by relative POSIX paths, from a folder or straight from its zip.

Sensorium mice arrive as zips; reading members in memory spares an extraction, and a folder serves
the same interface, so the layout checks and the loader do not care which one they get. Every array
is read with `read_npy`, which runs no code from the file.
"""

from __future__ import annotations

import re
import stat
import zipfile
from pathlib import Path

import numpy as np

from v1twin.data import DataError
from v1twin.data.npy import NpyError, read_npy


class FolderSource:
    """Read-only access to a mouse folder by relative POSIX paths."""

    def __init__(self, root: Path):
        self.root = root

    def describe(self, relative: str) -> str:
        return str(self.root / relative)

    def is_dir(self, relative: str) -> bool:
        return (self.root / relative).is_dir()

    def exists(self, relative: str) -> bool:
        return (self.root / relative).is_file()

    def list_files(self, relative: str) -> list[str]:
        return [p.name for p in (self.root / relative).iterdir() if p.is_file()]

    def payload(self, relative: str) -> bytes | Path:
        """What np.load reads: the file path (no copy)."""
        return self.root / relative

    def close(self) -> None:
        pass


class ZipSource:
    """Read-only access to the single mouse folder inside a Sensorium zip, members read in memory."""

    def __init__(self, archive: Path):
        self.archive_path = archive
        try:
            self.archive = zipfile.ZipFile(archive)
        except (zipfile.BadZipFile, OSError) as error:
            raise DataError(f"{archive}: not a readable zip file ({error})") from error
        check_zip_members(self.archive, archive)
        names = [n for n in self.archive.namelist() if not n.endswith("/")]
        self.prefix = self._find_mouse_prefix(names)
        self.files = {n[len(self.prefix):] for n in names if n.startswith(self.prefix)}

    def _find_mouse_prefix(self, names: list[str]) -> str:
        roots = {n.split("/", 1)[0] for n in names if n.count("/") >= 3 and n.split("/")[1] == "data"}
        if len(roots) != 1:
            raise DataError(
                f"{self.archive_path}: expected one top folder holding data/ and meta/, found {sorted(roots) or 'none'}"
            )
        return roots.pop() + "/"

    def describe(self, relative: str) -> str:
        return f"{self.archive_path}:{self.prefix}{relative}"

    def _children(self, relative: str) -> list[tuple[str, bool]]:
        head = relative.rstrip("/") + "/"
        children = set()
        for name in self.files:
            if name.startswith(head):
                rest = name[len(head):]
                children.add((rest.split("/", 1)[0], "/" in rest))
        return sorted(children)

    def is_dir(self, relative: str) -> bool:
        return bool(self._children(relative))

    def exists(self, relative: str) -> bool:
        return relative in self.files

    def list_files(self, relative: str) -> list[str]:
        return [name for name, is_dir in self._children(relative) if not is_dir]

    def payload(self, relative: str) -> bytes | Path:
        """What np.load reads: the member's bytes, straight from the archive."""
        return self.archive.read(self.prefix + relative)

    def close(self) -> None:
        self.archive.close()


def _unsafe_member_reason(member: zipfile.ZipInfo) -> str | None:
    """Why extracting this member could write outside its folder, or None."""
    name = member.filename.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    if ".." in name.split("/"):
        return "path leaves the archive's folder ('..')"
    if stat.S_ISLNK(member.external_attr >> 16):
        return "symbolic link"
    return None


def check_zip_members(archive: zipfile.ZipFile, path: Path) -> None:
    """Refuse a zip with a member that could escape its folder: a real Sensorium zip has none."""
    for member in archive.infolist():
        reason = _unsafe_member_reason(member)
        if reason:
            raise DataError(f"{path}: unsafe zip member {member.filename!r} ({reason}); refusing the archive")


MouseSource = FolderSource | ZipSource


def open_source(path: Path) -> MouseSource:
    """The folder, or the .zip holding one mouse folder, behind one read-only interface."""
    path = Path(path)
    if path.is_dir():
        return FolderSource(path)
    if path.is_file() and path.suffix == ".zip":
        return ZipSource(path)
    raise DataError(f"{path}: no such mouse folder or .zip file")


# The data/ folder that tells the Sensorium trees apart: 2022 images, 2023 videos.
LAYOUT_FOLDERS = {"static": "data/images", "dynamic": "data/videos"}
LAYOUT_LOADERS = {"static": "sensorium_static.load_mouse", "dynamic": "sensorium_dynamic.load_dynamic_mouse"}


def source_layout(source: MouseSource) -> str:
    """"static" (Sensorium 2022, images) or "dynamic" (Sensorium 2023, videos), from the data/ folders."""
    found = [layout for layout, folder in LAYOUT_FOLDERS.items() if source.is_dir(folder)]
    if len(found) != 1:
        raise DataError(f"{source.describe('data')}: expected exactly one of data/images (Sensorium 2022) "
                        f"or data/videos (Sensorium 2023), found {found or 'neither'}")
    return found[0]


def mouse_layout(path: Path) -> str:
    """The layout of a mouse folder or zip, so callers can pick the loader: "static" or "dynamic"."""
    source = open_source(path)
    try:
        return source_layout(source)
    finally:
        source.close()


def require_layout(source: MouseSource, expected: str) -> None:
    """Refuse a tree of the other layout with a message naming the loader that reads it."""
    layout = source_layout(source)
    if layout != expected:
        raise DataError(f"{source.describe(LAYOUT_FOLDERS[layout])}: this is a {layout} mouse tree, not a "
                        f"{expected} one; read it with {LAYOUT_LOADERS[layout]}")


def load_npy(source: MouseSource, relative: str) -> np.ndarray:
    """Load one .npy without running code from it (object arrays: strings and numbers only, see npy.py)."""
    if not source.exists(relative):
        raise DataError(f"{source.describe(relative)}: file is missing")
    try:
        return read_npy(source.payload(relative))
    except (NpyError, OSError) as error:
        raise DataError(f"{source.describe(relative)}: {error}") from error
