// VSION: the background processing of a take as the user reads it (job statuses, stages and
// failures), for the live page's job list and the work card and take pages. An ES module.
import { t } from "./common.js";

/** A job's (or a take's processing) status in the page's language; unknown ones as they are. */
export function jobStatus(status) {
  const names = {
    queued: t("job_status_queued", "queued"),
    running: t("job_status_running", "running"),
    done: t("job_status_done", "done"),
    failed: t("job_status_failed", "failed"),
    cancelled: t("job_status_cancelled", "cancelled"),
    none: t("wc_processing_none", "not processed"),
  };
  return names[status] || String(status || "");
}

/** A processing stage ("2D pose", "triangulation", ...) in the page's language; unknown ones as they are. */
export function stageLabel(stage) {
  const names = {
    "2d_pose": t("job_stage_2d_pose", "2D pose"),
    sync: t("job_stage_sync", "sync"),
    triangulation: t("job_stage_triangulation", "triangulation"),
    filtering: t("job_stage_filtering", "filtering"),
    exports: t("job_stage_exports", "exports"),
    comparison: t("job_stage_comparison", "comparison"),
  };
  return names[String(stage || "").toLowerCase().replace(/[^a-z0-9]+/g, "_")] || String(stage || "");
}

/** Why processing failed: the server's sentence, or a pointer to its log when it gave none. */
export function failure(message) {
  return message ? t("job_failed", "Processing failed: {message}", { message })
    : t("job_failed_no_message", "Processing failed: see the server's log.");
}
