"""Joint extrinsic calibration of all cameras: camera graph, chained initial poses, bundle adjustment.

Input: each camera's intrinsics and its board detections at shared *moments* (a moment is
an instant at which several cameras may see the board; images of one moment share a name).

1. Board pose per camera and moment (planar PnP, refined).
2. Camera graph: cameras that saw the board at the same moments are linked, weighted by how
   many. A camera with no link, or a graph in pieces, is refused with a message naming them.
3. Initial poses: along a maximum spanning tree from the best-connected camera, chaining
   robust pairwise poses (the candidate relative pose that best explains all shared views).
4. Sparse bundle adjustment (``scipy.optimize.least_squares``, sparse Jacobian, robust
   loss) over every camera pose and every board pose, optionally the intrinsics too, then a
   second pass without the observations the first pass found to be outliers.
5. World frame from the board laid on the floor (origin at its first corner, Z up), or from
   the first moment's board pose; scale from the square size (metres).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

import cv2
import numpy as np
import scipy.sparse
from scipy.optimize import least_squares

from calibration.camera import Camera, CameraGroup
from calibration.detect import Detection
from calibration.intrinsics import CalibrationError

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


def calibrate_extrinsics(cameras: CameraGroup, detections: dict[str, dict[str, Detection]], board,
                         floor_moment: str | None = None, refine_intrinsics: bool = False,
                         loss: str = "soft_l1", f_scale_px: float = 1.0, max_pnp_error_px: float = 5.0,
                         progress=None) -> ExtrinsicsResult:
    """Calibrate every camera's pose (and optionally intrinsics) from synchronized board views.

    ``cameras``: intrinsics (poses ignored). ``detections[camera][moment]``: the board found
    by that camera at that moment. ``floor_moment``: the moment where the board lay on the
    floor (world origin, Z up); else the first moment (sorted) seen by the root camera.
    ``progress(stage: str, fraction: float)`` is called as work advances.
    """
    started = time.perf_counter()
    report = progress or (lambda stage, fraction: None)
    names = cameras.names
    missing = [n for n in names if n not in detections]
    if missing:
        raise CalibrationError(f"no board views for camera {', '.join(missing)}")
    unknown = [n for n in detections if n not in names]
    if unknown:
        raise CalibrationError(f"unknown camera {', '.join(unknown)} (intrinsics have {', '.join(names)})")
    cams = {n: cameras[n] for n in names}
    if not getattr(board, "orientable", True):
        raise CalibrationError(f"a {board.cols}x{board.rows} checkerboard looks the same turned by half a turn: "
                               f"use a board whose columns plus rows is odd (9x6) or a ChArUco board")
    for n, cam in cams.items():
        if cam.dist.size > 5:
            raise CalibrationError(f"camera {n}: {cam.dist.size} distortion terms; VSION's adjustment uses five "
                                   f"(k1, k2, p1, p2, k3): recalibrate its intrinsics with VSION")
        sizes = {det.image_size for det in detections[n].values() if det is not None}
        if sizes - {tuple(cam.size)}:
            odd = sorted(sizes - {tuple(cam.size)})[0]
            raise CalibrationError(f"camera {n}: its views are {odd[0]}x{odd[1]} but its intrinsics are for "
                                   f"{cam.size[0]}x{cam.size[1]}: calibrate its intrinsics at this resolution")

    # 1. Board pose per camera and moment.
    report("board poses", 0.0)
    poses, dets = {n: {} for n in names}, {n: {} for n in names}
    for n in names:
        for m, det in detections[n].items():
            if det is None:
                continue
            found = board_pose(det, board, cams[n])
            if found is not None and found[1] <= max_pnp_error_px:
                poses[n][m], dets[n][m] = found[0], det

    # 2. Camera graph.
    pairs = camera_graph(names, poses)
    _check_connected(names, pairs)

    # 3. Initial camera poses in the root camera's frame, along a maximum spanning tree.
    report("initial poses", 0.1)
    root, edges = _spanning_tree(names, pairs)
    T_cam_root = {root: np.eye(4)}
    for parent, child in edges:
        key = (parent, child) if (parent, child) in pairs else (child, parent)
        T_parent_child = _pair_pose(parent, child, pairs[key], poses, dets, board, cams)
        T_cam_root[child] = _inv(T_parent_child) @ T_cam_root[parent]
    moments = sorted({m for n in names for m in poses[n]})
    T_root_board = {}
    for m in moments:
        seen = [n for n in names if m in poses[n]]
        best = min(seen, key=lambda n: np.linalg.norm(poses[n][m][:3, 3]))  # the closest view
        T_root_board[m] = _inv(T_cam_root[best]) @ poses[best][m]

    # 4. Bundle adjustment.
    report("bundle adjustment", 0.2)
    cam_index = {n: i for i, n in enumerate(names)}
    moment_index = {m: i for i, m in enumerate(moments)}
    obs = [(cam_index[n], moment_index[m], det.object_points(board), det.corners)
           for n in names for m, det in dets[n].items()]
    obs_cam = np.concatenate([np.full(len(p), c) for c, _, p, _ in obs])
    obs_moment = np.concatenate([np.full(len(p), k) for _, k, p, _ in obs])
    obs_points = np.concatenate([p for _, _, p, _ in obs]).astype(np.float64)
    obs_px = np.concatenate([px for _, _, _, px in obs]).astype(np.float64)
    cam_poses = np.array([np.concatenate(_from_T(T_cam_root[n])) for n in names])
    board_params = np.array([np.concatenate(_from_T(T_root_board[m])) for m in moments])
    intrinsics = np.array([_intrinsic_vector(cams[n]) for n in names])

    keep = np.ones(len(obs_cam), bool)
    outliers = 0
    for attempt in range(2):
        problem = _Problem(list(names), cam_index[root], moments, obs_cam[keep], obs_moment[keep], obs_points[keep],
                           obs_px[keep], refine_intrinsics)
        x0 = np.concatenate([cam_poses[problem.free].ravel(), board_params.ravel()]
                            + ([intrinsics.ravel()] if refine_intrinsics else []))
        # Tight tolerances for the sparse inner solver: with loose ones the steps are poor when the
        # intrinsics are refined too, and the outer iterations crawl (200 instead of ~15).
        solution = least_squares(problem.residuals, x0, jac_sparsity=problem.sparsity(), method="trf", loss=loss,
                                 f_scale=f_scale_px, x_scale="jac", args=(cam_poses, intrinsics), max_nfev=100,
                                 tr_options={"atol": 1e-12, "btol": 1e-12})
        cam_poses, boards, intr = problem.unpack(solution.x, cam_poses, intrinsics)
        board_params, intrinsics = boards, intr
        if attempt == 1:
            break
        # Second pass without gross outliers (bad detections), measured against the first fit.
        full = _Problem(list(names), cam_index[root], moments, obs_cam, obs_moment, obs_points, obs_px,
                        refine_intrinsics)
        x_full = np.concatenate([cam_poses[full.free].ravel(), board_params.ravel()]
                                + ([intrinsics.ravel()] if refine_intrinsics else []))
        err = np.linalg.norm(full.residuals(x_full, cam_poses, intrinsics).reshape(-1, 2), axis=1)
        limit = max(5.0 * np.median(err), 2.0)
        keep = err <= limit
        outliers = int((~keep).sum())
        lost = [n for i, n in enumerate(names) if not keep[obs_cam == i].any()]
        if lost:
            raise CalibrationError(f"camera {', '.join(lost)}: none of its board views agrees with the others "
                                   f"(check its intrinsics, or that it shows the same board at the same moments)")
        if floor_moment is not None and not keep[obs_moment == moment_index.get(floor_moment, -1)].any():
            raise CalibrationError("the floor board view disagrees with the other views: capture the origin again")
        if outliers == 0:
            break
        report("bundle adjustment (without outliers)", 0.6)

    # 5. World frame: x_world = FLOOR_FLIP @ x_board(floor moment).
    if floor_moment is not None and floor_moment not in moment_index:
        raise CalibrationError(f"the floor board view {floor_moment!r} was not found in any camera")
    origin = floor_moment if floor_moment is not None else min(m for m in moments if m in poses[root])
    T_world_board = np.eye(4)
    T_world_board[:3, :3] = FLOOR_FLIP
    T_root_origin = _to_T(*np.split(board_params[moment_index[origin]], 2))
    T_world_root = T_world_board @ _inv(T_root_origin)

    final = _Problem(list(names), cam_index[root], moments, obs_cam[keep], obs_moment[keep], obs_points[keep],
                     obs_px[keep], False)
    x_final = np.concatenate([cam_poses[final.free].ravel(), board_params.ravel()])
    err = np.linalg.norm(final.residuals(x_final, cam_poses, intrinsics).reshape(-1, 2), axis=1)
    kept_cam = obs_cam[keep]
    out_cams, errors, rms = [], {}, {}
    for i, n in enumerate(names):
        T_c_world = _to_T(cam_poses[i, :3], cam_poses[i, 3:]) @ _inv(T_world_root)
        fx, fy, cx, cy, *dist = intrinsics[i]
        K = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1.0]])
        cam = replace(cams[n], matrix=K, dist=np.array(dist)) if refine_intrinsics else cams[n]
        out_cams.append(cam.with_pose(*_from_T(T_c_world)))
        e = err[kept_cam == i]
        errors[n] = float(np.median(e)) if e.size else None
        rms[n] = float(np.sqrt(np.mean(e ** 2))) if e.size else None
    board_world = {}
    for k, m in enumerate(moments):
        T = T_world_root @ _to_T(board_params[k, :3], board_params[k, 3:])
        board_world[m] = (T[:3, :3], T[:3, 3])
    report("done", 1.0)
    seconds = time.perf_counter() - started
    metadata = {
        "method": "VSION bundle adjustment" + (" with intrinsics" if refine_intrinsics else ""),
        "board": board.describe(), "world_origin": "floor board" if floor_moment else f"board at {origin}",
        "reprojection_median_px": errors, "reprojection_rms_px": rms,
        "views": {n: len(dets[n]) for n in names}, "moments": len(moments), "outliers_removed": outliers,
    }
    return ExtrinsicsResult(CameraGroup(out_cams, metadata), errors, rms, {n: len(dets[n]) for n in names},
                            {f"{a}|{b}": len(s) for (a, b), s in pairs.items()}, board_world, outliers, seconds)
