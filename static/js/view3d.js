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
}
