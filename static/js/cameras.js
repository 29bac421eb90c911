// VSION: a camera's link status in the page's language (live, work card and calibration pages).
// An ES module.
import { t } from "./common.js";

/** A camera's link status ("connected", "failed", ...); unknown ones as they are. */
export function cameraStatus(status) {
  const names = {
    connecting: t("status_connecting", "connecting…"),
    connected: t("status_connected", "connected"),
    reconnecting: t("status_reconnecting", "reconnecting…"),
    failed: t("status_failed", "failed"),
    stopped: t("status_stopped", "stopped"),
  };
  return names[status] || String(status || "");
}
