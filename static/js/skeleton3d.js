// VSION live skeleton in 3D (three.js; world in metres, Z up). An ES module (vendored three.js,
// no CDN, no import map: CSP). live.js owns the socket; it calls attachLiveView() and hands the
// skeleton over as DOM events on `document`:
//   "vsion:skeleton"        detail {points3d: [[x, y, z] | null, ... 33] | null}  one pose3d event drawn
//   "vsion:skeleton-clear"  no detail                                           data went stale / live pose off
// #skeleton-view carries data-points (non-null points last drawn), data-frames (pose3d events
// drawn), data-people (people drawn) and data-worker (the worker's id) so that a browser test can
// see the view is alive.
// The replay player (replay.js) imports createSkeletonView for its own view, and draws a second
// skeleton in another colour with updateOverlay (a reference over an attempt).
import * as THREE from "../vendor/three/three.module.min.js";
import { disposeTree, showUnavailable, textSprite, View3D, workAreaObject, worldAxes } from "./view3d.js";

import { EDGES, edgeSide, N_POINTS, personColour, side } from "./pose-overlay.js";

export { EDGES, edgeSide, N_POINTS, side };

const COLOURS = { left: new THREE.Color(0xea580c), right: new THREE.Color(0x0891b2), centre: new THREE.Color(0x334155) };
/** The second skeleton's single colour (violet: apart from both sides' colours). */
export const OVERLAY_COLOUR_CSS = "#7c3aed";
const OVERLAY_COLOUR = new THREE.Color(OVERLAY_COLOUR_CSS);
const JOINT_RADIUS = 0.022;  // m

const isPoint = (p) => Array.isArray(p) && p.length >= 3 && p.every((v) => Number.isFinite(v));

/**
 * One figure (bones and joints) drawn from 33 points: preallocated buffers, rewritten in place on
 * each update (no allocation per frame). `colour` is a fixed THREE.Color, or null for the left /
 * right / centre colours.
 */
class Figure {
  constructor(colour, opacity) {
    this.colour = colour;
    const transparent = opacity < 1;
    // Bones: two vertices per edge, drawn up to drawRange (edges with a missing end are left out).
    this.bonePositions = new Float32Array(EDGES.length * 2 * 3);
    this.boneColours = new Float32Array(EDGES.length * 2 * 3);
    const bones = new THREE.BufferGeometry();
    bones.setAttribute("position", new THREE.BufferAttribute(this.bonePositions, 3).setUsage(THREE.DynamicDrawUsage));
    bones.setAttribute("color", new THREE.BufferAttribute(this.boneColours, 3).setUsage(THREE.DynamicDrawUsage));
    bones.setDrawRange(0, 0);
    this.bones = new THREE.LineSegments(bones, new THREE.LineBasicMaterial({ vertexColors: true, transparent, opacity }));
    this.bones.frustumCulled = false;  // the cached bounding sphere would not follow the person

    // Joints: one instanced sphere per landmark; `count` is the number of points present.
    this.joints = new THREE.InstancedMesh(new THREE.SphereGeometry(JOINT_RADIUS, 12, 8),
      new THREE.MeshBasicMaterial({ transparent, opacity }), N_POINTS);
    this.joints.instanceMatrix.setUsage(THREE.DynamicDrawUsage);
    for (let i = 0; i < N_POINTS; i++) this.joints.setColorAt(i, colour || COLOURS.centre);
    this.joints.count = 0;
    this.joints.frustumCulled = false;
    if (transparent) this.bones.renderOrder = this.joints.renderOrder = 2;
    this.matrix = new THREE.Matrix4();
    this.point = new THREE.Vector3();
    this.box = new THREE.Box3();  // the points last drawn
  }

  add(scene) {
    scene.add(this.bones, this.joints);
  }

  /** Draw `points3d` (33 x [x, y, z] in m, entries may be null). Returns the number of points drawn. */
  set(points3d) {
    const pts = Array.isArray(points3d) ? points3d : [];
    let nBones = 0, nJoints = 0;
    EDGES.forEach(([a, b]) => {
      const pa = pts[a], pb = pts[b];
      if (!isPoint(pa) || !isPoint(pb)) return;
      const colour = this.colour || COLOURS[edgeSide(a, b)], o = nBones * 6, pos = this.bonePositions;
      pos[o] = pa[0]; pos[o + 1] = pa[1]; pos[o + 2] = pa[2];
      pos[o + 3] = pb[0]; pos[o + 4] = pb[1]; pos[o + 5] = pb[2];
      colour.toArray(this.boneColours, o);
      colour.toArray(this.boneColours, o + 3);
      nBones++;
    });
    this.box.makeEmpty();
    for (let i = 0; i < Math.min(N_POINTS, pts.length); i++) {
      const p = pts[i];
      if (!isPoint(p)) continue;
      const scale = i <= 10 ? 0.6 : 1;  // the face's points are close together
      this.matrix.makeScale(scale, scale, scale).setPosition(p[0], p[1], p[2]);
      this.joints.setMatrixAt(nJoints, this.matrix);
      this.joints.setColorAt(nJoints, this.colour || COLOURS[side(i)]);
      this.box.expandByPoint(this.point.set(p[0], p[1], p[2]));
      nJoints++;
    }
    const bones = this.bones.geometry;
    bones.setDrawRange(0, nBones * 2);
    bones.attributes.position.needsUpdate = true;
    bones.attributes.color.needsUpdate = true;
    this.joints.count = nJoints;
    this.joints.instanceMatrix.needsUpdate = true;
    this.joints.instanceColor.needsUpdate = true;
    return nJoints;
  }
}

/** The view: the main skeleton (side colours) and an optional second one in OVERLAY_COLOUR. */
class SkeletonView extends View3D {
  constructor(container) {
    super(container, "skeleton-canvas", 200);
    const grid = new THREE.GridHelper(10, 20, 0x9aa4b2, 0xd5dae1);  // 10 m, 50 cm squares
    grid.rotation.x = Math.PI / 2;  // GridHelper lies in XZ; our floor is XY (Z up)
    this.scene.add(grid, worldAxes(0.5));

    this.figure = new Figure(null, 1);
    this.figure.add(this.scene);
    this.overlay = null;  // created on first use: the live page never pays for it
    this.others = new Map();  // person id -> {figure, tag}: the people who are not the worker
    this.workerTag = null;
    this.workerId = null;
    this.area = null;
    this.areaKey = "";

    this.lastBox = new THREE.Box3();
    this.hasBox = false;
    this.framed = false;
    this.frame();
  }

  /** Draw `points3d` (33 x [x, y, z] in m, world frame, entries may be null). Returns the points drawn. */
  update(points3d) {
    const nJoints = this.figure.set(points3d);
    if (nJoints > 0) {
      this.lastBox.copy(this.figure.box);  // what "Reset view" frames, even after the person has left
      this.hasBox = true;
    }
    if (this.hasBox && !this.framed) {
      this.framed = true;  // the first skeleton: look at it; afterwards the user's view is kept
      this.frame();
    }
    this.render();
    return nJoints;
  }

  /** Draw the second skeleton (e.g. the reference over an attempt); null hides it. Returns the points drawn. */
  updateOverlay(points3d) {
    if (!this.overlay) {
      if (!points3d) return 0;
      this.overlay = new Figure(OVERLAY_COLOUR, 0.75);
      this.overlay.add(this.scene);
    }
    const n = this.overlay.set(points3d);
    this.render();
    return n;
  }

  clear() {
    this.update(null);
    this.updatePeople([], null, null);
  }

  /** A person's number over their head (made once per person, moved after). */
  tag(text, colour) {
    const sprite = textSprite(text, new THREE.Color(colour).getHex(), 0.16);
    this.scene.add(sprite);
    return sprite;
  }

  static place(tag, figure, shown) {
    tag.visible = shown && !figure.box.isEmpty();
    if (tag.visible) tag.position.set((figure.box.min.x + figure.box.max.x) / 2, (figure.box.min.y + figure.box.max.y) / 2,
      figure.box.max.z + 0.18);
  }

  /** Draw every person but the worker (the worker is update()'s figure), each in their colour and
   *  numbered, and the work area `area` ([x0, y0, x1, y1] m or null). Returns how many are drawn. */
  updatePeople(people, worker, area) {
    const list = Array.isArray(people) ? people : [];
    const seen = new Set();
    list.forEach((p) => {
      if (p.worker || !Number.isInteger(p.id)) return;
      seen.add(p.id);
      let entry = this.others.get(p.id);
      if (!entry) {
        entry = { figure: new Figure(new THREE.Color(personColour(p.id)), 0.85), tag: this.tag(String(p.id), personColour(p.id)) };
        entry.figure.add(this.scene);
        this.others.set(p.id, entry);
      }
      SkeletonView.place(entry.tag, entry.figure, entry.figure.set(p.points3d) > 0);
    });
    this.others.forEach((entry, id) => {
      if (seen.has(id)) return;
      [entry.figure.bones, entry.figure.joints, entry.tag].forEach((o) => { this.scene.remove(o); disposeTree(o); });
      this.others.delete(id);
    });
    this.setWorker(worker);
    this.setArea(area);
    this.render();
    return seen.size + (worker !== null && worker !== undefined ? 1 : 0);
  }

  setWorker(worker) {
    if (worker !== this.workerId) {
      if (this.workerTag) { this.scene.remove(this.workerTag); disposeTree(this.workerTag); this.workerTag = null; }
      if (Number.isInteger(worker)) this.workerTag = this.tag("★ " + worker, "#a16207");
      this.workerId = Number.isInteger(worker) ? worker : null;
    }
    if (this.workerTag) SkeletonView.place(this.workerTag, this.figure, this.figure.joints.count > 0);
  }

  setArea(area) {
    const key = Array.isArray(area) ? area.join(",") : "";
    if (key === this.areaKey) return;
    if (this.area) { this.scene.remove(this.area); disposeTree(this.area); this.area = null; }
    if (key) { this.area = workAreaObject(area); this.scene.add(this.area); }
    this.areaKey = key;
  }

  /** The id of the person under a click (client coordinates): the nearest whose box (their
   *  joints, widened by 10 cm) the ray goes through; null for none. */
  pick(clientX, clientY) {
    const figures = [[this.workerId, this.figure], ...[...this.others].map(([id, e]) => [id, e.figure])]
      .filter(([id, f]) => id !== null && f.joints.count > 0 && !f.box.isEmpty());
    const ray = this.raycaster(clientX, clientY).ray, hit = new THREE.Vector3();
    let best = null, distance = Infinity;
    figures.forEach(([id, figure]) => {
      if (!ray.intersectBox(figure.box.clone().expandByScalar(0.1), hit)) return;
      const d = hit.distanceTo(ray.origin);
      if (d < distance) { best = id; distance = d; }
    });
    return best;
  }

  /** Look at the last skeleton seen (else the floor around the origin) from the front, a little above. */
  frame() {
    const sphere = new THREE.Sphere();
    if (this.hasBox) this.lastBox.getBoundingSphere(sphere);
    else sphere.set(new THREE.Vector3(0, 0, 0.9), 1);
    this.look(sphere.center, Math.max(1.2, sphere.radius * 1.2), new THREE.Vector3(0.45, -1, 0.45), 100, 50);
  }

  dispose() {
    this.resizeObserver.disconnect();
    this.controls.removeEventListener("change", this.onChange);
    this.controls.dispose();
    this.scene.traverse((o) => {
      if (o.geometry) o.geometry.dispose();
      if (o.material) o.material.dispose();
    });
    this.renderer.dispose();
    this.renderer.domElement.remove();
  }
}

/**
 * A skeleton view in `container`: {update(points3d) -> n points drawn, clear(), frame(), dispose(),
 * updateOverlay(points3d) -> n points drawn, clearOverlay(), updatePeople(people, worker, area) ->
 * n people drawn, pick(clientX, clientY) -> person id | null, onClick(fn)}. The overlay is a second
 * skeleton in OVERLAY_COLOUR_CSS (a reference over an attempt); it does not move the view. The
 * people ([{id, points3d, worker}]) are the others of a scene with several people, each in their
 * colour and numbered; the worker is update()'s skeleton.
 * Throws when WebGL is not available.
 */
export function createSkeletonView(container) {
  const view = new SkeletonView(container);
  return {
    update: (points3d) => view.update(points3d),
    clear: () => view.clear(),
    updateOverlay: (points3d) => view.updateOverlay(points3d),
    clearOverlay: () => view.updateOverlay(null),
    updatePeople: (people, worker, area) => view.updatePeople(people, worker, area),
    pick: (clientX, clientY) => view.pick(clientX, clientY),
    onClick: (fn) => view.onClick(fn),
    frame: () => view.frame(),
    dispose: () => view.dispose(),
  };
}

/** The live page: one view in #skeleton-view, fed by live.js through document events. */
export function attachLiveView() {
  const container = document.getElementById("skeleton-view");
  if (!container) return;
  let view;
  try {
    view = createSkeletonView(container);
  } catch (e) {
    showUnavailable(container, "skeleton-unavailable");
    return;
  }
  let frames = 0;
  document.addEventListener("vsion:skeleton", (event) => {
    const detail = event.detail || {};
    const n = view.update(detail.points3d);
    const people = view.updatePeople(detail.people, detail.worker, detail.workArea);
    frames++;
    container.dataset.points = String(n);
    container.dataset.frames = String(frames);
    container.dataset.people = String(people);
    container.dataset.worker = Number.isInteger(detail.worker) ? String(detail.worker) : "";
  });
  document.addEventListener("vsion:skeleton-clear", () => {
    view.clear();
    container.dataset.points = "0";
    container.dataset.people = "0";
    container.dataset.worker = "";
  });
  view.onClick((e) => {
    const id = view.pick(e.clientX, e.clientY);
    if (id !== null) document.dispatchEvent(new CustomEvent("vsion:person-clicked", { detail: { id } }));
  });
  const reset = document.getElementById("skeleton-reset");
  if (reset) reset.addEventListener("click", () => view.frame());
}
