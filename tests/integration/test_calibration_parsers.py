"""Hostile calibration files and pose files: the parsers answer a result or their own one-line error.

The probe of issue 14 crashed ``POST /api/calibrations/import`` with a TOML nested 600 deep
(RecursionError), a 5,000-digit integer (ValueError), a hex integer too large for a float
(OverflowError), and stored odd ``[metadata]`` types and control characters in notes that made
``GET /api/calibrations/<id>`` answer 500 for good. Each has an explicit regression test here;
hypothesis then generates TOML documents (depth, huge numbers, wrong types, NaN / inf), Qualisys
XML variants and pose files, and the only outcomes allowed are a valid result or
CalibrationFileError / ExportError with a bounded one-line message. Reproducible (derandomize).
"""
from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from calibration import store
from calibration.boards import Checkerboard
from calibration.camera import Camera, CameraGroup
from calibration.io import (
    MAX_FILE_BYTES,
    CalibrationFileError,
    _is_number,
    load_calibration,
    load_qca,
    load_toml,
    save_toml,
)
from calibration.metadata import MAX_INT, CalibrationMetadata, SetRecord, scalar_problem
from live.wizard import rig_summary
from reconstruction.exports import (
    CSV_HEADER,
    ExportError,
    load_keypoints,
    read_pose3d_csv,
    read_trc,
    write_pose3d_csv,
    write_trc,
)
from reconstruction.landmarks import N_JOINTS

SETTINGS = dict(deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large, HealthCheck.large_base_example])
RIG = ["cam1", "cam2"]
BOARD = Checkerboard(9, 6, 115.0)


def camera_toml(table: str, **values: str) -> str:
    """One camera table as TOML text; ``values`` add or replace keys by raw TOML text ('' leaves one out)."""
    keys = {"size": "[1280, 720]", "matrix": "[[1000.0, 0.0, 640.0], [0.0, 1000.0, 360.0], [0.0, 0.0, 1.0]]",
            "distortions": "[0.0, 0.0, 0.0, 0.0]", "rotation": "[0.0, 0.0, 0.0]", "translation": "[0.0, 0.0, 2.0]",
            **values}
    return f"[{table}]\n" + "".join(f"{key} = {text}\n" for key, text in keys.items() if text)


RIG_TOML = camera_toml("cam1") + camera_toml("cam2")


def write(folder: Path, text: str | bytes, name: str = "calib.toml") -> Path:
    path = folder / name
    path.write_bytes(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    return path


def refused(call, *words: str, error=CalibrationFileError) -> str:
    """Run ``call``; it must raise ``error`` with a bounded one-line message holding ``words``."""
    with pytest.raises(error) as exc:
        call()
    message = str(exc.value)
    assert "\n" not in message and "\r" not in message, message
    assert len(message) < 700, message
    for word in words:
        assert word in message, message
    return message


def check_group(group: CameraGroup) -> None:
    """What a loaded calibration promises: finite float64 cameras, printable names, typed metadata
    that JSON and the TOML writer accept, and that the calibration page can draw."""
    assert 1 <= len(group) <= 64
    for cam in group.cameras:
        assert isinstance(cam.name, str) and cam.name.isprintable() and 0 < len(cam.name) <= 64
        assert all(isinstance(v, int) and 0 < v <= 100_000 for v in cam.size)
        for arr in (cam.matrix, cam.dist, cam.rvec, cam.tvec):
            assert arr.dtype == np.float64 and np.isfinite(arr).all()
    known = {k: v for k, v in group.metadata.items() if k in CalibrationMetadata.model_fields}
    CalibrationMetadata.model_validate(known)  # the known keys have their types
    assert all(scalar_problem(v) is None for k, v in group.metadata.items() if k not in known)
    json.dumps(group.metadata, allow_nan=False)
    rig_summary(group, None, BOARD)  # what GET /api/calibrations/<id> draws


def outcome(call):
    """The result of ``call``, or its CalibrationFileError (checked one line and bounded); anything
    else fails the test."""
    try:
        result = call()
    except CalibrationFileError as exc:
        message = str(exc)
        assert "\n" not in message and len(message) < 700, message
        event("refused: " + " ".join(word for word in message.split(": ", 1)[-1].split() if word.isalpha())[:40])
        return exc
    event("accepted")
    return result


# --------------------------------------------------------------------------- the probe's findings


@pytest.mark.parametrize("text", [
    "x = " + "[" * 600 + "]" * 600 + "\n",
    "x = " + "{a = " * 600 + "1" + "}" * 600 + "\n",
    "[metadata]\nx = " + "[" * 600 + "1" + "]" * 600 + "\n",
    "y" + ".a" * 5000 + " = 1\n",  # dotted keys nest tables without a bracket
    "[" + ".".join(["t"] * 2000) + "]\nk = 1\n",
    'x = "' + "[" * 600 + '"\n' + "y = " + "[" * 600 + "]" * 600 + "\n",  # brackets in a string do not hide depth
], ids=["arrays", "inline tables", "metadata", "dotted keys", "table header", "string then arrays"])
def test_toml_nested_600_deep_is_refused(tmp_path, text):
    path = write(tmp_path, text + RIG_TOML)
    refused(lambda: load_calibration(path), str(path), "nested more than 10 deep")


def test_brackets_inside_strings_and_comments_do_not_count(tmp_path):
    text = RIG_TOML + '[metadata]\nmethod = "' + "[" * 50 + '"\nboard = \'' + "{" * 50 + "'\n# " + "[" * 50 + "\n" \
        + 'world_origin = """' + "]" * 10 + "[" * 50 + '"""\n'
    assert load_calibration(write(tmp_path, text)).metadata["method"] == "[" * 50


def test_integer_of_5000_digits_is_refused(tmp_path):
    for text in ("x = " + "9" * 5000 + "\n" + RIG_TOML, camera_toml("cam1", translation="[0, 0, " + "1" * 5000 + "]")):
        path = write(tmp_path, text)
        refused(lambda p=path: load_calibration(p), "number of 5", "characters (at most 100)")


def test_hex_integer_too_large_for_a_float_is_refused(tmp_path):
    assert not _is_number(2**5000) and not _is_number(-(2**1100)) and not _is_number(True)  # no OverflowError
    assert _is_number(MAX_INT) and _is_number(-3) and not _is_number(MAX_INT + 1)
    path = write(tmp_path, camera_toml("cam1", translation="[0.0, 0.0, 0x" + "f" * 300 + "]"))
    refused(lambda: load_calibration(path), "number of 302 characters")
    path = write(tmp_path, camera_toml("cam1", translation="[0.0, 0.0, 0x" + "f" * 90 + "]"))  # 360 bits: parsed
    refused(lambda: load_calibration(path), "'translation' must be 3 finite numbers", "digits")
    path = write(tmp_path, camera_toml("cam1", translation="[0.0, 0.0, 0x20000000000001]"))  # 2**53 + 1
    refused(lambda: load_calibration(path), "'translation'")


ODD_METADATA = {
    "reprojection_rms_px": '"high"',  # a string where a table is expected
    "views": "[3, 4]",  # a list where a table of counts is expected
    "moments": "[1, 2]",  # a list where a number is expected
    "error": '"0.4"',
    "intrinsics": '{cam1 = "good"}',
    "adjusted": "1",
}


@pytest.mark.parametrize("key", sorted(ODD_METADATA))
def test_import_with_odd_metadata_types_is_refused_and_stores_nothing(tmp_path, key):
    root = tmp_path / "sets"
    path = write(tmp_path, RIG_TOML + f"[metadata]\n{key} = {ODD_METADATA[key]}\n")
    refused(lambda: store.import_set(root, path, RIG, name="odd.toml"), "metadata", f"'{key}")
    assert not root.exists() or not list(root.iterdir())


def old_set(root: Path, set_id: str, metadata_toml: str, meta: dict | str) -> Path:
    """A set as an older version stored it: whatever the import accepted, written by hand."""
    folder = root / set_id
    folder.mkdir(parents=True)
    (folder / "calibration.toml").write_text(RIG_TOML + metadata_toml)
    (folder / "meta.json").write_text(meta if isinstance(meta, str) else json.dumps(meta))
    return folder


def test_a_set_stored_with_odd_metadata_by_an_older_version_still_loads(tmp_path):
    root = tmp_path / "sets"
    odd = "[metadata]\n" + "".join(f"{k} = {v}\n" for k, v in ODD_METADATA.items()) + 'note = "a\\u0000b"\nok = 1.5\n'
    old_set(root, "20250101-000000", odd, {"id": "20250101-000000", "created_at": 5, "note": "bad\u0000note",
                                          "cameras": "cam1", "rms_px": {"cam1": "x"}, "imported_from": ["x"],
                                          "custom": {"deep": [1]}, "kept": "yes"})
    group, meta = store.load_set(root, "20250101-000000")
    check_group(group)
    assert group.metadata == {"ok": 1.5}  # every odd key dropped, the plain scalar kept
    assert meta == {"id": "20250101-000000", "created_at": "", "note": "", "cameras": [], "rms_px": {},
                    "kept": "yes", "active": False}
    assert [s["id"] for s in store.list_sets(root)] == ["20250101-000000"]
    store.activate(root, "20250101-000000", tmp_path / "calibration.toml")
    assert store.read_active(tmp_path / "calibration.toml").names == RIG


@pytest.mark.parametrize("note", ["a\x00b", "line\nbreak", "tab\there", "\x1b[31mred", "\x7f", "\x85", "\u202egnp.exe",
                                  "\u2028", "\ud800", "x" * 201])
def test_notes_with_control_characters_are_refused_and_store_nothing(tmp_path, note):
    root = tmp_path / "sets"
    path = write(tmp_path, RIG_TOML)
    message = refused(lambda: store.import_set(root, path, RIG, note=note), "the note", error=store.SetTextError)
    assert isinstance(store.SetTextError("x"), CalibrationFileError)  # the web answers it like a bad file: 400
    assert ("200 characters" in message) if len(note) > 200 else ("control character U+" in message)
    refused(lambda: store.save_set(root, load_toml(path), note=note), "the note", error=store.SetTextError)
    assert not root.exists() or not list(root.iterdir())


def test_printable_notes_and_names_are_kept(tmp_path):
    root = tmp_path / "sets"
    path = write(tmp_path, RIG_TOML)
    meta = store.import_set(root, path, RIG, note="Après le choc — caméra 2 déplacée 🙂", name="Étalonnage (2).toml")
    _, stored = store.load_set(root, meta["id"])
    assert stored["note"] == "Après le choc — caméra 2 déplacée 🙂" and stored["imported_from"] == "Étalonnage (2).toml"
    for name in ("a\nb.toml", "\u202eslmx.toml", "x" * 256 + ".toml"):
        refused(lambda n=name: store.import_set(root, path, RIG, name=n), "the file name", error=store.SetTextError)


def test_the_metadata_vsion_writes_is_kept_whole(tmp_path):
    """What the wizard and the calibrate commands record (numpy types included) passes the typed
    model on write and reads back equal."""
    summary = {"camera": "cam1", "size": [1280, 720], "rms_px": np.float64(0.21), "views": 12, "found": 11, "used": 10,
               "rejected": ["v003"], "coverage": 0.7, "fx": 1000.12, "fy": 999.5, "cx": 640.2, "cy": 360.1,
               "distortions": np.array([0.1, -0.02, 0.0, 0.0, 0.001])}
    metadata = {"method": "VSION bundle adjustment", "board": BOARD.describe(), "world_origin": "floor board",
                "reprojection_median_px": {"cam1": np.float64(0.2), "cam2": 0.3},
                "reprojection_rms_px": {"cam1": np.float32(0.25), "cam2": 0.5}, "views": {"cam1": np.int64(12), "cam2": 9},
                "moments": 9, "outliers_removed": np.int64(3), "intrinsics": {"cam1": summary, "cam2": {"rms_px": 0.3}},
                "session": "20260101-000000"}
    group = CameraGroup(load_toml(write(tmp_path, RIG_TOML)).cameras, metadata)
    root = tmp_path / "sets"
    saved = store.save_set(root, group, note="studio", extra={"session": "20260101-000000", "created_by": "tech"})
    back, meta = store.load_set(root, saved["id"])
    check_group(back)
    assert back.metadata["intrinsics"]["cam1"]["distortions"] == [0.1, -0.02, 0.0, 0.0, 0.001]
    assert back.metadata["outliers_removed"] == 3 and back.metadata["views"] == {"cam1": 12, "cam2": 9}
    assert meta["rms_px"] == {"cam1": float(np.float32(0.25)), "cam2": 0.5} and meta["created_by"] == "tech"
    assert rig_summary(back, None, BOARD)["cameras"][0]["rms_px"] == float(np.float32(0.25))


# --------------------------------------------------------------------------- TOML siblings


@pytest.mark.parametrize(("values", "words"), [
    ({"matrix": "[[nan, 0.0, 640.0], [0.0, 1000.0, 360.0], [0.0, 0.0, 1.0]]"}, ("'matrix'", "finite", "nan")),
    ({"matrix": "[[inf, 0.0, 640.0], [0.0, 1000.0, 360.0], [0.0, 0.0, 1.0]]"}, ("'matrix'", "finite")),
    ({"distortions": "[0.0, -inf, 0.0, 0.0]"}, ("'distortions'", "finite")),
    ({"rotation": "[nan, 0.0, 0.0]"}, ("'rotation'",)),
    ({"translation": "[true, false, true]"}, ("'translation'", "true")),
    ({"size": "[true, 720]"}, ("'size'",)),
    ({"size": "[1e9, 720]"}, ("'size'", "100000")),
    ({"size": "[1280.5, 720]"}, ("'size'",)),
    ({"size": "[[1280], [720]]"}, ("'size'",)),
    ({"matrix": "[[1000.0, 0.0, 640.0], [0.0, 1000.0, 360.0], [0.0, 0.0, [1.0]]]"}, ("'matrix'",)),
    ({"matrix": "[1000.0, 0.0, 640.0]"}, ("'matrix'", "3x3")),
    ({"matrix": "[" + ", ".join(["[1.0, 0.0, 0.0]"] * 5000) + "]"}, ("'matrix'", "5000x3")),
    ({"distortions": "[" + ", ".join(["0.0"] * 50000) + "]"}, ("'distortions'", "50000 item(s)")),
    ({"distortions": '"0 0 0 0"'}, ("'distortions'", "'0 0 0 0'")),
    ({"rotation": "1979-05-27T07:32:00Z"}, ("'rotation'", "datetime")),
    ({"name": '"cam\\u0000"'}, ("'name'", "U+0000")),
    ({"name": '"a\\nb"'}, ("'name'", "U+000A")),
    ({"name": json.dumps("c" * 65)}, ("'name'", "64 characters")),
    ({"name": "true"}, ("'name'", "must be text")),
    ({"name": "[1]"}, ("'name'",)),
    ({"fisheye": '"no"'}, ("'fisheye'",)),
])
def test_bad_camera_values_are_refused(tmp_path, values, words):
    path = write(tmp_path, camera_toml("cam1", **values) + camera_toml("cam2"))
    refused(lambda: load_calibration(path), str(path), "[cam1]" if "name" not in values else "'name'", *words)


def test_odd_table_names_and_huge_values_stay_out_of_the_message(tmp_path):
    long_table = '"' + "t" * 100_000 + '"'
    path = write(tmp_path, f"[{long_table}]\nsize = [1, 2]\n")
    refused(lambda: load_calibration(path), "tttt", "...")
    path = write(tmp_path, '["a\\nb"]\nsize = 1\n')
    refused(lambda: load_calibration(path), "a\\nb")
    path = write(tmp_path, f"x = {long_table}\n" + camera_toml("cam1", size=long_table))
    refused(lambda: load_calibration(path), "'size'")


def test_too_many_cameras_and_too_large_files_are_refused(tmp_path):
    many = "".join(camera_toml(f"c{i}") for i in range(65))
    refused(lambda: load_calibration(write(tmp_path, many)), "more than 64 camera")
    big = RIG_TOML + "#" * MAX_FILE_BYTES
    refused(lambda: load_calibration(write(tmp_path, big)), "larger than 1 MB")
    refused(lambda: load_calibration(write(tmp_path, big, "big.qca.txt")), "larger than 1 MB")


def test_metadata_unknown_keys_keep_plain_scalars_only(tmp_path):
    text = RIG_TOML + "[metadata]\n" + "\n".join([
        'method = "anipose"', "error = 0.5", "adjusted = false", 'operator = "Ann"', "frames = 120", "ratio = 0.25",
        "flag = true", "table = {a = 1}", "list = [1, 2]", "when = 1979-05-27", f"huge = {2**60}", "weird = nan",
        'bad = "a\\u0007"', '"k\\u0000" = 1']) + "\n"
    group = load_calibration(write(tmp_path, text), strict_metadata=True)
    assert group.metadata == {"method": "anipose", "error": 0.5, "adjusted": False, "operator": "Ann", "frames": 120,
                              "ratio": 0.25, "flag": True}
    check_group(group)


def test_writing_refuses_metadata_it_would_not_read_back(tmp_path):
    cams = load_toml(write(tmp_path, RIG_TOML)).cameras
    for metadata, words in [({"views": {"cam1": "many"}}, ("'views.cam1'",)), ({"custom": {"a": 1}}, ("'custom'",)),
                            ({"method": "a\x00"}, ("'method'", "U+0000")), ({"error": float("nan")}, ("'error'",))]:
        refused(lambda m=metadata: save_toml(CameraGroup(cams, m), tmp_path / "out.toml"), "not saved", *words)
        assert not (tmp_path / "out.toml").exists()
    refused(lambda: save_toml(CameraGroup((Camera("a\nb", (10, 10), np.eye(3)),)), tmp_path / "out.toml"),
            "U+000A")


# --------------------------------------------------------------------------- QCA siblings


@pytest.fixture(scope="module")
def qca_text():
    from capture import demo
    try:
        return demo.pose2sim_file("calibration/Calib.qca.txt").read_text()
    except RuntimeError as exc:  # offline and not cached
        pytest.skip(str(exc))


def test_qca_with_dtd_or_entities_is_refused(tmp_path, qca_text):
    body = qca_text.split("?>", 1)[1]
    laughs = '<!DOCTYPE calibration [<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {chr(98 + i)} "' + f"&{chr(97 + i)};" * 10 + '">' for i in range(8)) + "]>"
    for prolog in (laughs, '<!DOCTYPE calibration [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
                   '<!DOCTYPE calibration SYSTEM "http://example.invalid/x.dtd">', "<!DOCTYPE calibration>"):
        path = write(tmp_path, '<?xml version="1.0"?>' + prolog + body.replace('source="', 'source="&a;'), "c.qca.txt")
        refused(lambda p=path: load_qca(p), "DTD or entities")


@pytest.mark.parametrize(("edit", "words"), [
    (lambda t: t.replace("<cameras>", "<cameras>" + "<x>" * 5000 + "</x>" * 5000), ("nested more than 10 deep",)),
    (lambda t: t.replace("encoding='ASCII'", "encoding='no-such-codec'"), ("not valid XML", "no-such-codec")),
    (lambda t: t.replace("encoding='ASCII'", "encoding='utf-16'"), ("not valid XML",)),
    (lambda t: t.replace("encoding='ASCII'", "encoding='utf-32'"), ("not valid XML", "UTF-8")),
    (lambda t: t.replace('focalLengthU="107599.671875"', 'focalLengthU="nan"'), ("focalLengthU", "finite")),
    (lambda t: t.replace('focalLengthU="107599.671875"', 'focalLengthU="-inf"'), ("focalLengthU", "finite")),
    (lambda t: t.replace('focalLengthU="107599.671875"', 'focalLengthU="' + "9" * 5000 + '"'), ("focalLengthU",)),
    (lambda t: t.replace('focalLengthU="107599.671875"', 'focalLengthU="1e400"'), ("focalLengthU", "finite")),
    (lambda t: t.replace('focalLengthU="107599.671875"', 'focalLengthU="1&#10;2"'), ("focalLengthU", "\\n2")),
    (lambda t: t.replace('<fov_video bottom="1919"', '<fov_video bottom="1e308"', 1), ("fov_video", "image")),
    (lambda t: t.replace('<fov_video bottom="1919" left="0"', '<fov_video bottom="1919" left="-1e308"', 1),
     ("fov_video",)),
    (lambda t: t.replace('<fov_video bottom="1919" left="0" right="1087"',
                         '<fov_video bottom="1919" left="-1.79e308" right="-1.79e308"', 1).replace(
        'centerPointU="34110.316406"', 'centerPointU="1.79e308"'), ("not finite",)),
    (lambda t: t.replace('r11="0.5536380477336265"', 'r11="1e200"'), ("rotation matrix",)),
    (lambda t: t.replace('viewrotation="0"', 'viewrotation="' + "9" * 1000 + '"', 1), ("viewrotation",)),
    (lambda t: t.replace("<calibration ", "<" + "c" * 5000 + " ").replace("</calibration>", "</" + "c" * 5000 + ">"),
     ("not a Qualisys calibration",)),
    (lambda t: t.replace("<cameras>", "<cameras>" + "<camera/>" * 70), ("74 cameras", "at most 64")),
])
def test_bad_qca_values_are_refused(tmp_path, qca_text, edit, words):
    path = write(tmp_path, edit(qca_text), "Calib.qca.txt")
    refused(lambda: load_qca(path), str(path), *words)


def test_qca_serials_that_are_not_printable_give_positional_names(tmp_path, qca_text):
    path = write(tmp_path, qca_text.replace('serial="cam01"', 'serial="a&#10;b"'), "Calib.qca.txt")
    group = load_qca(path)
    assert group.names == ["cam01", "cam02", "cam03", "cam04"]
    check_group(group)


# --------------------------------------------------------------------------- store siblings


@pytest.mark.parametrize("meta", [
    "[1, 2]", '"20250101-000000"', "{bad json", "\ufeff{}", "NaN", "[" * 100_000 + "]" * 100_000, "9" * 5000,
    json.dumps({"id": "20250101-000001"}), json.dumps({"id": 20250101}), json.dumps({"cameras": ["cam1"]}),
    b"\xff\xfe\x00".decode("latin-1"), " " * (300 * 1024),
], ids=["list", "string", "broken", "bom", "nan", "deep", "huge int", "other id", "number id", "no id", "binary",
        "huge"])
def test_a_damaged_meta_json_answers_a_set_error(tmp_path, meta):
    root = tmp_path / "sets"
    old_set(root, "20250101-000000", "", meta)
    refused(lambda: store.load_set(root, "20250101-000000"), "meta.json")
    assert store.list_sets(root) == []


def test_odd_ids_and_markers_are_unknown_sets(tmp_path):
    root = tmp_path / "sets"
    saved = store.save_set(root, load_toml(write(tmp_path, RIG_TOML)), note="ok")
    for set_id in ("٢٠٢٥٠١٠١-٠٠٠٠٠٠", saved["id"] + "\n", "../sets/" + saved["id"], saved["id"] + "-1000", "", None, 5,
                   saved["id"][:-1]):
        with pytest.raises(store.UnknownSet):
            store.load_set(root, set_id)
    for marker in (b"\xff\xfe", b"../../etc", saved["id"].encode() + b"x", b"9" * 100_000):
        (root / "active").write_bytes(marker)
        assert store.active_id(root) is None and not any(s["active"] for s in store.list_sets(root))
    (root / "not-a-set").mkdir()
    (root / "not-a-set" / "meta.json").write_text(json.dumps({"id": "x-y-z"}))
    assert [s["id"] for s in store.list_sets(root)] == [saved["id"]]


def test_sets_saved_in_the_same_second_get_distinct_ids(tmp_path):
    root = tmp_path / "sets"
    group = load_toml(write(tmp_path, RIG_TOML))
    ids = [store.save_set(root, group)["id"] for _ in range(5)]
    assert len(set(ids)) == 5 and all(store.SET_ID.fullmatch(i) for i in ids)
    assert sorted(p.name for p in root.iterdir()) == sorted(ids)  # no staging folder left
    listed = [s["id"] for s in store.list_sets(root)]
    assert listed == sorted(ids, key=lambda i: (i[:15], int(i[16:] or 0)), reverse=True)


# --------------------------------------------------------------------------- hypothesis: TOML


ATOMS = st.one_of(
    st.integers(-10**6, 10**6).map(str),
    st.integers(min_value=1, max_value=6000).map(lambda n: "9" * n),
    st.integers(min_value=1, max_value=400).map(lambda n: "0x" + "f" * n),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["nan", "+nan", "-nan", "inf", "-inf", "1e309", "-1e309", "1e-400", "-0.0", "true", "false",
                     "1979-05-27T07:32:00Z", "07:32:00", "1_000", "0o777", "0b101", '""', "''", "0x20000000000001"]),
    st.text(max_size=30).map(json.dumps),  # TOML basic strings (a lone surrogate escape is invalid TOML)
)


def toml_values():
    return st.recursive(ATOMS, lambda kids: st.one_of(
        st.lists(kids, max_size=4).map(lambda items: "[" + ", ".join(items) + "]"),
        st.dictionaries(st.sampled_from(["a", "b", "cam1", "cam2", '"x y"']), kids, max_size=3).map(
            lambda d: "{" + ", ".join(f"{k} = {v}" for k, v in d.items()) + "}")), max_leaves=12)


DEEP = st.one_of(
    st.integers(1, 800).map(lambda n: "[" * n + "1" + "]" * n),
    st.integers(1, 800).map(lambda n: "{a = " * n + "1" + "}" * n),
    st.integers(1, 400).map(lambda n: "[{a = " * n + "1" + "}]" * n),
)
NUMBER = st.one_of(st.floats(-1e4, 1e4).map(repr), st.integers(-5000, 5000).map(str))
POSITIVE = st.one_of(st.floats(1.0, 1e4).map(repr), st.integers(1, 8000).map(str))


def toml_list(items: list[str]) -> str:
    return "[" + ", ".join(items) + "]"


def per_camera(values) -> st.SearchStrategy:
    return st.dictionaries(st.sampled_from(RIG + ['"cam 3"']), values, max_size=3).map(
        lambda d: "{" + ", ".join(f"{k} = {v}" for k, v in d.items()) + "}")


# Values of the right shape and type for each key, so that many documents are valid.
PLAUSIBLE = {
    "size": st.lists(POSITIVE, min_size=2, max_size=2).map(toml_list),
    "matrix": st.tuples(POSITIVE, NUMBER, POSITIVE).map(
        lambda t: f"[[{t[0]}, {t[1]}, 640.0], [0.0, {t[2]}, 360.0], [0.0, 0.0, 1.0]]"),
    "distortions": st.lists(NUMBER, min_size=4, max_size=5).map(toml_list),
    "rotation": st.lists(NUMBER, min_size=3, max_size=3).map(toml_list),
    "translation": st.lists(NUMBER, min_size=3, max_size=3).map(toml_list),
    "name": st.text(min_size=1, max_size=20).map(json.dumps),
    "fisheye": st.just("false"),
    "reprojection_rms_px": per_camera(NUMBER), "reprojection_median_px": per_camera(NUMBER),
    "qualisys_avg_residual_mm": per_camera(NUMBER), "views": per_camera(st.integers(0, 500).map(str)),
    "intrinsics": per_camera(st.tuples(NUMBER, st.integers(0, 99)).map(
        lambda t: f"{{rms_px = {t[0]}, used = {t[1]}, size = [1280, 720], rejected = [\"a.png\"]}}")),
    "moments": st.integers(0, 99).map(str), "outliers_removed": st.integers(0, 99).map(str),
    "error": NUMBER, "adjusted": st.sampled_from(["true", "false"]),
}
CAMERA_KEYS = ["size", "matrix", "distortions", "rotation", "translation", "name", "fisheye"]
META_KEYS = sorted(CalibrationMetadata.model_fields) + ["note", "operator", "per_camera"]


def values_for(key: str, deep: bool) -> st.SearchStrategy:
    plausible = PLAUSIBLE.get(key, st.text(max_size=30).map(json.dumps))
    return st.one_of(plausible, plausible, toml_values(), *([DEEP] if deep else []))


@st.composite
def toml_documents(draw):
    """The rig's two cameras and a [metadata] table, with some values replaced by generated TOML:
    plausible ones, or numbers of any size, NaN / inf, wrong types, deep nesting; sometimes deep
    dotted keys or table headers."""
    deep = draw(st.booleans())
    cams = []
    for table in RIG:
        keys = draw(st.lists(st.sampled_from(CAMERA_KEYS), max_size=2, unique=True))
        cams.append(camera_toml(table, **{key: draw(values_for(key, deep)) for key in keys}))
    meta = {key: draw(values_for(key, deep)) for key in draw(st.lists(st.sampled_from(META_KEYS), max_size=4,
                                                                        unique=True))}
    text = "".join(cams) + ("[metadata]\n" + "".join(f"{k} = {v}\n" for k, v in meta.items()) if meta else "")
    extra = draw(st.sampled_from(["", "", "", "dotted", "header", "extra table"]))
    depth = draw(st.integers(1, 3000))
    if extra == "dotted":
        text += "[metadata.deep]\n" + ".".join(["k"] * depth) + " = 1\n"
    elif extra == "header":
        text += "[" + ".".join(["h"] * depth) + "]\nk = 1\n"
    elif extra == "extra table":
        text = "[other]\nsize = " + draw(values_for("size", deep)) + "\n" + text
    return text


@settings(max_examples=300, **SETTINGS)
@given(text=toml_documents(), strict=st.booleans())
def test_generated_toml_gives_a_calibration_or_a_clear_error(tmp_path, text, strict):
    path = write(tmp_path, text)
    result = outcome(lambda: load_calibration(path, strict_metadata=strict))
    if isinstance(result, CameraGroup):
        check_group(result)
        back = load_toml(save_toml(result, tmp_path / "back.toml"), strict_metadata=True)  # saved as read
        assert back.metadata == result.metadata and back.names == result.names


@settings(max_examples=80, **SETTINGS)
@given(text=toml_documents(), note=st.one_of(st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=200),
                                             st.text(max_size=210), st.sampled_from(["", "a\x00b", "\u202e"])))
def test_generated_imports_store_a_usable_set_or_nothing(tmp_path_factory, text, note):
    folder = tmp_path_factory.mktemp("import")
    root = folder / "sets"
    path = write(folder, text)
    meta = outcome(lambda: store.import_set(root, path, RIG, note=note, name="upload.toml"))
    if isinstance(meta, CalibrationFileError):
        assert not root.exists() or not list(root.iterdir())
        return
    SetRecord.model_validate({k: v for k, v in meta.items() if k in SetRecord.model_fields})
    json.dumps(meta, allow_nan=False)
    group, stored = store.load_set(root, meta["id"])
    check_group(group)
    assert [s["id"] for s in store.list_sets(root)] == [meta["id"]] and stored["note"] == note
    store.activate(root, meta["id"], folder / "calibration.toml")
    assert store.compare(group, store.read_active(folder / "calibration.toml"))["missing"] == []


# --------------------------------------------------------------------------- hypothesis: QCA

QCA_ATTRIBUTES = [("fov_video", "left"), ("fov_video", "right"), ("fov_video", "bottom"), ("transform", "x"),
                  ("transform", "r11"), ("transform", "r22"), ("intrinsic", "focalLengthU"),
                  ("intrinsic", "centerPointV"), ("intrinsic", "skew"), ("intrinsic", "radialDistortion1"),
                  ("intrinsic", "tangentalDistortion2"), ("camera", "serial"), ("camera", "avg-residual"),
                  ("camera", "viewrotation")]
QCA_VALUES = st.one_of(
    st.floats().map(repr), st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.integers(min_value=1, max_value=6000).map(lambda n: "9" * n),
    st.sampled_from(["nan", "NaN", "inf", "-Infinity", "1e309", "-1e400", "0x10", "", " ", "abc", "1_0", "١",
                     "&#10;", "&#9;1", "&amp;", "&lt;", "cam01", "0", "-0", "1e-320"]),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters='"&<'), max_size=20),
)


@st.composite
def qca_documents(draw, base: str):
    """The demo export with attributes replaced, elements removed or repeated, or structure added."""
    text = base
    for tag, attribute in draw(st.lists(st.sampled_from(QCA_ATTRIBUTES), max_size=3)):
        start = text.find(f"<{tag} ", draw(st.integers(0, len(text) - 1)))
        start = start if start != -1 else text.find(f"<{tag} ")
        key = f' {attribute}="'
        at = text.find(key, start)
        if at != -1:
            end = text.index('"', at + len(key))
            text = text[:at + len(key)] + draw(QCA_VALUES) + text[end:]
    edit = draw(st.sampled_from(["", "", "drop", "repeat", "nest", "dtd", "truncate", "encoding"]))
    if edit == "drop":
        tag = draw(st.sampled_from(["fov_video", "transform", "intrinsic", "cameras"]))
        text = text.replace(f"<{tag} ", f"<{tag}_gone ", 1)
    elif edit == "repeat":
        camera = text[text.index("<camera "):text.index("</camera>") + len("</camera>")]
        text = text.replace("<cameras>", "<cameras>" + camera * draw(st.integers(1, 70)), 1)
    elif edit == "nest":
        n = draw(st.integers(1, 20_000))
        text = text.replace("<cameras>", "<cameras>" + "<n>" * n + "</n>" * n, 1)
    elif edit == "dtd":
        text = text.replace("?>", '?><!DOCTYPE c [<!ENTITY a "' + "b" * draw(st.integers(0, 50)) + '">]>', 1)
    elif edit == "truncate":
        text = text[:draw(st.integers(0, len(text)))]
    elif edit == "encoding":
        text = text.replace("'ASCII'", repr(draw(st.sampled_from(["utf-8", "utf-16", "latin-1", "x", "utf-32"]))), 1)
    return text


def test_generated_qca_gives_a_calibration_or_a_clear_error(tmp_path, qca_text):
    @settings(max_examples=250, **SETTINGS)
    @given(text=qca_documents(qca_text))
    def run(text):
        path = write(tmp_path, text, "Calib.qca.txt")
        result = outcome(lambda: load_calibration(path))
        if isinstance(result, CameraGroup):
            check_group(result)

    run()


# --------------------------------------------------------------------------- pose and keypoint readers


def pose(n_frames: int = 3) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.normal(0.0, 0.5, (n_frames, N_JOINTS, 3))


@pytest.mark.parametrize(("cell", "words"), [
    ("1" * 200_000, ("line 2", "field larger than field limit")),
    ("1\x00", ("'1\\x00' is not a number",)),
    ("9" * 5000, ("is not finite or longer than 64",)),
    ("1e999", ("not finite",)),
    ('"a\nb"', ("'a\\nb' is not a number",)),
])
def test_hostile_csv_cells_answer_export_errors(tmp_path, cell, words):
    path = tmp_path / "pose3d.csv"
    write_pose3d_csv(path, pose(1), 30.0)
    header, row = path.read_text().splitlines()
    cells = row.split(",")
    path.write_text(header + "\n" + ",".join(cells[:2] + [cell] + cells[3:]) + "\n")
    refused(lambda: read_pose3d_csv(path), str(path), *words, error=ExportError)


def test_csv_frame_numbers_and_headers_stay_bounded(tmp_path):
    path = tmp_path / "pose3d.csv"
    write_pose3d_csv(path, pose(1), 30.0)
    header, row = path.read_text().splitlines()
    path.write_text(header + "\n" + "9" * 5000 + row[1:] + "\n")
    refused(lambda: read_pose3d_csv(path), "column 'frame'", "is not an integer", error=ExportError)
    path.write_text(header.replace("frame", "NaN\x00" * 1000, 1) + "\n" + row + "\n")
    refused(lambda: read_pose3d_csv(path), "header column 1", error=ExportError)


def test_enormous_line_counts_are_read_line_by_line(tmp_path):
    """A million blank lines between rows: skipped as the file is read (nothing holds them all)."""
    path = tmp_path / "pose3d.csv"
    write_pose3d_csv(path, pose(2), 30.0)
    header, first, second = path.read_text().splitlines()
    path.write_text(header + "\n" + first + "\n" + "\n" * 1_000_000 + second + "\n")
    points, times = read_pose3d_csv(path)
    assert points.shape == (2, N_JOINTS, 3) and np.allclose(points, pose(2), atol=1e-6)
    path.write_text(header + "\n" + first + "\n" + "\n" * 1_000_000 + first + "\n")
    refused(lambda: read_pose3d_csv(path), "line 1000003: frame 0 does not follow frame 0", error=ExportError)

    trc = tmp_path / "pose3d.trc"
    write_trc(trc, pose(2), 30.0)
    lines = trc.read_text().split("\n")
    trc.write_text("\n".join(lines[:7] + [""] * 1_000_000 + lines[7:]))
    back, fps = read_trc(trc)
    assert back.shape == (2, N_JOINTS, 3) and fps == 30.0


def test_trc_infinities_are_refused_and_nan_markers_missing(tmp_path):
    path = tmp_path / "pose3d.trc"
    write_trc(path, pose(2), 30.0)
    lines = path.read_text().split("\n")
    fields = lines[6].split("\t")
    path.write_text("\n".join(lines[:6] + ["\t".join(fields[:2] + ["NaN"] + fields[3:])] + lines[7:]))
    back, _ = read_trc(path)
    assert np.isnan(back[0, 0]).all() and not np.isnan(back[0, 1:]).any()
    for value, words in (("inf", ("marker 'nose'", "not a finite number")), ("1" * 5000, ("not a finite number",)),
                         ("x", ("not a number",))):
        path.write_text("\n".join(lines[:6] + ["\t".join(fields[:2] + [value] + fields[3:])] + lines[7:]))
        refused(lambda: read_trc(path), "line 7", *words, error=ExportError)
    for rate in ("9" * 5000, "nan", "1e999"):
        path.write_text("\n".join(lines[:2] + [lines[2].replace("30.0", rate, 1)] + lines[3:]))
        refused(lambda: read_trc(path), "DataRate" if len(rate) > 20 else "fps", error=ExportError)


def npz_bytes(arrays: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, raw in arrays.items():
            archive.writestr(f"{name}.npy", raw)
    return buffer.getvalue()


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def good_npz() -> dict[str, bytes]:
    return {"points": npy(np.zeros((2, 3, N_JOINTS, 2), np.float32)), "scores": npy(np.ones((2, 3, N_JOINTS), np.float32)),
            "cameras": npy(np.array(["cam1", "cam2"])), "fps": npy(np.float64(30.0)),
            "offsets": npy(np.zeros(2, np.int64))}


def test_npz_declaring_a_huge_shape_is_refused_before_allocating(tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                  "shape": (10**6, 10**6, N_JOINTS, 2)})
    path = tmp_path / "keypoints2d.npz"
    path.write_bytes(npz_bytes({**good_npz(), "points": header.getvalue() + b"\x00" * 64}))
    refused(lambda: load_keypoints(path), "key 'points' declares shape", "damaged", error=ExportError)


def test_npz_with_an_unknown_compression_method_is_refused(tmp_path):
    raw = bytearray(npz_bytes(good_npz()))
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):  # local headers, central directory
        at = raw.find(signature)
        while at != -1:
            raw[at + offset: at + offset + 2] = (99).to_bytes(2, "little")
            at = raw.find(signature, at + 4)
    path = tmp_path / "keypoints2d.npz"
    path.write_bytes(bytes(raw))
    refused(lambda: load_keypoints(path), str(path), error=ExportError)


def test_npz_with_many_cameras_is_checked_quickly(tmp_path):
    n = 20_000
    arrays = {"points": npy(np.zeros((n, 1, N_JOINTS, 2), np.float32)), "scores": npy(np.ones((n, 1, N_JOINTS), np.float32)),
              "cameras": npy(np.array([f"c{i}" for i in range(n - 1)] + ["c0"])), "fps": npy(np.float64(30.0)),
              "offsets": npy(np.zeros(n, np.int64))}
    path = tmp_path / "keypoints2d.npz"
    path.write_bytes(npz_bytes(arrays))
    refused(lambda: load_keypoints(path), "duplicate camera names: 'c0'", error=ExportError)


CELLS = st.one_of(st.floats().map(repr), st.integers(min_value=-(2**70), max_value=2**70).map(str), st.just(""),
                  st.integers(min_value=1, max_value=3000).map(lambda n: "9" * n),
                  st.sampled_from(["nan", "inf", "-inf", "1e999", "x", "\x00", '"', '"a\nb"', "1_0", "١", " "]),
                  st.text(max_size=10))


@settings(max_examples=200, **SETTINGS)
@given(kind=st.sampled_from(["csv", "trc"]), line=st.integers(0, 8), column=st.integers(0, 2 + 3 * N_JOINTS),
       cell=CELLS, blank_lines=st.integers(0, 3))
def test_generated_pose_files_give_points_or_an_export_error(tmp_path, kind, line, column, cell, blank_lines):
    path = tmp_path / f"pose3d.{kind}"
    (write_pose3d_csv if kind == "csv" else write_trc)(path, pose(3), 30.0)
    separator = "," if kind == "csv" else "\t"
    lines = path.read_text().split("\n")
    line = min(line, len(lines) - 1)
    cells = lines[line].split(separator)
    cells[min(column, len(cells) - 1)] = cell
    lines[line] = separator.join(cells)
    path.write_bytes(("\n" * blank_lines + "\n").join(lines).encode("utf-8", "surrogatepass"))
    try:
        points, _ = read_pose3d_csv(path) if kind == "csv" else read_trc(path)
    except ExportError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 700, str(exc)
        return
    assert points.ndim == 3 and points.shape[1:] == (N_JOINTS, 3) and not np.isinf(points).any()
    missing = np.isnan(points)
    assert (missing.all(axis=2) == missing.any(axis=2)).all()  # a joint is missing whole


def test_no_reader_leaves_a_file_open(tmp_path):
    """The readers close what they open even when they refuse it (no ResourceWarning)."""
    path = tmp_path / "pose3d.csv"
    path.write_text(",".join(CSV_HEADER) + "\n" + "x" * 10 + "\n")
    before = len(os.listdir("/proc/self/fd")) if Path("/proc/self/fd").is_dir() else 0
    for _ in range(50):
        with pytest.raises(ExportError):
            read_pose3d_csv(path)
    after = len(os.listdir("/proc/self/fd")) if Path("/proc/self/fd").is_dir() else 0
    assert after <= before + 2


# --------------------------------------------------------------------------- through the web app


def test_the_probe_through_the_import_route(client, app):
    """The probe's requests, replayed: every refusal is a 400 with a message, never a 500, and a
    set stored by an older version with odd metadata can be shown (GET answered 500 for good)."""
    from tests.helpers.accounts import login

    login(client, "technician")
    page = client.get("/calibration").get_data(as_text=True)
    token = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]

    def upload(text: str, name: str = "rig.toml", **form):
        return client.post("/api/calibrations/import", headers={"X-CSRFToken": token}, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(text.encode()), name), **form})

    for text in ("x = " + "[" * 600 + "]" * 600 + "\n" + RIG_TOML, "x = " + "9" * 5000 + "\n" + RIG_TOML,
                 camera_toml("cam1", translation="[0, 0, 0x" + "f" * 300 + "]") + camera_toml("cam2"),
                 RIG_TOML + '[metadata]\nreprojection_rms_px = "high"\nmoments = [1, 2]\n'):
        reply = upload(text)
        assert reply.status_code == 400 and "rig.toml" in reply.get_json()["error"], reply.get_json()
    reply = upload(RIG_TOML, note="bad\x00note\x1b")
    assert reply.status_code == 400 and "control character U+0000" in reply.get_json()["error"]
    assert client.get("/api/calibrations").get_json() == []

    root = app.extensions["vsion"].wizard.sets_root
    odd = "[metadata]\n" + "".join(f"{k} = {v}\n" for k, v in ODD_METADATA.items())
    old_set(root, "20250101-000000", odd, {"id": "20250101-000000", "note": ["x"], "cameras": {"a": 1}})
    reply = client.get("/api/calibrations/20250101-000000")
    assert reply.status_code == 200 and [c["name"] for c in reply.get_json()["rig"]["cameras"]] == RIG
    assert [s["id"] for s in client.get("/api/calibrations").get_json()] == ["20250101-000000"]
    (root / "20250101-000000" / "meta.json").write_text("[" * 100_000)
    assert client.get("/api/calibrations/20250101-000000").status_code == 409
    assert client.get("/api/calibrations").get_json() == []
