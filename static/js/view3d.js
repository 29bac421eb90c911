// VSION: what the 3D views share (the calibration rig, the skeletons): a Z-up scene with orbit
// controls, drawn on demand (no animation loop: two shared cores), and the world axes.
import * as THREE from "../vendor/three/three.module.min.js";
import { OrbitControls } from "../vendor/three/OrbitControls.js";
import { el, t } from "./common.js";

export const BACKGROUND = 0xf3f5f8;

/** Put "3D view unavailable" in `container` (a <p class=`className`>), for a browser without WebGL. */
export function showUnavailable(container, className) {
  container.replaceChildren(el("p", { class: className,
    text: t("skeleton_3d_unavailable", "3D view unavailable: this browser does not support WebGL.") }));
}

/** A text label that always faces the viewer; `height` in metres. */
export function textSprite(text, colour, height) {
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d");
  const font = "bold 48px system-ui, sans-serif";
  ctx.font = font;
  const width = Math.ceil(ctx.measureText(text).width) + 32;
  canvas.width = width;
  canvas.height = 72;
  ctx.font = font;
  ctx.fillStyle = "rgba(255, 255, 255, 0.85)";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = "#" + colour.toString(16).padStart(6, "0");
  ctx.textBaseline = "middle";
  ctx.fillText(text, 16, canvas.height / 2);
  const texture = new THREE.CanvasTexture(canvas);
  texture.colorSpace = THREE.SRGBColorSpace;
  const material = new THREE.SpriteMaterial({ map: texture, depthTest: false });
  const sprite = new THREE.Sprite(material);
  sprite.scale.set(height * (canvas.width / canvas.height), height, 1);
  sprite.renderOrder = 10;
  return sprite;
}

/** The work area: a floor rectangle `area` [x0, y0, x1, y1] (m, Z up) drawn as a green outline
 *  over a light fill, a little above the floor; `dashed` for a default one not saved yet. */
export function workAreaObject(area, dashed = false) {
  const [x0, y0, x1, y1] = area, z = 0.004, group = new THREE.Group();
  const corners = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]].map(([x, y]) => new THREE.Vector3(x, y, z));
  const material = dashed ? new THREE.LineDashedMaterial({ color: 0x15803d, dashSize: 0.12, gapSize: 0.08 })
    : new THREE.LineBasicMaterial({ color: 0x15803d });
  const outline = new THREE.Line(new THREE.BufferGeometry().setFromPoints(corners), material);
  if (dashed) outline.computeLineDistances();
  const fill = new THREE.Mesh(new THREE.PlaneGeometry(x1 - x0, y1 - y0), new THREE.MeshBasicMaterial({
    color: 0x22c55e, transparent: true, opacity: 0.12, side: THREE.DoubleSide, depthWrite: false }));
  fill.position.set((x0 + x1) / 2, (y0 + y1) / 2, z / 2);
  group.add(fill, outline);
  group.name = "work-area";
  return group;
}

/** Free the geometries, materials and textures of `object` and below. */
export function disposeTree(object) {
  object.traverse((o) => {
    if (o.geometry) o.geometry.dispose();
    if (o.material) {
      if (o.material.map) o.material.map.dispose();
      o.material.dispose();
    }
  });
}

/** World axes at the origin as arrows (X red, Y green, Z blue), drawn over everything.
 *  `label(name, colour, height)`, when given, returns an object set at each arrow's tip. */
export function worldAxes(length, label = null) {
  const group = new THREE.Group();
  [[new THREE.Vector3(1, 0, 0), 0xe11d48, "X"], [new THREE.Vector3(0, 1, 0), 0x16a34a, "Y"],
    [new THREE.Vector3(0, 0, 1), 0x2563eb, "Z"]].forEach(([dir, colour, name]) => {
    const arrow = new THREE.ArrowHelper(dir, new THREE.Vector3(0, 0, 0), length, colour, length * 0.18, length * 0.09);
    arrow.traverse((o) => {
      if (o.material) o.material.depthTest = false;
      o.renderOrder = 5;
    });
    group.add(arrow);
    if (label) {
      const tip = label(name, colour, length * 0.22);
      tip.position.copy(dir).multiplyScalar(length * 1.18);
      group.add(tip);
    }
  });
  return group;
}

/** A WebGL canvas (class `canvasClass`) filling `container`, its scene, a Z-up camera seeing up
 *  to `far` metres and orbit controls; redrawn when the controls move or the container resizes. */
export class View3D {
  constructor(container, canvasClass, far) {
    this.container = container;
    this.renderer = new THREE.WebGLRenderer({ antialias: true });  // throws without WebGL
    this.renderer.setPixelRatio(Math.min(2, window.devicePixelRatio || 1));
    this.renderer.domElement.className = canvasClass;
    container.append(this.renderer.domElement);
    this.scene = new THREE.Scene();
    this.scene.background = new THREE.Color(BACKGROUND);
    this.camera = new THREE.PerspectiveCamera(45, 1, 0.01, far);
    this.camera.up.set(0, 0, 1);  // before the controls: they orbit around camera.up
    this.controls = new OrbitControls(this.camera, this.renderer.domElement);
    this.onChange = () => this.render();
    this.controls.addEventListener("change", this.onChange);
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(container);
  }

  resize() {
    const w = this.container.clientWidth, h = this.container.clientHeight;
    if (!w || !h) return;
    this.renderer.setSize(w, h, false);
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
    this.render();
  }

  /** Look at `center` from `direction` (any length) so that a sphere of `radius` m fills the
   *  view; the near and far planes at distance / `nearDivisor` and distance * `farFactor`. */
  look(center, radius, direction, nearDivisor, farFactor) {
    const distance = radius / Math.sin(THREE.MathUtils.degToRad(this.camera.fov / 2));
    this.camera.position.copy(center).addScaledVector(direction.clone().normalize(), distance);
    this.camera.near = distance / nearDivisor;
    this.camera.far = distance * farFactor;
    this.camera.updateProjectionMatrix();
    this.controls.target.copy(center);
    this.controls.update();
    this.resize();
    this.render();
  }

  render() {
    if (this.container.clientWidth) this.renderer.render(this.scene, this.camera);
  }

  /** The ray under a click (client coordinates), as a THREE.Raycaster. */
  raycaster(clientX, clientY) {
    const box = this.renderer.domElement.getBoundingClientRect();
    const ndc = new THREE.Vector2(((clientX - box.left) / box.width) * 2 - 1, -((clientY - box.top) / box.height) * 2 + 1);
    const ray = new THREE.Raycaster();
    ray.setFromCamera(ndc, this.camera);
    return ray;
  }

  /** The floor point (z = 0, [x, y] m) under a click, or null (the ray misses the floor). */
  floorPoint(clientX, clientY) {
    const hit = this.raycaster(clientX, clientY).ray.intersectPlane(new THREE.Plane(new THREE.Vector3(0, 0, 1), 0),
      new THREE.Vector3());
    return hit ? [hit.x, hit.y] : null;
  }

  /** Call `fn(event)` on a click of the canvas that is not the end of a drag (the orbit controls'). */
  onClick(fn) {
    const canvas = this.renderer.domElement;
    let down = null;
    canvas.addEventListener("pointerdown", (e) => { down = { x: e.clientX, y: e.clientY, at: performance.now() }; });
    canvas.addEventListener("pointerup", (e) => {
      if (down && Math.hypot(e.clientX - down.x, e.clientY - down.y) < 5 && performance.now() - down.at < 600) fn(e);
      down = null;
    });
  }
}
