"""Sensorium file format, loader, cache and training view (v1twin.data)."""

import re
import shutil
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from v1twin.data import DataError
from v1twin.data.cache import build_cache, load_cache
from v1twin.data.mouse_arrays import MouseArrays, compute_statistics
from v1twin.data.sensorium_static import load_mouse, validate_layout, write_mouse
from v1twin.data.tensors import prepare_mouse

from helpers import MOUSE_NAME, CreatesFile, sensorium_mouse

ARRAY_FIELDS = ("images", "responses", "behavior", "pupil_center", "tiers", "image_ids", "trial_idx",
                "cell_motor_coordinates", "unit_ids")


def assert_same_mouse(actual: MouseArrays, expected: MouseArrays) -> None:
    for field in ARRAY_FIELDS:
        got, want = np.asarray(getattr(actual, field)), np.asarray(getattr(expected, field))
        assert got.dtype.kind == want.dtype.kind, field
        np.testing.assert_array_equal(got, want, err_msg=field)
    assert actual.images.dtype == np.float32 and actual.responses.dtype == np.float32


def assert_same_statistics(actual: dict, expected: dict) -> None:
    assert actual.keys() == expected.keys()
    for group in expected:
        for subset in expected[group]:
            for name, value in expected[group][subset].items():
                np.testing.assert_array_equal(actual[group][subset][name], value, err_msg=f"{group}/{subset}/{name}")


def zip_mouse(folder: Path, archive_base: Path) -> Path:
    return Path(shutil.make_archive(str(archive_base), "zip", folder.parent, folder.name))


@pytest.fixture
def written(tmp_path):
    arrays = sensorium_mouse()
    folder = tmp_path / MOUSE_NAME
    write_mouse(folder, arrays)
    return folder, arrays


# ---------------------------------------------------------------- file tree


def test_write_mouse_creates_the_sensorium_tree(written):
    folder, arrays = written
    assert np.load(folder / "data/images/0.npy").shape == (1, 6, 8)
    assert np.load(folder / "data/responses/13.npy").shape == (5,)
    assert np.load(folder / "data/behavior/0.npy").shape == (3,)
    assert np.load(folder / "data/pupil_center/0.npy").shape == (2,)
    for name in ("unit_ids", "cell_motor_coordinates", "area", "layer", "animal_ids", "sessions", "scan_idx"):
        assert (folder / f"meta/neurons/{name}.npy").is_file(), name
    for name in ("tiers", "frame_image_id", "trial_idx", "frame_trial_ts"):
        assert len(np.load(folder / f"meta/trials/{name}.npy")) == 14, name
    assert np.load(folder / "meta/neurons/animal_ids.npy").tolist() == [12345] * 5
    assert np.load(folder / "meta/statistics/images/all/mean.npy").shape == ()
    assert np.load(folder / "meta/statistics/responses/stimulus_frame/std.npy").shape == (5,)


def test_statistics_computed_on_write_come_from_the_train_tier(written):
    folder, arrays = written
    train = arrays.tiers == "train"
    stats = load_mouse(folder).statistics
    np.testing.assert_allclose(stats["images"]["all"]["mean"], arrays.images[train].mean(), rtol=1e-6)
    np.testing.assert_allclose(stats["responses"]["all"]["std"], arrays.responses[train].std(0), rtol=1e-6)
    np.testing.assert_allclose(stats["behavior"]["stimulus_frame"]["median"], np.median(arrays.behavior[train], 0),
                               rtol=1e-6)
    np.testing.assert_array_equal(stats["pupil_center"]["all"]["max"], arrays.pupil_center[train].max(0))


def test_round_trip_folder_and_zip(written, tmp_path):
    folder, arrays = written
    expected_stats = compute_statistics(arrays)
    from_folder = load_mouse(folder)
    from_zip = load_mouse(zip_mouse(folder, tmp_path / "archive"))
    for loaded in (from_folder, from_zip):
        assert_same_mouse(loaded, arrays)
        assert_same_statistics(loaded.statistics, expected_stats)


def test_given_statistics_are_written_as_is(tmp_path):
    arrays = sensorium_mouse()
    arrays.statistics = {
        group: {"all": {name: np.float32(7.5) if group == "images" else np.full(d, 7.5, np.float32)
                        for name in ("mean", "std")}}
        for group, d in (("images", 1), ("responses", 5), ("behavior", 3), ("pupil_center", 2))
    }
    write_mouse(tmp_path / MOUSE_NAME, arrays)
    assert_same_statistics(load_mouse(tmp_path / MOUSE_NAME).statistics, arrays.statistics)


def write_quirky_mouse(folder: Path) -> dict:
    """A hand-made tree with the quirks of the real competition mice."""
    rng = np.random.default_rng(1)
    n_trials, n_neurons = 12, 4
    tiers = np.array(["train"] * 6 + ["validation"] * 2 + ["test"] * 2 + ["final_test"] * 2)
    images = rng.integers(0, 256, (n_trials, 1, 4, 6)).astype(np.uint8)
    responses = rng.gamma(1.0, 1.0, (n_trials, n_neurons))
    responses[tiers == "test"] = 0.0
    responses[tiers == "final_test"] = 0.0
    behavior = rng.integers(-50, 50, (n_trials, 3)).astype(np.int16)
    pupil = rng.normal(size=(n_trials, 2))
    for key in ("images", "responses", "behavior", "pupil_center", "extra_frames"):
        (folder / "data" / key).mkdir(parents=True)
    for i in range(n_trials):
        np.save(folder / f"data/images/{i}.npy", images[i])
        np.save(folder / f"data/responses/{i}.npy", responses[i])  # float64
        np.save(folder / f"data/behavior/{i}.npy", behavior[i])  # int16
        np.save(folder / f"data/pupil_center/{i}.npy", pupil[i])
        np.save(folder / f"data/extra_frames/{i}.npy", np.zeros(2))
    (folder / "data/images/.DS_Store").write_bytes(b"junk")
    (folder / "meta/neurons").mkdir(parents=True)
    (folder / "meta/trials").mkdir(parents=True)
    trial_idx = np.array([f"{h:032x}" for h in rng.integers(0, 2**62, n_trials)])
    np.save(folder / "meta/trials/tiers.npy", tiers)
    np.save(folder / "meta/trials/frame_image_id.npy", np.arange(n_trials, dtype=np.int32) % 5)
    np.save(folder / "meta/trials/trial_idx.npy", trial_idx)
    np.save(folder / "meta/trials/condition_hash.npy", np.array(["abc"] * n_trials))
    np.save(folder / "meta/neurons/unit_ids.npy", np.arange(n_neurons, dtype=np.uint16))
    np.save(folder / "meta/neurons/cell_motor_coordinates.npy", rng.normal(size=(n_neurons, 3)))
    np.save(folder / "meta/neurons/brain_area.npy", np.array(["V1"] * n_neurons))
    return {"images": images, "responses": responses, "behavior": behavior, "pupil_center": pupil,
            "tiers": tiers, "trial_idx": trial_idx}


def test_real_data_quirks_are_tolerated(tmp_path):
    folder = tmp_path / MOUSE_NAME
    stored = write_quirky_mouse(folder)
    mouse = load_mouse(folder)
    for key in ("images", "responses", "behavior", "pupil_center"):
        assert getattr(mouse, key).dtype == np.float32, key
        np.testing.assert_array_equal(getattr(mouse, key), stored[key].astype(np.float32), err_msg=key)
    assert mouse.trial_idx.dtype.kind == "U"
    np.testing.assert_array_equal(mouse.trial_idx, stored["trial_idx"])
    assert set(mouse.tiers) == {"train", "validation", "test", "final_test"}
    assert mouse.image_ids.dtype == np.int64 and mouse.unit_ids.dtype == np.int64
    assert mouse.statistics is None
    assert not mouse.responses[mouse.tiers == "test"].any()


def test_object_array_trial_idx_is_read(tmp_path):
    folder = tmp_path / MOUSE_NAME
    stored = write_quirky_mouse(folder)
    np.save(folder / "meta/trials/trial_idx.npy", stored["trial_idx"].astype(object), allow_pickle=True)
    np.testing.assert_array_equal(load_mouse(folder).trial_idx, stored["trial_idx"])


def test_trials_follow_numeric_file_order(tmp_path):
    folder = tmp_path / MOUSE_NAME
    write_quirky_mouse(folder)
    mouse = load_mouse(folder)
    np.testing.assert_array_equal(mouse.images[10], np.load(folder / "data/images/10.npy").astype(np.float32))
    np.testing.assert_array_equal(mouse.images[2], np.load(folder / "data/images/2.npy").astype(np.float32))


# ---------------------------------------------------------------- errors


def test_missing_file_names_the_file(written):
    folder, _ = written
    (folder / "meta/neurons/unit_ids.npy").unlink()
    with pytest.raises(DataError, match=r"meta/neurons/unit_ids\.npy: file is missing"):
        load_mouse(folder)
    with pytest.raises(DataError, match=r"unit_ids\.npy"):
        validate_layout(folder)


def test_missing_folder_names_the_path(tmp_path):
    with pytest.raises(DataError, match="no-such-mouse"):
        load_mouse(tmp_path / "no-such-mouse")


def test_nan_response_names_the_trial_file(written, tmp_path):
    folder, arrays = written
    bad = arrays.responses[7].copy()
    bad[2] = np.nan
    np.save(folder / "data/responses/7.npy", bad)
    with pytest.raises(DataError, match=r"data/responses/7\.npy: contains NaN"):
        load_mouse(folder)
    with pytest.raises(DataError, match=r"archive\.zip:static12345.*/data/responses/7\.npy: contains NaN"):
        load_mouse(zip_mouse(folder, tmp_path / "archive"))


def test_trial_count_mismatch(written):
    folder, _ = written
    (folder / "data/behavior/13.npy").unlink()
    with pytest.raises(DataError, match=r"data/behavior: trial count mismatch, 13 trial files .* 14 trials"):
        validate_layout(folder)
    with pytest.raises(DataError, match="trial count mismatch"):
        load_mouse(folder)


def test_wrong_shape_names_the_file(written):
    folder, _ = written
    np.save(folder / "data/responses/3.npy", np.zeros(6, np.float32))
    with pytest.raises(DataError, match=r"data/responses/3\.npy: shape \(6,\), expected \(5,\)"):
        load_mouse(folder)


def test_neuron_count_mismatch(written):
    folder, _ = written
    np.save(folder / "meta/neurons/unit_ids.npy", np.arange(4))
    with pytest.raises(DataError, match=r"responses/all/std\.npy: 5 values, expected 4"):
        load_mouse(folder)
    shutil.rmtree(folder / "meta/statistics")
    with pytest.raises(DataError, match=r"responses has shape \(14, 5\), expected \(14, 4\)"):
        load_mouse(folder)


def test_zip_without_a_mouse_folder(tmp_path):
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "readme.txt").write_text("hello")
    archive = shutil.make_archive(str(tmp_path / "archive"), "zip", tmp_path / "content")
    with pytest.raises(DataError, match="expected one top folder"):
        load_mouse(Path(archive))


# ---------------------------------------------------------------- cache


def test_cache_round_trip_equals_load_mouse(written, tmp_path):
    folder, _ = written
    cache_dir = tmp_path / "cache" / MOUSE_NAME
    build_cache(folder, cache_dir)
    cached, direct = load_cache(cache_dir), load_mouse(folder)
    assert isinstance(cached.images, np.memmap) and isinstance(cached.responses, np.memmap)
    assert_same_mouse(cached, direct)
    assert_same_statistics(cached.statistics, direct.statistics)
    assert [p.name for p in cache_dir.parent.iterdir()] == [MOUSE_NAME]  # no staging left behind


def test_cache_of_quirky_mouse_keeps_string_trial_idx(tmp_path):
    folder = tmp_path / MOUSE_NAME
    write_quirky_mouse(folder)
    build_cache(folder, tmp_path / "cache")
    cached = load_cache(tmp_path / "cache")
    assert cached.statistics is None
    assert_same_mouse(cached, load_mouse(folder))


def test_unreadable_tree_builds_no_cache(written, tmp_path):
    folder, _ = written
    (folder / "data/images/5.npy").write_bytes(b"not a npy file")
    with pytest.raises(DataError, match=r"data/images/5\.npy: not a \.npy file"):
        build_cache(folder, tmp_path / "cache" / "m")
    assert not (tmp_path / "cache" / "m").exists()


def test_interrupted_cache_build_leaves_nothing(written, tmp_path, monkeypatch):
    folder, _ = written
    real_save = np.save

    def save_then_die(path, values, **kwargs):
        if Path(path).name == "responses.npy":
            raise KeyboardInterrupt("job killed")
        real_save(path, values, **kwargs)

    monkeypatch.setattr(np, "save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        build_cache(folder, tmp_path / "cache" / "m")
    assert list((tmp_path / "cache").iterdir()) == []


def test_damaged_cache_raises(written, tmp_path):
    folder, _ = written
    cache_dir = tmp_path / "cache"
    build_cache(folder, cache_dir)
    (cache_dir / "behavior.npy").unlink()
    with pytest.raises(DataError, match=r"behavior\.npy: cache file is missing"):
        load_cache(cache_dir)
    np.save(cache_dir / "behavior.npy", np.zeros((3, 3), np.float32))
    with pytest.raises(DataError, match=r"behavior\.npy: corrupt cache file"):
        load_cache(cache_dir)
    (cache_dir / "manifest.json").unlink()
    with pytest.raises(DataError, match="manifest is missing"):
        load_cache(cache_dir)


# ---------------------------------------------------------------- training view


def toy_statistics(n_neurons: int) -> dict:
    def groups(mean, std):
        return {"all": {"mean": np.asarray(mean, np.float32), "std": np.asarray(std, np.float32)}}

    return {
        "images": groups(2.0, 4.0),
        "responses": groups(np.zeros(n_neurons), [2.0, 0.001]),
        "behavior": groups([9.0, 9.0, 9.0], [0.5, 2.0, 0.0]),
        "pupil_center": groups([1.0, -1.0], [2.0, 0.5]),
    }


def hand_made_mouse() -> MouseArrays:
    """Two trials, two neurons, 2×2 images: small enough to normalize by hand."""
    return MouseArrays(
        images=np.array([[[[2, 6], [10, -2]]], [[[0, 4], [2, 2]]]], np.float32),
        responses=np.array([[4.0, 0.5], [1.0, 0.0]], np.float32),
        behavior=np.array([[1.0, 4.0, 3.0], [2.0, -2.0, 0.0]], np.float32),
        pupil_center=np.array([[3.0, 0.0], [1.0, -1.5]], np.float32),
        tiers=np.array(["train", "test"]),
        image_ids=np.array([7, 8]),
        trial_idx=np.array([0, 1]),
        cell_motor_coordinates=np.zeros((2, 3), np.float32),
        unit_ids=np.array([1, 2]),
        statistics=toy_statistics(2),
    )


def test_normalization_matches_hand_computation():
    view = prepare_mouse("toy", hand_made_mouse(), image_scale=1.0)
    expected_images = torch.tensor([[[[0.0, 1.0], [2.0, -1.0]]], [[[-0.5, 0.5], [0.0, 0.0]]]])
    torch.testing.assert_close(view.images, expected_images)
    # std floor = 1% of mean std = 0.01 * (2 + 0.001) / 2 = 0.010005; no mean subtraction
    torch.testing.assert_close(view.responses, torch.tensor([[2.0, 0.5 / 0.010005], [0.5, 0.0]]))
    # behaviour divided by std, no mean subtraction; a constant (std 0) dimension stays as is
    torch.testing.assert_close(view.behavior, torch.tensor([[2.0, 2.0, 3.0], [4.0, -1.0, 0.0]]))
    torch.testing.assert_close(view.pupil_center, torch.tensor([[1.0, 2.0], [0.0, -1.0]]))
    np.testing.assert_array_equal(view.indices("train"), [0])
    np.testing.assert_array_equal(view.indices("test"), [1])
    assert view.n_neurons == 2 and view.input_shape == (4, 2, 2)


def test_inputs_append_constant_behaviour_planes():
    view = prepare_mouse("toy", hand_made_mouse(), image_scale=1.0)
    batch = view.inputs(np.array([1, 0]))
    assert batch.shape == (2, 4, 2, 2)
    torch.testing.assert_close(batch[:, 0], view.images[[1, 0], 0])
    for plane in range(3):
        torch.testing.assert_close(batch[:, 1 + plane], view.behavior[[1, 0], plane][:, None, None].expand(2, 2, 2))


def test_rescale_to_quarter_resolution():
    arrays = sensorium_mouse(n_trials=8, height=144, width=256)
    arrays.images[1] = 100.0
    view = prepare_mouse("m", arrays, image_scale=0.25)
    assert view.images.shape == (8, 1, 36, 64) and view.input_shape == (4, 36, 64)
    stats = compute_statistics(arrays)["images"]["all"]
    constant = (100.0 - float(stats["mean"])) / float(stats["std"])
    torch.testing.assert_close(view.images[1], torch.full((1, 36, 64), constant))
    # antialiased bilinear downsampling preserves the mean of a random image closely
    normalized = (arrays.images[0] - stats["mean"]) / stats["std"]
    assert abs(view.images[0].mean().item() - normalized.mean()) < 1e-3


def test_prepare_from_cache_equals_prepare_from_folder(written, tmp_path):
    folder, _ = written
    build_cache(folder, tmp_path / "cache")
    from_cache = prepare_mouse("m", load_cache(tmp_path / "cache"), image_scale=0.5)
    from_folder = prepare_mouse("m", load_mouse(folder), image_scale=0.5)
    assert from_cache.images.shape == (14, 1, 3, 4)
    for field in ("images", "responses", "behavior", "pupil_center"):
        torch.testing.assert_close(getattr(from_cache, field), getattr(from_folder, field))


# ---------------------------------------------------------------- hostile and damaged meta files


def test_meta_array_with_a_payload_is_refused_and_never_runs(written, tmp_path):
    folder, arrays = written
    marker = tmp_path / "marker"
    tiers = np.array([*arrays.tiers[:-1], CreatesFile(marker)], dtype=object)
    np.save(folder / "meta/trials/tiers.npy", tiers, allow_pickle=True)
    archive = zip_mouse(folder, tmp_path / "archive")
    with pytest.raises(DataError,
                       match=r"archive\.zip:static12345.*/meta/trials/tiers\.npy: refused to unpickle io\.open"):
        load_mouse(archive)
    with pytest.raises(DataError, match=r"meta/trials/tiers\.npy: refused to unpickle"):
        build_cache(folder, tmp_path / "cache")
    assert not marker.exists()


def test_object_array_of_tier_strings_is_read(written):
    folder, arrays = written
    np.save(folder / "meta/trials/tiers.npy", np.asarray(arrays.tiers).astype(object), allow_pickle=True)
    np.testing.assert_array_equal(load_mouse(folder).tiers, arrays.tiers)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"<!DOCTYPE html>\n<html>rate limit</html>", "not a .npy file: starts with '<!DOCTYPE html>'"),
        (b"version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 9\n", "a git-lfs pointer"),
    ],
)
def test_garbage_meta_file_names_the_zip_member(written, tmp_path, content, expected):
    folder, _ = written
    (folder / "meta/trials/tiers.npy").write_bytes(content)
    archive = zip_mouse(folder, tmp_path / "archive")
    with pytest.raises(DataError, match=rf"archive\.zip:{MOUSE_NAME}/meta/trials/tiers\.npy: {expected}"):
        validate_layout(archive)


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda path: np.save(path, np.array([1.0, np.nan, 1.0, 1.0, 1.0], np.float32)), "contains NaN"),
        (lambda path: np.save(path, np.ones(4, np.float32)), "4 values, expected 5"),
        (lambda path: path.unlink(), "file is missing"),
    ],
)
def test_damaged_statistics_name_the_file_at_load_and_at_download(tmp_path, damage, expected):
    folder = tmp_path / MOUSE_NAME
    arrays = sensorium_mouse()
    arrays.statistics = compute_statistics(arrays)
    write_mouse(folder, arrays)
    damage(folder / "meta/statistics/responses/all/std.npy")
    for check in (validate_layout, load_mouse):
        with pytest.raises(DataError, match=rf"meta/statistics/responses/all/std\.npy: {expected}"):
            check(folder)


def test_cache_of_a_damaged_download_says_how_to_recover(written, tmp_path):
    folder, _ = written
    np.save(folder / "data/images/4.npy", np.full((1, 6, 8), np.inf, np.float32))
    with pytest.raises(DataError, match=rf"data/images/4\.npy: contains NaN(.|\n)*rm -r {folder}"):
        build_cache(folder, tmp_path / "cache")


@pytest.mark.parametrize(
    ("member", "reason"),
    [("../evil.npy", "path leaves the archive's folder"), ("/etc/evil.npy", "absolute path"),
     (f"{MOUSE_NAME}/link", "symbolic link")],
)
def test_zip_with_an_unsafe_member_is_refused(written, tmp_path, member, reason):
    folder, _ = written
    archive = zip_mouse(folder, tmp_path / "archive")
    with zipfile.ZipFile(archive, "a") as handle:
        info = zipfile.ZipInfo(member)
        if member.endswith("link"):
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
        handle.writestr(info, "/etc/passwd")
    with pytest.raises(DataError, match=rf"unsafe zip member '{re.escape(member)}' \({reason}"):
        load_mouse(archive)
