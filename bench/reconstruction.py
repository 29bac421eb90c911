#!/usr/bin/env python
"""Reconstruction benchmark. Prints one JSON object:

- ``synthetic``: a known 33-landmark motion seen by six calibrated 1280x720 cameras, with
  3 px noise, 8 % of joints dropped, 5 % confident outliers 30-120 px off and 3 % of frames
  with left/right swapped in one camera; errors of the robust pipeline and of plain weighted DLT.
- ``triangulation_speed``: triangulation + spike removal + gap filling + low-pass of
  10,000 frames x 33 joints x 6 cameras.
- ``people``: two forward-kinematic people passing each other (and hiding each other in some
  views) seen by six cameras with the same corruptions, 2D track ids that are arbitrary, swap
  and fragment; MPJPE per person, identity swaps, and the offsets ``--sync auto`` finds for
  cameras shifted by known amounts.
- ``pose2sim``: ``process --sync auto`` on the Pose2Sim demo (four unsynchronized 60 fps
  videos, Qualisys calibration), against naive triangulation (no sync, plain DLT, no filter).
- ``multiperson``: ``process --sync auto`` on Pose2Sim's ``Demo_MultiPerson`` (4 cameras, 2
  active people): each person's frames, bone-length CV, largest pelvis step between frames and
  reprojection; then the same take with one camera's video starting a few frames later, whose
  offset must move by exactly that. Meaningful once the 2D pose finds several people per camera
  (``people_2d`` reports how many it found).
- ``pipeline_speed``: the whole ``process`` pipeline against bare MediaPipe inference (decode +
  pose only) on the same frames with the same processes, alternated ``--rounds`` times.
- ``live``: the demo server's live 3D rate with its 4 cameras, and their capture rate with
  live pose off and on.
- ``pose``: VSION's BlazePose runtime against MediaPipe's legacy graph: landmark distance on
  Demo_SinglePerson (per camera), milliseconds per person per frame of both engines measured side
  by side (each run in a fresh process, the order alternated every round), landmark batching, and
  on Demo_MultiPerson the frames with both people found and the identity jumps per camera.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGETS = {"mpjpe_mm": 15.0, "p95_mm": 30.0, "worst_frame_mm": 150.0, "reconstructed_pct_min": 98.0,
           "median_reprojection_px": 11.0, "mean_segment_cv_pct": 6.0, "pipeline_ratio_min": 0.85,
           "triangulation_s": 5.0, "pose_median_px": 2.0, "single_person_segment_cv_pct": 4.5,
           "person_frames_pct_min": 90.0, "pelvis_step_m": 0.25, "identity_swaps": 0}


def synthetic(frames: int = 1800) -> dict:
    from calibration.camera import CameraGroup
    from reconstruction import filtering, metrics
    from reconstruction.triangulate import triangulate, triangulate_plain
    from tests.helpers.motion import joint_errors, observe, person_motion
    from tests.helpers.synthetic import camera_ring

    group = CameraGroup(camera_ring(6))
    truth = person_motion(frames, 30.0, seed=1)
    obs = observe(list(group.cameras), truth, seed=2)
    tri = triangulate(group, obs.points, obs.scores)
    points = filtering.smooth(tri.points, 30.0)
    err = joint_errors(points, truth) * 1000
    plain = joint_errors(triangulate_plain(group, obs.points, obs.scores), truth) * 1000
    out = {"frames": frames, "cameras": 6, "mpjpe_mm": float(np.nanmean(err)), "p95_mm": float(np.nanpercentile(err, 95)),
           "worst_frame_mm": float(np.nanmax(np.nanmean(err, axis=1))), "worst_joint_mm": float(np.nanmax(err)),
           "reconstructed_pct": metrics.reconstructed_percent(points),
           "plain_dlt_mpjpe_mm": float(np.nanmean(plain)), "plain_dlt_p95_mm": float(np.nanpercentile(plain, 95)),
           "views_unswapped": int(tri.swapped.sum())}
    out["meets_targets"] = {"mpjpe_mm": out["mpjpe_mm"] <= TARGETS["mpjpe_mm"], "p95_mm": out["p95_mm"] <= TARGETS["p95_mm"],
                            "worst_frame_mm": out["worst_frame_mm"] <= TARGETS["worst_frame_mm"],
                            "reconstructed_pct": out["reconstructed_pct"] >= TARGETS["reconstructed_pct_min"]}
    return out


def _identity_swaps(identity: np.ndarray, tracks: np.ndarray) -> tuple[int, int]:
    """(true person, camera frames whose 2D came from somebody else) of a reconstructed person's tracks (C, F)."""
    C, F = tracks.shape
    ident = identity[np.arange(C)[:, None], np.clip(tracks, 0, None), np.arange(F)[None]]
    ident = ident[tracks >= 0]
    n = int(np.bincount(ident[ident >= 0]).argmax())
    return n, int((ident != n).sum())


def people(frames: int = 900, cameras: int = 6) -> dict:
    from calibration.camera import CameraGroup
    from reconstruction import sync
    from reconstruction.people import reconstruct_people
    from tests.helpers.motion import joint_errors, observe_people, two_people
    from tests.helpers.synthetic import camera_ring

    group = CameraGroup(camera_ring(cameras))
    truth = two_people(frames, 30.0, seed=0)
    present = np.ones((2, frames), bool)
    present[1, :45] = present[1, -60:] = False
    obs = observe_people(list(group.cameras), truth, seed=3, present=present)
    t0 = time.perf_counter()
    result = reconstruct_people(group, obs.points, obs.scores, 30.0)
    elapsed = time.perf_counter() - t0
    out = {"frames": frames, "cameras": cameras, "tracks_2d": int(obs.points.shape[1]), "people": len(result.people),
           "seconds": round(elapsed, 2), "ms_per_frame": round(1000 * elapsed / frames, 2), "per_person": []}
    for person in result.people:
        n, swaps = _identity_swaps(obs.identity, person.tracks)
        err = joint_errors(person.points, truth[n])[present[n]] * 1000
        out["per_person"].append({"id": person.id, "truth": n, "identity_swaps": swaps,
                                  "frames_pct": round(100 * float(person.present[present[n]].mean()), 2),
                                  "mpjpe_mm": round(float(np.nanmean(err)), 2),
                                  "p95_mm": round(float(np.nanpercentile(err, 95)), 2)})
    shifts = np.array([0, 7, 3, 12, 0, 5][:cameras])
    start = shifts.max() - shifts
    t0 = time.perf_counter()
    found = sync.auto_alignment(group, [obs.points[c][:, s:] for c, s in enumerate(start)],
                                [obs.scores[c][:, s:] for c, s in enumerate(start)], 30.0)
    out["sync"] = {"true_offsets": shifts.tolist(), "found": found.offsets.tolist(),
                   "seconds": round(time.perf_counter() - t0, 2)}
    each = out["per_person"]
    out["meets_targets"] = {"people": len(each) == 2,
                            "mpjpe_mm": all(p["mpjpe_mm"] <= TARGETS["mpjpe_mm"] for p in each),
                            "identity_swaps": all(p["identity_swaps"] <= TARGETS["identity_swaps"] for p in each),
                            "sync_within_1_frame": bool(np.abs(found.offsets - shifts).max() <= 1)}
    return out


def triangulation_speed(frames: int = 10_000) -> dict:
    from calibration.camera import CameraGroup
    from reconstruction import filtering
    from reconstruction.triangulate import triangulate
    from tests.helpers.motion import observe, person_motion
    from tests.helpers.synthetic import camera_ring

    group = CameraGroup(camera_ring(6))
    obs = observe(list(group.cameras), person_motion(frames, 30.0, seed=3), seed=4)
    t0 = time.perf_counter()
    tri = triangulate(group, obs.points, obs.scores)
    t1 = time.perf_counter()
    filtering.smooth(tri.points, 30.0)
    t2 = time.perf_counter()
    return {"frames": frames, "joints": 33, "cameras": 6, "triangulation_s": round(t1 - t0, 3),
            "filtering_s": round(t2 - t1, 3), "total_s": round(t2 - t0, 3),
            "meets_target": t2 - t0 <= TARGETS["triangulation_s"]}


def _pose2sim_take(folder: Path) -> tuple[Path, Path]:
    from capture import demo

    take = folder / "take"
    take.mkdir(exist_ok=True)
    for i in range(1, 5):
        link = take / f"cam0{i}.mp4"
        if not link.exists():
            link.symlink_to(demo.pose2sim_file(f"videos/cam0{i}.mp4"))
    calib = folder / "calibration.toml"
    subprocess.run([sys.executable, str(ROOT / "app.py"), "calibrate", "import",
                    str(demo.pose2sim_file("calibration/Calib.qca.txt")), "--out", str(calib)], check=True,
                   capture_output=True)
    return take, calib


def pose2sim(folder: Path) -> dict:
    from calibration.io import load_toml
    from reconstruction import metrics
    from reconstruction.pipeline import Options, process_take
    from reconstruction.triangulate import triangulate_plain

    take, calib = _pose2sim_take(folder)
    group = load_toml(calib)
    out = folder / "auto"
    report = process_take(take, group, out, Options(sync="auto"))
    naive_out = folder / "naive"
    process_take(take, group, naive_out, Options(sync="none", cutoff_hz=None))
    from reconstruction.exports import load_keypoints

    kp = load_keypoints(naive_out / "keypoints2d.npz")
    naive = triangulate_plain(group, kp.points, kp.scores)
    naive_cv = metrics.mean_segment_cv(metrics.segment_variation(naive))
    result = {
        "frames": report["frames"], "sync_offsets": report["sync"]["offsets"],
        "sync_agreement": {k: round(v, 3) for k, v in report["sync"]["score"].items()},
        "median_reprojection_px": round(report["median_reprojection_px"], 2),
        "median_reprojection_all_detections_px": round(report["median_reprojection_all_px"], 2),
        "reprojection_px": {k: round(v, 2) for k, v in report["reprojection_px"].items()},
        "mean_segment_cv_pct": round(report["mean_segment_cv_pct"], 2),
        "segment_cv_pct": {k: round(v["cv_pct"], 2) for k, v in report["segments"].items()},
        "reconstructed_pct": round(report["reconstructed_pct"], 2),
        "views_unswapped": report["views_unswapped"], "views_rejected": report["views_rejected"],
        "naive_mean_segment_cv_pct": round(naive_cv, 2),
        "timings_s": report["timings_s"],
    }
    result["meets_targets"] = {"median_reprojection_px": result["median_reprojection_px"] <= TARGETS["median_reprojection_px"],
                               "mean_segment_cv_pct": result["mean_segment_cv_pct"] <= TARGETS["single_person_segment_cv_pct"],
                               "sync_offsets": result["sync_offsets"] == {"cam01": 0, "cam02": 0, "cam03": 3, "cam04": 0}}
    return result


def _multiperson_take(folder: Path, late: dict[str, int] | None = None) -> tuple[Path, Path]:
    """Pose2Sim's Demo_MultiPerson as a take (``late``: cameras whose video starts that many frames later)."""
    import zipfile

    from capture import demo

    take = folder / "take"
    take.mkdir(exist_ok=True)
    with zipfile.ZipFile(demo.pose2sim_wheel()) as wheel:
        base = "Pose2Sim/Demo_MultiPerson"
        for i in range(1, 5):
            name = f"cam0{i}.mp4"
            (folder / name).write_bytes(wheel.read(f"{base}/videos/{name}"))
            skip = (late or {}).get(f"cam0{i}", 0)
            if skip:
                _looped(folder / name, take / name, 1, skip=skip)
            else:
                (take / name).symlink_to(folder / name)
        qca = folder / "Calib.qca.txt"
        qca.write_bytes(wheel.read(f"{base}/calibration/Calib.qca.txt"))
    calib = folder / "calibration.toml"
    subprocess.run([sys.executable, str(ROOT / "app.py"), "calibrate", "import", str(qca), "--out", str(calib)],
                   check=True, capture_output=True)
    return take, calib


def _person_figures(person, fps: float) -> dict:
    from reconstruction import metrics

    pelvis = (person.points[:, 23] + person.points[:, 24]) / 2
    steps = np.linalg.norm(np.diff(pelvis, axis=0), axis=1)
    cv = metrics.mean_segment_cv(metrics.segment_variation(person.points))
    errors = person.triangulation.errors[person.triangulation.inliers]
    return {"id": person.id, "frames_pct": round(100 * float(person.present.mean()), 1),
            "mean_segment_cv_pct": None if cv is None else round(cv, 2),
            "max_pelvis_step_m": round(float(np.nanmax(steps)), 3) if np.isfinite(steps).any() else None,
            "median_reprojection_px": round(float(np.median(errors)), 2) if errors.size else None}


def multiperson(folder: Path, late_frames: int = 4) -> dict:
    from calibration.io import load_toml
    from reconstruction.exports import load_keypoints
    from reconstruction.people import reconstruct_people
    from reconstruction.pipeline import Options, process_take

    out: dict = {}
    for label, late in (("as_recorded", None), ("cam02_late", {"cam02": late_frames})):
        (folder / label).mkdir()
        take, calib = _multiperson_take(folder / label, late)
        group = load_toml(calib)
        report = process_take(take, group, folder / label / "out", Options(sync="auto"))
        kp = load_keypoints(folder / label / "out" / "keypoints2d.npz")
        points, scores = kp.people()
        found = reconstruct_people(group, points, scores, kp.fps)
        out[label] = {"offsets": report["sync"]["offsets"], "people_2d": int(points.shape[1]),
                      "people": [_person_figures(p, kp.fps) for p in found.people],
                      "person_of_interest": report["people"]["person_of_interest"],
                      "problems": [p["message"] for p in report["people"]["problems"]],
                      "timings_s": report["timings_s"]}
    before, after = out["as_recorded"]["offsets"], out["cam02_late"]["offsets"]
    moved = {n: before[n] - after[n] for n in before}
    moved = {n: m - moved["cam01"] for n, m in moved.items()}
    out["shift"] = {"cam02_starts_later_by": late_frames, "offset_change": moved}
    each = [p for p in out["as_recorded"]["people"] if p["frames_pct"] >= 50]
    out["meets_targets"] = {
        "two_people": len(each) >= 2,
        "frames_pct": all(p["frames_pct"] >= TARGETS["person_frames_pct_min"] for p in each),
        "mean_segment_cv_pct": all((p["mean_segment_cv_pct"] or 99) <= TARGETS["mean_segment_cv_pct"] for p in each),
        "pelvis_step_m": all((p["max_pelvis_step_m"] or 99) <= TARGETS["pelvis_step_m"] for p in each),
        "median_reprojection_px": all((p["median_reprojection_px"] or 99) <= TARGETS["median_reprojection_px"] for p in each),
        "shift_within_1_frame": abs(moved["cam02"] - late_frames) <= 1 and all(abs(moved[n]) <= 1 for n in moved if n != "cam02")}
    return out


def _looped(src: Path, dst: Path, times: int, skip: int = 0) -> Path:
    """``src`` played ``times`` times in a row (its first ``skip`` frames left out), as one H.264
    video at the same rate and size."""
    import av

    with av.open(str(src)) as inp:
        stream = inp.streams.video[0]
        rate, frames = stream.average_rate, [f.to_ndarray(format="rgb24") for f in inp.decode(stream)][skip:]
    with av.open(str(dst), "w") as out:
        enc = out.add_stream("libx264", rate=rate)
        enc.height, enc.width = frames[0].shape[:2]
        enc.pix_fmt, enc.options = "yuv420p", {"preset": "veryfast", "crf": "20", "g": str(int(rate))}
        for _ in range(times):
            for img in frames:
                for packet in enc.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    out.mux(packet)
        for packet in enc.encode(None):
            out.mux(packet)
    return dst


def pipeline_speed(folder: Path, rounds: int, workers: int, loops: int = 4) -> dict:
    """On the Pose2Sim videos played ``loops`` times (a take of a few seconds, not a fraction)."""
    from calibration.io import load_toml
    from reconstruction import pose2d
    from reconstruction.pipeline import Options, process_take

    short, calib = _pose2sim_take(folder)
    group = load_toml(calib)
    take = folder / "looped"
    take.mkdir(exist_ok=True)
    videos = {p.stem: _looped(p, take / p.name, loops) for p in sorted(short.glob("*.mp4"))}
    frames = sum(pose2d.probe_video(p).frames for p in videos.values())
    bare, whole = [], []
    for k in range(rounds):
        order = ("bare", "whole") if k % 2 == 0 else ("whole", "bare")
        for what in order:
            if what == "bare":
                bare.append(pose2d.bare_inference(videos, workers=workers)["fps"])
            else:
                started = time.perf_counter()
                process_take(take, group, folder / "speed", Options(sync="auto", workers=workers))
                whole.append(frames / (time.perf_counter() - started))
    ratio = statistics.median(whole) / statistics.median(bare)
    return {"frames": frames, "videos": f"Pose2Sim demo x{loops}", "workers": workers, "rounds": rounds, "bare_fps": [round(v, 1) for v in bare],
            "pipeline_fps": [round(v, 1) for v in whole], "bare_fps_median": round(statistics.median(bare), 1),
            "pipeline_fps_median": round(statistics.median(whole), 1), "ratio": round(ratio, 3),
            "meets_target": ratio >= TARGETS["pipeline_ratio_min"]}


def live(folder: Path, seconds: float) -> dict:
    from tests.helpers.servers import DemoServer, EventClient

    server = DemoServer(folder)
    try:
        server.start()
        session = server.login("technician")

        def fps():
            return [c["fps"] for c in session.get(server.url + "/api/cameras", timeout=5).json()]

        time.sleep(5)
        fps_off = fps()
        client = EventClient(server.url, session)
        client.call("live pose", {"enabled": True})
        client.wait_for("pose3d", timeout=120)
        time.sleep(5)  # workers warm
        start = len([1 for e, _ in client.events if e == "pose3d"])
        t0 = time.monotonic()
        samples, take = [], None
        while time.monotonic() - t0 < seconds:
            if take is None and time.monotonic() - t0 > seconds / 3:
                take = client.call("start recording", {})
            time.sleep(5)
            samples.append(fps())
        elapsed = time.monotonic() - t0
        events = [d for e, d in client.events if e == "pose3d"][start:]
        recorded = client.call("stop recording", {})["take"]["cameras"]
        client.call("live pose", {"enabled": False})
        client.close()
        return {"cameras": 4, "seconds": round(elapsed, 1), "live_3d_hz": round(len(events) / elapsed, 2),
                "reported_rate_hz": events[-1]["rate"] if events else None,
                "sets_with_3d_pct": round(100 * sum(1 for d in events if d["points3d"]) / max(1, len(events)), 1),
                "capture_fps_live_pose_off": [round(v, 2) for v in fps_off],
                "capture_fps_live_pose_on": [round(v, 2) for v in np.mean(samples, axis=0)],
                "take_recorded_during_live_pose": {c["name"]: {"frames": c.get("frames"), "dropped": c.get("dropped")}
                                                   for c in recorded}}
    finally:
        server.kill()


def _engine_timing(engine: str, paths: list[str], options: dict) -> dict:
    """In its own process: time ``process`` of one engine on every frame of ``paths`` (decoding excluded)."""
    import av

    from reconstruction.pose2d import PoseEstimator
    from reconstruction.pose_runtime import MultiPoseEstimator

    estimator = PoseEstimator() if engine == "legacy" else MultiPoseEstimator(**options)
    cpu = wall = 0.0
    frames = people = 0
    for path in paths:
        estimator.reset()
        with av.open(path) as container:
            for frame in container.decode(video=0):
                rgb = frame.to_ndarray(format="rgb24")
                c0, w0 = time.process_time(), time.perf_counter()
                answer = estimator.process(rgb)
                cpu += time.process_time() - c0
                wall += time.perf_counter() - w0
                frames += 1
                people += (0 if np.isnan(answer[0][0, 0]) else 1) if engine == "legacy" else len(answer)
    return {"frames": frames, "people_per_frame": people / frames, "cpu_ms_per_frame": 1000 * cpu / frames,
            "wall_ms_per_frame": 1000 * wall / frames, "cpu_ms_per_person_frame": 1000 * cpu / max(people, 1),
            "wall_ms_per_person_frame": 1000 * wall / max(people, 1)}


def _timed(engine: str, paths: list[str], options: dict | None = None) -> dict:
    import concurrent.futures as cf
    import multiprocessing

    with cf.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_engine_timing, engine, paths, options or {}).result()


def _equivalence(single: dict[str, Path]) -> dict:
    from reconstruction.pose2d import estimate_videos

    new, old = estimate_videos(single), estimate_videos(single, engine="legacy")
    out = {}
    for camera in single:
        gap = np.linalg.norm(new[camera].points - old[camera].points, axis=-1)
        out[camera] = {"median_px": round(float(np.nanmedian(gap)), 3), "p90_px": round(float(np.nanpercentile(gap, 90)), 2),
                       "frames_new": int((~np.isnan(new[camera].points[:, 0, 0])).sum()),
                       "frames_legacy": int((~np.isnan(old[camera].points[:, 0, 0])).sum()),
                       "people_new": int(new[camera].points_people.shape[0])}
    return out


def _multi_person(multi: dict[str, Path]) -> dict:
    from reconstruction.pose2d import estimate_videos
    from reconstruction.pose_runtime import identity_jumps

    out = {}
    for camera, keypoints in estimate_videos(multi).items():
        present = ~np.isnan(keypoints.points_people[:, :, 0, 0])
        counts = present.sum(axis=0)
        out[camera] = {"tracks": int(present.shape[0]), "frames": int(present.shape[1]),
                       "two_people_pct": round(100 * float(np.mean(counts >= 2)), 1),
                       "frames_per_track": present.sum(axis=1).tolist(),
                       "identity_jumps": identity_jumps(keypoints.points_people)}
    out["two_people_pct_mean"] = round(float(np.mean([v["two_people_pct"] for v in out.values()])), 1)
    return out


def pose(rounds: int) -> dict:
    """The BlazePose runtime against the legacy MediaPipe graph (see the module docstring)."""
    from capture import demo

    single = {f"cam0{i}": demo.pose2sim_file(f"videos/cam0{i}.mp4") for i in range(1, 5)}
    multi = {f"cam0{i}": demo.pose2sim_file(f"videos/cam0{i}.mp4", demo.POSE2SIM_MULTI_DEMO) for i in range(1, 5)}
    result: dict = {"equivalence_single_person": _equivalence(single)}
    paths = [str(p) for p in single.values()]
    runs: dict[str, list[dict]] = {"legacy": [], "blazepose": []}
    for k in range(rounds):
        for engine in (("legacy", "blazepose") if k % 2 == 0 else ("blazepose", "legacy")):
            runs[engine].append(_timed(engine, paths))
    speed = {}
    for engine, values in runs.items():
        speed[engine] = {key: round(statistics.median(v[key] for v in values), 2) for key in values[0] if key != "frames"}
    speed["ratio_cpu"] = round(speed["blazepose"]["cpu_ms_per_person_frame"] / speed["legacy"]["cpu_ms_per_person_frame"], 3)
    speed["ratio_wall"] = round(speed["blazepose"]["wall_ms_per_person_frame"] / speed["legacy"]["wall_ms_per_person_frame"], 3)
    speed["rounds"], speed["frames_per_run"] = rounds, runs["legacy"][0]["frames"]
    result["speed_single_person"] = speed
    two = [str(multi["cam01"])]
    result["speed_two_people_cam01"] = {"loop": _timed("blazepose", two, {"batch": False}),
                                        "batch": _timed("blazepose", two, {"batch": True}),
                                        "legacy": _timed("legacy", two)}
    result["multi_person"] = _multi_person(multi)
    result["meets_targets"] = {
        "median_px": all(v["median_px"] <= TARGETS["pose_median_px"] for v in result["equivalence_single_person"].values()),
        "no_slower": speed["ratio_cpu"] <= 1.0}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["synthetic", "people", "speed", "pose2sim", "multiperson", "pipeline", "live",
                                           "pose"], action="append")
    parser.add_argument("--rounds", type=int, default=3, help="alternated runs of the pipeline speed comparison")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--live-seconds", type=float, default=30.0)
    args = parser.parse_args()
    parts = set(args.only or ["synthetic", "people", "speed", "pose2sim", "multiperson", "pipeline", "live", "pose"])
    out: dict = {"cpu_count": os.cpu_count(), "targets": TARGETS}
    with tempfile.TemporaryDirectory(prefix="vsion-bench-") as tmp:
        tmp = Path(tmp)
        if "synthetic" in parts:
            out["synthetic"] = synthetic()
        if "people" in parts:
            out["people"] = people()
        if "speed" in parts:
            out["triangulation_speed"] = triangulation_speed()
        if "pose2sim" in parts:
            (tmp / "p2s").mkdir()
            out["pose2sim"] = pose2sim(tmp / "p2s")
        if "multiperson" in parts:
            (tmp / "multi").mkdir()
            out["multiperson"] = multiperson(tmp / "multi")
        if "pipeline" in parts:
            (tmp / "speed").mkdir()
            out["pipeline_speed"] = pipeline_speed(tmp / "speed", args.rounds, args.workers)
        if "pose" in parts:
            out["pose"] = pose(args.rounds)
        if "live" in parts:
            (tmp / "live").mkdir()
            out["live"] = live(tmp / "live", args.live_seconds)
    json.dump(out, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
