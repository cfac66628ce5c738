"""Reading .npy files that came from outside (downloads), without running code from them.

`np.load` with pickles allowed unpickles object arrays, and a pickle can call any function while it
loads: a swapped or tampered data file would run code on the cluster. Some official Sensorium meta
arrays are object arrays of strings, so they are read with an unpickler that can build nothing but
numpy arrays, dtypes and scalars; their elements must then be plain strings, numbers or bytes.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

NPY_MAGIC = b"\x93NUMPY"
LFS_POINTER = b"version https://git-lfs"
# The only globals a numpy object array's pickle needs (numpy 2 names, and numpy 1's for older files).
ALLOWED_GLOBALS = {
    (module, name)
    for module in ("numpy._core.multiarray", "numpy.core.multiarray")
    for name in ("_reconstruct", "scalar")
} | {("numpy", "ndarray"), ("numpy", "dtype")}
ALLOWED_ELEMENTS = (str, bytes, int, float, np.str_, np.bytes_, np.integer, np.floating, np.bool_)


class NpyError(ValueError):
    """A file is not a safe, readable .npy array; the message says what was found."""


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Builds numpy arrays, dtypes and scalars; any other global is refused before it can be called."""

    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED_GLOBALS:
            raise NpyError(f"refused to unpickle {module}.{name}: a data array may only hold strings and numbers")
        return super().find_class(module, name)


def read_npy(payload: bytes | Path) -> np.ndarray:
    """The array in a .npy file's bytes or path; NpyError (without the file's name) when it is unsafe or broken."""
    content = payload if isinstance(payload, bytes) else Path(payload).read_bytes()
    if not content.startswith(NPY_MAGIC):
        raise NpyError(_describe_non_npy(content))
    stream = io.BytesIO(content)
    try:
        version = npy_format.read_magic(stream)
        read_header = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
        _, _, dtype = read_header(stream)
        if not dtype.hasobject:
            return np.load(io.BytesIO(content), allow_pickle=False)
        array = _ArrayOnlyUnpickler(stream).load()
    except NpyError:
        raise
    except Exception as error:  # numpy and pickle raise many types for a damaged file
        raise NpyError(f"cannot read .npy ({type(error).__name__}: {error})") from error
    _check_elements(array)
    return array


def _describe_non_npy(content: bytes) -> str:
    if not content:
        return "empty file, not a .npy array"
    if content.startswith(LFS_POINTER):
        return "a git-lfs pointer, not the data (the real file was never fetched)"
    start = content[:40].decode("utf-8", errors="replace").split("\n")[0]
    return f"not a .npy file: starts with {start!r}"


def _check_elements(array: object) -> None:
    if not isinstance(array, np.ndarray):
        raise NpyError(f"holds a pickled {type(array).__name__}, not an array")
    for element in array.flat:
        if not isinstance(element, ALLOWED_ELEMENTS):
            raise NpyError(f"object array holds a {type(element).__name__}; only strings and numbers are accepted")
