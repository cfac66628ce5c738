"""The Sensorium 2023 (video) data layer: the real zip layout, NaN padding, validation and the frame cache."""
import zipfile
from pathlib import Path

import numpy as np
import pytest

from v1twin.data import DataError
from v1twin.data.dynamic_arrays import DynamicMouseArrays
from v1twin.data.dynamic_cache import build_dynamic_cache, load_dynamic_cache
from v1twin.data.mouse_source import mouse_layout
from v1twin.data.sensorium_dynamic import (
    compute_dynamic_statistics,
    load_dynamic_mouse,
    validate_dynamic_layout,
    write_dynamic_mouse,
)
from v1twin.data.sensorium_static import load_mouse

FIXTURE = Path(__file__).with_name("sensorium2023_fixture.zip")
FIXTURE_MOUSE = "dynamic12345-6-7-Video-9b4f6a1a067fe51e15306b9628efea20"
MOUSE_NAME = "dynamic1-2-3-Video-0123456789abcdef"


def small_mouse() -> DynamicMouseArrays:
    """Three trials of 5, 5 and 3 frames (padded to 7), trial ids with gaps, whole grey levels."""
    rng = np.random.default_rng(0)
    lengths = [5, 5, 3]
    return DynamicMouseArrays(
        videos=[rng.integers(0, 256, (4, 6, n)).astype(np.float32) for n in lengths],
        responses=[rng.random((3, n), dtype=np.float32) for n in lengths],
        behavior=[rng.random((2, n), dtype=np.float32) for n in lengths],
        pupil_center=[rng.normal(size=(2, n)).astype(np.float32) for n in lengths],
        tiers=np.array(["train", "oracle", "live_test_bonus"]),
        trial_ids=np.array([0, 2, 5]),
        padded_length=7,
        cell_motor_coordinates=rng.random((3, 3), dtype=np.float32),
        unit_ids=np.array([3, 5, 8]),
    )


@pytest.fixture
def written(tmp_path) -> Path:
    folder = tmp_path / MOUSE_NAME
    write_dynamic_mouse(folder, small_mouse())
    return folder


def assert_same_mouse(actual: DynamicMouseArrays, expected: DynamicMouseArrays) -> None:
    for key in ("videos", "responses", "behavior", "pupil_center"):
        assert len(getattr(actual, key)) == len(getattr(expected, key))
        for got, wanted in zip(getattr(actual, key), getattr(expected, key)):
            np.testing.assert_array_equal(got, wanted)
    for key in ("tiers", "trial_ids", "cell_motor_coordinates", "unit_ids", "lengths"):
        np.testing.assert_array_equal(getattr(actual, key), getattr(expected, key))
    assert actual.padded_length == expected.padded_length


def assert_same_statistics(actual: dict, expected: dict) -> None:
    assert actual.keys() == expected.keys()
    for key in expected:
        for name, value in expected[key]["all"].items():
            np.testing.assert_array_equal(actual[key]["all"][name], value)


def test_the_2023_fixture_loads_with_its_gaps_padding_and_zeroed_test_responses():
    mouse = load_dynamic_mouse(FIXTURE)
    np.testing.assert_array_equal(mouse.trial_ids, [0, 2, 3, 4, 6, 7, 8, 9])  # 1, 5 and 10 are `none`
    np.testing.assert_array_equal(mouse.tiers, ["train", "train", "oracle", "live_test_main", "live_test_bonus",
                                                "final_test_main", "final_test_bonus", "train"])
    np.testing.assert_array_equal(mouse.lengths, [12, 12, 12, 12, 9, 12, 7, 12])
    assert mouse.padded_length == 15
    np.testing.assert_array_equal(mouse.unit_ids, [1, 2, 4, 7, 9])
    np.testing.assert_array_equal(mouse.cell_motor_coordinates[2], [200, -100, 202])
    trial = {trial_id: i for i, trial_id in enumerate(mouse.trial_ids)}
    assert mouse.videos[trial[6]].shape == (36, 64, 9)
    assert mouse.videos[trial[6]][1, 2, 3] == 3 * 6 + 2 * 1 + 2 + 5 * 3
    assert mouse.responses[trial[3]][2, 4] == 3 + 0.25 * 4 + 3
    np.testing.assert_array_equal(mouse.behavior[trial[9]][:, 11], [20 + 9 + 5.5, 0.125 * 10 * 11])
    np.testing.assert_array_equal(mouse.pupil_center[trial[0]][:, 2], [31, 39.5])
    for test_trial, frames in ((4, 12), (8, 7)):  # NaN-padded zeros, and zeros through the padding
        np.testing.assert_array_equal(mouse.responses[trial[test_trial]], np.zeros((5, frames)))
    # Shipped per frame of the padded length; video mean over train trials 0, 2, 9: 11 + 35 + 31.5 + 27.5.
    assert mouse.statistics["videos"]["all"]["mean"].shape == (36, 64, 15)
    np.testing.assert_allclose(mouse.statistics["videos"]["all"]["mean"], 105.0)
    assert mouse.statistics["responses"]["all"]["std"].shape == (5, 15)


def test_zip_and_unpacked_folder_give_the_same_mouse(tmp_path):
    with zipfile.ZipFile(FIXTURE) as archive:
        archive.extractall(tmp_path)  # our own fixture; __MACOSX/ and config.json come along
    assert (tmp_path / "__MACOSX").is_dir() and (tmp_path / FIXTURE_MOUSE / "config.json").is_file()
    from_zip, from_folder = load_dynamic_mouse(FIXTURE), load_dynamic_mouse(tmp_path / FIXTURE_MOUSE)
    assert_same_mouse(from_folder, from_zip)
    assert_same_statistics(from_folder.statistics, from_zip.statistics)


def test_layout_detection_sends_each_tree_to_its_loader(tmp_path):
    static = tmp_path / "static1-2-3-GrayImageNet-abc"
    (static / "data" / "images").mkdir(parents=True)
    assert mouse_layout(FIXTURE) == "dynamic"
    assert mouse_layout(static) == "static"
    with pytest.raises(DataError, match=rf"{FIXTURE_MOUSE}/data/videos: this is a dynamic .*load_dynamic_mouse"):
        load_mouse(FIXTURE)
    with pytest.raises(DataError, match=r"static1-2-3-GrayImageNet-abc/data/images: this is a static .*load_mouse"):
        load_dynamic_mouse(static)
    with pytest.raises(DataError, match="found neither"):
        mouse_layout(tmp_path)


def test_write_then_load_round_trip_is_exact_and_records_the_gaps(written):
    mouse = small_mouse()
    np.testing.assert_array_equal(np.load(written / "meta/trials/tiers.npy"),
                                  ["train", "none", "oracle", "none", "none", "live_test_bonus"])
    stored = np.load(written / "data/videos/5.npy")
    assert stored.shape == (4, 6, 7) and np.isnan(stored[..., 3:]).all()
    assert np.isnan(np.load(written / "data/behavior/5.npy")[:, 3:]).all()
    loaded = load_dynamic_mouse(written)
    assert_same_mouse(loaded, mouse)
    assert_same_statistics(loaded.statistics, compute_dynamic_statistics(mouse))


def test_statistics_come_from_the_train_frames():
    mouse = small_mouse()
    stats = compute_dynamic_statistics(mouse)
    np.testing.assert_allclose(stats["videos"]["all"]["mean"], mouse.videos[0].mean(), rtol=1e-6)
    np.testing.assert_allclose(stats["responses"]["all"]["max"], mouse.responses[0].max(axis=1))
    assert stats["behavior"]["all"]["std"].shape == (2,)


def test_the_cache_round_trip_is_exact(written, tmp_path):
    cache_dir = tmp_path / "cache"
    build_dynamic_cache(written, cache_dir)
    cache, mouse = load_dynamic_cache(cache_dir), load_dynamic_mouse(written)
    assert isinstance(cache.videos, np.memmap) and cache.videos.dtype == np.uint8
    assert cache.videos.shape == (13, 4, 6) and cache.responses.shape == (13, 3)
    np.testing.assert_array_equal(cache.lengths, mouse.lengths)
    for name in ("tiers", "trial_ids", "unit_ids", "cell_motor_coordinates"):
        np.testing.assert_array_equal(getattr(cache, name), getattr(mouse, name))
    for i in range(len(mouse.trial_ids)):
        for got, wanted in zip(cache.trial(i), (mouse.videos[i], mouse.responses[i], mouse.behavior[i],
                                                mouse.pupil_center[i])):
            np.testing.assert_array_equal(got, wanted)
    assert cache.padded_length == 7
    assert_same_statistics(cache.statistics, mouse.statistics)


def test_the_fixture_caches_straight_from_its_zip(tmp_path):
    build_dynamic_cache(FIXTURE, tmp_path / "cache")
    cache, mouse = load_dynamic_cache(tmp_path / "cache"), load_dynamic_mouse(FIXTURE)
    video, responses, _, _ = cache.trial(4)  # trial id 6, a 9-frame bonus trial
    np.testing.assert_array_equal(video, mouse.videos[4])
    np.testing.assert_array_equal(responses, np.zeros((5, 9)))
    assert_same_statistics(cache.statistics, mouse.statistics)


def test_grey_values_outside_0_255_are_refused_and_leave_no_cache(written, tmp_path):
    video = np.load(written / "data/videos/2.npy")
    video[0, 0, 0] = 300.0
    np.save(written / "data/videos/2.npy", video)
    with pytest.raises(DataError, match=r"data/videos/2\.npy: grey values from .* to 300\.0, outside 0-255"):
        build_dynamic_cache(written, tmp_path / "cache")
    assert not (tmp_path / "cache").exists()
    assert not list(tmp_path.glob(".cache.tmp-*"))


def test_finite_behaviour_after_the_true_length_is_tolerated(written):
    behavior = np.load(written / "data/behavior/5.npy")
    behavior[:, 3:] = 1.5
    np.save(written / "data/behavior/5.npy", behavior)
    np.testing.assert_array_equal(load_dynamic_mouse(written).behavior[2], small_mouse().behavior[2])


def set_frames(relative: str, frames: slice, value: float):
    def change(folder: Path) -> None:
        values = np.load(folder / relative)
        values[..., frames] = value
        np.save(folder / relative, values)
    return change


def save(relative: str, values: np.ndarray):
    return lambda folder: np.save(folder / relative, values)


BROKEN_TREES = {
    "NaN inside the true length": (set_frames("data/responses/2.npy", slice(1, 2), np.nan),
                                   r"data/responses/2\.npy: NaN or infinite values at frame 1, inside .* 5 frames"),
    "lengths differ between keys": (set_frames("data/pupil_center/0.npy", slice(3, None), np.nan),
                                    r"data/pupil_center/0\.npy: NaN padding starts after 3 frames, but the video's "
                                    r"true length is 5 frames"),
    "missing file of a listed trial": (lambda folder: (folder / "data/behavior/5.npy").unlink(),
                                       r"data/behavior/5\.npy: file is missing .* trial 5 as live_test_bonus"),
    "unknown tier": (save("meta/trials/tiers.npy", np.array(["train", "none", "validation", "none", "none", "train"])),
                     r"meta/trials/tiers\.npy: unknown tiers \['validation'\]"),
    "wrong video frame size": (save("data/videos/2.npy", np.zeros((4, 7, 7), np.float32)),
                               r"data/videos/2\.npy: shape \(4, 7, 7\), expected \(4, 6, 7\)"),
    "missing statistics": (lambda folder: (folder / "meta/statistics/behavior/all/std.npy").unlink(),
                           r"meta/statistics/behavior/all/std\.npy: file is missing"),
}


@pytest.mark.parametrize("problem", BROKEN_TREES)
def test_a_broken_tree_is_refused_naming_the_file(written, problem):
    break_tree, message = BROKEN_TREES[problem]
    break_tree(written)
    with pytest.raises(DataError, match=message):
        load_dynamic_mouse(written)


def test_validation_reads_only_meta_and_the_listing(written):
    validate_dynamic_layout(written)
    (written / "data/videos/5.npy").unlink()
    with pytest.raises(DataError, match=r"data/videos/5\.npy: file is missing"):
        validate_dynamic_layout(written)
