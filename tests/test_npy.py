"""Reading .npy files from outside without running code from them (v1twin.data.npy)."""
import io

import numpy as np
import pytest

from v1twin.data.npy import NpyError, read_npy

from helpers import CreatesFile


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def test_numeric_array_round_trips_from_bytes_and_path(tmp_path):
    values = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.save(tmp_path / "a.npy", values)
    np.testing.assert_array_equal(read_npy(npy_bytes(values)), values)
    np.testing.assert_array_equal(read_npy(tmp_path / "a.npy"), values)


def test_object_arrays_of_strings_and_numbers_load():
    values = np.array(["train", "test", b"raw", 3, 1.5, np.int64(7), np.float32(2.0)], dtype=object)
    loaded = read_npy(npy_bytes(values))
    assert loaded.dtype == object and list(loaded) == list(values)


def test_a_pickled_payload_is_refused_before_it_runs(tmp_path):
    marker = tmp_path / "marker"
    payload = np.array(["train", CreatesFile(marker)], dtype=object)
    with pytest.raises(NpyError, match=r"refused to unpickle io\.open"):
        read_npy(npy_bytes(payload))
    assert not marker.exists()
    np.load(io.BytesIO(npy_bytes(payload)), allow_pickle=True)  # what the payload does where it is trusted
    assert marker.exists()


def test_object_array_of_other_objects_is_refused():
    with pytest.raises(NpyError, match="holds a list"):
        read_npy(npy_bytes(np.array([[1, 2], None], dtype=object)[:1]))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"<!DOCTYPE html>\n<html><body>Not found</body></html>", "not a .npy file: starts with '<!DOCTYPE html>'"),
        (b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n", "a git-lfs pointer"),
        (b"", "empty file"),
    ],
)
def test_garbage_says_what_was_found(content, expected):
    with pytest.raises(NpyError, match=expected):
        read_npy(content)


def test_truncated_array_is_an_npy_error():
    with pytest.raises(NpyError, match="cannot read .npy"):
        read_npy(npy_bytes(np.arange(100.0))[:-40])
