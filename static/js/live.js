// VSION live page: camera health, Record / Stop over Socket.IO, the live skeleton (2D overlays
// here, 3D in skeleton3d.js, fed through "vsion:skeleton" events) and the processing jobs.
// The page's one module: it loads skeleton3d.js. No inline script (CSP).
import { cameraStatus } from "./cameras.js";
import { $, api, t } from "./common.js";
import { PoseFeed, poseMessage, poseRate, poseUnavailable } from "./livepose.js";
import { peopleCount, problemText, workerText } from "./people.js";
import { drawOverlay, personAt } from "./pose-overlay.js";
import { failure, jobStatus, stageLabel } from "./processing.js";
import { attachLiveView } from "./skeleton3d.js";
import "./live-ergonomics.js";

attachLiveView();

(function () {
  "use strict";
  const recordBtn = $("record"), stopBtn = $("stop");
  const recLabel = $("rec-label"), recElapsed = $("rec-elapsed"), recTake = $("rec-take");
  const recError = $("rec-error"), linkLost = $("link-lost");
  // Elapsed time is counted from the server's own figure, so the two machines' clocks need not agree.
  const elapsed0 = parseFloat(recElapsed.dataset.elapsed);
  let startedAt = isNaN(elapsed0) ? null : Date.now() / 1000 - elapsed0;
  let busy = false;

  const socket = io({ transports: ["websocket", "polling"] });

  function showError(message) {
    recError.textContent = message || "";
    recError.hidden = !message;
  }

  function setRecording(on, state) {
    recordBtn.disabled = on || busy;
    stopBtn.disabled = !on || busy;
    recLabel.textContent = on ? t("recording", "Recording") : t("idle", "Ready");
    recLabel.classList.toggle("on", on);
    document.body.classList.toggle("is-recording", on);
    if (!on) startedAt = null;
    else if (state && typeof state.elapsed_s === "number") startedAt = Date.now() / 1000 - state.elapsed_s;
    else if (!startedAt) startedAt = Date.now() / 1000;
    recElapsed.hidden = !on;
    if (!on && state && state.take_id) {
      const frames = (state.take && state.take.cameras || []).map((c) => c.name + ": " + c.frames).join(", ");
      recTake.textContent = t("take_saved", "Take saved") + " " + state.take_id + (frames ? " (" + frames + " " + t("frames", "frames") + ")" : "");
      recTake.title = state.take_id;  // the take id names its folder: no event carries a server path
    } else if (on) {
      recTake.textContent = state && state.take_id ? state.take_id : "";
    }
  }

  function tick() {
    if (startedAt) {
      const s = Math.max(0, Date.now() / 1000 - startedAt);
      const mm = String(Math.floor(s / 60)).padStart(2, "0"), ss = String(Math.floor(s % 60)).padStart(2, "0");
      recElapsed.textContent = t("elapsed", "Elapsed") + " " + mm + ":" + ss;
    }
  }
  setInterval(tick, 250);

  function updateCamera(cam) {
    const card = $("camera-" + cam.index);
    if (!card) return;
    const status = card.querySelector("[data-role=status]");
    status.className = "badge status-" + cam.status;
    status.textContent = cameraStatus(cam.status);
    card.querySelector("[data-role=fps]").textContent = (cam.fps || 0).toFixed(1);
    card.querySelector("[data-role=dropped]").textContent = cam.dropped;
    card.querySelector("[data-role=size]").textContent = cam.width ? cam.width + "×" + cam.height : "";
    card.querySelector("[data-role=error]").textContent = cam.status === "connected" ? "" : (cam.error || "");
  }

  function send(event) {
    busy = true;
    recordBtn.disabled = stopBtn.disabled = true;
    showError("");
    socket.timeout(30000).emit(event, {}, (err, ack) => {
      busy = false;
      if (err) { showError(t("live_disconnected", "Connection to the server lost, retrying…")); }
      else if (ack && !ack.ok) { showError(ack.message); }
      setRecording(ack && ack.ok ? ack.recording : document.body.classList.contains("is-recording"), ack);
    });
  }

  recordBtn.addEventListener("click", () => send("start recording"));
  stopBtn.addEventListener("click", () => send("stop recording"));

  socket.on("connect", () => {
    linkLost.hidden = true;
    if (poseEnabled) sendLivePose();  // again on every reconnect: the server forgets a client that went away
    loadJobs();
  });
  socket.on("disconnect", () => { linkLost.hidden = false; });
  socket.on("connect_error", () => { linkLost.hidden = false; });
  socket.on("camera status", (data) => (data.cameras || []).forEach(updateCamera));
  socket.on("recording status", (state) => { if (!busy) setRecording(!!state.recording, state); });
  socket.on("recording error", (error) => showError(error.message));

  // ------------------------------------------------------------------ live pose: toggle, 2D overlays
  const POSE_KEY = "vsion.livePose";
  const poseToggle = $("live-pose-toggle"), poseRateText = $("pose-rate"), layout = $("live-layout");
  const skeletonPanel = $("skeleton-panel"), skeletonMessage = $("skeleton-message");

  const overlays = new Map();  // camera index -> {frame, img, canvas, points}
  document.querySelectorAll(".camera").forEach((card) => {
    const frame = card.querySelector(".frame"), canvas = frame && frame.querySelector("canvas.pose-overlay");
    if (!canvas) return;
    const overlay = { frame, img: frame.querySelector("img"), canvas, points: null, people: null, drawn: false };
    overlays.set(Number(card.dataset.index), overlay);
    new ResizeObserver(() => drawOverlay(overlay)).observe(frame);
    frame.addEventListener("click", (e) => {
      const id = personAt(overlay, e.clientX, e.clientY);
      if (id !== null) choosePerson(id);
    });
  });

  let poseEnabled = true;    // the default; the user's choice is remembered in this browser
  try { poseEnabled = localStorage.getItem(POSE_KEY) !== "0"; } catch (e) { /* storage blocked: default */ }
  let poseAck = null;         // the last `live pose` answer, or {ok: false, message} when none came
  const feed = new PoseFeed(drawLatest);

  /** Draw a pose3d payload: the 2D overlays and, through a document event, the 3D skeleton. */
  function drawLatest(latest) {
    if (!poseEnabled) return;
    const byIndex = new Map((latest.cameras || []).map((c) => [c.index, c]));
    const main = Number.isInteger(latest.main) ? latest.main : null;
    overlays.forEach((overlay, index) => {
      const cam = byIndex.get(index);
      overlay.points = cam && Array.isArray(cam.points) ? cam.points : null;
      overlay.people = cam && Array.isArray(cam.people) && Array.isArray(latest.people)
        ? cam.people.map((p) => ({ id: p.id, points: p.points, worker: p.id !== null && p.id === latest.worker })) : null;
      overlay.frame.classList.toggle("pickable", !!(overlay.people && overlay.people.some((p) => p.id)));
      drawOverlay(overlay);
    });
    // The 3D: the main person (the worker, else the one most cameras see) in the side colours, the others numbered.
    const people = Array.isArray(latest.people) ? latest.people.map((p) => ({ ...p, worker: p.id === main })) : undefined;
    document.dispatchEvent(new CustomEvent("vsion:skeleton", { detail: { points3d: latest.points3d || null, people,
      worker: Number.isInteger(latest.worker) ? latest.worker : null, workArea: latest.work_area || null,
      ergonomics: latest.ergonomics || null } }));
    showPoseState();
    showPeople(latest);
  }

  // ------------------------------------------------------------------ several people: the worker, the problems
  const peoplePanel = $("people-panel"), workerLine = $("worker-line"), problemsList = $("people-problems");
  const workerAuto = $("worker-auto"), choiceError = $("choice-error");
  let shownProblems = "";

  function showPeople(latest) {
    const several = !!latest && Array.isArray(latest.people);
    peoplePanel.hidden = !several || (!latest.people.length && !(latest.problems || []).length);
    if (peoplePanel.hidden) return;
    workerLine.textContent = [peopleCount(latest.people.length), workerText(latest)].filter(Boolean).join(" · ");
    peoplePanel.dataset.worker = Number.isInteger(latest.worker) ? String(latest.worker) : "";
    workerAuto.hidden = !Number.isInteger(latest.chosen);
    const texts = (latest.problems || []).map((p) => [p.code, problemText(p, true)]);
    const key = JSON.stringify(texts);
    if (key === shownProblems) return;  // the list is rewritten only when it changes (screen readers)
    shownProblems = key;
    problemsList.replaceChildren(...texts.map(([code, text]) => {
      const item = document.createElement("li");
      item.dataset.code = code;
      item.textContent = text;
      return item;
    }));
  }

  function choosePerson(id) {
    socket.timeout(10000).emit("live person", { person_id: id }, (err, ack) => {
      const message = err ? t("live_disconnected", "Connection to the server lost, retrying…") : (ack && !ack.ok ? ack.message : "");
      choiceError.textContent = message || "";
      choiceError.hidden = !message;
    });
  }

  document.addEventListener("vsion:person-clicked", (e) => choosePerson(e.detail.id));
  workerAuto.addEventListener("click", () => choosePerson(null));

  /** Wipe the overlays and the 3D skeleton (data stale, live pose off). */
  function clearPose() {
    feed.clear();
    overlays.forEach((overlay) => {
      overlay.points = null;
      overlay.people = null;
      if (overlay.drawn) drawOverlay(overlay);
    });
    document.dispatchEvent(new CustomEvent("vsion:skeleton-clear"));
    showPoseState();
    if (peoplePanel) peoplePanel.hidden = true;
  }

  function showMessage(text) {
    skeletonMessage.textContent = text || "";
    skeletonMessage.hidden = !text;
  }

  /** The rate and the message over the 3D view, from the last answer and the freshest data. */
  function showPoseState() {
    poseRateText.textContent = poseRate(feed);
    showMessage(poseMessage(feed, poseAck));
  }

  /** Show the 3D / jobs column only when it has something in it (else the cameras take the width). */
  function layoutSide() {
    skeletonPanel.hidden = !poseEnabled;
    layout.classList.toggle("with-side", poseEnabled || !jobsPanel.hidden);
  }

  function sendLivePose() {
    if (!socket.connected) return;
    const enabled = poseEnabled;
    socket.timeout(10000).emit("live pose", { enabled }, (err, ack) => {
      if (enabled !== poseEnabled) return;  // toggled again meanwhile: that newer request answers
      poseAck = err ? { ok: false, message: poseUnavailable() } : (ack || { ok: false });
      showPoseState();
    });
  }

  poseToggle.checked = poseEnabled;
  poseToggle.addEventListener("change", () => {
    poseEnabled = poseToggle.checked;
    try { localStorage.setItem(POSE_KEY, poseEnabled ? "1" : "0"); } catch (e) { /* private mode: not remembered */ }
    poseAck = null;
    clearPose();
    layoutSide();
    sendLivePose();
  });

  socket.on("pose3d", (data) => {
    if (poseEnabled && data) feed.push(data);
  });

  setInterval(() => {
    if (feed.expired()) clearPose();
  }, 250);

  // ------------------------------------------------------------------ processing jobs
  const jobsPanel = $("jobs"), jobsList = $("jobs-list");
  const MAX_JOBS = 8;
  const jobs = new Map();  // id -> job, in arrival order; shown newest first

  const isNumber = (v) => typeof v === "number" && isFinite(v);

  function jobRow(job) {
    let row = document.getElementById("job-" + job.id);
    if (!row) {
      row = document.createElement("li");
      row.id = "job-" + job.id;
      row.className = "job";
      row.innerHTML = '<div class="job-head"><span class="job-take"></span> <span class="badge" data-role="job-status"></span>' +
        ' <span class="muted" data-role="job-stage"></span></div><progress max="1" value="0"></progress>' +
        '<p class="job-detail" data-role="job-detail" hidden></p>';
    }
    row.querySelector(".job-take").textContent = t("job_take", "Take {take}", { take: job.take_id || job.id });
    const badge = row.querySelector("[data-role=job-status]");
    badge.className = "badge job-" + job.status;
    badge.textContent = jobStatus(job.status);
    const finished = job.status === "done" || job.status === "failed";
    const bar = row.querySelector("progress");
    const total = Number(job.total) > 0 ? Number(job.total) : 0;
    const count = total ? " · " + (Number(job.done) || 0) + " / " + total : "";
    row.querySelector("[data-role=job-stage]").textContent = finished ? "" : stageLabel(job.stage) + count;
    if (job.status === "done") {
      bar.max = 1;
      bar.value = 1;
    } else if (total) {
      bar.max = total;
      bar.value = Math.min(total, Math.max(0, Number(job.done) || 0));
    } else if (job.status === "running") {
      bar.removeAttribute("value");  // indeterminate: the stage has no count
    } else {
      bar.max = 1;
      bar.value = 0;
    }
    bar.hidden = job.status === "failed";
    const detail = row.querySelector("[data-role=job-detail]");
    let text = "";
    if (job.status === "failed") {
      text = failure(job.message);
    } else if (job.status === "done" && job.report) {
      const r = job.report, parts = [];
      if (isNumber(r.median_reprojection_px)) parts.push(t("job_reprojection", "Median reprojection error: {px} px", { px: r.median_reprojection_px.toFixed(1) }));
      if (isNumber(r.reconstructed_pct)) parts.push(t("job_reconstructed", "Reconstructed: {pct}%", { pct: r.reconstructed_pct.toFixed(0) }));
      text = parts.join(" · ");
    } else if (job.message) {
      text = job.message;
    }
    detail.textContent = text;
    detail.hidden = !text;
    detail.classList.toggle("error", job.status === "failed");
    return row;
  }

  function renderJobs() {
    const newest = [...jobs.values()].reverse().slice(0, MAX_JOBS);
    jobsList.replaceChildren(...newest.map(jobRow));
    jobsPanel.hidden = newest.length === 0;
    layoutSide();
  }

  function putJob(job) {
    if (!job || typeof job.id !== "string") return;
    jobs.delete(job.id);  // (re-)added: it becomes the newest
    jobs.set(job.id, job);
    while (jobs.size > MAX_JOBS * 4) jobs.delete(jobs.keys().next().value);
  }

  async function loadJobs() {
    // Offline, or no job list on this server (404): nothing to show (the link-lost warning says why).
    const reply = await api("GET", "/api/jobs");
    if (!reply.ok || !reply.data || !Array.isArray(reply.data.jobs)) return;
    jobs.clear();
    reply.data.jobs.slice().reverse().forEach(putJob);  // the list comes newest first
    renderJobs();
  }

  socket.on("job status", (job) => {
    if (!job || typeof job.id !== "string") return;
    if (jobs.has(job.id)) jobs.set(job.id, job); else putJob(job);
    renderJobs();
  });

  layoutSide();
  showPoseState();
})();
