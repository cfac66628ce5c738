"""Content digests: what names the inputs a resumable state was computed from."""

import hashlib
from pathlib import Path

from v1twin.files import content_digest


def write_folder(root: Path, files: dict[str, bytes]) -> Path:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    return root


def test_file_digest_is_sha256_of_size_header_and_bytes(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(b"weights")
    assert content_digest(path) == hashlib.sha256(b"\x007\x00weights").hexdigest()


def test_folder_digest_depends_on_contents_and_names_not_location(tmp_path: Path) -> None:
    files = {"images.npy": b"abc", "meta/manifest.json": b"{}"}
    digest = content_digest(write_folder(tmp_path / "a.cache", files))
    assert content_digest(write_folder(tmp_path / "elsewhere" / "b.cache", files)) == digest
    assert content_digest(write_folder(tmp_path / "changed", {**files, "images.npy": b"abd"})) != digest
    assert content_digest(write_folder(tmp_path / "renamed",
                                       {"images2.npy": b"abc", "meta/manifest.json": b"{}"})) != digest
    assert content_digest(write_folder(tmp_path / "extra", {**files, "x.npy": b""})) != digest
    # bytes cannot move between files unnoticed: the sizes are part of the digest
    assert content_digest(write_folder(tmp_path / "a1", {"a": b"xy", "b": b"z"})) != content_digest(
        write_folder(tmp_path / "a2", {"a": b"x", "b": b"yz"}))
