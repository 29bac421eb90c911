"""Joint extrinsic calibration of all cameras: camera graph, chained initial poses, bundle adjustment.

Input: each camera's intrinsics and its board detections at shared *moments* (a moment is
an instant at which several cameras may see the board; images of one moment share a name).

Stages, each a function of its own:

1. :func:`board_poses_per_view`: board pose per camera and moment (planar PnP, refined).
2. :func:`camera_graph`: cameras that saw the board at the same moments are linked, weighted
   by how many. A camera with no link, or a graph in pieces, is refused with a message naming them.
3. :func:`initial_poses`: along a maximum spanning tree from the best-connected camera, chaining
   robust pairwise poses (the candidate relative pose that best explains all shared views).
4. :func:`bundle_adjust`: sparse bundle adjustment (``scipy.optimize.least_squares``, sparse
   Jacobian, robust loss) over every camera pose and every board pose, optionally the intrinsics too;
5. :func:`outlier_pass`: then a second adjustment without the observations the first one found
   to be outliers.
6. :func:`world_frame`: from the board laid on the floor (origin at its first corner, Z up), or
   from the first moment's board pose; scale from the square size (metres).

:func:`redo_positions` is the same solve with the intrinsics of the calibration in force kept.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

import cv2
import numpy as np
import scipy.sparse
from scipy.optimize import least_squares

from calibration.boards import half_turn_problem
from calibration.camera import Camera, CameraGroup
from calibration.detect import Detection
from calibration.intrinsics import CalibrationError
from calibration.store import compare

# Board frame to world frame for a board lying face up on the floor (see calibration.boards).
FLOOR_FLIP = np.diag([1.0, -1.0, -1.0])
N_INTRINSICS = 9  # fx, fy, cx, cy, k1, k2, p1, p2, k3


def rodrigues_batch(rvecs: np.ndarray) -> np.ndarray:
    """Rotation matrices (N, 3, 3) from Rodrigues vectors (N, 3)."""
    theta = np.linalg.norm(rvecs, axis=1)
    small = theta < 1e-12
    k = rvecs / np.where(small, 1.0, theta)[:, None]
    kx, ky, kz = k[:, 0], k[:, 1], k[:, 2]
    zeros = np.zeros_like(kx)
    K = np.stack([zeros, -kz, ky, kz, zeros, -kx, -ky, kx, zeros], axis=1).reshape(-1, 3, 3)
    s, c = np.sin(theta)[:, None, None], np.cos(theta)[:, None, None]
    R = np.eye(3) + s * K + (1 - c) * (K @ K)
    R[small] = np.eye(3)
    return R


def project_batch(points_cam: np.ndarray, intr: np.ndarray) -> np.ndarray:
    """OpenCV pinhole + (k1, k2, p1, p2, k3) projection, vectorised.

    ``points_cam`` (N, 3) in each point's camera frame, ``intr`` (N, 9) rows of
    fx, fy, cx, cy, k1, k2, p1, p2, k3. Returns pixels (N, 2).
    """
    z = points_cam[:, 2]
    x, y = points_cam[:, 0] / z, points_cam[:, 1] / z
    fx, fy, cx, cy, k1, k2, p1, p2, k3 = intr.T
    r2 = x * x + y * y
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return np.stack([fx * xd + cx, fy * yd + cy], axis=1)


def _intrinsic_vector(cam: Camera) -> np.ndarray:
    d = np.zeros(5)
    d[:min(5, cam.dist.size)] = cam.dist[:5]
    K = cam.matrix
    return np.array([K[0, 0], K[1, 1], K[0, 2], K[1, 2], *d])


def _to_T(rvec, tvec) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = cv2.Rodrigues(np.asarray(rvec, float))[0]
    T[:3, 3] = np.asarray(tvec, float).reshape(3)
    return T


def _from_T(T) -> tuple[np.ndarray, np.ndarray]:
    return cv2.Rodrigues(T[:3, :3])[0].reshape(3), T[:3, 3].copy()


def _inv(T) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = T[:3, :3].T
    out[:3, 3] = -T[:3, :3].T @ T[:3, 3]
    return out


@dataclass(frozen=True, eq=False)
class ExtrinsicsResult:
    """The calibrated group and its figures.

    ``errors_px``: median reprojection error per camera after adjustment; ``views``: board
    views used per camera; ``pairs``: moments shared per camera pair (key ``"camA|camB"``); ``board_poses``:
    board-to-world (R, t) per moment key; ``seconds``: time spent.
    """

    group: CameraGroup
    errors_px: dict
    rms_px: dict
    views: dict
    pairs: dict
    board_poses: dict
    outliers: int
    seconds: float


def board_pose(det: Detection, board, cam: Camera) -> tuple[np.ndarray, float] | None:
    """Board-to-camera transform (4x4) from one detection, and its RMS error (px); None if degenerate."""
    obj = det.object_points(board).astype(np.float64)
    img = det.corners.reshape(-1, 1, 2)
    ok, rvec, tvec = cv2.solvePnP(obj, img, cam.matrix, cam.dist, flags=cv2.SOLVEPNP_IPPE)
    if not ok:
        return None
    rvec, tvec = cv2.solvePnPRefineLM(obj, img, cam.matrix, cam.dist, rvec, tvec)
    proj, _ = cv2.projectPoints(obj, rvec, tvec, cam.matrix, cam.dist)
    err = float(np.sqrt(np.mean(np.sum((proj.reshape(-1, 2) - det.corners) ** 2, axis=1))))
    if tvec[2, 0] <= 0:
        return None
    return _to_T(rvec, tvec), err


def _pair_pose(a: str, b: str, shared, poses, dets, board, cams) -> np.ndarray:
    """Transform from camera b to camera a that best explains every shared board view (LMedS)."""
    best, best_err = None, np.inf
    for m in shared:
        cand = poses[a][m] @ _inv(poses[b][m])  # x_a = cand @ x_b
        errs = []
        for n in shared:
            T_a_board = cand @ poses[b][n]
            obj = dets[a][n].object_points(board)
            rvec, tvec = _from_T(T_a_board)
            proj, _ = cv2.projectPoints(obj, rvec, tvec, cams[a].matrix, cams[a].dist)
            errs.append(np.median(np.linalg.norm(proj.reshape(-1, 2) - dets[a][n].corners, axis=1)))
        err = float(np.median(errs))
        if err < best_err:
            best, best_err = cand, err
    return best


def camera_graph(names: list[str], views: dict[str, dict]) -> dict[tuple[str, str], list]:
    """Moments shared by each camera pair (a before b in ``names``), only pairs sharing one or more."""
    pairs = {}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            shared = sorted(set(views[a]) & set(views[b]))
            if shared:
                pairs[(a, b)] = shared
    return pairs


def _check_connected(names, pairs):
    linked = {n: set() for n in names}
    for a, b in pairs:
        linked[a].add(b)
        linked[b].add(a)
    alone = [n for n in names if not linked[n]]
    if alone:
        raise CalibrationError(
            f"camera {', '.join(alone)} shares no board view with the others: show the board to "
            f"{'it' if len(alone) == 1 else 'them'} and a neighbouring camera at the same time")
    seen, todo = {names[0]}, [names[0]]
    while todo:
        for nxt in linked[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    if len(seen) < len(names):
        rest = [n for n in names if n not in seen]
        raise CalibrationError(
            f"cameras {', '.join(sorted(seen))} and {', '.join(rest)} form separate groups: show the board "
            f"to cameras of both groups at the same time")


def _spanning_tree(names, pairs) -> tuple[str, list[tuple[str, str]]]:
    """Root (best connected camera) and tree edges (parent, child) of a maximum spanning tree."""
    weight = {}
    for (a, b), shared in pairs.items():
        weight[(a, b)] = weight[(b, a)] = len(shared)
    root = max(names, key=lambda n: sum(w for (x, _), w in weight.items() if x == n))
    in_tree, edges = {root}, []
    while len(in_tree) < len(names):
        parent, child = max(((p, c) for (p, c) in weight if p in in_tree and c not in in_tree), key=lambda e: weight[e])
        in_tree.add(child)
        edges.append((parent, child))
    return root, edges


class _Problem:
    """Residuals and Jacobian sparsity for the bundle adjustment.

    Parameters: [camera poses (6 each, the root fixed out) | board poses (6 each) |
    intrinsics (9 each, when refined)].
    """

    def __init__(self, cams, root, moments, obs_cam, obs_moment, obs_points, obs_px, refine_intrinsics):
        self.cams, self.moments = cams, moments
        self.free = [i for i in range(len(cams)) if i != root]
        self.root = root
        self.obs_cam, self.obs_moment, self.obs_points, self.obs_px = obs_cam, obs_moment, obs_points, obs_px
        self.refine = refine_intrinsics
        self.n_cam_params = 6 * len(self.free)
        self.n_board_params = 6 * len(moments)
        self.cam_slot = np.full(len(cams), -1)
        self.cam_slot[self.free] = np.arange(len(self.free))

    def unpack(self, x, cam_poses, intrinsics):
        rt = cam_poses.copy()
        rt[self.free] = x[:self.n_cam_params].reshape(-1, 6)
        boards = x[self.n_cam_params:self.n_cam_params + self.n_board_params].reshape(-1, 6)
        intr = x[self.n_cam_params + self.n_board_params:].reshape(-1, N_INTRINSICS) if self.refine else intrinsics
        return rt, boards, intr

    def residuals(self, x, cam_poses, intrinsics):
        rt, boards, intr = self.unpack(x, cam_poses, intrinsics)
        Rc, Rb = rodrigues_batch(rt[:, :3]), rodrigues_batch(boards[:, :3])
        c, m = self.obs_cam, self.obs_moment
        world = np.einsum("nij,nj->ni", Rb[m], self.obs_points) + boards[m, 3:]
        cam = np.einsum("nij,nj->ni", Rc[c], world) + rt[c, 3:]
        return (project_batch(cam, intr[c]) - self.obs_px).ravel()

    def sparsity(self):
        n_obs = len(self.obs_cam)
        n_params = self.n_cam_params + self.n_board_params + (N_INTRINSICS * len(self.cams) if self.refine else 0)
        rows, cols = [], []
        obs_rows = np.arange(n_obs)
        for k in range(2):
            r = 2 * obs_rows + k
            slot = self.cam_slot[self.obs_cam]
            has = slot >= 0
            for p in range(6):
                rows.append(r[has])
                cols.append(6 * slot[has] + p)
                rows.append(r)
                cols.append(self.n_cam_params + 6 * self.obs_moment + p)
            if self.refine:
                for p in range(N_INTRINSICS):
                    rows.append(r)
                    cols.append(self.n_cam_params + self.n_board_params + N_INTRINSICS * self.obs_cam + p)
        rows, cols = np.concatenate(rows), np.concatenate(cols)
        return scipy.sparse.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(2 * n_obs, n_params))


@dataclass(frozen=True, eq=False)
class _Observations:
    """Every board corner seen: camera index (N,), moment index (N,), board point (N, 3) m, pixel (N, 2)."""

    cam: np.ndarray
    moment: np.ndarray
    points: np.ndarray
    px: np.ndarray

    def subset(self, keep: np.ndarray) -> _Observations:
        return _Observations(self.cam[keep], self.moment[keep], self.points[keep], self.px[keep])


@dataclass(frozen=True, eq=False)
class _Solution:
    """Adjusted parameters: camera poses (C, 6) in the root camera's frame, board poses (M, 6), intrinsics (C, 9)."""

    cam_poses: np.ndarray
    boards: np.ndarray
    intrinsics: np.ndarray


def _checked_cameras(cameras: CameraGroup, detections: dict, board) -> dict[str, Camera]:
    """The cameras by name, once the inputs are known to be usable (CalibrationError otherwise)."""
    names = cameras.names
    missing = [n for n in names if n not in detections]
    if missing:
        raise CalibrationError(f"no board views for camera {', '.join(missing)}")
    unknown = [n for n in detections if n not in names]
    if unknown:
        raise CalibrationError(f"unknown camera {', '.join(unknown)} (intrinsics have {', '.join(names)})")
    if problem := half_turn_problem(board):
        raise CalibrationError(problem)
    cams = {n: cameras[n] for n in names}
    for n, cam in cams.items():
        if cam.dist.size > 5:
            raise CalibrationError(f"camera {n}: {cam.dist.size} distortion terms; VSION's adjustment uses five "
                                   f"(k1, k2, p1, p2, k3): recalibrate its intrinsics with VSION")
        sizes = {det.image_size for det in detections[n].values() if det is not None}
        if sizes - {tuple(cam.size)}:
            odd = sorted(sizes - {tuple(cam.size)})[0]
            raise CalibrationError(f"camera {n}: its views are {odd[0]}x{odd[1]} but its intrinsics are for "
                                   f"{cam.size[0]}x{cam.size[1]}: calibrate its intrinsics at this resolution")
    return cams


def board_poses_per_view(cams: dict[str, Camera], detections: dict[str, dict[str, Detection]], board,
                         max_pnp_error_px: float = 5.0) -> tuple[dict, dict]:
    """Stage 1: board-to-camera transforms (4x4, m) per camera and moment, and the detections kept.

    A view whose planar PnP leaves more than ``max_pnp_error_px`` RMS (px) is dropped.
    """
    poses, dets = {n: {} for n in cams}, {n: {} for n in cams}
    for n, cam in cams.items():
        for m, det in detections[n].items():
            if det is None:
                continue
            found = board_pose(det, board, cam)
            if found is not None and found[1] <= max_pnp_error_px:
                poses[n][m], dets[n][m] = found[0], det
    return poses, dets


def initial_poses(names: list[str], pairs: dict, poses: dict, dets: dict, board, cams: dict
                  ) -> tuple[str, dict, dict]:
    """Stage 3: root camera, camera-to-root (4x4) per camera along a maximum spanning tree, and
    board-to-root (4x4) per moment, from the camera that saw it closest."""
    root, edges = _spanning_tree(names, pairs)
    T_cam_root = {root: np.eye(4)}
    for parent, child in edges:
        key = (parent, child) if (parent, child) in pairs else (child, parent)
        T_parent_child = _pair_pose(parent, child, pairs[key], poses, dets, board, cams)
        T_cam_root[child] = _inv(T_parent_child) @ T_cam_root[parent]
    T_root_board = {}
    for m in sorted({m for n in names for m in poses[n]}):
        seen = [n for n in names if m in poses[n]]
        best = min(seen, key=lambda n: np.linalg.norm(poses[n][m][:3, 3]))  # the closest view
        T_root_board[m] = _inv(T_cam_root[best]) @ poses[best][m]
    return root, T_cam_root, T_root_board


def _observations(names: list[str], moments: list[str], dets: dict, board) -> _Observations:
    cam_index = {n: i for i, n in enumerate(names)}
    moment_index = {m: i for i, m in enumerate(moments)}
    obs = [(cam_index[n], moment_index[m], det.object_points(board), det.corners)
           for n in names for m, det in dets[n].items()]
    return _Observations(np.concatenate([np.full(len(p), c) for c, _, p, _ in obs]),
                         np.concatenate([np.full(len(p), k) for _, k, p, _ in obs]),
                         np.concatenate([p for _, _, p, _ in obs]).astype(np.float64),
                         np.concatenate([px for _, _, _, px in obs]).astype(np.float64))


def _problem(names, root: int, moments, obs: _Observations, refine: bool) -> _Problem:
    return _Problem(list(names), root, moments, obs.cam, obs.moment, obs.points, obs.px, refine)


def _pack(problem: _Problem, state: _Solution, refine: bool) -> np.ndarray:
    return np.concatenate([state.cam_poses[problem.free].ravel(), state.boards.ravel()]
                          + ([state.intrinsics.ravel()] if refine else []))


def bundle_adjust(problem: _Problem, state: _Solution, loss: str, f_scale_px: float) -> _Solution:
    """Stage 4: one sparse adjustment of every pose (and the intrinsics if the problem refines them)."""
    # Tight tolerances for the sparse inner solver: with loose ones the steps are poor when the
    # intrinsics are refined too, and the outer iterations crawl (200 instead of ~15).
    solution = least_squares(problem.residuals, _pack(problem, state, problem.refine), jac_sparsity=problem.sparsity(),
                             method="trf", loss=loss, f_scale=f_scale_px, x_scale="jac",
                             args=(state.cam_poses, state.intrinsics), max_nfev=100,
                             tr_options={"atol": 1e-12, "btol": 1e-12})
    return _Solution(*problem.unpack(solution.x, state.cam_poses, state.intrinsics))


def _errors_px(full: _Problem, state: _Solution) -> np.ndarray:
    """Reprojection error (N,) px of every observation of ``full`` under ``state``."""
    x = _pack(full, state, full.refine)
    return np.linalg.norm(full.residuals(x, state.cam_poses, state.intrinsics).reshape(-1, 2), axis=1)


def outlier_pass(full: _Problem, state: _Solution, names: list[str], floor_index: int | None) -> np.ndarray:
    """Stage 5: the observations to keep (N,) bool: within max(5 x median, 2 px) of the first fit.

    CalibrationError when a camera, or the floor view, would lose every observation.
    """
    err = _errors_px(full, state)
    keep = err <= max(5.0 * np.median(err), 2.0)
    lost = [n for i, n in enumerate(names) if not keep[full.obs_cam == i].any()]
    if lost:
        raise CalibrationError(f"camera {', '.join(lost)}: none of its board views agrees with the others "
                               f"(check its intrinsics, or that it shows the same board at the same moments)")
    if floor_index is not None and not keep[full.obs_moment == floor_index].any():
        raise CalibrationError("the floor board view disagrees with the other views: capture the origin again")
    return keep


def world_frame(state: _Solution, moments: list[str], origin: str) -> np.ndarray:
    """Stage 6: root-to-world (4x4): the ``origin`` moment's board lies face up on the floor,
    its first corner at the world origin, Z up (``x_world = FLOOR_FLIP @ x_board``)."""
    T_world_board = np.eye(4)
    T_world_board[:3, :3] = FLOOR_FLIP
    T_root_origin = _to_T(*np.split(state.boards[moments.index(origin)], 2))
    return T_world_board @ _inv(T_root_origin)


def _solve(names, root: int, moments, obs: _Observations, state: _Solution, refine: bool, floor_index,
           loss: str, f_scale_px: float, report) -> tuple[_Solution, np.ndarray]:
    """Stages 4 and 5: adjust, drop the gross outliers (bad detections) of that fit, adjust again."""
    problem = _problem(names, root, moments, obs, refine)
    state = bundle_adjust(problem, state, loss, f_scale_px)
    keep = outlier_pass(problem, state, names, floor_index)
    if keep.all():
        return state, keep
    report(4, 6, "bundle adjustment (without outliers)")
    return bundle_adjust(_problem(names, root, moments, obs.subset(keep), refine), state, loss, f_scale_px), keep


def _result(cams: dict, names, root: int, moments, obs: _Observations, state: _Solution, T_world_root,
            refine: bool) -> tuple[list[Camera], dict, dict, dict]:
    """Cameras in the world frame, median and RMS reprojection error (px) per camera, board poses in the world."""
    err = _errors_px(_problem(names, root, moments, obs, False), state)
    out_cams, errors, rms = [], {}, {}
    for i, n in enumerate(names):
        T_c_world = _to_T(state.cam_poses[i, :3], state.cam_poses[i, 3:]) @ _inv(T_world_root)
        fx, fy, cx, cy, *dist = state.intrinsics[i]
        K = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1.0]])
        cam = replace(cams[n], matrix=K, dist=np.array(dist)) if refine else cams[n]
        out_cams.append(cam.with_pose(*_from_T(T_c_world)))
        e = err[obs.cam == i]
        errors[n] = float(np.median(e)) if e.size else None
        rms[n] = float(np.sqrt(np.mean(e ** 2))) if e.size else None
    board_world = {}
    for k, m in enumerate(moments):
        T = T_world_root @ _to_T(state.boards[k, :3], state.boards[k, 3:])
        board_world[m] = (T[:3, :3], T[:3, 3])
    return out_cams, errors, rms, board_world


def calibrate_extrinsics(cameras: CameraGroup, detections: dict[str, dict[str, Detection]], board,
                         floor_moment: str | None = None, refine_intrinsics: bool = False,
                         loss: str = "soft_l1", f_scale_px: float = 1.0, max_pnp_error_px: float = 5.0,
                         progress=None) -> ExtrinsicsResult:
    """Calibrate every camera's pose (and optionally intrinsics) from synchronized board views.

    ``cameras``: intrinsics (poses ignored). ``detections[camera][moment]``: the board found
    by that camera at that moment. ``floor_moment``: the moment where the board lay on the
    floor (world origin, Z up); else the first moment (sorted) seen by the root camera.
    ``progress(done, total, stage)`` is called at each stage. Pure and thread-safe.
    """
    started = time.perf_counter()
    report = progress or (lambda done, total, stage: None)
    cams = _checked_cameras(cameras, detections, board)
    names = cameras.names
    report(0, 6, "board poses")
    poses, dets = board_poses_per_view(cams, detections, board, max_pnp_error_px)
    pairs = camera_graph(names, poses)
    _check_connected(names, pairs)
    report(1, 6, "initial poses")
    root, T_cam_root, T_root_board = initial_poses(names, pairs, poses, dets, board, cams)
    moments = sorted(T_root_board)
    if floor_moment is not None and floor_moment not in moments:
        raise CalibrationError(f"the floor board view {floor_moment!r} was not found in any camera")
    report(2, 6, "bundle adjustment")
    obs = _observations(names, moments, dets, board)
    state = _Solution(np.array([np.concatenate(_from_T(T_cam_root[n])) for n in names]),
                      np.array([np.concatenate(_from_T(T_root_board[m])) for m in moments]),
                      np.array([_intrinsic_vector(cams[n]) for n in names]))
    floor_index = moments.index(floor_moment) if floor_moment is not None else None
    state, keep = _solve(names, names.index(root), moments, obs, state, refine_intrinsics, floor_index, loss,
                         f_scale_px, report)
    report(5, 6, "world frame")
    origin = floor_moment if floor_moment is not None else min(m for m in moments if m in poses[root])
    T_world_root = world_frame(state, moments, origin)
    out_cams, errors, rms, board_world = _result(cams, names, names.index(root), moments, obs.subset(keep), state,
                                                 T_world_root, refine_intrinsics)
    report(6, 6, "done")
    views = {n: len(dets[n]) for n in names}
    outliers = int((~keep).sum())
    metadata = {
        "method": "VSION bundle adjustment" + (" with intrinsics" if refine_intrinsics else ""),
        "board": board.describe(), "world_origin": "floor board" if floor_moment else f"board at {origin}",
        "reprojection_median_px": errors, "reprojection_rms_px": rms,
        "views": views, "moments": len(moments), "outliers_removed": outliers,
    }
    return ExtrinsicsResult(CameraGroup(out_cams, metadata), errors, rms, views,
                            {f"{a}|{b}": len(s) for (a, b), s in pairs.items()}, board_world, outliers,
                            time.perf_counter() - started)


def redo_positions(calibration: CameraGroup, detections: dict[str, dict[str, Detection]], board,
                   floor_moment: str | None = None, progress=None, **options) -> ExtrinsicsResult:
    """"Cameras moved: redo positions": every camera's pose solved again from new board moments.

    The intrinsics of ``calibration`` (the calibration in force) are kept as they are; its
    poses are ignored. ``detections``, ``floor_moment``, ``progress`` and ``options`` are those
    of :func:`calibrate_extrinsics`. The result's metadata keeps the intrinsics summary of
    ``calibration`` and adds ``position_changes``: per camera, how far its centre (mm) and its
    orientation (deg) moved from ``calibration``. Pure and thread-safe.
    """
    result = calibrate_extrinsics(calibration, detections, board, floor_moment=floor_moment,
                                  refine_intrinsics=False, progress=progress, **options)
    metadata = dict(result.group.metadata)
    metadata["method"] = "VSION bundle adjustment, positions redone with the intrinsics kept"
    if "intrinsics" in calibration.metadata:
        metadata["intrinsics"] = calibration.metadata["intrinsics"]
    metadata["position_changes"] = [{k: row[k] for k in ("name", "centre_shift_mm", "rotation_deg")}
                                    for row in compare(calibration, result.group)["cameras"]]
    return replace(result, group=CameraGroup(result.group.cameras, metadata))
