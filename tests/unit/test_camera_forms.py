"""The Cameras page's payloads and camera list changes (config.schemas, config.cameras): pure."""
from __future__ import annotations

import pytest

from common.payloads import PayloadError, validate
from config.cameras import (
    CameraChangeError,
    UnknownCamera,
    add_camera,
    camera_view,
    change_camera,
    probe_target,
    remove_camera,
    reorder_cameras,
)
from config.schema import CameraConfig
from config.schemas import CameraForm, CameraOrder, CameraTest

SECRET = "Top5ecret"
CAMS = [CameraConfig(name="cam1", url=f"rtsp://operator:{SECRET}@192.0.2.10:554/stream1",
                     preview_url=f"rtsp://operator:{SECRET}@192.0.2.10:554/stream2"),
        CameraConfig(name="cam2", url="demo:1"), CameraConfig(name="cam3", url=0)]


def form(**data) -> CameraForm:
    return validate(CameraForm, data)


def refused(code: str, call, *args):
    with pytest.raises(CameraChangeError) as excinfo:
        call(*args)
    assert excinfo.value.code == code and "\n" not in str(excinfo.value)
    return excinfo.value


@pytest.mark.parametrize("data, code", [
    ({"name": "c", "source": "rtsp", "url": "http://192.0.2.1/video"}, "not_rtsp"),
    ({"name": "c", "source": "rtsp", "url": "gopher://192.0.2.1/x"}, "not_rtsp"),
    ({"name": "c", "source": "rtsp", "url": "192.0.2.1/stream"}, "not_rtsp"),
    ({"name": "c", "source": "rtsp", "url": "rtsp:///stream"}, "bad_url"),
    ({"name": "c", "source": "rtsp", "url": "rtsp://192.0.2.1:port/s"}, "bad_url"),
    ({"name": "c", "source": "rtsp", "url": "rtsp://192.0.2.1/a b"}, "bad_url"),
    ({"name": "c", "source": "rtsp"}, "missing"),
    ({"name": "c", "source": "usb", "usb": 0, "password": "x"}, "rtsp_only"),
    ({"name": "c", "source": "rtsp", "url": "rtsp://u:p@h/s", "user": "v"}, "credentials_twice"),
    ({"name": "c", "source": "rtsp", "url": "rtsp://h/s", "user": "u", "preview_url": "rtsp://w:x@h/sub"},
     "preview_credentials"),
    ({"name": "c", "source": "rtsp", "url": "rtsp://h/s", "password": "x"}, "password_without_user"),
    ({"name": "c", "source": "rtsp", "url": "rtsp://h/s", "extra": 1}, "extra_forbidden"),
    ({"name": "c", "source": "ftp", "url": "rtsp://h/s"}, "literal_error"),
    ({"name": "c", "source": "usb", "usb": 64}, "less_than_equal"),
])
def test_bad_payloads_are_refused_with_a_code(data, code):
    with pytest.raises(PayloadError) as excinfo:
        form(**data)
    assert code in [p["code"] for p in excinfo.value.problems]


def test_credentials_in_the_url_go_to_their_fields():
    data = form(name="c", source="rtsp", url="rtsp://op%40site:p%3Ass@192.0.2.5:8554/live", preview_url="rtsp://192.0.2.5/s")
    assert (data.url, data.user, data.password) == ("rtsp://192.0.2.5:8554/live", "op@site", "p:ss")
    camera = add_camera([], data, base=None)[-1]
    assert camera.url == "rtsp://op%40site:p%3Ass@192.0.2.5:8554/live"
    assert camera.preview_url == "rtsp://op%40site:p%3Ass@192.0.2.5/s"


def test_a_form_never_shows_a_password_and_an_empty_password_keeps_the_stored_one():
    view = camera_view(CAMS[0], 0)
    assert SECRET not in str(view)
    assert view == view | {
        "source": "rtsp", "url": "rtsp://192.0.2.10:554/stream1", "preview_url": "rtsp://192.0.2.10:554/stream2",
        "user": "operator", "has_password": True, "safe_url": "rtsp://operator:***@192.0.2.10:554/stream1"}
    # the page sends back what it shows, the password left empty: everything stays
    same, origins = change_camera(CAMS, "cam1", form(name="cam1", source="rtsp", url=view["url"], user="operator",
                                                    preview_url=view["preview_url"]), None)
    assert same == CAMS and origins == {"cam1": "cam1"}
    moved, _ = change_camera(CAMS, "cam1", form(name="cam1", source="rtsp", url="rtsp://192.0.2.99/s1", user="operator"),
                             None)
    assert moved[0].url == f"rtsp://operator:{SECRET}@192.0.2.99/s1" and moved[0].preview_url is None
    renamed, origins = change_camera(CAMS, "cam1", form(name="left", source="rtsp", url=view["url"], user="admin",
                                                        password="new"), None)
    assert renamed[0].url == "rtsp://admin:new@192.0.2.10:554/stream1" and origins == {"left": "cam1"}
    plain, _ = change_camera(CAMS, "cam1", form(name="cam1", source="rtsp", url=view["url"]), None)
    assert plain[0].url == "rtsp://192.0.2.10:554/stream1"  # no user: no credentials at all
    for view in (camera_view(c, i) for i, c in enumerate(CAMS[1:])):
        assert not view["has_password"] and view["user"] is None


def test_names_must_be_allowed_and_distinct_whatever_the_case():
    refused("bad_name", add_camera, CAMS, form(name="../x", source="usb", usb=1), None)
    refused("bad_name", add_camera, CAMS, form(name="a" * 33, source="usb", usb=1), None)
    refused("name_taken", add_camera, CAMS, form(name="CAM2", source="usb", usb=1), None)
    refused("name_taken", change_camera, CAMS, "cam1", form(name="cam3", source="usb", usb=1), None)
    changed, _ = change_camera(CAMS, "cam2", form(name="Cam2", source="demo", demo=1), None)
    assert [c.name for c in changed] == ["cam1", "Cam2", "cam3"]  # its own name, another case


def test_one_to_six_cameras():
    six = CAMS + [CameraConfig(name=f"more{i}", url=f"demo:{i}") for i in range(3)]
    seventh = refused("too_many", add_camera, six, form(name="seven", source="demo", demo=0), None)
    assert seventh.params == {"max": 6}
    refused("last_camera", remove_camera, CAMS[:1], "cam1")
    assert [c.name for c in remove_camera(CAMS, "cam2")] == ["cam1", "cam3"]
    with pytest.raises(UnknownCamera):
        remove_camera(CAMS, "nope")


def test_reorder_names_every_camera_once():
    assert [c.name for c in reorder_cameras(CAMS, ["cam3", "cam1", "cam2"])] == ["cam3", "cam1", "cam2"]
    for names in (["cam3", "cam1"], ["cam1", "cam1", "cam2"], ["cam1", "cam2", "cam4"]):
        refused("bad_order", reorder_cameras, CAMS, names)
    with pytest.raises(PayloadError):
        validate(CameraOrder, {"names": []})


def test_files_must_exist_on_the_server(tmp_path):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"x")
    added = add_camera(CAMS, form(name="f", source="file", file="v.mp4"), tmp_path)
    assert added[-1].url == str(video)
    refused("no_file", add_camera, CAMS, form(name="f", source="file", file="missing.mp4"), tmp_path)
    refused("no_file", add_camera, CAMS, form(name="f", source="file", file=str(tmp_path)), tmp_path)


def test_a_test_uses_the_stored_password_of_the_camera_it_names():
    test = validate(CameraTest, {"source": "rtsp", "url": "rtsp://192.0.2.10:554/stream1", "user": "operator",
                                 "camera": "cam1"})
    assert probe_target(CAMS, test, None).url == CAMS[0].url
    test = validate(CameraTest, {"source": "rtsp", "url": "rtsp://192.0.2.10:554/stream1", "user": "operator"})
    assert probe_target(CAMS, test, None).url == "rtsp://operator@192.0.2.10:554/stream1"
    with pytest.raises(UnknownCamera):
        probe_target(CAMS, validate(CameraTest, {"source": "demo", "demo": 0, "camera": "nope"}), None)
