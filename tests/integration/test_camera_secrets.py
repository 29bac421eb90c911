"""Camera URLs encrypted at rest: sealing config.yaml, the camera key, the `cameras` commands,
and (slow) a real VSION server on a real RTSP server with a password."""
import logging
import os
import stat
import subprocess
import sys

import pytest
import requests
from cryptography.fernet import Fernet

from config import secretbox
from settings import ConfigError, describe_cameras, load_settings, parse_settings, seal_config, set_camera_url
from tests.helpers.paths import ROOT
from tests.helpers.servers import RtspServer, VsionServer

PASSWORD = "Top5ecret"
CONFIG = f"""\
# VSION at the workshop
cameras:            # left to right
  - name: cam1
    url: "rtsp://operator:{PASSWORD}@192.0.2.10:554/stream1"   # north pillar
  - {{name: cam2, url: 'rtsp://viewer:{PASSWORD}2@192.0.2.11/s'}}
  - name: cam3
    url: rtsp://token{PASSWORD}@192.0.2.12/s
  - name: cam4
    url: rtsp://192.0.2.13:554/open   # no password
  - name: cam5
    url: demo:1
  - name: cam6
    url: 0
data_dir: data
preview: {{width: 640, fps: 15}}  # keep light
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A site folder as the working folder, with config.yaml holding plain-text passwords."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(secretbox.KEY_ENV, raising=False)
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    config.chmod(0o640)
    return config


def one_line_error(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message and PASSWORD not in message and secretbox.PREFIX not in message
    return message


def run_cli(*args, stdin="", env=None, cwd=None):
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *args], input=stdin, text=True, capture_output=True,
                          timeout=60, cwd=cwd, env={**os.environ, **(env or {})})


def test_round_trip():
    key = Fernet.generate_key()
    url = f"rtsp://operator:{PASSWORD}@192.0.2.10:554/stream1"
    sealed = secretbox.seal(url, key)
    assert secretbox.is_sealed(sealed) and PASSWORD not in sealed and "192.0.2.10" not in sealed
    assert sealed != secretbox.seal(url, key)  # a fresh token every time
    assert secretbox.unseal(sealed, key) == url
    for wrong in (Fernet.generate_key(), None):
        with pytest.raises(secretbox.SecretError):
            secretbox.unseal(sealed, wrong)
    with pytest.raises(secretbox.SecretError):
        secretbox.unseal(sealed[:-8] + "AAAAAAAA", key)
    assert [secretbox.has_credentials(u) for u in (url, "rtsp://t@h/x", "rtsp://h/x", "demo:1", 0, "v.mp4", sealed)] \
        == [True, True, False, False, False, False, False]


def test_sealing_keeps_the_file_and_the_settings(site, caplog):
    before = load_settings(site)
    caplog.set_level(logging.INFO, logger="config.edit")
    assert seal_config(site) == ["cam1", "cam2", "cam3"]

    text = site.read_text()
    assert PASSWORD not in text and "operator" not in text and text.count(secretbox.PREFIX) == 3
    old_lines, new_lines = CONFIG.splitlines(), text.splitlines()
    assert len(old_lines) == len(new_lines)
    changed = [new for old, new in zip(old_lines, new_lines) if old != new]
    assert len(changed) == 3 and all(secretbox.PREFIX in line for line in changed)
    assert new_lines[3].startswith('    url: "vsion-enc:v1:') and new_lines[3].endswith('"   # north pillar')
    assert new_lines[4].startswith("  - {name: cam2, url: 'vsion-enc:v1:") and new_lines[4].endswith("'}")
    assert new_lines[6].startswith("    url: vsion-enc:v1:")
    for kept in ("# VSION at the workshop", "cameras:            # left to right",
                 "    url: rtsp://192.0.2.13:554/open   # no password", "    url: demo:1", "    url: 0",
                 "preview: {width: 640, fps: 15}  # keep light"):
        assert kept in new_lines

    assert load_settings(site) == before
    assert load_settings(site).cameras[0].url == f"rtsp://operator:{PASSWORD}@192.0.2.10:554/stream1"
    assert stat.S_IMODE(site.stat().st_mode) == 0o640
    key = site.parent / "data" / "camera.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert [f.name for f in site.parent.iterdir() if f.name.startswith(".")] == []  # no temporary file left

    lines = [r.getMessage() for r in caplog.records]
    assert "camera cam1: its URL is now stored encrypted in " + str(site) + " (key data/camera.key)" in lines
    assert not any(PASSWORD in line or secretbox.PREFIX in line for line in lines)

    key_bytes = key.read_bytes()
    assert seal_config(site) == [] and site.read_text() == text and key.read_bytes() == key_bytes


def test_a_url_shared_through_a_yaml_alias_is_sealed_in_place(site, caplog):
    """The YAML round trip edits any file in place: even two cameras sharing one URL through an
    anchor keep the file's comments (the shared URL becomes two sealed URLs)."""
    site.write_text(f"# site\ncameras:  # two views\n  - {{name: a, url: &u 'rtsp://op:{PASSWORD}@h/x'}}\n"
                    "  - {name: b, url: *u}\n")
    before = load_settings(site)
    assert seal_config(site) == ["a", "b"]
    assert PASSWORD not in site.read_text() and load_settings(site) == before
    assert site.read_text().startswith("# site\ncameras:  # two views\n")


def test_a_read_only_file_is_left_alone(site, caplog):
    site.chmod(0o444)
    assert seal_config(site) == []
    assert site.read_text() == CONFIG and not (site.parent / "data" / "camera.key").exists()
    assert any("read-only" in r.getMessage() and PASSWORD not in r.getMessage() for r in caplog.records)
    assert load_settings(site).cameras[0].url.startswith("rtsp://operator:")


@pytest.mark.parametrize("damage", ["wrong key", "missing key", "bad token"])
def test_a_url_that_cannot_be_decrypted_stops_with_one_line(site, damage):
    seal_config(site)
    key = site.parent / "data" / "camera.key"
    if damage == "wrong key":
        key.write_bytes(Fernet.generate_key())
    elif damage == "missing key":
        key.unlink()
    else:
        site.write_text(site.read_text().replace(secretbox.PREFIX + "gAAAAA", secretbox.PREFIX + "gAAAAB", 1))
    with pytest.raises(ConfigError) as excinfo:
        load_settings(site)
    assert one_line_error(excinfo) == (
        f"{site}: 'cameras.0.url': cannot be decrypted with data/camera.key (key missing or replaced); enter the "
        f"camera URL again with python app.py cameras set-url cam1 --config {site}")
    assert not key.exists() or damage != "missing key"  # loading never makes a key

    key.write_text("not a key\n")
    with pytest.raises(ConfigError) as excinfo:
        load_settings(site)
    assert "data/camera.key is not a valid camera key" in one_line_error(excinfo)


def test_serve_with_an_undecryptable_url_says_so_in_one_line(site):
    seal_config(site)
    (site.parent / "data" / "camera.key").write_bytes(Fernet.generate_key())
    proc = run_cli("serve", "--config", "config.yaml", cwd=site.parent)
    assert proc.returncode == 1
    assert proc.stderr == ("Error: config.yaml: 'cameras.0.url': cannot be decrypted with data/camera.key (key "
                           "missing or replaced); enter the camera URL again with python app.py cameras set-url cam1\n")


def test_the_key_may_come_from_the_environment(site, monkeypatch):
    key = Fernet.generate_key().decode()
    monkeypatch.setenv(secretbox.KEY_ENV, key)
    before = load_settings(site)
    assert seal_config(site) == ["cam1", "cam2", "cam3"]
    assert not (site.parent / "data" / "camera.key").exists()
    assert load_settings(site) == before

    monkeypatch.setenv(secretbox.KEY_ENV, Fernet.generate_key().decode())
    with pytest.raises(ConfigError) as excinfo:
        load_settings(site)
    assert "cannot be decrypted with VSION_CAMERA_KEY (key missing or replaced)" in one_line_error(excinfo)
    monkeypatch.setenv(secretbox.KEY_ENV, "short")
    with pytest.raises(ConfigError) as excinfo:
        load_settings(site)
    assert "VSION_CAMERA_KEY is not a valid camera key" in one_line_error(excinfo)
    monkeypatch.delenv(secretbox.KEY_ENV)
    with pytest.raises(ConfigError, match="cannot be decrypted with data/camera.key"):
        load_settings(site)


def test_set_url_and_list_on_the_command_line(site):
    folder = site.parent
    proc = run_cli("cameras", "set-url", "cam4", stdin=f"rtsp://admin:{PASSWORD}9@192.0.2.13/s\n", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "camera cam4: URL stored encrypted in config.yaml (key data/camera.key)\n"
    assert PASSWORD not in proc.stdout + proc.stderr
    assert f"{PASSWORD}9" not in site.read_text() and "    url: rtsp://192.0.2.13:554/open" not in site.read_text()
    assert "    url: vsion-enc:v1:" in site.read_text() and "   # no password" in site.read_text()
    assert stat.S_IMODE((folder / "data" / "camera.key").stat().st_mode) == 0o600
    assert load_settings(site).cameras[3].url == f"rtsp://admin:{PASSWORD}9@192.0.2.13/s"

    proc = run_cli("cameras", "set-url", "cam5", "--config", str(site), stdin="rtsp://192.0.2.14/open\n")
    assert proc.returncode == 0 and "no password: kept readable" in proc.stdout
    assert "    url: rtsp://192.0.2.14/open" in site.read_text()

    proc = run_cli("cameras", "list", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines()]
    assert rows == [
        ["cam1", "rtsp://operator:***@192.0.2.10:554/stream1", "plain", "(encrypted", "at", "the", "next", "start)"],
        ["cam2", "rtsp://viewer:***@192.0.2.11/s", "plain", "(encrypted", "at", "the", "next", "start)"],
        ["cam3", "rtsp://***@192.0.2.12/s", "plain", "(encrypted", "at", "the", "next", "start)"],
        ["cam4", "rtsp://admin:***@192.0.2.13/s", "encrypted"],
        ["cam5", "rtsp://192.0.2.14/open", "plain"],
        ["cam6", "0", "plain"]]
    assert PASSWORD not in proc.stdout

    for args, stdin, error in [(("nope",), "rtsp://h/x\n", "no camera named 'nope' (cameras: cam1, cam2, cam3"),
                               (("cam1",), f"ftp://u:{PASSWORD}@h/x\n", "unsupported scheme 'ftp'"),
                               (("cam1",), "\n", "'url': must not be empty"),
                               (("cam1",), "videos/missing.mp4\n", "no such video file")]:
        text = site.read_text()
        proc = run_cli("cameras", "set-url", *args, stdin=stdin, cwd=folder)
        assert proc.returncode == 1 and proc.stderr.startswith("Error: ") and error in proc.stderr, proc.stderr
        assert proc.stderr.count("\n") == 1 and PASSWORD not in proc.stderr and site.read_text() == text


def test_a_lost_key_is_mended_camera_by_camera(site):
    seal_config(site)
    (site.parent / "data" / "camera.key").unlink()
    rows = describe_cameras(site)
    assert rows[0]["url"] == "(cannot be decrypted)" and "cameras set-url cam1" in rows[0]["storage"]
    assert rows[3] == {"name": "cam4", "url": "rtsp://192.0.2.13:554/open", "storage": "plain"}
    for i, name in enumerate(("cam1", "cam2", "cam3")):
        with pytest.raises(ConfigError, match=f"'cameras.{i}.url': cannot be decrypted"):
            load_settings(site)
        assert set_camera_url(site, name, f"rtsp://op:{PASSWORD}@192.0.2.{20 + i}/s") == "data/camera.key"
    assert [c.url for c in load_settings(site).cameras[:3]] == [f"rtsp://op:{PASSWORD}@192.0.2.{20 + i}/s"
                                                                 for i in range(3)]
    assert [r["storage"] for r in describe_cameras(site)] == ["encrypted"] * 3 + ["plain"] * 3
    with pytest.raises(ConfigError, match="not its encrypted form"):
        set_camera_url(site, "cam4", secretbox.seal("rtsp://u:p@h/x", Fernet.generate_key()))


def test_nothing_shows_the_password(site):
    seal_config(site)
    settings = load_settings(site)
    shown = [repr(settings), str(settings), repr(settings.cameras[0]), str(settings.cameras), f"{settings}"]
    for text in shown:
        assert PASSWORD not in text and secretbox.PREFIX not in text
    assert "CameraConfig(name='cam1', url='rtsp://operator:***@192.0.2.10:554/stream1')" in repr(settings)
    assert "CameraConfig(name='cam6', url=0)" in repr(settings)


def test_a_decrypted_url_is_validated_like_a_plain_one(site):
    key = secretbox.load_key(site.parent / "data", create=True)
    data = {"cameras": [{"name": "c", "url": secretbox.seal(f"ftp://u:{PASSWORD}@h/x", key)}], "data_dir": "data"}
    with pytest.raises(ConfigError) as excinfo:
        parse_settings(data, "config.yaml", site.parent)
    assert "config.yaml: 'cameras.0.url': unsupported scheme 'ftp'" in one_line_error(excinfo)


@pytest.mark.slow
def test_a_real_server_seals_its_config_and_still_connects(tmp_path, streams):
    server = RtspServer(streams[:1], auth=f"operator:{PASSWORD}").start()
    vsion = VsionServer(tmp_path, [{"name": "cam1", "url": server.url(0)}],
                        {"camera": {"backoff_initial_s": 0.2, "backoff_max_s": 1.0}})
    try:
        assert PASSWORD in vsion.config.read_text()
        shown = []
        for _ in range(2):  # the first start seals the file, the second starts from the sealed file
            vsion.start()
            assert PASSWORD not in vsion.config.read_text() and secretbox.PREFIX in vsion.config.read_text()
            vsion.wait_connected(1)
            session = vsion.login()
            api = session.get(vsion.url + "/api/cameras").json()
            assert api[0]["status"] == "connected"
            assert api[0]["url"] == f"rtsp://operator:***@127.0.0.1:{server.port}/cam1"
            shown += [str(api), str(requests.get(vsion.url + "/healthz").json()), session.get(vsion.url + "/").text,
                      session.get(vsion.url + "/calibration").text]
            vsion.stop()
    finally:
        vsion.stop()
        server.kill()
    log = vsion.log.read_text()
    assert log.count("camera cam1: its URL is now stored encrypted in ") == 1
    assert stat.S_IMODE((vsion.data_dir / "camera.key").stat().st_mode) == 0o600
    for text in [*shown, log]:
        assert PASSWORD not in text and secretbox.PREFIX not in text
