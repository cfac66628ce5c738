"""Write tests/sensorium2023_fixture.zip: a tiny mouse in the real Sensorium 2023 zip layout, with its quirks.

Built with plain numpy and zipfile, not with the project's writer, so that tests/test_data_dynamic.py
checks the loader against an independent tree. Run from the repository root:
    .venv/bin/python tests/make_sensorium2023_fixture.py

What it reproduces (sources: the 2023 starter kit ecker-lab/sensorium_2023, neuralpredictors'
movie file-tree dataset, the winners' loaders lRomul/sensorium and bryanlimy/ViV1T):
- one top folder `dynamic<animal>-<session>-<scan>-Video-<hash>/` holding data/ and meta/, a config.json
  inside it (neuralpredictors keeps its config there) and one at the zip's root, and `__MACOSX/`
  AppleDouble entries beside it (lRomul deletes that folder after unzipping);
- data/<key>/<trial id>.npy with the frame axis last: videos (36, 64, T) grey 0-255, responses
  (neurons, T), behavior (2, T) pupil dilation and running speed, pupil_center (2, T); T is the padded
  length (PADDED_LENGTH here, 315-414 in the real mice) and every key is NaN after the trial's true length;
- meta/trials/tiers.npy over every file number, `none` where a trial's files are absent (gaps), all
  six competition tiers present; bonus trials shorter and of varying length;
- test-tier responses zeroed (the competition mice), one of them zero through the padding too;
- meta/statistics/<key>/all/<mean|std|min|max|median>.npy with a trailing frame axis, and extra
  meta/neurons files a reader must tolerate.
The values are simple formulas (see `trial_arrays`), so the tests can check them by hand.
"""

import io
import json
import zipfile
from pathlib import Path

import numpy as np

MOUSE = "dynamic12345-6-7-Video-9b4f6a1a067fe51e15306b9628efea20"
OUTPUT = Path(__file__).with_name("sensorium2023_fixture.zip")
HEIGHT, WIDTH = 36, 64
PADDED_LENGTH = 15
MAIN_LENGTH = 12  # stands for the 300 frames of train, oracle and main-track trials
TIERS = ["train", "none", "train", "oracle", "live_test_main", "none", "live_test_bonus", "final_test_main",
         "final_test_bonus", "train", "none"]
BONUS_LENGTHS = {6: 9, 8: 7}
ZEROED_THROUGH_PADDING = 8  # a test trial whose zeroed responses have no NaN padding
UNIT_IDS = np.array([1, 2, 4, 7, 9], dtype=np.int64)
TIMESTAMP = (2023, 6, 12, 0, 0, 0)


def trial_length(trial_id: int) -> int:
    return BONUS_LENGTHS.get(trial_id, MAIN_LENGTH)


def trial_arrays(trial_id: int) -> dict[str, np.ndarray]:
    """One trial's four arrays at its true length, from closed formulas in the trial id t, row, column and frame f."""
    t, frames = trial_id, np.arange(trial_length(trial_id))
    rows, columns = np.arange(HEIGHT)[:, None, None], np.arange(WIDTH)[None, :, None]
    video = (3 * t + 2 * rows + columns + 5 * frames).astype(np.float32)  # at most 230
    neurons = np.arange(len(UNIT_IDS))[:, None]
    responses = (neurons + 1) + 0.25 * frames + t
    if TIERS[t].startswith(("live_test", "final_test")):
        responses = np.zeros_like(responses)
    behavior = np.stack([20 + t + 0.5 * frames, 0.125 * (t + 1) * frames])
    pupil_center = np.stack([30 + 0.5 * frames, 40 + t - 0.25 * frames])
    return {"videos": video, "responses": responses.astype(np.float64), "behavior": behavior.astype(np.float32),
            "pupil_center": pupil_center.astype(np.float32)}


def nan_padded(values: np.ndarray) -> np.ndarray:
    padded = np.full((*values.shape[:-1], PADDED_LENGTH), np.nan, dtype=values.dtype)
    padded[..., :values.shape[-1]] = values
    return padded


def statistics(data: dict[int, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Statistics of the train trials' frames, stored per frame of the padded length as the real trees appear to."""
    train = [t for t, tier in enumerate(TIERS) if tier == "train"]
    files = {}
    for key in ("videos", "responses", "behavior", "pupil_center"):
        frames = np.concatenate([data[t][key] for t in train], axis=-1)
        rows = frames.reshape(-1, frames.shape[-1])
        axis = None if key == "videos" else 1
        summary = {"mean": rows.mean(axis), "std": rows.std(axis), "min": rows.min(axis), "max": rows.max(axis),
                   "median": np.median(rows, axis)}
        shape = (HEIGHT, WIDTH, PADDED_LENGTH) if key == "videos" else (rows.shape[0], PADDED_LENGTH)
        for name, value in summary.items():
            per_row = np.reshape(value, (-1, 1)) if key != "videos" else value
            files[f"meta/statistics/{key}/all/{name}.npy"] = np.broadcast_to(per_row, shape).astype(np.float32)
    return files


def npy_bytes(values: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, values, allow_pickle=False)
    return buffer.getvalue()


def mouse_files() -> dict[str, bytes]:
    """Every member of the zip, by name."""
    data = {t: trial_arrays(t) for t, tier in enumerate(TIERS) if tier != "none"}
    arrays = {}
    for t, keys in data.items():
        for key, values in keys.items():
            padded = nan_padded(values)
            if key == "responses" and t == ZEROED_THROUGH_PADDING:
                padded = np.zeros_like(padded)
            arrays[f"data/{key}/{t}.npy"] = padded
    arrays["meta/trials/tiers.npy"] = np.array(TIERS)
    arrays["meta/neurons/unit_ids.npy"] = UNIT_IDS
    arrays["meta/neurons/cell_motor_coordinates.npy"] = np.array(
        [[100 * n, -50 * n, 200 + n] for n in range(len(UNIT_IDS))], dtype=np.float64)
    arrays["meta/neurons/area.npy"] = np.full(len(UNIT_IDS), "V1")
    arrays["meta/neurons/layer.npy"] = np.full(len(UNIT_IDS), "L2/3")
    arrays.update(statistics(data))
    files = {f"{MOUSE}/{name}": npy_bytes(values) for name, values in sorted(arrays.items())}
    config = json.dumps({"links": {}}).encode()
    files[f"{MOUSE}/config.json"] = config
    files["config.json"] = config
    apple_double = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        "
    files[f"__MACOSX/{MOUSE}/data/videos/._0.npy"] = apple_double
    files[f"__MACOSX/{MOUSE}/._config.json"] = apple_double
    return files


def folders(names: list[str]) -> list[str]:
    """The directory entries a zip tool writes before the files (`a/`, `a/b/`, ...)."""
    return sorted({name.rsplit("/", depth)[0] + "/" for name in names for depth in range(1, name.count("/") + 1)})


def write_zip(path: Path) -> None:
    """Deterministic bytes: fixed member order and timestamps."""
    files = mouse_files()
    with zipfile.ZipFile(path, "w") as archive:
        for name in folders(list(files)):
            archive.writestr(zipfile.ZipInfo(name, TIMESTAMP), b"")
        for name, content in files.items():
            archive.writestr(zipfile.ZipInfo(name, TIMESTAMP), content, compress_type=zipfile.ZIP_DEFLATED)


if __name__ == "__main__":
    write_zip(OUTPUT)
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size} bytes)")
