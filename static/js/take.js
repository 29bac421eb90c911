// VSION take page (templates/take.html): the replay of one take and, for an attempt, its comparison
// with the reference: score, per step, per angle, worst moments (the reference's skeleton drawn over
// the attempt's in another colour), downloads, deletion (for whoever may, after a confirm step).
// Processing progress from `job status` events.
import { createReplay } from "./replay.js";
import { api, clock, duration, el, L, labels, number, say, scoreClass, scoreText, stageLabel, when } from "./wc-common.js";

const $ = (id) => document.getElementById(id);
const takeId = document.body.dataset.takeId;
const takeUrl = "/api/takes/" + encodeURIComponent(takeId);
const replayRoot = $("replay"), view3d = $("replay-3d");
const player = createReplay(replayRoot);
let comparison = null;
let reference = null;   // {fps, points} of the reference take, fetched once
let referenceLoad = null;
let overlayOn = false;
let pinned = null;      // {attempt_s, reference_s}: a worst moment shown exactly as the comparison found it

// ------------------------------------------------------------------ header
function renderHeader(take) {
  $("take-head").removeAttribute("aria-busy");
  const kind = take.kind || "free";
  $("take-title").textContent = (labels["wc_kind_" + kind] || kind) + (take.created_at ? " · " + when(take.created_at) : "");
  document.title = (labels["wc_kind_" + kind] || kind) + " · VSION";
  const badge = $("take-kind");
  badge.className = "badge kind-" + kind;
  badge.textContent = labels["wc_kind_" + kind] || kind;
  $("take-user").textContent = take.user ? L("wc_by", { author: take.user }) : "";
  $("take-date").textContent = take.id;
  $("take-duration").textContent = Number.isFinite(take.duration_s) ? duration(take.duration_s) : "";
  if (take.work_card_id !== null && take.work_card_id !== undefined) {
    $("back-link").href = "/workcards/" + encodeURIComponent(take.work_card_id);
    $("back-text").textContent = labels.wc_back_to_card;
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
  yes.textContent = labels.take_deleting;
  const res = await api("DELETE", takeUrl);
  if (res.ok) {
    window.location.assign($("back-link").getAttribute("href") || "/workcards");
    return;
  }
  yes.disabled = false;
  yes.removeAttribute("aria-busy");
  yes.textContent = labels.take_delete_yes;
  askDelete(false);
  say($("take-error"), L("take_delete_failed", { message: res.message }));
}

$("take-delete").addEventListener("click", () => askDelete(true));
$("take-delete-cancel").addEventListener("click", () => askDelete(false));
$("take-delete-yes").addEventListener("click", deleteTake);

function renderProcessing(state, job, message) {
  const box = $("take-processing");
  const parts = [];
  if (state && state !== "done" && state !== "none") {
    parts.push(el("span", { class: "badge job-" + state, text: L("wc_processing_is", { state: labels["job_status_" + state] || state }) }));
  }
  if ((state === "running" || state === "queued") && job) {
    const total = Number(job.total) > 0 ? Number(job.total) : 0;
    const bar = el("progress", { id: "take-progress" });
    if (total) { bar.max = total; bar.value = Math.min(total, Number(job.done) || 0); }
    parts.push(el("span", { class: "muted small", text: stageLabel(job.stage) + (total ? " · " + (job.done || 0) + " / " + total : "") }), bar);
  } else if (state === "running" || state === "queued") {
    parts.push(el("progress", { id: "take-progress" }));
  } else if (state === "failed") {
    parts.push(el("span", { class: "error small", text: message ? L("job_failed", { message: labels[message] || message }) : labels.job_failed_no_message }));
  }
  box.replaceChildren(...parts);
}

const DOWNLOADS = [["csv", "wc_download_csv"], ["trc", "wc_download_trc"], ["c3d", "wc_download_c3d"], ["videos", "wc_download_videos"]];

function renderDownloads(take) {
  const downloads = take.downloads || {};
  const processed = take.processing === "done";
  const items = DOWNLOADS.filter(([key]) => downloads[key]).map(([key, label]) => {
    const ready = processed || key === "videos";
    const link = el("a", { href: downloads[key], role: "button", class: "outline" + (ready ? "" : " disabled"),
      dataset: { download: key }, download: "", text: labels[label] });
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
const angleName = (name) => labels["wc_angle_" + name] || name.replace(/_/g, " ");

function bar(fraction, cls) {
  const track = el("span", { class: "bar-track" });
  const fill = el("span", { class: "bar-fill " + (cls || "") });
  fill.style.width = (100 * Math.max(0, Math.min(1, fraction))).toFixed(1) + "%";
  track.append(fill);
  return track;
}

/** Attempt time (s) -> reference time (s) along the alignment (linear between its samples). */
function toReference(t) {
  const a = comparison && comparison.alignment;
  if (!Array.isArray(a) || !a.length) return t;
  if (t <= a[0][0]) return a[0][1];
  for (let k = 1; k < a.length; k++) {
    if (t <= a[k][0]) {
      const [a0, r0] = a[k - 1], [a1, r1] = a[k];
      return a1 > a0 ? r0 + ((t - a0) / (a1 - a0)) * (r1 - r0) : r1;
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
  if (Number.isFinite(c.difference_deg)) detail.push(L("wc_mean_difference", { deg: number(c.difference_deg, 1) }));
  if (Number.isFinite(c.speed_ratio)) {
    const key = c.speed_ratio > 1.05 ? "wc_speed_slower" : c.speed_ratio < 0.95 ? "wc_speed_faster" : "wc_speed_same";
    detail.push(L(key, { ratio: number(c.speed_ratio, 2) }));
  }
  $("score-detail").textContent = detail.join(" · ");

  const steps = Array.isArray(c.per_step) ? c.per_step : [];
  $("per-step").replaceChildren(...steps.map((s, i) => {
    const button = el("button", { type: "button", class: "bar-row", dataset: { step: String(i) },
      title: L("wc_go_to_step_in_attempt", { name: s.name }) },
      el("span", { class: "bar-label" }, el("span", { class: "step-num seg-c" + (i % 8), text: String(i + 1) }), " ", s.name),
      bar(Number.isFinite(s.score) ? s.score / 100 : 0, scoreClass(s.score)),
      el("span", { class: "bar-value", text: Number.isFinite(s.score) ? scoreText(s.score) : labels.wc_not_measured }));
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
      el("span", { text: L("wc_worst_item", { joint: angleName(w.joint || ""), deg: number(w.difference_deg, 0) }) }));
    button.addEventListener("click", () => showMoment(w, button));
    return el("li", {}, button);
  }));
  if (!worst.length) $("worst").replaceChildren(el("li", { class: "muted small", text: labels.wc_worst_none }));
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
        say($("take-error"), L("wc_reference_pose_failed", { message: res.message || labels.wc_bad_answer }));
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

function drawOverlay(t, frame) {
  const view = player.view;
  if (!view) return;
  if (!overlayOn || !reference) {
    view.clearOverlay();
    view3d.dataset.overlayPoints = "0";
    delete replayRoot.dataset.overlayFrame;
    return;
  }
  const fps = player.fps();
  const refT = pinned && Math.abs(t - pinned.attempt_s) < 0.5 / fps ? pinned.reference_s : toReference(t);
  const refFrame = Math.max(0, Math.min(reference.points.length - 1, Math.round(refT * reference.fps)));
  const n = view.updateOverlay(alignOnto(reference.points[refFrame], player.points(frame)));
  view3d.dataset.overlayPoints = String(n);
  replayRoot.dataset.overlayFrame = String(refFrame);
}

// The switch sits with the player's buttons, near the 3D view.
replayRoot.querySelector(".replay-buttons").append($("overlay-switch"));
$("overlay-toggle").addEventListener("change", (e) => { pinned = null; setOverlay(e.target.checked); });
player.onTime((t, frame) => drawOverlay(t, frame));

async function loadComparison(take) {
  const panel = $("comparison-panel"), msg = $("comparison-message");
  if (take.kind !== "attempt") { panel.hidden = true; return; }
  panel.hidden = false;
  // Until the attempt is aligned with the reference, the card's steps have no place on its timeline.
  player.setSteps([]);
  $("replay-no-steps").textContent = labels.wc_steps_after_comparison;
  if (take.processing !== "done") {
    $("comparison-body").hidden = true;
    say(msg, take.processing === "failed" ? labels.wc_no_comparison_failed : labels.wc_comparison_after_processing, "info");
    return;
  }
  const res = await api("GET", takeUrl + "/comparison");
  if (!res.ok) {
    $("comparison-body").hidden = true;
    say(msg, res.status === 404 ? labels.wc_no_comparison : L("wc_comparison_failed", { message: res.message }), res.status === 404 ? "info" : "error");
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
        load().then(() => say($("take-notice"), job.status === "done" ? labels.wc_processing_finished : "", "ok"));
      }, 500);
    }
  });
}

load();
