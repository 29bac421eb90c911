// VSION live pose on the pages that show cameras (the live page, a work card's recorders): the
// latest `pose3d` payload, drawn once per animation frame, and what to say over the 3D view.
// An ES module.
import { t } from "./common.js";

const STALE_MS = 1000;  // older pose data is wiped (measured on this machine's clock)

/**
 * The latest `pose3d` payload. push() keeps it and calls draw(payload) at the next animation
 * frame (many events between two frames draw once); it is fresh for STALE_MS after it came.
 */
export class PoseFeed {
  constructor(draw) {
    this.draw = draw;
    this.latest = null;
    this.at = 0;         // performance.now() when it came
    this.pending = false;
  }

  push(payload) {
    this.latest = payload;
    this.at = performance.now();
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      if (this.latest) this.draw(this.latest);
    });
  }

  /** Fresh for STALE_MS, or for two and a half periods of a slower rate (a loaded machine). */
  fresh() {
    if (!this.latest) return false;
    const rate = Number(this.latest.rate);
    return performance.now() - this.at <= Math.max(STALE_MS, rate > 0 ? 2500 / rate : 0);
  }

  /** True once: when the payload kept has gone stale (it is then forgotten). */
  expired() {
    if (!this.latest || this.fresh()) return false;
    this.latest = null;
    return true;
  }

  clear() {
    this.latest = null;
  }
}

/** "The live skeleton is not available" (no answer from the server, or no live pose there). */
export const poseUnavailable = () => t("live_pose_unavailable", "The live skeleton is not available on this server.");

/** "Live pose: 12.5 Hz" from the freshest payload ("–" without one). */
export function poseRate(feed) {
  const rate = feed.fresh() && typeof feed.latest.rate === "number" ? feed.latest.rate.toFixed(1) : "–";
  return t("live_pose_rate", "Live pose: {rate} Hz", { rate });
}

/** What to say over the 3D view ("" while a skeleton is shown), from the last `live pose`
 *  answer `ack` (null before one) and the freshest payload. */
export function poseMessage(feed, ack) {
  const noCalibration = () => t("live_pose_no_calibration", "No calibration: 3D skeleton unavailable");
  if (!feed.fresh()) {
    if (ack && (!ack.ok || ack.available === false)) return ack.message || poseUnavailable();
    if (ack && ack.calibrated === false) return noCalibration();
    return t("live_pose_waiting", "Waiting for the live skeleton…");
  }
  const latest = feed.latest;
  if (!latest.calibrated) return noCalibration();
  if (!Array.isArray(latest.points3d) || !latest.points3d.some((p) => Array.isArray(p))) {
    return t("live_pose_no_person", "No 3D skeleton: nobody is seen by two cameras or more.");
  }
  return "";
}
