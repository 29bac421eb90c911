"""config.yaml validation and credential masking."""
import io
import logging
import subprocess
import sys

import pytest

from settings import ConfigError, MaskSecretsFilter, load_settings, mask_secrets, parse_settings
from tests.helpers.paths import ROOT

GOOD = {"cameras": [{"name": "cam1", "url": "rtsp://user:pass@192.0.2.10:554/stream1"},
                    {"name": "cam2", "url": "demo:1"}, {"name": "cam3", "url": 0}],
        "data_dir": "data", "board": {"cols": 9, "rows": 6, "square_mm": 115}, "preview": {"width": 640, "fps": 15}}


def test_serving_defaults_and_paths(tmp_path):
    """CONTRACT: server {host: 127.0.0.1, port: 5000, tls_cert: null, tls_key: null}; recording
    {max_take_s: 1800, orphan_stop_s: 30}; a certificate path is taken relative to the file's folder."""
    s = parse_settings(GOOD, base=tmp_path)
    assert (s.server.host, s.server.port, s.server.tls_cert, s.server.tls_key) == ("127.0.0.1", 5000, None, None)
    assert (s.recording.max_take_s, s.recording.orphan_stop_s) == (1800, 30) and not s.server.tls
    site = parse_settings({**GOOD, "server": {"tls_cert": "tls/site.pem", "tls_key": "tls/site.key"}}, base=tmp_path)
    assert site.server.tls_cert == (tmp_path / "tls" / "site.pem").resolve() and site.server.tls
    assert parse_settings({**GOOD, "server": {"tls_cert": "auto"}}, base=tmp_path).server.tls_cert == "auto"


def test_contract_example_is_valid(tmp_path):
    s = parse_settings(GOOD, base=tmp_path)
    assert [c.name for c in s.cameras] == ["cam1", "cam2", "cam3"]
    assert s.cameras[2].url == 0
    assert s.data_dir == (tmp_path / "data").resolve()
    assert s.board.cols == 9 and s.preview.width == 640
    assert s.cameras[0].safe_url == "rtsp://user:***@192.0.2.10:554/stream1"


@pytest.mark.parametrize("change, needle", [
    ({"colour": "red"}, "unknown key 'colour'"),
    ({"preview": {"width": 640, "fsp": 15}}, "unknown key 'preview.fsp'"),
    ({"preview": {"width": 10}}, "'preview.width'"),
    ({"preview": {"fps": 0}}, "'preview.fps'"),
    ({"board": {"cols": 1}}, "'board.cols'"),
    ({"cameras": []}, "'cameras'"),
    ({"cameras": [{"name": f"c{i}", "url": "demo:0"} for i in range(7)]}, "'cameras'"),
    ({"cameras": [{"name": "a", "url": "demo:0"}, {"name": "a", "url": "demo:1"}]}, "a repeated"),
    ({"cameras": [{"name": "bad name!", "url": "demo:0"}]}, "'cameras.0.name'"),
    ({"cameras": [{"name": "c", "url": "ftp://x:secret@h/s"}]}, "unsupported scheme 'ftp'"),
    ({"cameras": [{"name": "c", "url": "demo:x"}]}, "demo:N"),
    ({"cameras": [{"name": "c", "url": 99}]}, "'cameras.0.url'"),
    ({"cameras": [{"name": "c"}]}, "'cameras.0.url'"),
    ({"server": {"tls_cert": "site.pem"}}, "tls_key"),
    ({"server": {"tls_cert": "auto", "tls_key": "k.pem"}}, "tls_key goes with a tls_cert path"),
    ({"server": {"http_redirect_port": 80}}, "set tls_cert too"),
    ({"server": {"tls_cert": "auto", "http_redirect_port": 5000}}, "must differ from port"),
    ({"server": {"port": 70000}}, "'server.port'"),
    ({"server": {"host": "0.0.0.0; rm -rf /"}}, "'server.host'"),
    ({"server": {"trusted_proxies": 9}}, "'server.trusted_proxies'"),
    ({"server": {"threads": 40}, "limits": {"mjpeg_total": 36}}, "limits.mjpeg_total + 16"),
    ({"recording": {"max_take_s": 0}}, "'recording.max_take_s'"),
    ({"recording": {"orphan_stop_s": -1}}, "'recording.orphan_stop_s'"),
    ({"limits": {"takes_per_hour": 0}}, "'limits.takes_per_hour'"),
    ({"limits": {"sockets": 3}}, "unknown key 'limits.sockets'"),
])
def test_bad_values_name_their_key(change, needle):
    with pytest.raises(ConfigError) as err:
        parse_settings({**GOOD, **change}, "config.yaml")
    assert needle in str(err.value)
    assert "secret" not in str(err.value)


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_settings(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("cameras: [\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_settings(bad)
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_settings(bad)


@pytest.mark.parametrize("text, masked", [
    ("rtsp://admin:hunter2@10.0.0.1/s", "rtsp://admin:***@10.0.0.1/s"),
    ("open 'rtsp://u:p%40ss@h:554/x' failed", "open 'rtsp://u:***@h:554/x' failed"),
    ("rtsp://token@h/x", "rtsp://***@h/x"),
    ("rtsp://10.0.0.1/s", "rtsp://10.0.0.1/s"),
    ("rtsp://admin:pa'ss@h/x", "rtsp://admin:***@h/x"),
    ("http://h/cgi?user=a&password=hunter2&x=1", "http://h/cgi?user=a&password=***&x=1"),
    ("rtsp://u:p@ss@h:554/x", "rtsp://u:***@h:554/x"),
    ("two rtsp://a:b@h1/ and http://c:d@h2/", "two rtsp://a:***@h1/ and http://c:***@h2/"),
    ("url: vsion-enc:v1:gAAAAABk-x_Y9z== # cam1", "url: vsion-enc:v1:*** # cam1"),
])
def test_mask_secrets(text, masked):
    assert mask_secrets(text) == masked


def test_log_filter_masks_messages_and_tracebacks():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(MaskSecretsFilter())
    log = logging.getLogger("vsion.test.mask")
    log.addHandler(handler)
    try:
        log.warning("cannot open %s", "rtsp://u:topsecret@h/x")
        try:
            raise OSError("rtsp://u:topsecret@h/x refused")
        except OSError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
    out = stream.getvalue()
    assert "topsecret" not in out
    assert "cannot open rtsp://u:***@h/x" in out and "OSError: rtsp://u:***@h/x refused" in out


def test_serve_with_bad_config_stops_with_the_key(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("cameras:\n  - name: cam1\n    url: rtsp://u:topsecret@127.0.0.1/x\npreview: {width: 5}\nbogus: 1\n")
    proc = subprocess.run([sys.executable, str(ROOT / "app.py"), "serve", "--config", str(cfg)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "'preview.width'" in proc.stderr and "unknown key 'bogus'" in proc.stderr
    assert "Traceback" not in proc.stderr and "topsecret" not in proc.stderr + proc.stdout


def test_registered_passwords_are_masked_anywhere(tmp_path):
    from settings import register_secrets

    settings = parse_settings({"cameras": [{"name": "c", "url": "rtsp://op:W3ird%20pw@h/x"}]})
    register_secrets(settings)
    assert mask_secrets("auth failed with W3ird pw and W3ird%20pw") == "auth failed with *** and ***"
    assert settings.cameras[0].safe_url == "rtsp://op:***@h/x"


def test_file_cameras_resolve_against_the_config_folder(tmp_path):
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "a.mp4").write_bytes(b"")
    cfg = tmp_path / "config.yaml"
    cfg.write_text("cameras:\n  - {name: a, url: videos/a.mp4}\n")
    assert load_settings(cfg).cameras[0].url == str(tmp_path / "videos" / "a.mp4")
    cfg.write_text("cameras:\n  - {name: a, url: videos/missing.mp4}\n")
    with pytest.raises(ConfigError, match="'cameras.0.url': no such video file"):
        load_settings(cfg)


def test_repr_never_shows_a_camera_password(tmp_path):
    settings = parse_settings(GOOD, base=tmp_path)
    for text in (repr(settings), str(settings), repr(settings.cameras[0]), str(settings.cameras[0])):
        assert "pass@" not in text and "rtsp://user:***@192.0.2.10:554/stream1" in text
    assert "CameraConfig(name='cam3', url=0)" in repr(settings)
