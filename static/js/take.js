// VSION take page (templates/take.html): the replay of one take and, for an attempt, its comparison
// with the reference: score, per step, per angle, worst moments (the reference's skeleton drawn over
// the attempt's in another colour), downloads, deletion (for whoever may, after a confirm step).
// Processing progress from `job status` events. The page's one module.
import { $, api, clock, duration, el, number, say, scoreClass, scoreText, t, when } from "./common.js";
import { failure, jobStatus, stageLabel } from "./processing.js";
import { attachErgonomics, showSafety } from "./ergonomics.js";
import { createReplay } from "./replay.js";
import { attachPeople } from "./takepeople.js";

const takeId = document.body.dataset.takeId;
const takeUrl = "/api/takes/" + encodeURIComponent(takeId);
const replayRoot = $("replay"), view3d = $("replay-3d");
const player = createReplay(replayRoot);
attachErgonomics(player);
let comparison = null;
let reference = null;   // {fps, points} of the reference take, fetched once
let referenceLoad = null;
let overlayOn = false;
let pinned = null;      // {attempt_s, reference_s}: a worst moment shown exactly as the comparison found it

// ------------------------------------------------------------------ header
/** A take's kind (attempt, reference, free) in the page's language. */
function kindName(kind) {
  const names = {
    attempt: t("wc_kind_attempt", "Attempt"),
    reference: t("wc_kind_reference", "Reference take"),
    free: t("wc_kind_free", "Free take"),
  };
  return names[kind] || kind;
}

function renderHeader(take) {
  $("take-head").removeAttribute("aria-busy");
  const kind = take.kind || "free";
  $("take-title").textContent = kindName(kind) + (take.created_at ? " · " + when(take.created_at) : "");
  document.title = kindName(kind) + " · VSION";
  const badge = $("take-kind");
  badge.className = "badge kind-" + kind;
  badge.textContent = kindName(kind);
  $("take-user").textContent = take.user ? t("wc_by", "by {author}", { author: take.user }) : "";
  $("take-date").textContent = take.id;
  $("take-duration").textContent = Number.isFinite(take.duration_s) ? duration(take.duration_s) : "";
  if (take.work_card_id !== null && take.work_card_id !== undefined) {
    $("back-link").href = "/workcards/" + encodeURIComponent(take.work_card_id);
    $("back-text").textContent = t("wc_back_to_card", "Back to the card");
  }
  renderProcessing(take.processing, null, take.processing_message);
  renderDownloads(take);
  $("take-delete-box").hidden = !take.can_delete;
}

// ------------------------------------------------------------------ deletion
function askDelete(open) {
  $("take-delete").hidden = open;
  $("take-delete-confirm").hidden = !open;
  if (open) $("take-delete-cancel").focus(); else $("take-delete").focus();
}

async function deleteTake() {
  const yes = $("take-delete-yes");
  yes.disabled = true;
  yes.setAttribute("aria-busy", "true");
  yes.textContent = t("take_deleting", "Deleting…");
  const res = await api("DELETE", takeUrl);
  if (res.ok) {
    window.location.assign($("back-link").getAttribute("href") || "/workcards");
    return;
  }
  yes.disabled = false;
  yes.removeAttribute("aria-busy");
  yes.textContent = t("take_delete_yes", "Yes, delete");
  askDelete(false);
  say($("take-error"), t("take_delete_failed", "Cannot delete: {message}", { message: res.message }));
}

$("take-delete").addEventListener("click", () => askDelete(true));
$("take-delete-cancel").addEventListener("click", () => askDelete(false));
$("take-delete-yes").addEventListener("click", deleteTake);

function renderProcessing(state, job, message) {
  const box = $("take-processing");
  const parts = [];
  if (state && state !== "done" && state !== "none") {
    parts.push(el("span", { class: "badge job-" + state, text: t("wc_processing_is", "processing: {state}", { state: jobStatus(state) }) }));
  }
  if ((state === "running" || state === "queued") && job) {
    const total = Number(job.total) > 0 ? Number(job.total) : 0;
    const bar = el("progress", { id: "take-progress" });
    if (total) { bar.max = total; bar.value = Math.min(total, Number(job.done) || 0); }
    parts.push(el("span", { class: "muted small", text: stageLabel(job.stage) + (total ? " · " + (job.done || 0) + " / " + total : "") }), bar);
  } else if (state === "running" || state === "queued") {
    parts.push(el("progress", { id: "take-progress" }));
  } else if (state === "failed") {
    parts.push(el("span", { class: "error small", text: failure(message) }));
  }
  box.replaceChildren(...parts);
}

/** The take's files as [key, button text], in the order shown. */
const downloadNames = () => [
  ["csv", t("wc_download_csv", "3D points (CSV)")],
  ["trc", t("wc_download_trc", "Markers (TRC)")],
  ["c3d", t("wc_download_c3d", "Markers (C3D)")],
  ["mot", t("wc_download_mot", "Joint angles (OpenSim MOT)")],
  ["ergonomics", t("wc_download_ergonomics", "RULA / REBA per frame (CSV)")],
  ["bvh", t("wc_download_bvh", "Skeleton (BVH)")],
  ["videos", t("wc_download_videos", "Videos (ZIP)")],
];

function renderDownloads(take) {
  const downloads = take.downloads || {};
  const processed = take.processing === "done";
  const items = downloadNames().filter(([key]) => downloads[key]).map(([key, label]) => {
    const ready = processed || key === "videos";
    const link = el("a", { href: downloads[key], role: "button", class: "outline" + (ready ? "" : " disabled"),
      dataset: { download: key }, download: "", text: label });
    if (!ready) {
      link.setAttribute("aria-disabled", "true");
      link.removeAttribute("href");
    }
    return el("li", {}, link);
  });
  $("downloads").replaceChildren(...items);
  $("downloads-panel").hidden = items.length === 0;
  $("downloads-note").hidden = processed;
}

// ------------------------------------------------------------------ comparison
/** A joint angle of the comparison ("left_elbow") in the page's language. */
function angleName(name) {
  const names = {
    left_elbow: t("wc_angle_left_elbow", "Left elbow"),
    right_elbow: t("wc_angle_right_elbow", "Right elbow"),
    left_shoulder: t("wc_angle_left_shoulder", "Left shoulder"),
    right_shoulder: t("wc_angle_right_shoulder", "Right shoulder"),
    left_hip: t("wc_angle_left_hip", "Left hip"),
    right_hip: t("wc_angle_right_hip", "Right hip"),
    left_knee: t("wc_angle_left_knee", "Left knee"),
    right_knee: t("wc_angle_right_knee", "Right knee"),
    trunk_inclination: t("wc_angle_trunk_inclination", "Trunk inclination"),
  };
  return names[name] || name.replace(/_/g, " ");
}

function bar(fraction, cls) {
  const track = el("span", { class: "bar-track" });
  const fill = el("span", { class: "bar-fill " + (cls || "") });
  fill.style.width = (100 * Math.max(0, Math.min(1, fraction))).toFixed(1) + "%";
  track.append(fill);
  return track;
}

/** Attempt time (s) -> reference time (s) along the alignment (linear between its samples). */
function toReference(s) {
  const a = comparison && comparison.alignment;
  if (!Array.isArray(a) || !a.length) return s;
  if (s <= a[0][0]) return a[0][1];
  for (let k = 1; k < a.length; k++) {
    if (s <= a[k][0]) {
      const [a0, r0] = a[k - 1], [a1, r1] = a[k];
      return a1 > a0 ? r0 + ((s - a0) / (a1 - a0)) * (r1 - r0) : r1;
    }
  }
  return a[a.length - 1][1];
}

/** Reference time (s) -> the first attempt time matched to it. */
function toAttempt(r) {
  const a = comparison && comparison.alignment;
  if (!Array.isArray(a) || !a.length) return r;
  const hit = a.find((pair) => pair[1] >= r - 1e-6);
  return hit ? hit[0] : a[a.length - 1][0];
}

function renderComparison(c) {
  comparison = c;
  $("comparison-body").hidden = false;
  $("comparison-message").hidden = true;
  const score = $("score");
  score.textContent = scoreText(c.score);
  score.dataset.score = Number.isFinite(c.score) ? String(c.score) : "";
  score.parentElement.className = "score-big " + scoreClass(c.score);
  const detail = [];
  if (Number.isFinite(c.difference_deg)) detail.push(t("wc_mean_difference", "mean difference {deg}°", { deg: number(c.difference_deg, 1) }));
  if (Number.isFinite(c.speed_ratio)) {
    const ratio = number(c.speed_ratio, 2);
    if (c.speed_ratio > 1.05) detail.push(t("wc_speed_slower", "{ratio} × the reference's duration (slower)", { ratio }));
    else if (c.speed_ratio < 0.95) detail.push(t("wc_speed_faster", "{ratio} × the reference's duration (faster)", { ratio }));
    else detail.push(t("wc_speed_same", "same pace as the reference"));
  }
  $("score-detail").textContent = detail.join(" · ");
  showSafety(c);

  const steps = Array.isArray(c.per_step) ? c.per_step : [];
  $("per-step").replaceChildren(...steps.map((s, i) => {
    const button = el("button", { type: "button", class: "bar-row", dataset: { step: String(i) },
      title: t("wc_go_to_step_in_attempt", "Replay step “{name}” in the attempt", { name: s.name }) },
      el("span", { class: "bar-label" }, el("span", { class: "step-num seg-c" + (i % 8), text: String(i + 1) }), " ", s.name),
      bar(Number.isFinite(s.score) ? s.score / 100 : 0, scoreClass(s.score)),
      el("span", { class: "bar-value", text: Number.isFinite(s.score) ? scoreText(s.score) : t("wc_not_measured", "not measured") }));
    button.addEventListener("click", () => { player.seek(toAttempt(Number(s.start_s) || 0)); showPlayer(); });
    return el("li", {}, button);
  }));
  $("per-step-empty").hidden = steps.length > 0;

  const joints = Object.entries(c.per_joint || {}).sort((a, b) => (b[1].difference_deg || 0) - (a[1].difference_deg || 0));
  const worstDeg = Math.max(30, ...joints.map(([, j]) => Number(j.difference_deg) || 0));
  $("per-joint").replaceChildren(...joints.map(([name, j]) => el("li", { class: "bar-row", dataset: { joint: name } },
    el("span", { class: "bar-label", text: angleName(name) }),
    bar((Number(j.difference_deg) || 0) / worstDeg, scoreClass(j.score)),
    el("span", { class: "bar-value", text: number(j.difference_deg, 1) + "°" }))));

  const worst = Array.isArray(c.worst) ? c.worst : [];
  $("worst").replaceChildren(...worst.map((w, i) => {
    const button = el("button", { type: "button", class: "outline worst-button", dataset: { worst: String(i),
      attemptS: String(w.attempt_s), referenceS: String(w.reference_s) } },
      el("strong", { text: clock(w.attempt_s) }), " ",
      el("span", { text: t("wc_worst_item", "{joint} · difference {deg}°", { joint: angleName(w.joint || ""), deg: number(w.difference_deg, 0) }) }));
    button.addEventListener("click", () => showMoment(w, button));
    return el("li", {}, button);
  }));
  if (!worst.length) $("worst").replaceChildren(el("li", { class: "muted small", text: t("wc_worst_none", "No particular moment.") }));
  $("overlay-switch").hidden = !c.reference_take_id;
  // The card's steps are on the reference's timeline: shown on the attempt's through the alignment.
  const cardSteps = (player.take && player.take.steps) || [];
  player.setSteps(cardSteps.map((s) => ({ ...s, start_s: toAttempt(Number(s.start_s) || 0),
    end_s: toAttempt(Number(s.end_s) || 0) })));
}

/** Bring the player into view (the result is below it on a tablet). */
function showPlayer() {
  const stage = replayRoot.querySelector(".replay-stage");
  const box = stage.getBoundingClientRect();
  if (box.top < 0 || box.bottom > window.innerHeight) stage.scrollIntoView({ behavior: "smooth", block: "start" });
}

async function loadReference() {
  if (!comparison || !comparison.reference_take_id) return null;
  if (!referenceLoad) {
    referenceLoad = api("GET", "/api/takes/" + encodeURIComponent(comparison.reference_take_id) + "/pose3d").then((res) => {
      if (!res.ok || !Array.isArray(res.data && res.data.points)) {
        referenceLoad = null;  // a later click tries again
        say($("take-error"), t("wc_reference_pose_failed", "The reference's skeleton is unavailable ({message}): try again.", { message: res.message || t("wc_bad_answer", "unexpected answer from the server") }));
        return null;
      }
      reference = { fps: Number(res.data.fps) || 30, points: res.data.points };
      return reference;
    });
  }
  return referenceLoad;
}

async function showMoment(w, button) {
  document.querySelectorAll(".worst-button").forEach((b) => b.classList.toggle("active", b === button));
  player.pause();
  pinned = { attempt_s: Number(w.attempt_s), reference_s: Number(w.reference_s) };
  await setOverlay(true);
  player.seek(pinned.attempt_s);
  showPlayer();
}

async function setOverlay(on) {
  overlayOn = on;
  $("overlay-toggle").checked = on;
  $("replay-legend").hidden = !on;
  if (on && !(await loadReference())) {
    overlayOn = false;
    $("overlay-toggle").checked = false;
    $("replay-legend").hidden = true;
  }
  drawOverlay(player.time(), player.frame());
}

const midpoint = (p, a, b) => (isPt(p[a]) && isPt(p[b]) ? [(p[a][0] + p[b][0]) / 2, (p[a][1] + p[b][1]) / 2, (p[a][2] + p[b][2]) / 2] : null);
const isPt = (p) => Array.isArray(p) && p.length >= 3 && p.every(Number.isFinite);

/**
 * The reference's points moved onto the attempt's: the mid-hip on the attempt's mid-hip (floor
 * height kept) and turned about Z so that the hip lines agree. The comparison itself is on joint
 * angles, which do not depend on where the person stands or faces: the overlay shows the same.
 */
export function alignOnto(ref, att) {
  if (!Array.isArray(ref)) return null;
  const LH = 23, RH = 24;
  const rc = midpoint(ref, LH, RH), ac = Array.isArray(att) ? midpoint(att, LH, RH) : null;
  if (!rc || !ac) return ref;
  const dir = (p) => Math.atan2(p[RH][1] - p[LH][1], p[RH][0] - p[LH][0]);
  const angle = dir(att) - dir(ref), c = Math.cos(angle), s = Math.sin(angle);
  return ref.map((p) => {
    if (!isPt(p)) return null;
    const x = p[0] - rc[0], y = p[1] - rc[1];
    return [ac[0] + c * x - s * y, ac[1] + s * x + c * y, p[2]];
  });
}

function drawOverlay(at, frame) {
  const view = player.view;
  if (!view) return;
  if (!overlayOn || !reference) {
    view.clearOverlay();
    view3d.dataset.overlayPoints = "0";
    delete replayRoot.dataset.overlayFrame;
    return;
  }
  const fps = player.fps();
  const refT = pinned && Math.abs(at - pinned.attempt_s) < 0.5 / fps ? pinned.reference_s : toReference(at);
  const refFrame = Math.max(0, Math.min(reference.points.length - 1, Math.round(refT * reference.fps)));
  const n = view.updateOverlay(alignOnto(reference.points[refFrame], player.points(frame)));
  view3d.dataset.overlayPoints = String(n);
  replayRoot.dataset.overlayFrame = String(refFrame);
}

// The switch sits with the player's buttons, near the 3D view.
replayRoot.querySelector(".replay-buttons").append($("overlay-switch"));
$("overlay-toggle").addEventListener("change", (e) => { pinned = null; setOverlay(e.target.checked); });
player.onTime((at, frame) => drawOverlay(at, frame));
attachPeople(player, takeId, (job) => renderProcessing(job.status, job, job.message));

async function loadComparison(take) {
  const panel = $("comparison-panel"), msg = $("comparison-message");
  if (take.kind !== "attempt") { panel.hidden = true; return; }
  panel.hidden = false;
  // Until the attempt is aligned with the reference, the card's steps have no place on its timeline.
  player.setSteps([]);
  $("replay-no-steps").textContent = t("wc_steps_after_comparison", "The card's steps will show here once the attempt has been compared with the reference.");
  if (take.processing !== "done") {
    $("comparison-body").hidden = true;
    say(msg, take.processing === "failed" ? t("wc_no_comparison_failed", "No score: processing the attempt failed. Record a new attempt.") : t("wc_comparison_after_processing", "The score will appear when the attempt has been processed."), "info");
    return;
  }
  const res = await api("GET", takeUrl + "/comparison");
  if (!res.ok) {
    $("comparison-body").hidden = true;
    say(msg, res.status === 404 ? t("wc_no_comparison", "No score for this attempt: the card had no processed reference. Ask the expert to check the card.") : t("wc_comparison_failed", "Result unavailable ({message}): reload the page.", { message: res.message }), res.status === 404 ? "info" : "error");
    return;
  }
  renderComparison(res.data);
}

// ------------------------------------------------------------------ loading, live processing
async function load() {
  const res = await player.load(takeId);
  if (!res.ok) {
    $("take-head").removeAttribute("aria-busy");
    say($("take-error"), res.message);
    return;
  }
  say($("take-error"), "");
  renderHeader(player.take);
  await loadComparison(player.take);
  drawOverlay(player.time(), player.frame());
}

let reloadTimer = 0;
const socket = typeof io === "function" ? io({ transports: ["websocket", "polling"] }) : null;
if (socket) {
  socket.on("job status", (job) => {
    if (!job || job.take_id !== takeId || !player.take) return;
    const done = job.status === "done" || job.status === "failed";
    renderProcessing(job.status, job, job.message);
    if (done) {
      clearTimeout(reloadTimer);
      // The take's outputs (3D, comparison) exist now: load them; say so.
      reloadTimer = setTimeout(() => {
        load().then(() => say($("take-notice"), job.status === "done" ? t("wc_processing_finished", "Processing done: the 3D skeleton and the score are shown.") : "", "ok"));
      }, 500);
    }
  });
}

load();
