// VSION: the MediaPipe skeleton's shape, and 2D skeletons drawn over camera previews (the live
// page and the work card recorders). No three.js here: the pages draw 2D without it.
import { canvasContext } from "./common.js";

/** MediaPipe Pose: 33 landmarks joined by these index pairs. */
export const EDGES = [[0, 1], [1, 2], [2, 3], [3, 7], [0, 4], [4, 5], [5, 6], [6, 8], [9, 10], [11, 12], [11, 13],
  [13, 15], [15, 17], [15, 19], [15, 21], [17, 19], [12, 14], [14, 16], [16, 18], [16, 20], [16, 22], [18, 20],
  [11, 23], [12, 24], [23, 24], [23, 25], [24, 26], [25, 27], [26, 28], [27, 29], [28, 30], [29, 31], [30, 32],
  [27, 31], [28, 32]];
export const N_POINTS = 33;

/** "left", "right" or "centre" for a MediaPipe landmark index (the nose is the only centre point). */
export function side(i) {
  if (i === 0) return "centre";
  if (i < 11) return [1, 2, 3, 7, 9].includes(i) ? "left" : "right";
  return i % 2 === 1 ? "left" : "right";
}

/** An edge is on one side when both its ends are, else it crosses the body. */
export function edgeSide(a, b) {
  const sa = side(a), sb = side(b);
  return sa === sb ? sa : "centre";
}

export const SIDE_COLOURS = { left: "#f97316", right: "#22d3ee", centre: "#f8fafc" };
export const MIN_SCORE = 0.5;  // landmarks MediaPipe is less sure of are not drawn

/** Where the picture is drawn inside the frame (CSS px): the <img> box, letterboxed by object-fit: contain. */
export function pictureRect(overlay) {
  const img = overlay.img, iw = img.naturalWidth, ih = img.naturalHeight;
  if (!iw || !ih) return null;
  const f = overlay.frame.getBoundingClientRect(), b = img.getBoundingClientRect();
  const s = Math.min(b.width / iw, b.height / ih), w = iw * s, h = ih * s;
  return { x: b.left - f.left + (b.width - w) / 2, y: b.top - f.top + (b.height - h) / 2, w, h };
}

/** Draw ``overlay.points`` ([[x, y, score] x 33], normalized) over its preview; sets ``overlay.drawn``. */
export function drawOverlay(overlay) {
  const ctx = canvasContext(overlay.canvas, overlay.frame.clientWidth, overlay.frame.clientHeight);
  overlay.drawn = false;
  const pts = overlay.points, r = pts && pictureRect(overlay);
  if (!r) return;
  const ok = (p) => Array.isArray(p) && p.length >= 3 && p[2] >= MIN_SCORE;
  const at = (p) => [r.x + p[0] * r.w, r.y + p[1] * r.h];
  ctx.lineWidth = 2.5;
  ctx.lineCap = "round";
  EDGES.forEach(([a, b]) => {
    if (!ok(pts[a]) || !ok(pts[b])) return;
    const [x0, y0] = at(pts[a]), [x1, y1] = at(pts[b]);
    ctx.strokeStyle = SIDE_COLOURS[edgeSide(a, b)];
    ctx.beginPath();
    ctx.moveTo(x0, y0);
    ctx.lineTo(x1, y1);
    ctx.stroke();
  });
  ctx.lineWidth = 1;
  ctx.strokeStyle = "rgba(0, 0, 0, 0.6)";
  pts.forEach((p, i) => {
    if (!ok(p)) return;
    const [x, y] = at(p);
    ctx.fillStyle = SIDE_COLOURS[side(i)];
    ctx.beginPath();
    ctx.arc(x, y, 3.5, 0, 2 * Math.PI);
    ctx.fill();
    ctx.stroke();
  });
  overlay.drawn = true;
}
