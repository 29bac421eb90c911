// VSION rig viewer: the calibrated cameras in 3D (three.js; world in metres, Z up).
// An ES module (vendored three.js, no CDN, no import map: CSP), imported by calibration.js.
//
// RIG = {cameras: [{name, size: [w, h], fx, fy, cx, cy, center: [x, y, z] (m, world),
//        rotation: 3x3 world->camera rows}], board: {cols, rows, square_mm}}.
// Camera frame: x right, y down in the image, z forward; so in world coordinates the rows of
// `rotation` are the image-right, image-down and viewing directions.
import * as THREE from "../vendor/three/three.module.min.js";
import { disposeTree, showUnavailable, textSprite, View3D, workAreaObject, worldAxes } from "./view3d.js";

const PALETTE = [0x2563eb, 0xdc2626, 0x16a34a, 0x9333ea, 0xea580c, 0x0891b2];

const vec = (a) => new THREE.Vector3(a[0], a[1], a[2]);

/** Line segments (pairs of points) in one colour. */
function segments(points, colour) {
  const geometry = new THREE.BufferGeometry().setFromPoints(points);
  return new THREE.LineSegments(geometry, new THREE.LineBasicMaterial({ color: colour }));
}

/**
 * The checkerboard at the world origin: (cols+1) x (rows+1) squares of square_mm.
 * The origin is the first inner corner; board x runs along world +X and board y along world
 * -Y (the board lies face up: calibration.extrinsics FLOOR_FLIP = diag(1, -1, -1)).
 */
function boardMesh(board) {
  const s = board.square_mm / 1000, nx = board.cols + 1, ny = board.rows + 1;
  const px = 16, canvas = document.createElement("canvas");
  canvas.width = nx * px;
  canvas.height = ny * px;
  const ctx = canvas.getContext("2d");
  for (let j = 0; j < ny; j++) {
    for (let i = 0; i < nx; i++) {
      ctx.fillStyle = (i + j) % 2 === 0 ? "#111111" : "#fafafa";
      ctx.fillRect(i * px, j * px, px, px);
    }
  }
  const texture = new THREE.CanvasTexture(canvas);
  texture.magFilter = THREE.NearestFilter;
  texture.colorSpace = THREE.SRGBColorSpace;
  const mesh = new THREE.Mesh(new THREE.PlaneGeometry(nx * s, ny * s),
    new THREE.MeshBasicMaterial({ map: texture, side: THREE.DoubleSide }));
  // Outer squares span board x in [-s, cols*s] and board y in [-s, rows*s]; canvas row 0 is board y = -s (world +Y side).
  mesh.position.set((board.cols - 1) * s / 2, -(board.rows - 1) * s / 2, 0.002);
  return mesh;
}

/** One camera: its centre, a pyramid to the image corners at `depth` m, an "image up" tick and its name. */
function cameraObject(cam, colour, depth) {
  const group = new THREE.Group();
  const c = vec(cam.center), R = cam.rotation;
  const right = vec(R[0]), down = vec(R[1]), forward = vec(R[2]);
  const [w, h] = cam.size || [2 * cam.cx, 2 * cam.cy];
  const corner = (u, v) => c.clone()
    .addScaledVector(right, depth * (u - cam.cx) / cam.fx)
    .addScaledVector(down, depth * (v - cam.cy) / cam.fy)
    .addScaledVector(forward, depth);
  const tl = corner(0, 0), tr = corner(w, 0), br = corner(w, h), bl = corner(0, h);
  const up = tl.clone().sub(bl).multiplyScalar(0.3);  // towards the top of the picture
  const a = tl.clone().lerp(tr, 0.3), b = tl.clone().lerp(tr, 0.7), apex = tl.clone().lerp(tr, 0.5).add(up);
  group.add(segments([c, tl, c, tr, c, br, c, bl, tl, tr, tr, br, br, bl, bl, tl, a, apex, apex, b], colour));

  const face = new THREE.BufferGeometry().setFromPoints([tl, tr, br, tl, br, bl]);
  group.add(new THREE.Mesh(face, new THREE.MeshBasicMaterial({
    color: colour, transparent: true, opacity: 0.18, side: THREE.DoubleSide, depthWrite: false,
  })));
  const dot = new THREE.Mesh(new THREE.SphereGeometry(depth * 0.07, 12, 8), new THREE.MeshBasicMaterial({ color: colour }));
  dot.position.copy(c);
  group.add(dot);
  const label = textSprite(cam.name, colour, depth * 0.45);
  label.position.copy(c).add(new THREE.Vector3(0, 0, depth * 0.55));
  group.add(label);
  return group;
}

/** A three.js scene in `container`, drawn on demand (no animation loop: two shared cores). */
class RigView extends View3D {
  constructor(container) {
    super(container, "rig3d-canvas", 1000);
    this.content = new THREE.Group();
    this.scene.add(this.content);
    this.box = new THREE.Box3(new THREE.Vector3(-1, -1, 0), new THREE.Vector3(1, 1, 1));
    this.area = null;  // {corners: [x0, y0, x1, y1], dashed} or null
    this.onClick((e) => { if (floorListener) floorListener(this.floorPoint(e.clientX, e.clientY)); });
  }

  /** Draw the work area (`area` {corners, dashed}, or null for none) over the rig. */
  setArea(area) {
    this.area = area && Array.isArray(area.corners) ? area : null;
    const old = this.content.getObjectByName("work-area");
    if (old) { disposeTree(old); this.content.remove(old); }
    if (this.area) this.content.add(workAreaObject(this.area.corners, !!this.area.dashed));
    this.render();
  }

  clear() {
    disposeTree(this.content);
    this.content.clear();
  }

  /** Replace the scene's content with `rig` (null: an empty floor). */
  show(rig) {
    this.clear();
    const cams = (rig && rig.cameras) || [];
    const centres = cams.map((c) => vec(c.center));
    const reach = Math.max(1, ...centres.map((p) => Math.max(Math.abs(p.x), Math.abs(p.y))));
    const size = Math.min(200, 2 * Math.ceil(reach) + 2);  // whole metres, cameras inside
    const grid = new THREE.GridHelper(size, size, 0x9aa4b2, 0xd5dae1);
    grid.rotation.x = Math.PI / 2;  // GridHelper lies in XZ; our floor is XY (Z up)
    this.content.add(grid);
    this.content.add(worldAxes(Math.max(0.5, size / 10), textSprite));  // X, Y, Z named: the board lies on X
    if (rig && rig.board) this.content.add(boardMesh(rig.board));

    // Pyramid depth: about a tenth of the rig's spread, so small and large rooms both read well.
    this.box = new THREE.Box3().setFromPoints([new THREE.Vector3(0, 0, 0), ...centres]);
    const spread = this.box.getSize(new THREE.Vector3()).length();
    const depth = Math.min(0.6, Math.max(0.15, spread * 0.08));
    cams.forEach((cam, i) => this.content.add(cameraObject(cam, PALETTE[i % PALETTE.length], depth)));
    if (this.area) this.content.add(workAreaObject(this.area.corners, !!this.area.dashed));
    this.frame();
  }

  /** Look at the whole rig from above and in front (world -Y side). */
  frame() {
    const sphere = this.box.getBoundingSphere(new THREE.Sphere());
    this.look(sphere.center, Math.max(1, sphere.radius) * 1.1, new THREE.Vector3(0.55, -1, 0.75), 1000, 20);
  }
}

let view = null, unavailable = false, floorListener = null;

/** Draw `rig` in `container` (one view per page), with the work area `area` ({corners:
 *  [x0, y0, x1, y1] m, dashed}) or none. Returns false when WebGL is not available. */
export function showRig(container, rig, area = null) {
  if (unavailable) return false;
  try {
    if (!view || view.container !== container) view = new RigView(container);
    view.area = area && Array.isArray(area.corners) ? area : null;
    view.show(rig);
    return true;
  } catch (e) {
    unavailable = true;
    showUnavailable(container, "rig3d-unavailable");
    return false;
  }
}

/** Redraw only the work area of the rig shown (see showRig). */
export function showRigArea(area) {
  if (view) view.setArea(area);
}

/** `fn([x, y] m | null)` on every click of the rig view's floor (null: the click missed the floor). */
export function onRigFloorClick(fn) {
  floorListener = fn;
}

/** Frame the whole rig again. */
export function resetRigView() {
  if (view) view.frame();
}
