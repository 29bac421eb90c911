"""MediaPipe's BlazePose models run by VSION itself on a TFLite runtime (ai-edge-litert), one step per function.

The steps and their parameters are those of MediaPipe 0.10.21's CPU pose graphs (``pose_detection_cpu``,
``pose_detection_to_roi``, ``pose_landmark_by_roi_cpu``, ``pose_landmarks_to_roi``,
``pose_landmark_filtering``), reimplemented here so that VSION no longer needs MediaPipe's legacy
``solutions`` API:

- detector: the whole picture letterboxed into 224x224 (black borders, RGB in [-1, 1]); 2254 SSD
  anchors (strides 8, 16, 32, 32, 32; fixed size); sigmoid scores (logits clipped to +-100) kept
  from 0.5; per anchor a face box and 4 keypoints (hip centre, a point on the full-body circle,
  shoulder centre, a point on the upper-body circle); weighted non-maximum suppression at IoU 0.3
  that keeps *every* person, not only the best one;
- region of interest: centred on the hip centre, side 2 x 1.25 x the distance from the hip centre
  to the full-body circle point, rotated so that this vector points up;
- landmarks: the region warped (bilinear, replicated borders) into 256x256 RGB in [0, 1]; 39
  landmarks (33 + 6 auxiliary) refined on the 64x64 heatmap (9x9 window); visibility and presence
  through a sigmoid; a pose flag gates the whole person (0.5);
- next region: from the auxiliary hip-centre and body-scale landmarks, smoothed by a one-euro
  filter (min cutoff 0.01 Hz, beta 10, derivative cutoff 1 Hz, scaled by the person's size), the
  way MediaPipe's graph tracks a person from one frame to the next.

Coordinates are pixels of the full picture (x to the right, y down, origin at the top-left corner
of the top-left pixel). Nothing here keeps state from frame to frame except :class:`OneEuroFilter`;
:mod:`reconstruction.pose_runtime` does the tracking.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from scipy.special import expit

from .models import POSE_DETECTOR, POSE_LANDMARKS, ModelFile, model_path

logger = logging.getLogger(__name__)

DETECTOR_SIZE = 224
LANDMARK_SIZE = 256
ANCHOR_STRIDES = (8, 16, 32, 32, 32)
ANCHORS_PER_LAYER = 2  # aspect ratio 1 + the interpolated scale (SsdAnchorsCalculator's default)
N_ANCHORS = 2254
SCORE_CLIP = 100.0
NMS_IOU = 0.3
ROI_SCALE = 1.25
N_MODEL_LANDMARKS = 39
N_LANDMARKS = 33
AUX_HIP, AUX_SCALE = 33, 34  # auxiliary landmarks that place the next region of interest
# The pbtxt asks for a 7x7 window, but the legacy graph of the 0.10.21 wheel runs with the calculator's
# default, 9x9: only 9 reproduces its landmarks (0.02 px on a first frame, against 0.3 px with 7).
HEATMAP_KERNEL = 9
HEATMAP_MIN_CONFIDENCE = 0.5
# One-euro filter of the auxiliary landmarks (pose_landmark_filtering.pbtxt): min cutoff (Hz), beta, derivative cutoff (Hz).
AUX_FILTER = (0.01, 10.0, 1.0)
LEGACY_FILTER_HZ = 30.0  # MediaPipe's Python API stamps frames 33333 us apart, whatever the video's rate


class RuntimeMissing(ImportError):
    """No TFLite runtime is installed."""


def _interpreter(model: ModelFile, num_threads: int, path: Path | None):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:
        raise RuntimeMissing("the TFLite runtime is missing: pip install -r requirements.txt (ai-edge-litert)") from exc
    return Interpreter(model_path=str(path or model_path(model)), num_threads=num_threads)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return expit(x)


def normalize_radians(angle: float) -> float:
    """``angle`` (rad) brought into [-pi, pi), as MediaPipe's rect calculators do."""
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


# ---------------------------------------------------------------------------------------------- geometry
@dataclass(frozen=True)
class Roi:
    """A square region of interest: centre ``x``, ``y`` (px), side ``size`` (px), ``rotation`` (rad,
    counter-clockwise on screen is negative: MediaPipe's convention, y down)."""

    x: float
    y: float
    size: float
    rotation: float = 0.0

    def iou(self, other: Roi) -> float:
        """Intersection over union of the two squares, their rotations ignored."""
        h1, h2 = self.size / 2, other.size / 2
        w = min(self.x + h1, other.x + h2) - max(self.x - h1, other.x - h2)
        h = min(self.y + h1, other.y + h2) - max(self.y - h1, other.y - h2)
        if w <= 0 or h <= 0:
            return 0.0
        inter = w * h
        return inter / (self.size ** 2 + other.size ** 2 - inter)


def roi_from_keypoints(centre: np.ndarray, scale_point: np.ndarray) -> Roi:
    """The region that MediaPipe derives from a hip centre and a body-circle point (both px).

    ``AlignmentPointsRectsCalculator`` (a square of side twice their distance, rotated by 90 deg
    minus the vector's angle) followed by ``RectTransformationCalculator`` (x1.25, square).
    """
    dx, dy = float(scale_point[0] - centre[0]), float(scale_point[1] - centre[1])
    side = 2.0 * math.hypot(dx, dy)
    rotation = normalize_radians(math.pi / 2 - math.atan2(-dy, dx))
    return Roi(float(centre[0]), float(centre[1]), side * ROI_SCALE, rotation)


def crop(rgb: np.ndarray, x: float, y: float, width: float, height: float, rotation: float, size: int,
         border: int) -> np.ndarray:
    """The rotated rectangle (centre, width, height in px; rotation in rad) warped into a
    ``(size, size, 3)`` uint8 image, as MediaPipe's ``ImageToTensorCalculator`` does on CPU: the
    rectangle's corners go to the picture's outer corners, bilinear interpolation, ``border`` an
    OpenCV border mode (constant black or replicated).

    MediaPipe calls ``warpPerspective`` with this (affine) matrix; ``warpAffine`` gives the same
    picture up to the rounding of a few pixels' interpolation, in half the time.
    """
    corners = cv2.boxPoints(((x, y), (width, height), math.degrees(rotation)))
    target = np.array([[0, size], [0, 0], [size, 0], [size, size]], np.float32)
    matrix = cv2.getPerspectiveTransform(corners, target)
    return cv2.warpAffine(rgb, matrix[:2], (size, size), flags=cv2.INTER_LINEAR, borderMode=border, borderValue=0)


# ---------------------------------------------------------------------------------------------- detector
@dataclass(frozen=True, eq=False)
class Detection:
    """One person found by the detector: ``score`` in [0.5, 1]; ``box`` ``(4,)`` float32 px
    (xmin, ymin, xmax, ymax) of the face; ``keypoints`` ``(4, 2)`` float32 px: hip centre,
    full-body circle point, shoulder centre, upper-body circle point."""

    score: float
    box: np.ndarray = field(repr=False)
    keypoints: np.ndarray = field(repr=False)

    @property
    def roi(self) -> Roi:
        return roi_from_keypoints(self.keypoints[0], self.keypoints[1])


def ssd_anchors(size: int = DETECTOR_SIZE, strides: tuple[int, ...] = ANCHOR_STRIDES) -> np.ndarray:
    """``(2254, 2)`` float32 anchor centres (x, y) in [0, 1], in the model's output order
    (SsdAnchorsCalculator with fixed anchor size: layers of equal stride share their grid)."""
    centres = []
    layer = 0
    while layer < len(strides):
        same = layer
        while same < len(strides) and strides[same] == strides[layer]:
            same += 1
        cells = math.ceil(size / strides[layer])
        grid = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        ys, xs = np.meshgrid(grid, grid, indexing="ij")
        per_cell = ANCHORS_PER_LAYER * (same - layer)
        centres.append(np.repeat(np.stack([xs.ravel(), ys.ravel()], axis=1), per_cell, axis=0))
        layer = same
    return np.concatenate(centres).astype(np.float32)


def _box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    w = np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0])
    h = np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1])
    inter = np.where((w > 0) & (h > 0), w * h, 0.0)
    union = (box[2] - box[0]) * (box[3] - box[1]) + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def weighted_nms(scores: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray,
                 iou: float = NMS_IOU) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """MediaPipe's WEIGHTED non-maximum suppression, keeping every cluster.

    ``scores`` ``(n,)``, ``boxes`` ``(n, 4)`` (xmin, ymin, xmax, ymax), ``keypoints`` ``(n, k, 2)``.
    The best remaining box takes every box overlapping it by more than ``iou`` (itself included);
    the result is their score-weighted mean box and keypoints, with the best score. Returns
    ``(score, box, keypoints)`` by decreasing score.
    """
    order = np.argsort(-scores, kind="stable")
    out = []
    while len(order):
        best = order[0]
        overlap = _box_iou(boxes[best], boxes[order]) > iou
        members, order = order[overlap], order[~overlap]
        weights = scores[members][:, None]
        box = (boxes[members] * weights).sum(0) / weights.sum()
        kps = (keypoints[members] * weights[:, :, None]).sum(0) / weights.sum()
        out.append((float(scores[best]), box, kps))
    return out


def square_regions(width: int, height: int, tiles: bool) -> list[tuple[float, float, float]]:
    """Square regions ``(x0, y0, side)`` (px) the detector looks at in a ``width`` x ``height`` picture.

    First the whole picture, letterboxed (the square of side ``max(width, height)`` centred on it,
    as MediaPipe does); with ``tiles``, also squares of side ``min(width, height)`` along the long
    side, overlapping by at least half of one, so that people who are small in the whole picture
    are seen at about twice the resolution.
    """
    long, short = max(width, height), min(width, height)
    regions = [((width - long) / 2, (height - long) / 2, float(long))]
    if tiles and long > short * 1.2:
        count = math.ceil(2 * long / short) - 1
        for offset in np.linspace(0, long - short, count):
            regions.append((float(offset), 0.0, float(short)) if width > height else (0.0, float(offset), float(short)))
    return regions


class Detector:
    """The BlazePose person detector: every person in a picture, best first.

    Not thread-safe (one TFLite interpreter): one detector per thread or process.
    """

    def __init__(self, min_score: float = 0.5, num_threads: int = 1, tiles: bool = False, path: Path | None = None):
        self.min_score, self.tiles = min_score, tiles
        self._interp = _interpreter(POSE_DETECTOR, num_threads, path)
        self._interp.allocate_tensors()
        self._input = self._interp.get_input_details()[0]["index"]
        outputs = {d["name"]: d["index"] for d in self._interp.get_output_details()}
        self._boxes, self._scores = outputs["Identity"], outputs["Identity_1"]
        self._anchors = ssd_anchors()

    def _run(self, tensor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw boxes ``(2254, 12)`` and logits ``(2254,)`` of one ``(224, 224, 3)`` input square.

        One square per call: the model flattens its batch axis into the anchors layer by layer,
        so a batch of several squares does not come out as several sets of anchors.
        """
        self._interp.set_tensor(self._input, tensor[None])
        self._interp.invoke()
        return self._interp.get_tensor(self._boxes)[0], self._interp.get_tensor(self._scores)[0, :, 0]

    def __call__(self, rgb: np.ndarray) -> list[Detection]:
        """People in an ``(H, W, 3)`` uint8 RGB picture, by decreasing score.

        The whole picture's detections come as MediaPipe finds them; with ``tiles``, a tile's
        detection is added when its face box does not overlap one of them (IoU 0.3).
        """
        height, width = rgb.shape[:2]
        regions = square_regions(width, height, self.tiles)
        outputs = []
        for x0, y0, side in regions:
            tensor = crop(rgb, x0 + side / 2, y0 + side / 2, side, side, 0.0, DETECTOR_SIZE, cv2.BORDER_CONSTANT)
            outputs.append(self._run(tensor.astype(np.float32) * (2 / 255) - 1))
        found = self.decode(*outputs[0], regions[0])
        if len(regions) > 1:
            parts = [self._candidates(*outputs[i], regions[i]) for i in range(1, len(regions))]
            scores, boxes, kps = (np.concatenate(p) for p in zip(*parts))
            if len(found):
                taken = np.stack([d.box for d in found])
                free = np.array([_box_iou(box, taken).max() <= NMS_IOU for box in boxes], bool)
                scores, boxes, kps = scores[free], boxes[free], kps[free]
            found += [Detection(s, b.astype(np.float32), k.astype(np.float32)) for s, b, k in weighted_nms(scores, boxes, kps)]
        return sorted(found, key=lambda d: -d.score)

    def _candidates(self, raw: np.ndarray, logits: np.ndarray,
                    region: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scores ``(n,)``, boxes ``(n, 4)`` px and keypoints ``(n, 4, 2)`` px of the anchors that pass
        ``min_score`` in one input square ``region`` = ``(x0, y0, side)`` px, before suppression."""
        scores = sigmoid(np.clip(logits, -SCORE_CLIP, SCORE_CLIP))
        keep = scores >= self.min_score
        raw, scores, anchors = raw[keep] / DETECTOR_SIZE, scores[keep], self._anchors[keep]
        centre, half = raw[:, :2] + anchors, raw[:, 2:4] / 2
        valid = np.all(half >= 0, axis=1) & np.isfinite(half).all(axis=1)
        x0, y0, side = region
        origin = np.array([x0, y0], np.float64)
        boxes = np.concatenate([centre - half, centre + half], axis=1)[valid] * side + np.tile(origin, 2)
        keypoints = (raw[:, 4:12].reshape(-1, 4, 2) + anchors[:, None, :])[valid] * side + origin
        return scores[valid], boxes, keypoints

    def decode(self, raw: np.ndarray, logits: np.ndarray, region: tuple[float, float, float]) -> list[Detection]:
        """Detections from the model's ``(2254, 12)`` raw boxes and ``(2254,)`` score logits for the
        input square ``region`` = ``(x0, y0, side)`` px of the picture: sigmoid scores from
        ``min_score``, weighted non-maximum suppression, px of the picture."""
        scores, boxes, keypoints = self._candidates(raw, logits, region)
        return [Detection(score, box.astype(np.float32), kps.astype(np.float32))
                for score, box, kps in weighted_nms(scores, boxes, keypoints)]


# ---------------------------------------------------------------------------------------------- landmarks
@dataclass(frozen=True, eq=False)
class Landmarks:
    """The landmark model's answer for ``n`` regions: ``points`` ``(n, 39, 2)`` float32 px of the full
    picture (33 landmarks then 6 auxiliary ones), ``visibility`` ``(n, 39)`` and ``presence``
    ``(n, 39)`` in [0, 1], ``flag`` ``(n,)``: the pose presence score in [0, 1]."""

    points: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    flag: np.ndarray


def refine_on_heatmap(xy: np.ndarray, heatmap: np.ndarray, kernel: int = HEATMAP_KERNEL,
                      min_confidence: float = HEATMAP_MIN_CONFIDENCE) -> np.ndarray:
    """MediaPipe's ``RefineLandmarksFromHeatmapCalculator``: ``xy`` ``(39, 2)`` in [0, 1] of the
    region, ``heatmap`` ``(64, 64, 39)`` logits. Each landmark moves to the sigmoid-weighted mean
    cell of the ``kernel`` x ``kernel`` window around it, when the window's peak reaches
    ``min_confidence``. Returns a new ``(39, 2)`` array."""
    rows, cols, n = heatmap.shape
    col = (xy[:, 0] * cols).astype(np.int64)  # truncation toward zero, as the C++ cast
    row = (xy[:, 1] * rows).astype(np.int64)
    inside = (col >= 0) & (col < cols) & (row >= 0) & (row < rows)
    steps = np.arange(kernel) - (kernel - 1) // 2
    rr, cc = row[:, None] + steps, col[:, None] + steps  # (n, k)
    valid = ((rr >= 0) & (rr < rows))[:, :, None] & ((cc >= 0) & (cc < cols))[:, None, :]
    values = heatmap[np.clip(rr, 0, rows - 1)[:, :, None], np.clip(cc, 0, cols - 1)[:, None, :], np.arange(n)[:, None, None]]
    conf = np.where(valid, sigmoid(values), 0.0)
    total = conf.sum(axis=(1, 2))
    refine = inside & (conf.max(axis=(1, 2)) >= min_confidence) & (total > 0)
    out = xy.copy()
    safe = np.where(total > 0, total, 1.0)
    out[refine, 0] = ((conf * cc[:, None, :]).sum(axis=(1, 2)) / cols / safe)[refine]
    out[refine, 1] = ((conf * rr[:, :, None]).sum(axis=(1, 2)) / rows / safe)[refine]
    return out


def project(xy: np.ndarray, roi: Roi) -> np.ndarray:
    """Points ``(..., 2)`` in [0, 1] of the region back to px of the full picture
    (``LandmarkProjectionCalculator``)."""
    u, v = xy[..., 0] - 0.5, xy[..., 1] - 0.5
    c, s = math.cos(roi.rotation), math.sin(roi.rotation)
    return np.stack([roi.x + (c * u - s * v) * roi.size, roi.y + (s * u + c * v) * roi.size], axis=-1)


class LandmarkModel:
    """The BlazePose "full" landmark model on square regions of a picture.

    ``batch=True`` runs all the regions of one picture in one call (input resized to ``n``
    regions); ``False`` runs them one by one. Not thread-safe: one model per thread or process.
    """

    def __init__(self, num_threads: int = 1, batch: bool = False, path: Path | None = None):
        self.batch = batch
        self._interp = _interpreter(POSE_LANDMARKS, num_threads, path)
        self._interp.allocate_tensors()
        self._input = self._interp.get_input_details()[0]["index"]
        by_name = {d["name"]: d["index"] for d in self._interp.get_output_details()}
        self._outputs = by_name["Identity"], by_name["Identity_1"], by_name["Identity_3"]
        self._batch = 1

    def _run(self, tensors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if tensors.shape[0] != self._batch:
            self._interp.resize_tensor_input(self._input, list(tensors.shape))
            self._interp.allocate_tensors()
            self._batch = tensors.shape[0]
        self._interp.set_tensor(self._input, tensors)
        self._interp.invoke()
        return tuple(self._interp.get_tensor(i) for i in self._outputs)  # get_tensor copies

    def __call__(self, rgb: np.ndarray, rois: list[Roi]) -> Landmarks:
        """Landmarks of each region of an ``(H, W, 3)`` uint8 RGB picture."""
        n = len(rois)
        if n == 0:
            empty = np.zeros((0, N_MODEL_LANDMARKS), np.float32)
            return Landmarks(np.zeros((0, N_MODEL_LANDMARKS, 2), np.float32), empty, empty, np.zeros(0, np.float32))
        tensors = np.stack([crop(rgb, r.x, r.y, r.size, r.size, r.rotation, LANDMARK_SIZE, cv2.BORDER_REPLICATE)
                            for r in rois]).astype(np.float32) / 255
        if self.batch:
            raw, flag, heat = self._run(tensors)
        else:
            parts = [self._run(tensors[i:i + 1]) for i in range(n)]
            raw, flag, heat = (np.concatenate(p) for p in zip(*parts))
        raw = raw.reshape(n, N_MODEL_LANDMARKS, 5)
        points = np.empty((n, N_MODEL_LANDMARKS, 2), np.float32)
        for i, roi in enumerate(rois):
            points[i] = project(refine_on_heatmap(raw[i, :, :2] / LANDMARK_SIZE, heat[i]), roi)
        return Landmarks(points, sigmoid(raw[..., 3]).astype(np.float32), sigmoid(raw[..., 4]).astype(np.float32),
                         flag.reshape(n).astype(np.float32))


# ---------------------------------------------------------------------------------------------- smoothing
class OneEuroFilter:
    """MediaPipe's one-euro filter (``OneEuroFilter`` in ``LandmarksSmoothingCalculator``) on a vector.

    ``hz``: the assumed frame rate; ``min_cutoff`` and ``derivative_cutoff`` in Hz; ``beta`` per
    (px/s x value scale). The first value passes through. Not thread-safe (it keeps state).
    """

    def __init__(self, min_cutoff: float, beta: float, derivative_cutoff: float, hz: float = LEGACY_FILTER_HZ):
        self.min_cutoff, self.beta, self.derivative_cutoff, self.hz = min_cutoff, beta, derivative_cutoff, hz
        self._raw: np.ndarray | None = None
        self._value: np.ndarray | None = None
        self._speed: np.ndarray | None = None

    def _alpha(self, cutoff):
        return 1.0 / (1.0 + self.hz / (2 * math.pi * cutoff))

    def __call__(self, value: np.ndarray, value_scale: float = 1.0) -> np.ndarray:
        """The filtered ``value`` (any shape, float64); ``value_scale`` multiplies the speed
        (MediaPipe: 1 / the object's size in px)."""
        value = np.asarray(value, np.float64)
        if self._raw is None:
            self._raw, self._value, self._speed = value.copy(), value.copy(), np.zeros_like(value)
            return value.copy()
        speed = (value - self._raw) * value_scale * self.hz
        a = self._alpha(self.derivative_cutoff)
        self._speed = a * speed + (1 - a) * self._speed
        a = self._alpha(self.min_cutoff + self.beta * np.abs(self._speed))
        self._value = a * value + (1 - a) * self._value
        self._raw = value.copy()
        return self._value.copy()


def next_roi(points: np.ndarray, smoother: OneEuroFilter) -> Roi:
    """The region where a person will be looked for in the next frame, from this frame's ``(39, 2)``
    px landmarks (``pose_landmarks_to_roi`` after ``pose_landmark_filtering``'s auxiliary filter)."""
    aux = points[[AUX_HIP, AUX_SCALE]].astype(np.float64)
    scale = 2.0 * float(np.hypot(*(aux[1] - aux[0])))
    if scale > 1e-6:
        aux = smoother(aux, 1.0 / scale)
    return roi_from_keypoints(aux[0], aux[1])
