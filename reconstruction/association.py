"""Cross-view matching: which 2D people of the cameras are the same person, frame by frame.

At every frame, the 2D people of each pair of cameras are first compared by epipolar geometry
(the distance of each joint to the other view's epipolar line, as labelled and with the second
view's left and right exchanged, since MediaPipe sometimes mirrors a person); the pairs that
agree are clustered, cheapest first, and the cheapest pair of each cluster seeds a hypothesis:
its joints are triangulated and the 3D skeleton is projected into every camera. A 2D person
agrees with a skeleton when its joints fall near the projections (a truncated squared
reprojection error, scaled by twice each camera's inlier threshold, under ``gate``). Each
hypothesis gathers the best-agreeing 2D person of every camera, is solved again from all of
them and gathers again. Clusters are then chosen greedily, most cameras first, then lowest
error, each 2D person used at most once: the 3D people candidates of that frame. Last, a
candidate may take a 2D person nobody took in a camera it lacks, if it fits within
:data:`CLAIM` times the tolerance (a noisy view, left for the robust triangulation to weigh).

Only the body's main joints take part (:data:`ASSOC_JOINTS`), which makes the matching about
three times cheaper than with the face and hands and no less sure. Work is vectorised over the
frames of a chunk; only the final greedy choice loops per frame, over a handful of candidates.

Shapes: C cameras, P 2D people (tracks) per camera, F frames, A association joints, K candidates
per frame. Pixels are distorted image pixels; normalized coordinates are undistorted ones.
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from calibration.camera import CameraGroup

from .landmarks import FLIP, INDEX
from .triangulate import DEFAULT_MIN_SCORE, _geometry, _Views, undistort_normalized

logger = logging.getLogger(__name__)

ASSOC_JOINTS: tuple[int, ...] = tuple(INDEX[name] for name in (
    "nose", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"))
_FLIP_A = np.array([ASSOC_JOINTS.index(FLIP[j]) for j in ASSOC_JOINTS])
_TORSO_A = np.array([ASSOC_JOINTS.index(INDEX[n]) for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")])
MIN_JOINTS = 5          # a 2D person needs this many confident joints to take part
SCALE = 2.0             # errors are measured against twice the triangulation's inlier threshold
DEFAULT_GATE = 0.5      # mean of min((error / (SCALE * threshold))^2, 1) over common joints
CLAIM = 2.0             # a view left over may join a chosen cluster within this many times the tolerance
_BUDGET = 4_000_000     # elements of the largest intermediate array of a chunk


@dataclass(frozen=True)
class Candidates:
    """3D people candidates of every frame (see the module docstring).

    members: (F, K, C) int, the 2D person (track index p) of camera c in candidate k, -1 if none.
    skeletons: (F, K, A, 3) m, the association joints solved from the members, NaN where absent.
    cost: (F, K) mean agreement cost of the members (0 perfect .. ``gate``), NaN where no candidate.
    """

    members: np.ndarray
    skeletons: np.ndarray
    cost: np.ndarray

    def centres(self) -> np.ndarray:
        """(F, K, 3) m: the mean of the torso joints (shoulders, hips) found, else of every joint; NaN where none."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # candidates without any joint
            torso = np.nanmean(self.skeletons[:, :, _TORSO_A], axis=2)
            every = np.nanmean(self.skeletons, axis=2)
        enough = np.isfinite(self.skeletons[:, :, _TORSO_A]).all(axis=-1).sum(axis=2) >= 2
        return np.where(enough[..., None], torso, every)


class _Scene:
    """Per-camera geometry and the association joints of every 2D person, normalized."""

    def __init__(self, group: CameraGroup, points: np.ndarray, scores: np.ndarray, min_score: float,
                 threshold_px: float | None):
        self.Rt, self.focal, tau = _geometry(group, threshold_px)
        # Matching tolerates twice the triangulation's inlier threshold: MediaPipe's joints are
        # often 10-20 px off on real footage, while two people are rarely that close joint by joint.
        self.tau = SCALE * tau
        sub = np.asarray(points, np.float64)[..., ASSOC_JOINTS, :]
        C, P, F, A = sub.shape[:4]
        self.norm = undistort_normalized(group, sub.reshape(C, P * F, A, 2)).reshape(C, P, F, A, 2)
        sc = np.asarray(scores, np.float64)[..., ASSOC_JOINTS]
        self.w = np.where((sc >= min_score) & np.isfinite(self.norm).all(axis=-1), sc, 0.0)
        self.present = (self.w > 0).sum(axis=-1) >= MIN_JOINTS            # (C, P, F)

    def slots(self) -> np.ndarray:
        """(C, D, F) int: the 2D people present at each frame, packed first (track index, -1 after)."""
        order = np.argsort(~self.present, axis=1, kind="stable")           # present tracks first
        D = max(1, int(self.present.sum(axis=1).max(initial=0)))
        track = order[:, :D]
        ok = np.take_along_axis(self.present, track, axis=1)
        return np.where(ok, track, -1)

    def gather(self, slots: np.ndarray, f0: int, f1: int) -> tuple[np.ndarray, np.ndarray]:
        """Observations (C, D, n, A, 2) and weights (C, D, n, A) of the slots at frames f0..f1."""
        s = slots[:, :, f0:f1]
        f = np.arange(f0, f1)[None, None]
        c = np.arange(len(s))[:, None, None]
        p = np.clip(s, 0, None)
        obs = self.norm[c, p, f]
        w = np.where((s >= 0)[..., None], self.w[c, p, f], 0.0)
        return np.where(w[..., None] > 0, obs, 0.0), w

    def project(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normalized projections (C, ..., 2) of points X (..., 3) m, and whether each is in front (C, ...)."""
        cam = np.einsum("cij,...j->c...i", self.Rt[:, :, :3], X) + self.Rt[:, :, 3].reshape(
            (len(self.Rt),) + (1,) * (X.ndim - 1) + (3,))
        depth = cam[..., 2]
        with np.errstate(all="ignore"):
            proj = cam[..., :2] / depth[..., None]
        return proj, depth > 0


def _agreement(scene: _Scene, X: np.ndarray, obs: np.ndarray, w: np.ndarray,
               loose: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """How well every slot of every camera fits the skeletons X (R, A, 3) of rows at their frames.

    ``obs`` (C, D, R, A, 2) / ``w`` (C, D, R, A): the slots at each row's frame; errors are
    scaled by ``loose`` times the matching threshold. Returns cost (R, C, D) in [0, 1] (inf with
    fewer than MIN_JOINTS common joints) and flip (R, C, D) bool: the slot fits better with its
    left and right exchanged.
    """
    proj, front = scene.project(X)                                         # (C, R, A, 2), (C, R, A)
    has3d = np.isfinite(X).all(axis=-1)[None] & front                      # (C, R, A)
    scale = (scene.focal / (loose * scene.tau))[:, None, None, None, None]
    costs = []
    for mirrored in (False, True):
        o = obs[..., _FLIP_A, :] if mirrored else obs
        ww = w[..., _FLIP_A] if mirrored else w
        e2 = (((proj[:, None] - o) * scale) ** 2).sum(axis=-1)              # (C, D, R, A)
        costs.append(mean_cost(e2, has3d[:, None] & (ww > 0)).transpose(2, 0, 1))   # (R, C, D)
    return _lower(*costs)


def mean_cost(e2: np.ndarray, common: np.ndarray) -> np.ndarray:
    """Mean of min(e2, 1) over the ``common`` joints (last axis; a non-finite e2 counts 1): inf
    with fewer than MIN_JOINTS common joints."""
    count = common.sum(axis=-1)
    e2 = np.where(np.isfinite(e2), np.minimum(e2, 1.0), 1.0)
    with np.errstate(all="ignore"):
        cost = np.where(common, e2, 0.0).sum(axis=-1) / count
    return np.where(count >= MIN_JOINTS, cost, np.inf)


def _lower(plain: np.ndarray, mirrored: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The lower of the two costs, and where the mirrored one is lower."""
    flip = mirrored < plain
    return np.where(flip, mirrored, plain), flip


def essential(Rt_a: np.ndarray, Rt_b: np.ndarray) -> np.ndarray:
    """Essential matrix (3, 3) of two cameras' extrinsics (3, 4): x_b^T E x_a = 0 in normalized coordinates."""
    R = Rt_b[:, :3] @ Rt_a[:, :3].T
    t = Rt_b[:, 3] - R @ Rt_a[:, 3]
    return np.array([[0, -t[2], t[1]], [t[2], 0, -t[0]], [-t[1], t[0], 0]]) @ R


def epipolar_cost(E: np.ndarray, xa: np.ndarray, wa: np.ndarray, xb: np.ndarray, wb: np.ndarray,
                  scale_a: float, scale_b: float) -> tuple[np.ndarray, np.ndarray]:
    """Cost (Da, Db, n) in [0, 1] of pairing each 2D person of camera a (``xa`` (Da, n, A, 2)
    normalized, weights ``wa`` (Da, n, A)) with each of camera b, frame by frame: the mean of
    min(d^2, 1) over common joints, d the distances of each joint to the other's epipolar line
    times ``scale`` (px per normalized unit over the tolerance, per camera); inf with fewer than
    MIN_JOINTS common joints. Also whether b fits better mirrored (Da, Db, n). No triangulation."""
    ha = np.concatenate([xa, np.ones(xa.shape[:-1] + (1,))], axis=-1)               # (Da, n, A, 3)
    la = ha @ E.T                                                                   # lines in b of a's joints
    costs = []
    for mirrored in (False, True):
        ob = xb[..., _FLIP_A, :] if mirrored else xb
        wm = wb[..., _FLIP_A] if mirrored else wb
        hb = np.concatenate([ob, np.ones(ob.shape[:-1] + (1,))], axis=-1)
        lb = hb @ E                                                                 # lines in a of b's joints
        num = np.abs((hb[None] * la[:, None]).sum(axis=-1))                         # (Da, Db, n, A)
        with np.errstate(all="ignore"):
            db = num / np.linalg.norm(la[..., :2], axis=-1)[:, None] * scale_b
            da = num / np.linalg.norm(lb[..., :2], axis=-1)[None] * scale_a
        costs.append(mean_cost(0.5 * (da ** 2 + db ** 2), (wa[:, None] > 0) & (wm[None] > 0)))
    return _lower(*costs)


def _epipolar(scene: _Scene, a: int, b: int, obs: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`epipolar_cost` of the slots (D, D, n) of cameras a and b in a chunk."""
    return epipolar_cost(essential(scene.Rt[a], scene.Rt[b]), obs[a], w[a], obs[b], w[b],
                         scene.focal[a] / scene.tau[a], scene.focal[b] / scene.tau[b])


def normalized_people(group: CameraGroup, points: list[np.ndarray], scores: list[np.ndarray],
                      min_score: float = DEFAULT_MIN_SCORE) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each camera's 2D people (P_c, F_c, 33, 2) px / (P_c, F_c, 33), reduced to the association
    joints, undistorted and normalized, with weights (0 below ``min_score`` or missing):
    per camera (P_c, F_c, A, 2) and (P_c, F_c, A). Cameras may have different P_c and F_c."""
    out = []
    for cam, p, s in zip(group.cameras, points, scores):
        sub = np.asarray(p, np.float64)[..., ASSOC_JOINTS, :]
        norm = undistort_normalized(CameraGroup([cam]), sub[None])[0]
        sc = np.asarray(s, np.float64)[..., ASSOC_JOINTS]
        out.append((norm, np.where((sc >= min_score) & np.isfinite(norm).all(axis=-1), sc, 0.0)))
    return out


def matching_scale(group: CameraGroup) -> np.ndarray:
    """(C,) px per normalized unit over each camera's matching tolerance (the ``scale`` of :func:`epipolar_cost`)."""
    _, focal, tau = _geometry(group, None)
    return focal / (SCALE * tau)


def _graph(M: np.ndarray, camera: list[int], gate: float) -> list[tuple[int, int]]:
    """One frame's seeds: the 2D people (nodes) clustered along the pair costs M (N, N), cheapest
    pair first, a node joining a cluster only from another camera and when it agrees with every
    member it can be compared with; returns the cheapest pair (node, node) of each cluster."""
    iu, ju = np.nonzero(np.triu(M < gate, 1))
    order = np.argsort(M[iu, ju], kind="stable")
    rows = M.tolist()
    label = [-1] * len(M)
    clusters: list[list[int]] = []
    seeds: list[tuple[int, int]] = []
    for u, v in zip(iu[order].tolist(), ju[order].tolist()):
        lu, lv = label[u], label[v]
        if lu < 0 and lv < 0:
            label[u] = label[v] = len(clusters)
            clusters.append([u, v])
            seeds.append((u, v))
        elif lu < 0 or lv < 0:
            node, k = (u, lv) if lu < 0 else (v, lu)
            row = rows[node]
            # inf: too few joints in common to compare, which is no disagreement.
            if all(camera[m] != camera[node] and (row[m] < gate or row[m] == np.inf) for m in clusters[k]):
                clusters[k].append(node)
                label[node] = k
    return seeds


def _seeds(scene: _Scene, obs: np.ndarray, w: np.ndarray, gate: float) -> np.ndarray:
    """(R, 6) int rows: frame (in the chunk), camera a, camera b, slot i, slot j, b mirrored.

    Every pair of 2D people of two cameras is scored by epipolar agreement; at each frame the
    pairs are clustered (:func:`_graph`) and the cheapest pair of each cluster is a seed.
    """
    C, D, n = obs.shape[:3]
    M = np.full((n, C * D, C * D), np.inf)
    mirrored = np.zeros((n, C * D, C * D), bool)
    for a, b in combinations(range(C), 2):
        cost, flip = _epipolar(scene, a, b, obs, w)                        # (D, D, n)
        block = (slice(None), slice(a * D, (a + 1) * D), slice(b * D, (b + 1) * D))
        M[block] = cost.transpose(2, 0, 1)
        mirrored[block] = flip.transpose(2, 0, 1)
    M = np.minimum(M, M.transpose(0, 2, 1))
    camera = np.repeat(np.arange(C), D).tolist()
    rows = []
    for f in range(n):
        for u, v in _graph(M[f], camera, gate):
            rows.append((f, u // D, v // D, u % D, v % D, int(mirrored[f, u, v])))
    return np.array(rows, int).reshape(-1, 6)


def _pair_skeletons(scene: _Scene, seeds: np.ndarray, obs: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Two-view DLT of every seed row: (R, A, 3) m, NaN where a joint is not seen by both views."""
    A = obs.shape[3]
    X = np.full((len(seeds), A, 3), np.nan)
    for a, b in {(int(s[1]), int(s[2])) for s in seeds}:
        rows = np.flatnonzero((seeds[:, 1] == a) & (seeds[:, 2] == b))
        f, i, j = seeds[rows, 0], seeds[rows, 3], seeds[rows, 4]
        oa, wa, ob, wb = obs[a, i, f], w[a, i, f], obs[b, j, f], w[b, j, f]
        mirrored = seeds[rows, 5].astype(bool)[:, None]
        ob = np.where(mirrored[..., None], ob[:, _FLIP_A], ob)
        wb = np.where(mirrored, wb[:, _FLIP_A], wb)
        views = _Views(scene.Rt[[a, b]], scene.focal[[a, b]], np.stack([oa, ob]).reshape(2, -1, 2),
                       np.stack([wa, wb]).reshape(2, -1))
        ok = (views.weights > 0).all(axis=0)
        X[rows] = views.solve(views.normals(views.weights).sum(axis=0), ok).reshape(len(rows), A, 3)
    return X


def _gathered(cost: np.ndarray, gate: float) -> tuple[np.ndarray, np.ndarray]:
    """Per row and camera the best-agreeing slot under ``gate`` (R, C) (-1 if none) and its cost."""
    best = np.argmin(cost, axis=2)
    c = np.take_along_axis(cost, best[:, :, None], axis=2)[:, :, 0]
    return np.where(c < gate, best, -1), np.where(c < gate, c, np.nan)


def _refit(scene: _Scene, members: np.ndarray, flip: np.ndarray, obs: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Skeletons (R, A, 3) m solved from every member (R, C) of each row, each mirrored as it fits best;
    ``obs`` (C, D, R, A, 2), ``w`` (C, D, R, A) as in :func:`_agreement`."""
    R, C = members.shape
    c = np.arange(C)[None, :]
    r = np.arange(R)[:, None]
    d = np.clip(members, 0, None)
    o = obs[c, d, r]                                                       # (R, C, A, 2)
    ww = np.where((members >= 0)[..., None], w[c, d, r], 0.0)
    mirrored = np.take_along_axis(flip, d[:, :, None], axis=2)[:, :, 0]    # (R, C)
    o = np.where(mirrored[..., None, None], o[..., _FLIP_A, :], o)
    ww = np.where(mirrored[..., None], ww[..., _FLIP_A], ww)
    A = o.shape[2]
    views = _Views(scene.Rt, scene.focal, o.transpose(1, 0, 2, 3).reshape(C, -1, 2), ww.transpose(1, 0, 2).reshape(C, -1))
    ok = (views.weights > 0).sum(axis=0) >= 2
    return views.solve(views.normals(views.weights).sum(axis=0), ok).reshape(R, A, 3)


def _hypotheses(scene: _Scene, seeds: np.ndarray, obs: np.ndarray, w: np.ndarray,
                gate: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grow every seed row into a cluster: members (R, C) slot or -1, their costs (R, C), skeletons (R, A, 3)."""
    X = _pair_skeletons(scene, seeds, obs, w)
    at = obs[:, :, seeds[:, 0]], w[:, :, seeds[:, 0]]                      # every slot at each row's frame
    cost, flip = _agreement(scene, X, *at)
    R = len(seeds)
    own = np.stack([cost[np.arange(R), seeds[:, 1], seeds[:, 3]], cost[np.arange(R), seeds[:, 2], seeds[:, 4]]])
    members, _ = _gathered(cost, gate)
    members = np.where((own < gate).all(axis=0)[:, None], members, -1)    # the seed pair itself must agree
    X = _refit(scene, members, flip, *at)
    cost, _ = _agreement(scene, X, *at)
    members, mcost = _gathered(cost, gate)
    return members, mcost, X


def _choose(members: np.ndarray, mean: np.ndarray) -> list[int]:
    """Greedy choice of one frame's clusters among its rows (members (S, C) slot, mean costs (S,)):
    most cameras first, then lowest mean cost; a row sharing a 2D person with a chosen one drops out."""
    views = (members >= 0).sum(axis=1)
    score = np.where(views >= 2, views - mean, -np.inf)
    chosen = []
    while len(score) and score.max() > -np.inf:
        s = int(np.argmax(score))
        chosen.append(s)
        shared = ((members == members[s][None]) & (members >= 0)).any(axis=1)
        score[shared] = -np.inf
    return chosen


def _claim(scene: _Scene, frames: np.ndarray, members: np.ndarray, X: np.ndarray, obs: np.ndarray, w: np.ndarray,
           gate: float) -> np.ndarray:
    """Chosen clusters (rows at ``frames`` (R,), members (R, C), skeletons (R, A, 3)) take the 2D
    people nobody took in the cameras they lack, when these fit within :data:`CLAIM` times the
    matching tolerance: a view that is merely noisy then reaches the robust triangulation,
    which weighs it joint by joint. Each 2D person goes to the cluster it fits best."""
    R, C = members.shape
    cost, _ = _agreement(scene, X, obs[:, :, frames], w[:, :, frames], loose=CLAIM)      # (R, C, D)
    D = cost.shape[2]
    taken = np.zeros((len(obs[0, 0]), C, D), bool)
    r, c = np.nonzero(members >= 0)
    taken[frames[r], c, members[r, c]] = True
    cost = np.where(taken[frames] | (members >= 0)[:, :, None], np.inf, cost)
    best = np.argmin(cost, axis=2)
    value = np.take_along_axis(cost, best[:, :, None], axis=2)[:, :, 0]
    r, c = np.nonzero(value < gate)
    if not len(r):
        return members
    order = np.argsort(value[r, c], kind="stable")
    r, c = r[order], c[order]
    _, first = np.unique(np.stack([frames[r], c, best[r, c]], axis=1), axis=0, return_index=True)
    out = members.copy()
    out[r[first], c[first]] = best[r[first], c[first]]
    return out


def _chunk(scene: _Scene, slots: np.ndarray, f0: int, f1: int,
           gate: float) -> list[list[tuple[np.ndarray, float, np.ndarray]]]:
    """Candidates of frames f0..f1: per frame, (members (C,) track index or -1, mean cost, skeleton (A, 3))."""
    C = len(slots)
    obs, w = scene.gather(slots, f0, f1)
    seeds = _seeds(scene, obs, w, gate)
    found: list[list[tuple[np.ndarray, float, np.ndarray]]] = [[] for _ in range(f1 - f0)]
    if not len(seeds):
        return found
    members, mcost, X = _hypotheses(scene, seeds, obs, w, gate)
    views = (members >= 0).sum(axis=1)
    mean = np.where(members >= 0, mcost, 0.0).sum(axis=1) / np.maximum(views, 1)
    order = np.argsort(seeds[:, 0], kind="stable")
    bounds = np.searchsorted(seeds[order, 0], np.arange(f1 - f0 + 1))
    chosen = np.array([rows[k] for i in range(f1 - f0) for rows in [order[bounds[i]:bounds[i + 1]]]
                       for k in _choose(members[rows], mean[rows])], int)
    if not len(chosen):
        return found
    claimed = _claim(scene, seeds[chosen, 0], members[chosen], X[chosen], obs, w, gate)
    for s, m in zip(chosen, claimed):
        i = seeds[s, 0]
        track = np.where(m >= 0, slots[np.arange(C), np.clip(m, 0, None), f0 + i], -1)
        found[i].append((track, float(mean[s]), X[s]))
    return found


def associate(group: CameraGroup, points: np.ndarray, scores: np.ndarray, *, min_score: float = DEFAULT_MIN_SCORE,
              threshold_px: float | None = None, gate: float = DEFAULT_GATE) -> Candidates:
    """Match the 2D people of the cameras into 3D people candidates, frame by frame.

    ``points`` (C, P, F, 33, 2) distorted px, NaN where missing; ``scores`` (C, P, F, 33) in
    0..1 (below ``min_score`` ignored); cameras in ``group`` order, P 2D people (tracks) per
    camera (their identities over time do not matter here). ``threshold_px`` as in
    :func:`reconstruction.triangulate.triangulate`. Pure and thread-safe; memory is bounded.
    """
    points = np.asarray(points)
    C, P, F = points.shape[:3]
    if points.shape[3:] != (len(FLIP), 2) or np.shape(scores) != points.shape[:4]:
        raise ValueError(f"points must be (C, P, F, {len(FLIP)}, 2) and scores (C, P, F, {len(FLIP)}); "
                         f"got {points.shape} and {np.shape(scores)}")
    if C != len(group):
        raise ValueError(f"{C} cameras of keypoints but {len(group)} in the calibration")
    scene = _Scene(group, points, scores, min_score, threshold_px)
    slots = scene.slots()
    D, A = slots.shape[1], len(ASSOC_JOINTS)
    # Rows per frame are at most a pair of slots per camera pair: bound the chunk by that.
    chunk = max(1, _BUDGET // max(1, C * (C - 1) // 2 * D * D * C * D * A * 2))
    found: list[list[tuple[np.ndarray, float, np.ndarray]]] = []
    for f0 in range(0, F, chunk):
        found += _chunk(scene, slots, f0, min(F, f0 + chunk), gate)
    return _pack(found, C, A)


def _pack(found: list[list[tuple[np.ndarray, float, np.ndarray]]], C: int, A: int) -> Candidates:
    """Per-frame lists of (members (C,), cost, skeleton (A, 3)) as :class:`Candidates` arrays."""
    F = len(found)
    K = max((len(frame) for frame in found), default=0)
    members = np.full((F, K, C), -1)
    skeletons = np.full((F, K, A, 3), np.nan)
    cost = np.full((F, K), np.nan)
    for f, frame in enumerate(found):
        for k, (m, c, X) in enumerate(frame):
            members[f, k], cost[f, k], skeletons[f, k] = m, c, X
    return Candidates(members, skeletons, cost)
