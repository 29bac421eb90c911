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

const ok = (p) => Array.isArray(p) && p.length >= 3 && p[2] >= MIN_SCORE;

/** The colour of a person of the live view who is not the worker (the worker keeps the side
 *  colours); `id` null: a 2D person nobody in 3D was made of. */
export const PERSON_COLOURS = ["#c084fc", "#f472b6", "#facc15", "#4ade80", "#60a5fa", "#fb923c"];
export const NOBODY_COLOUR = "rgba(203, 213, 225, 0.75)";
export function personColour(id) {
  return Number.isInteger(id) && id > 0 ? PERSON_COLOURS[(id - 1) % PERSON_COLOURS.length] : NOBODY_COLOUR;
}

/** One skeleton: `pts` 33 x [x, y, score] normalized, placed in the picture rect `r`; `colour`
 *  null for the side colours. Returns the bounding box drawn ({x0, y0, x1, y1} CSS px) or null. */
function drawFigure(ctx, r, pts, colour, width) {
  const at = (p) => [r.x + p[0] * r.w, r.y + p[1] * r.h];
  ctx.lineWidth = width;
  ctx.lineCap = "round";
  EDGES.forEach(([a, b]) => {
    if (!ok(pts[a]) || !ok(pts[b])) return;
    const [x0, y0] = at(pts[a]), [x1, y1] = at(pts[b]);
    ctx.strokeStyle = colour || SIDE_COLOURS[edgeSide(a, b)];
    ctx.beginPath();
    ctx.moveTo(x0, y0);
    ctx.lineTo(x1, y1);
    ctx.stroke();
  });
  ctx.lineWidth = 1;
  ctx.strokeStyle = "rgba(0, 0, 0, 0.6)";
  let box = null;
  pts.forEach((p, i) => {
    if (!ok(p)) return;
    const [x, y] = at(p);
    box = box ? { x0: Math.min(box.x0, x), y0: Math.min(box.y0, y), x1: Math.max(box.x1, x), y1: Math.max(box.y1, y) }
      : { x0: x, y0: y, x1: x, y1: y };
    ctx.fillStyle = colour || SIDE_COLOURS[side(i)];
    ctx.beginPath();
    ctx.arc(x, y, width + 1, 0, 2 * Math.PI);
    ctx.fill();
    ctx.stroke();
  });
  return box;
}

/** The person's number over their head (a star for the worker). */
function drawTag(ctx, box, text, colour) {
  ctx.font = "bold 13px system-ui, sans-serif";
  const w = ctx.measureText(text).width + 10, x = (box.x0 + box.x1) / 2 - w / 2, y = Math.max(2, box.y0 - 22);
  ctx.fillStyle = "rgba(15, 23, 42, 0.8)";
  ctx.fillRect(x, y, w, 18);
  ctx.fillStyle = colour;
  ctx.fillText(text, x + 5, y + 13);
}

/**
 * Draw over its preview ``overlay.people`` ([{id, points, worker}]: every person, the worker in the
 * side colours and thicker, the others in their own colour), else ``overlay.points`` ([[x, y,
 * score] x 33], normalized: one person). Sets ``overlay.drawn``, ``overlay.boxes`` (id -> box, for
 * clicks) and the frame's data-boxes ({id: [x0, y0, x1, y1]} CSS px).
 */
export function drawOverlay(overlay) {
  const ctx = canvasContext(overlay.canvas, overlay.frame.clientWidth, overlay.frame.clientHeight);
  overlay.drawn = false;
  overlay.boxes = new Map();
  delete overlay.frame.dataset.boxes;
  const people = Array.isArray(overlay.people) ? overlay.people : null;
  const r = (people ? people.length : overlay.points) && pictureRect(overlay);
  if (!r) return;
  if (!people) {
    drawFigure(ctx, r, overlay.points, null, 2.5);
    overlay.drawn = true;
    return;
  }
  const order = people.filter((p) => !p.worker).concat(people.filter((p) => p.worker));
  order.forEach((person) => {
    if (!Array.isArray(person.points)) return;
    const colour = person.worker ? null : personColour(person.id);
    const box = drawFigure(ctx, r, person.points, colour, person.worker ? 3 : (person.id ? 2 : 1.5));
    if (!box || !person.id) return;
    overlay.boxes.set(person.id, box);
    drawTag(ctx, box, (person.worker ? "★ " : "") + person.id, person.worker ? "#fde047" : personColour(person.id));
  });
  // Where each person is drawn (CSS px in the frame), for a browser test to click them.
  overlay.frame.dataset.boxes = JSON.stringify(Object.fromEntries([...overlay.boxes].map(([id, b]) =>
    [id, [b.x0, b.y0, b.x1, b.y1].map(Math.round)])));
  overlay.drawn = true;
}

/** The id of the person drawn under a click (client coordinates), the smallest box first; null. */
export function personAt(overlay, clientX, clientY) {
  if (!overlay.boxes) return null;
  const f = overlay.frame.getBoundingClientRect(), x = clientX - f.left, y = clientY - f.top, pad = 12;
  let best = null, area = Infinity;
  overlay.boxes.forEach((b, id) => {
    if (x < b.x0 - pad || x > b.x1 + pad || y < b.y0 - pad || y > b.y1 + pad) return;
    const a = (b.x1 - b.x0 + 2 * pad) * (b.y1 - b.y0 + 2 * pad);
    if (a < area) { best = id; area = a; }
  });
  return best;
}
