// VSION calibration page: calibrate from a recorded take. The technician picks a take (among
// those they may see) and what to calibrate: one camera's intrinsics, or every camera's
// positions (with, optionally, when the board lay on the floor). The server runs it as a
// background job ("calibrate"); its progress comes as "job status" events. Intrinsics can then
// be used in the wizard's session; positions become a new calibration set to show and put in force.
// Imported by calibration.js, which calls initRecording().
import { $, api, el, number, t, when } from "./common.js";
import { readOnly } from "./calibration-session.js";

const FINISHED_TAKES = ["complete", "incomplete", "interrupted"];
let ctx = null;
let job = null;  // the job this page started: {id, mode, camera}

function show(node, text) {
  node.textContent = text || "";
  node.hidden = !text;
}

/** The takes the user may see that were recorded to the end, newest first. */
async function loadTakes() {
  const r = await api("GET", "/api/takes?sort=created_at&order=desc&per_page=100");
  const select = $("recording-take");
  if (!r.ok) { show($("recording-error"), r.message); return; }
  const takes = ((r.data && r.data.takes) || []).filter((take) => FINISHED_TAKES.includes(take.status));
  const chosen = select.value;
  select.replaceChildren(...takes.map((take) => el("option", {
    value: take.id, selected: take.id === chosen,
    text: when(take.created_at) + " · " + (take.label || take.id) + (take.duration_s ? " · " + number(take.duration_s, 0) + " s" : ""),
  })));
  if (!takes.length) select.append(el("option", { value: "", text: t("rec_no_take", "No recorded take yet: record the board first.") }));
  render();
}

function showMode() {
  const positions = $("recording-mode").value === "positions";
  $("recording-camera-field").hidden = positions;
  $("recording-floor").hidden = !positions;
}

function payload() {
  const body = { take_id: $("recording-take").value, mode: $("recording-mode").value };
  if (body.mode === "intrinsics") body.camera = $("recording-camera").value;
  const start = $("recording-floor-start").value, end = $("recording-floor-end").value;
  if (body.mode === "positions" && start !== "" && end !== "") {
    body.floor_start_s = Number(start);
    body.floor_end_s = Number(end);
  }
  return body;
}

async function run(event) {
  event.preventDefault();
  show($("recording-error"), "");
  $("recording-result").hidden = true;
  const body = payload();
  if (!body.take_id) { show($("recording-error"), t("rec_pick_take", "Pick a take first.")); return; }
  $("recording-run").disabled = true;
  const r = await api("POST", "/api/calibration/from-take", body);
  if (!r.ok) {
    $("recording-run").disabled = false;
    show($("recording-error"), r.message);
    return;
  }
  job = { id: r.data.id, mode: body.mode, camera: body.camera };
  progress(r.data);
}

function progress(status) {
  const box = $("recording-progress");
  box.hidden = false;
  const fraction = status.total ? status.done / status.total : null;
  $("recording-stage").textContent = status.status === "queued" ? t("rec_queued", "Waiting for the processing of other takes…")
    : ctx.stageLabel(status.stage) || t("rec_running", "Calibrating…");
  const bar = $("recording-bar");
  if (fraction === null) bar.removeAttribute("value");
  else bar.value = Math.max(0, Math.min(1, fraction));
  $("recording-pct").textContent = fraction === null ? "" : number(100 * fraction, 0) + " %";
}

/** Why a calibration from a take failed: the usual cases in the page's language, else the server's words. */
function failure(message) {
  const text = String(message || "");
  if (/ in the recording \(frames read/.test(text)) return t("rec_err_no_board", "The board is in no picture of this take: record it again, whole and still in front of the cameras, or check the board settings (inner corners).");
  if (/is never still/.test(text)) return t("rec_err_not_still", "The board is never still in this take: hold it still for a second at each position, then record again.");
  return text || t("rec_failed", "The calibration from the take failed.");
}

function finished(status) {
  $("recording-progress").hidden = true;
  $("recording-run").disabled = false;
  if (status.status !== "done") {
    show($("recording-error"), failure(status.message));
    return;
  }
  const report = status.report || {};
  job.report = report;
  const summary = $("recording-summary");
  if (report.mode === "intrinsics") {
    summary.textContent = t("rec_intrinsics_done", "{camera}: intrinsics found, RMS error {rms} px. Use them in this calibration, then calibrate the positions (live or from a take).", { camera: report.camera, rms: number(report.rms_px, 2) });
  } else {
    const errors = Object.entries(report.errors_px || {}).map(([name, px]) => name + " " + number(px, 2)).join(" · ");
    summary.textContent = t("rec_positions_done", "New calibration {id} saved (median errors in px: {errors}). Show it, then put it in force if it is right.", { id: report.calibration_set, errors });
  }
  $("recording-result").hidden = false;
  render();
}

async function adopt() {
  show($("recording-error"), "");
  const ack = await ctx.emit("calibration adopt", { job_id: job.id });
  if (!ack.ok) { show($("recording-error"), ack.message); return; }
  ctx.applyIntrinsics(job.report.camera, ack.result);
  $("recording-adopt").hidden = true;
}

async function activate() {
  const r = await api("POST", "/api/calibrations/" + encodeURIComponent(job.report.calibration_set) + "/activate");
  if (!r.ok) { show($("recording-error"), r.message); return; }
  ctx.tell(t("calib_activated", "Calibration {id} activated: it is now used for reconstruction.", { id: job.report.calibration_set }));
  $("recording-activate").hidden = true;
  ctx.loadSets();
}

/** The result's buttons: "Use these intrinsics" only for the driver. */
export function render() {
  if (!ctx) return;
  const report = (job && job.report) || {};
  $("recording-adopt").hidden = report.mode !== "intrinsics";
  $("recording-adopt").disabled = readOnly();
  $("recording-show").hidden = report.mode !== "positions";
  $("recording-activate").hidden = report.mode !== "positions";
}

/**
 * Wire the card. `context`: {socket, cameras ([{index, name}]), emit(event, payload),
 * stageLabel(stage), applyIntrinsics(name, summary), showSet(id), loadSets(), tell(text)}.
 */
export function initRecording(context) {
  ctx = context;
  $("recording-camera").replaceChildren(...context.cameras.map((c) => el("option", { value: c.name, text: c.name })));
  $("recording-mode").addEventListener("change", showMode);
  $("recording-form").addEventListener("submit", run);
  $("recording-adopt").addEventListener("click", adopt);
  $("recording-show").addEventListener("click", () => ctx.showSet(job.report.calibration_set));
  $("recording-activate").addEventListener("click", activate);
  $("recording-card").addEventListener("toggle", () => { if ($("recording-card").open) loadTakes(); });
  ctx.socket.on("job status", (status) => {
    if (!status || !job || status.id !== job.id) return;
    if (status.status === "done" || status.status === "failed") finished(status);
    else progress(status);
  });
  showMode();
  if ($("recording-card").open) loadTakes();
}
