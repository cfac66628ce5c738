"""The data stage: Sensorium mice, real and simulated, from download to the training view.

`npy` reads outside .npy files safely; `mouse_source` opens a mouse's file tree in a folder or a zip;
`mouse_arrays` holds one mouse as stored and its statistics; `sensorium_static` reads and writes the
static Sensorium 2022 file tree; `download` fetches and unpacks the zips; `simulate` (with
`receptive_fields`) makes simulated mice in the same tree; `cache` converts a mouse once into
memory-mappable arrays; `tensors` normalizes it for training.
"""


class DataError(ValueError):
    """Bad, missing or corrupt input data; the message names the file and the problem."""
