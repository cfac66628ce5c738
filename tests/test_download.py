"""Download and extraction against a real HTTP server on 127.0.0.1 (v1twin.data.download)."""

import hashlib
import io
import shutil
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import yaml

from v1twin.data import DataError, download
from v1twin.data.cache import load_cache
from v1twin.data.download import DownloadError, download_file, extract_mouse
from v1twin.data.dynamic_cache import load_dynamic_cache
from v1twin.data.sensorium_dynamic import load_dynamic_mouse
from v1twin.data.sensorium_static import load_mouse, write_mouse

from conftest import TINY_CONFIG, run_snakemake
from helpers import MOUSE_NAME, CreatesFile, sensorium_mouse

# A Sensorium 2023 zip in the real layout (tests/make_sensorium2023_fixture.py)
SENSORIUM_2023_FIXTURE = Path(__file__).with_name("sensorium2023_fixture.zip")

pytestmark = pytest.mark.timeout(60)
TIMEOUT = 5


def zip_bytes(folder: Path) -> bytes:
    """The folder zipped with itself as the single top folder, as on GIN."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            archive.write(path, path.relative_to(folder.parent).as_posix())
    return buffer.getvalue()


def crc_broken_zip() -> bytes:
    """A structurally valid zip whose only member fails its CRC check."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("payload.bin", b"A" * 1000)
    content = bytearray(buffer.getvalue())
    content[30 + len("payload.bin") + 500] = ord("B")  # inside the stored member data
    return bytes(content)


class Routes(BaseHTTPRequestHandler):
    """Serves `server.routes[path] = (status, body, declared_length)` and counts the requests."""

    def do_GET(self):
        self.server.hits[self.path] = self.server.hits.get(self.path, 0) + 1
        status, body, declared = self.server.routes.get(self.path, (404, b"not found", None))
        if callable(body):
            status, body, declared = body(self.server.hits[self.path])
        self.send_response(status)
        self.send_header("Content-Length", str(len(body) if declared is None else declared))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *args):
        pass


def payload_marker(source: Path) -> Path:
    """The file the served payload zip's tiers.npy creates if anything unpickles it unguarded."""
    return source.parent / "payload_ran"


@pytest.fixture(scope="module")
def mouse_zip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("source") / MOUSE_NAME
    arrays = sensorium_mouse(seed=3)
    write_mouse(folder, arrays)
    return zip_bytes(folder), folder


@pytest.fixture
def server(request, mouse_zip):
    content, source = mouse_zip
    without_meta = source.parent / "without_meta" / MOUSE_NAME
    shutil.copytree(source / "data", without_meta / "data", dirs_exist_ok=True)
    with_payload = source.parent / "with_payload" / MOUSE_NAME
    shutil.copytree(source, with_payload, dirs_exist_ok=True)
    tiers = np.array([*sensorium_mouse(seed=3).tiers[:-1], CreatesFile(payload_marker(source))], dtype=object)
    np.save(with_payload / "meta/trials/tiers.npy", tiers, allow_pickle=True)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Routes)
    httpd.hits = {}
    httpd.routes = {
        "/mouse.zip": (200, content, None),
        "/truncated.zip": (200, content[: len(content) // 2], len(content)),
        "/not-a-zip.zip": (200, content[: len(content) // 2], None),
        "/crc.zip": (200, crc_broken_zip(), None),
        "/no-layout.zip": (200, zip_bytes(without_meta), None),
        "/payload.zip": (200, zip_bytes(with_payload), None),
        "/flaky.zip": (200, lambda hit: (503, b"busy", None) if hit == 1 else (200, content, None), None),
        "/down.zip": (503, b"busy", None),
        "/video.zip": (200, SENSORIUM_2023_FIXTURE.read_bytes(), None),
    }
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()

    def stop():
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=TIMEOUT)

    request.addfinalizer(stop)
    httpd.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    return httpd


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr(download, "BACKOFF_SECONDS", 0.0)


def test_download_and_extract_round_trip(server, mouse_zip, tmp_path):
    content, source = mouse_zip
    dest = tmp_path / "mouse.zip"
    result = download_file(f"{server.base}/mouse.zip", dest, sha256=hashlib.sha256(content).hexdigest(),
                           timeout=TIMEOUT)
    assert result == dest and dest.read_bytes() == content
    assert not dest.with_suffix(".part").exists()
    extract_mouse(dest, tmp_path / "resources" / "mouse")
    assert [p.name for p in (tmp_path / "resources").iterdir()] == ["mouse"]  # no staging left
    loaded, original = load_mouse(tmp_path / "resources" / "mouse"), load_mouse(source)
    for field in ("images", "responses", "behavior", "pupil_center", "tiers", "unit_ids"):
        np.testing.assert_array_equal(getattr(loaded, field), getattr(original, field))


def test_404_names_url_and_status_without_retrying(server, tmp_path):
    url = f"{server.base}/nowhere.zip"
    with pytest.raises(DownloadError, match=rf"{url}: HTTP 404"):
        download_file(url, tmp_path / "x.zip", attempts=3, timeout=TIMEOUT)
    assert server.hits["/nowhere.zip"] == 1
    assert list(tmp_path.iterdir()) == []


def test_truncated_body_is_an_error_and_leaves_no_file(server, tmp_path):
    url = f"{server.base}/truncated.zip"
    with pytest.raises(DownloadError, match=rf"{url}: (truncated transfer|transfer interrupted)"):
        download_file(url, tmp_path / "x.zip", attempts=2, timeout=TIMEOUT)
    assert server.hits["/truncated.zip"] == 2
    assert list(tmp_path.iterdir()) == []


def test_checksum_mismatch(server, mouse_zip, tmp_path):
    actual = hashlib.sha256(mouse_zip[0]).hexdigest()
    with pytest.raises(DownloadError, match=rf"checksum mismatch, expected sha256 {'0' * 64}, got {actual}"):
        download_file(f"{server.base}/mouse.zip", tmp_path / "x.zip", sha256="0" * 64, timeout=TIMEOUT)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("route", ["/not-a-zip.zip", "/crc.zip"])
def test_corrupt_zip(server, tmp_path, route):
    with pytest.raises(DownloadError, match=rf"{server.base}{route}: corrupt zip file"):
        download_file(f"{server.base}{route}", tmp_path / "x.zip", timeout=TIMEOUT)
    assert list(tmp_path.iterdir()) == []


def test_server_errors_are_retried(server, tmp_path):
    download_file(f"{server.base}/flaky.zip", tmp_path / "x.zip", attempts=3, timeout=TIMEOUT)
    assert server.hits["/flaky.zip"] == 2
    with pytest.raises(DownloadError, match=r"HTTP 503 .*gave up after 3 attempts"):
        download_file(f"{server.base}/down.zip", tmp_path / "y.zip", attempts=3, timeout=TIMEOUT)
    assert server.hits["/down.zip"] == 3


def test_unreachable_server(tmp_path):
    with pytest.raises(DownloadError, match="connection failed"):
        download_file("http://127.0.0.1:9/x.zip", tmp_path / "x.zip", attempts=1, timeout=TIMEOUT)


def test_zip_without_mouse_layout(server, tmp_path):
    archive = download_file(f"{server.base}/no-layout.zip", tmp_path / "x.zip", timeout=TIMEOUT)
    with pytest.raises(DataError, match=r"meta/trials/tiers\.npy: file is missing"):
        extract_mouse(archive, tmp_path / "resources" / "mouse")
    assert list((tmp_path / "resources").iterdir()) == []


def test_zip_with_an_escaping_member_extracts_nothing(mouse_zip, tmp_path):
    content, _ = mouse_zip
    archive = tmp_path / "mouse.zip"
    archive.write_bytes(content)
    with zipfile.ZipFile(archive, "a") as handle:
        handle.writestr(f"{MOUSE_NAME}/../../escaped.txt", "outside")
    with pytest.raises(DataError, match=r"unsafe zip member .*escaped\.txt' \(path leaves the archive's folder"):
        extract_mouse(archive, tmp_path / "resources" / "mouse")
    assert list((tmp_path / "resources").iterdir()) == [] and not (tmp_path / "escaped.txt").exists()


# ----------------------------------------------------------------------------------------------
# The data_download and data_cache rules, run by Snakemake against the same server


def _download_config(tmp_path, server, **dataset) -> Path:
    """The tiny config on a served dataset; it stands alone (the tiny transfer section, the variants on
    simulated extra and video mice and what uses them — DECEMber's retina-style check, the regularization
    control, the identifiability populations, the video landscape — name the tiny mice)."""
    config = yaml.safe_load(TINY_CONFIG.read_text())
    del config["transfer"]
    config["variants"] = {name: variant for name, variant in config["variants"].items() if "mice" not in variant}
    config["sweeps"] = {name: sweep for name, sweep in config["sweeps"].items() if sweep["base"] in config["variants"]}
    del config["regularization_control"], config["identifiability"]  # their populations are simulated extra mice
    del config["landscapes"]["video_rows"]  # its variants train on the simulated video mouse
    config["december"].pop("retina")
    config["dataset"] = {"name": "served", "source": "download", "image_scale": 1.0, "mice": ["mouse"],
                         "base_url": server.base, "file_pattern": "{mouse}.zip", "retries": 0, **dataset}
    path = tmp_path / "download.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.timeout(300)
def test_download_rule_fetches_unzips_and_caches(server, mouse_zip, tmp_path):
    content, source = mouse_zip
    config = _download_config(tmp_path, server, sha256={"mouse": hashlib.sha256(content).hexdigest()})
    run_snakemake(tmp_path, "resources/served/mouse.cache", configs=(config,), base=None)
    cached = load_cache(tmp_path / "resources" / "served" / "mouse.cache")
    np.testing.assert_array_equal(np.asarray(cached.responses), load_mouse(source).responses)
    assert sorted(p.name for p in (tmp_path / "resources" / "served").iterdir()) == ["mouse", "mouse.cache"]


@pytest.mark.timeout(300)
def test_download_rule_serves_a_sensorium_2023_video_mouse(server, tmp_path):
    """The same rules fetch and cache a video mouse of dataset.video_downloads: its __MACOSX/ entries and
    config.json tolerated."""
    group = {"base_url": server.base, "file_pattern": "{mouse}.zip", "mice": ["video"]}
    config = _download_config(tmp_path, server, video_downloads={"served_videos": group})
    run_snakemake(tmp_path, "resources/served/video.cache", configs=(config,), base=None)
    cached = load_dynamic_cache(tmp_path / "resources" / "served" / "video.cache")
    expected = load_dynamic_mouse(SENSORIUM_2023_FIXTURE)
    np.testing.assert_array_equal(cached.trial_ids, expected.trial_ids)
    for i, (video, responses, behavior, pupil_center) in enumerate(map(cached.trial, range(len(expected.tiers)))):
        np.testing.assert_array_equal(video, expected.videos[i])
        np.testing.assert_array_equal(responses, expected.responses[i])
        np.testing.assert_array_equal(behavior, expected.behavior[i])
        np.testing.assert_array_equal(pupil_center, expected.pupil_center[i])


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("route", "dataset", "expected"),
    [
        ("missing", {}, "404"),
        ("mouse", {"sha256": {"mouse": "0" * 64}}, "sha256"),
        ("payload", {}, f"{MOUSE_NAME}/meta/trials/tiers.npy: refused to unpickle io.open"),
    ],
)
def test_download_rule_failures_name_the_problem_and_leave_nothing(server, mouse_zip, tmp_path, route, dataset,
                                                                   expected):
    config = _download_config(tmp_path, server, mice=[route], **dataset)
    result = run_snakemake(tmp_path, f"resources/served/{route}.cache", configs=(config,), check=False, base=None)
    assert result.returncode != 0
    log = (tmp_path / "results" / "served" / "logs" / "data_download" / f"{route}.log").read_text()
    assert expected in log
    assert not payload_marker(mouse_zip[1]).exists()
    leftovers = list((tmp_path / "resources" / "served").glob("*")) if (tmp_path / "resources").exists() else []
    assert leftovers == [], leftovers
