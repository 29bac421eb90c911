"""The synthetic calibration studio (tests/helpers/synthetic.py) against its own known truth and OpenCV.

The renderer is checked with two independent corner estimators: OpenCV's checkerboard
detector (``findChessboardCornersSB``, what the product uses) and ``cornerSubPix`` started
half a pixel away from the truth, which keeps its accuracy under strong perspective where the
detector does not, so its mean error bounds any systematic offset of the rendering.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from calibration.boards import Checkerboard
from calibration.camera import Camera
from tests.helpers import synthetic

BOARD = Checkerboard(9, 6, 115.0)
SB_FLAGS = cv2.CALIB_CB_EXHAUSTIVE | cv2.CALIB_CB_ACCURACY


@pytest.fixture(scope="module")
def ring() -> list[Camera]:
    return synthetic.camera_ring(seed=0)


def detect(img: np.ndarray) -> np.ndarray | None:
    ok, corners = cv2.findChessboardCornersSB(img, BOARD.pattern_size, flags=SB_FLAGS)
    return corners.reshape(-1, 2).astype(np.float64) if ok else None


def corner_errors(detected: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Error vectors (N, 2) px, in whichever order (as is or reversed) matches the truth best."""
    forward, reverse = detected - truth, detected[::-1] - truth
    return min(forward, reverse, key=lambda e: float(np.median(np.linalg.norm(e, axis=1))))


def board_centre_world(R_wb, t_wb) -> np.ndarray:
    return R_wb @ synthetic._board_center(BOARD) + t_wb


# --------------------------------------------------------------------------- cameras


def test_camera_ring_geometry(ring):
    target = np.array([0.0, 0.0, 1.0])
    assert [c.name for c in ring] == [f"cam{k}" for k in range(1, 7)]
    angles = []
    for cam in ring:
        c = cam.center
        assert np.hypot(c[0], c[1]) == pytest.approx(3.0, abs=1e-9)
        assert c[2] == pytest.approx(2.2, abs=1e-9)
        angles.append(np.arctan2(c[1], c[0]))
        # The optical axis (third row of R, in world coordinates) goes through the target.
        axis = cam.R[2]
        to_target = (target - c) / np.linalg.norm(target - c)
        assert np.linalg.norm(np.cross(axis, to_target)) < 1e-9 and axis @ to_target > 0
        assert cam.project(target[None])[0] == pytest.approx(cam.matrix[:2, 2], abs=1e-6)
        # Image x axis nearly horizontal, y axis pointing down.
        assert abs(cam.R[0, 2]) < np.sin(np.radians(2.5))
        assert cam.R[1, 2] < 0
    steps = np.diff(np.unwrap(angles))
    assert steps == pytest.approx(np.full(5, 2 * np.pi / 6), abs=1e-9)


def test_camera_ring_intrinsics_are_varied_and_realistic(ring):
    fx = np.array([c.matrix[0, 0] for c in ring])
    for cam in ring:
        K, d = cam.matrix, cam.dist
        assert cam.size == (1280, 720)
        assert 850 <= K[0, 0] <= 1100
        assert abs(K[1, 1] / K[0, 0] - 1) <= 0.005
        assert abs(K[0, 2] - 639.5) <= 25 and abs(K[1, 2] - 359.5) <= 25
        assert -0.30 <= d[0] <= -0.05 and 0.02 <= d[1] <= 0.15
        assert np.all(np.abs(d[2:4]) <= 1e-3) and abs(d[4]) <= 0.01
        # The distortion is one-to-one over the whole image: every pixel has a ray.
        assert not np.isnan(synthetic._ray_map(cam)).any()
    assert fx.max() - fx.min() > 50
    assert len({round(c.dist[0], 6) for c in ring}) == len(ring)


def test_ray_map_reprojects_to_pixel_centres(ring):
    """The cached undistortion behind the renderer is exact to well under 0.01 px."""
    for cam in ring[:3]:
        rays = synthetic._ray_map(cam)
        w, h = cam.size
        rng = np.random.default_rng(1)
        u, v = rng.integers(-1, w + 1, 5000), rng.integers(-1, h + 1, 5000)
        xy = rays[:, v + 1, u + 1].T.astype(np.float64)
        # The ray's point at depth 1 in the camera frame, taken to the world and projected.
        world = (np.concatenate([xy, np.ones((len(xy), 1))], axis=1) - cam.tvec) @ cam.R
        assert np.abs(cam.project(world) - np.stack([u, v], axis=1)).max() < 2e-4


# --------------------------------------------------------------------------- rendering accuracy


def test_rendered_corners_match_truth_through_distorted_cameras(ring):
    """findChessboardCornersSB on renders (blur 0.8 px, noise 2) through six distorted cameras,
    boards at 1-3 m tilted up to 45 deg, printed squares fully inside the image."""
    errors = []
    for k, cam in enumerate(ring):
        for m, (R, t) in enumerate(synthetic.intrinsic_poses(cam, BOARD, 3, seed=100 + k, whole_board=True)):
            img = synthetic.render_board(cam, BOARD, R, t, seed=10 * k + m)
            assert img.shape == (720, 1280) and img.dtype == np.uint8
            detected = detect(img)
            assert detected is not None, f"{cam.name} pose {m}: board not detected"
            errors.append(corner_errors(detected, synthetic.project_corners(cam, BOARD, R, t)))
    err = np.concatenate(errors)
    dist = np.linalg.norm(err, axis=1)
    assert np.median(dist) < 0.1
    assert dist.max() < 0.3
    # No systematic offset (a half-pixel convention error would show here).
    assert np.all(np.abs(err.mean(axis=0)) < 0.02)


def test_corner_subpix_agrees_with_truth(ring):
    """cornerSubPix, started 0.5 px away from the truth, converges onto it: the rendered
    geometry is unbiased well below the detector's own error."""
    rng = np.random.default_rng(5)
    errors = []
    for k in (0, 2, 5):
        cam = ring[k]
        for m, (R, t) in enumerate(synthetic.intrinsic_poses(cam, BOARD, 2, seed=200 + k)):
            img = synthetic.render_board(cam, BOARD, R, t, seed=m, noise_sigma=0.0)
            truth = synthetic.project_corners(cam, BOARD, R, t)
            start = truth + rng.uniform(-0.5, 0.5, truth.shape)
            # Corners whose 11 x 11 window would leave the image are skipped.
            inside = np.all((truth > 12) & (truth < np.array(cam.size) - 13), axis=1)
            refined = cv2.cornerSubPix(img, start[inside].astype(np.float32).reshape(-1, 1, 2), (5, 5), (-1, -1),
                                       (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-4))
            errors.append(refined.reshape(-1, 2) - truth[inside])
    err = np.concatenate(errors)
    dist = np.linalg.norm(err, axis=1)
    assert np.median(dist) < 0.06
    assert dist.max() < 0.2
    assert np.all(np.abs(err.mean(axis=0)) < 0.01)


def test_boards_at_the_image_border_are_detected(ring):
    """Poses pushed to the image border (inner corners 10 px from it) are found, with corners
    as accurate overall. OpenCV's detector alone loses accuracy (up to ~1.7 px) on corners
    within ~15 px of the right or bottom border whose outer squares are cut: the same image
    turned by a half-turn puts them on the left or top border, where they are accurate."""
    errors, missed = [], 0
    for k in (1, 4):
        cam = ring[k]
        for m, (R, t) in enumerate(synthetic.intrinsic_poses(cam, BOARD, 5, seed=300 + k)):
            detected = detect(synthetic.render_board(cam, BOARD, R, t, seed=m))
            if detected is None:
                missed += 1
                continue
            errors.append(corner_errors(detected, synthetic.project_corners(cam, BOARD, R, t)))
    assert missed <= 1
    assert np.median(np.linalg.norm(np.concatenate(errors), axis=1)) < 0.1


def test_render_options_keep_the_board_detectable(ring):
    cam = ring[2]
    R, t = synthetic.intrinsic_poses(cam, BOARD, 1, seed=7, whole_board=True)[0]
    truth = synthetic.project_corners(cam, BOARD, R, t)
    plain = synthetic.render_board(cam, BOARD, R, t, seed=3)
    dim = synthetic.render_board(cam, BOARD, R, t, seed=3, contrast=0.4, light_gradient=0.6, blur_sigma=1.2,
                                 noise_sigma=3.0)
    assert np.std(dim.astype(float)) < 0.6 * np.std(plain.astype(float))
    detected = detect(dim)
    assert detected is not None
    assert np.median(np.linalg.norm(corner_errors(detected, truth), axis=1)) < 0.15


def test_render_draws_only_what_the_camera_sees(ring):
    cam = ring[0]
    R, t = synthetic.intrinsic_poses(cam, BOARD, 1, seed=8, whole_board=True)[0]
    img = synthetic.render_board(cam, BOARD, R, t, seed=1, noise_sigma=0.0, blur_sigma=0.0)
    truth = synthetic.project_corners(cam, BOARD, R, t)
    # The centre of the first square (between corners 0, 1, cols, cols+1) is black.
    centre = truth[[0, 1, BOARD.cols, BOARD.cols + 1]].mean(axis=0).round().astype(int)
    assert img[centre[1], centre[0]] < 60
    centre = truth[[1, 2, BOARD.cols + 1, BOARD.cols + 2]].mean(axis=0).round().astype(int)
    assert img[centre[1], centre[0]] > 200
    # Seen from behind: no pattern, so no detection; far away out of view: no board at all.
    back = _seen_from_behind(R, t)
    assert detect(synthetic.render_board(cam, BOARD, *back, seed=1)) is None
    away = synthetic.render_board(cam, BOARD, R, t + 50 * cam.R[0], seed=1, noise_sigma=0.0)
    assert (away > 200).mean() < 0.05


# --------------------------------------------------------------------------- poses and visibility


def _seen_from_behind(R_wb, t_wb):
    """The same board turned over (half-turn about its own y axis through its centre): the
    corners occupy the same points, but the camera sees its back."""
    flip = np.diag([-1.0, 1.0, -1.0])
    R2 = R_wb @ flip
    return R2, board_centre_world(R_wb, t_wb) - R2 @ synthetic._board_center(BOARD)


def test_visible_rejects_back_side_and_out_of_image(ring):
    cam = ring[3]
    R, t = synthetic.intrinsic_poses(cam, BOARD, 1, seed=9, whole_board=True)[0]
    assert synthetic.visible(cam, BOARD, R, t)
    R2, t2 = _seen_from_behind(R, t)
    truth = np.sort(synthetic.project_corners(cam, BOARD, R, t), axis=0)
    assert np.sort(synthetic.project_corners(cam, BOARD, R2, t2), axis=0) == pytest.approx(truth, abs=1e-6)
    assert not synthetic.visible(cam, BOARD, R2, t2)
    # Slid sideways by a metre, or behind the camera: out of the image.
    assert not synthetic.visible(cam, BOARD, R, t + 1.0 * cam.R[0])
    behind = 2 * cam.center - board_centre_world(R, t) - R @ synthetic._board_center(BOARD)
    assert not synthetic.visible(cam, BOARD, R, behind)
    # Too close to the border for the margin.
    px = synthetic.project_corners(cam, BOARD, R, t)
    gap = min(px.min(), cam.size[0] - 1 - px[:, 0].max(), cam.size[1] - 1 - px[:, 1].max())
    assert not synthetic.visible(cam, BOARD, R, t, margin_px=gap + 1)


def test_intrinsic_poses_cover_the_image(ring):
    for k, cam in enumerate(ring):
        poses = synthetic.intrinsic_poses(cam, BOARD, 18, seed=k)
        assert len(poses) == 18
        px = []
        for R, t in poses:
            assert np.allclose(R @ R.T, np.eye(3)) and np.linalg.det(R) == pytest.approx(1.0)
            assert synthetic.visible(cam, BOARD, R, t, margin_px=10)
            assert synthetic.view_angle_deg(cam, BOARD, R, t) <= 45.5
            assert 1.0 - 1e-9 <= np.linalg.norm(board_centre_world(R, t) - cam.center) <= 3.0 + 1e-9
            px.append(synthetic.project_corners(cam, BOARD, R, t))
        px = np.concatenate(px)
        w, h = cam.size
        # Corners reach every image border within 25 px, and fill an 8 x 6 grid of cells.
        assert px[:, 0].min() < 25 and px[:, 0].max() > w - 26
        assert px[:, 1].min() < 25 and px[:, 1].max() > h - 26
        cells, _, _ = np.histogram2d(px[:, 0], px[:, 1], bins=[8, 6], range=[[0, w], [0, h]])
        assert (cells > 0).mean() >= 46 / 48
        # ... including the four image corners (a corner within 20 x 20 px of each).
        for cx, cy in ((0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1)):
            assert np.any((np.abs(px[:, 0] - cx) < 20) & (np.abs(px[:, 1] - cy) < 20)), (cam.name, cx, cy)
        tilts = [synthetic.view_angle_deg(cam, BOARD, R, t) for R, t in poses]
        assert max(tilts) > 30


def test_extrinsic_moments_share_every_camera(ring):
    poses, views = synthetic.extrinsic_moments(ring, BOARD, 30, seed=4)
    assert len(poses) == len(views) == 30
    counts = np.zeros(len(ring), int)
    links = np.zeros((len(ring), len(ring)), bool)
    for (R, t), seen in zip(poses, views):
        assert len(seen) >= 2 and list(seen) == sorted(set(seen))
        centre = board_centre_world(R, t)
        assert np.hypot(centre[0], centre[1]) <= 0.6 + 1e-9 and 0.8 <= centre[2] <= 1.6
        for i in range(len(ring)):
            assert synthetic.visible(ring[i], BOARD, R, t, max_view_angle_deg=60.0) == (i in seen)
        counts[list(seen)] += 1
        links[np.ix_(seen, seen)] = True
    assert counts.min() >= 5
    # The graph of cameras sharing moments is connected.
    reached = {0}
    while True:
        more = {j for i in reached for j in np.nonzero(links[i])[0]} - reached
        if not more:
            break
        reached |= more
    assert reached == set(range(len(ring)))
    # Stricter demands are met too.
    _, views3 = synthetic.extrinsic_moments(ring, BOARD, 6, seed=4, min_views=3)
    assert all(len(v) >= 3 for v in views3)


def test_extrinsic_moment_renders_are_detected(ring):
    poses, views = synthetic.extrinsic_moments(ring, BOARD, 2, seed=11)
    for m, ((R, t), seen) in enumerate(zip(poses, views)):
        for i in seen:
            detected = detect(synthetic.render_board(ring[i], BOARD, R, t, seed=m))
            assert detected is not None, (m, ring[i].name)
            errors = corner_errors(detected, synthetic.project_corners(ring[i], BOARD, R, t))
            assert np.median(np.linalg.norm(errors, axis=1)) < 0.1


def test_floor_pose_is_seen_from_above(ring):
    R, t = synthetic.floor_pose(BOARD)
    assert R == pytest.approx(np.diag([1.0, -1.0, -1.0])) and t == pytest.approx(np.zeros(3))
    world = BOARD.object_points() @ R.T + t
    s = BOARD.square_m
    assert world[1] == pytest.approx([s, 0, 0]) and world[BOARD.cols] == pytest.approx([0, -s, 0])
    assert np.allclose(world[:, 2], 0)
    seen = [cam.name for cam in ring if synthetic.visible(cam, BOARD, R, t)]
    assert len(seen) >= 4, seen
    # From below the floor, never.
    under = synthetic.camera_ring(height_m=-1.0, seed=0)
    assert not any(synthetic.visible(cam, BOARD, R, t) for cam in under)
    # Seen at 50-60 deg from ~3.7 m, the squares are ~18 px deep: the detector still finds the
    # board in the right place, if less precisely than face-on.
    for name in seen:
        cam = ring[[c.name for c in ring].index(name)]
        detected = detect(synthetic.render_board(cam, BOARD, R, t, seed=2))
        assert detected is not None, name
        errors = corner_errors(detected, synthetic.project_corners(cam, BOARD, R, t))
        assert np.median(np.linalg.norm(errors, axis=1)) < 0.3, name


# --------------------------------------------------------------------------- determinism


def test_deterministic_for_a_seed(ring):
    again = synthetic.camera_ring(seed=0)
    other = synthetic.camera_ring(seed=1)
    for a, b in zip(ring, again):
        assert a.to_dict() == b.to_dict()
    assert any(not np.allclose(a.matrix, b.matrix) for a, b in zip(ring, other))

    cam = ring[0]
    p1, p2 = (synthetic.intrinsic_poses(cam, BOARD, 5, seed=3) for _ in range(2))
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(p1, p2))
    p3 = synthetic.intrinsic_poses(cam, BOARD, 5, seed=4)
    assert not all(np.allclose(a[1], b[1]) for a, b in zip(p1, p3))

    m1, m2 = synthetic.extrinsic_moments(ring, BOARD, 5, seed=3), synthetic.extrinsic_moments(ring, BOARD, 5, seed=3)
    assert m1[1] == m2[1] and all(np.array_equal(a[1], b[1]) for a, b in zip(m1[0], m2[0]))

    R, t = p1[0]
    img1 = synthetic.render_board(cam, BOARD, R, t, seed=12, light_gradient=0.3)
    img2 = synthetic.render_board(cam, BOARD, R, t, seed=12, light_gradient=0.3)
    img3 = synthetic.render_board(cam, BOARD, R, t, seed=13, light_gradient=0.3)
    assert np.array_equal(img1, img2)
    assert not np.array_equal(img1, img3)
