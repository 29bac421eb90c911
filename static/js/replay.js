// VSION replay player: a take's videos (one <video> per camera) and its 3D skeleton on one master
// clock. An ES module, used by workcard.js (the reference and its steps editor) and take.js (an
// attempt and its comparison). The markup is templates/_replay.html; ids are stable for tests.
//
// The clock (`position`) is in seconds of the 3D timeline: pose3d frame f is at f / fps, and
// camera c shows it at offset_s(c) + position in its MP4. The skeleton shows frame
// round(position * fps); the videos follow the clock (same rate, re-seeked when they drift by
// more than 1.5 frames).
//
// API (createReplay(root) -> player):
//   player.load(takeId) -> Promise<{ok, message}>   fetch the take and its pose3d, show frame 0
//   player.time() / player.seek(s) / player.play() / player.pause() / player.playing()
//   player.onTime(fn)       fn(s, frame) after every change of the shown time; returns an unsubscribe
//   player.onLoad(fn)       fn(take) after each load
//   player.setSteps(steps)  [{name, instructions, start_s, end_s}] drawn on the timeline and listed
//   player.duration() / player.fps() / player.frame() / player.points(frame) / player.take
//   player.view             the skeleton view (updateOverlay for a second skeleton), or null without WebGL
import { $, api, clock, el, t } from "./common.js";
import { createSkeletonView } from "./skeleton3d.js";
import { showUnavailable } from "./view3d.js";

export const SPEEDS = [0.25, 0.5, 1, 1.5, 2];
const DRIFT_FRAMES = 1.5;      // a playing video further than this from the clock is re-seeked
const MAX_HOLD_S = 2;          // the clock waits at most this long for a video that is buffering
const SEEK_EPSILON_S = 0.002;  // seek just past a frame's timestamp, never just before it

const isTyping = (target) => target instanceof HTMLElement && (target.isContentEditable ||
  target.tagName === "TEXTAREA" || target.tagName === "SELECT" ||
  (target.tagName === "INPUT" && !["range", "button"].includes(target.type)));

export function createReplay(root) {
  const videosBox = $("replay-videos"), view3d = $("replay-3d"), message = $("replay-message");
  const playBtn = $("replay-play"), speedSel = $("replay-speed"), backBtn = $("replay-step-back");
  const fwdBtn = $("replay-step-forward"), scrub = $("replay-scrub"), timeOut = $("replay-time");
  const segments = $("replay-segments"), stepsList = $("replay-steps"), noSteps = $("replay-no-steps");
  const prevStepBtn = $("replay-prev-step"), nextStepBtn = $("replay-next-step");

  let view = null;
  try {
    view = createSkeletonView(view3d);
  } catch (e) {
    showUnavailable(view3d, "skeleton-unavailable");
  }
  const resetBtn = $("replay-reset-view");
  if (view) resetBtn.addEventListener("click", () => view.frame()); else resetBtn.hidden = true;

  let take = null, points = [], fps = 30, frames = 0, maxT = 0;
  let position = 0, isPlaying = false, speed = 1, lastNow = 0, held = 0, raf = 0, shownFrame = -2;
  let steps = [], activeStep = -1, loadSeq = 0;
  let videos = [];  // {el, offset, box, out, failed, seekPending}
  const timeListeners = new Set(), loadListeners = new Set();

  function showMessage(text) {
    message.textContent = text || "";
    message.hidden = !text;
  }

  const frameOf = (time) => (frames > 0 ? Math.max(0, Math.min(frames - 1, Math.round(time * fps))) : 0);

  function setControls(enabled) {
    [playBtn, backBtn, fwdBtn, scrub].forEach((b) => { b.disabled = !enabled; });
    updateStepNav();
  }

  // ---------------------------------------------------------------- videos
  function buildVideos(cameras) {
    videos.forEach((v) => { v.el.removeAttribute("src"); v.el.load(); });
    videos = (cameras || []).map((cam, i) => {
      const video = el("video", { muted: true, playsInline: true, preload: "auto", disablePictureInPicture: true,
        "aria-label": t("wc_video_of", "Video of camera {camera}", { camera: cam.name || String(i + 1) }) });
      video.muted = true;  // the attribute alone is not always honoured for autoplay rules
      video.setAttribute("playsinline", "");
      video.setAttribute("muted", "");
      const out = el("p", { class: "replay-out", hidden: true, text: t("wc_video_out_of_range", "outside this video at this time") });
      const box = el("figure", { class: "replay-video", dataset: { camera: cam.name || "" } },
        video, el("figcaption", { text: cam.name || String(i + 1) }), out);
      const v = { el: video, offset: Number(cam.offset_s) || 0, box, out, failed: false, seekPending: false };
      video.addEventListener("error", () => {
        v.failed = true;
        out.textContent = t("wc_video_failed", "Video cannot be played: download it below or reload the page.");
        out.hidden = false;
      });
      video.addEventListener("seeked", () => { v.seekPending = false; syncVideo(v, !isPlaying); });
      // A pause lands a little after the clock stopped: put the video back on the clock's frame.
      video.addEventListener("pause", () => { if (!isPlaying) syncVideo(v, true); });
      video.addEventListener("loadedmetadata", () => {
        if (!take || !(take.frames > 0)) recomputeDuration();
        syncVideo(v, true);
      });
      video.src = cam.video_url;
      return v;
    });
    videosBox.replaceChildren(...videos.map((v) => v.box));
    videosBox.dataset.count = String(videos.length);
    videosBox.hidden = videos.length === 0;
  }

  /** Bring one video to the clock. `exact`: seek even for a small difference (paused, or a user's seek). */
  function syncVideo(v, exact) {
    const video = v.el;
    if (v.failed) return;
    const target = v.offset + position;
    const end = Number.isFinite(video.duration) ? video.duration : Infinity;
    const inRange = target >= -0.5 / fps && target <= end + 0.5 / fps;
    if (!v.failed) v.out.hidden = inRange;
    v.box.classList.toggle("out", !inRange);
    if (video.playbackRate !== speed) video.playbackRate = speed;
    if (!inRange) {
      if (!video.paused) video.pause();
      return;
    }
    if (video.readyState < 1) return;  // no metadata yet: loadedmetadata syncs it
    const clamped = Math.max(0, Math.min(end, target + SEEK_EPSILON_S));
    const drift = Math.abs(video.currentTime - target);
    if (isPlaying) {
      if (video.paused) {
        if (drift > 0.5 / fps && !video.seeking) video.currentTime = clamped;
        const p = video.play();
        if (p && p.catch) p.catch(() => { /* interrupted by a pause or a seek: the next tick retries */ });
      } else if (drift > DRIFT_FRAMES / fps && !video.seeking) {
        video.currentTime = clamped;
      }
    } else {
      if (!video.paused) video.pause();
      if (video.seeking) {
        v.seekPending = true;  // "seeked" syncs it again to the latest time
      } else if (exact ? drift > 0.25 / fps : drift > 0.5 / fps) {
        video.currentTime = clamped;
      }
    }
  }

  function syncVideos(exact) {
    videos.forEach((v) => syncVideo(v, exact));
  }

  /** A video that should be showing the clock but cannot yet (buffering or seeking). */
  const waiting = () => videos.some((v) => !v.failed && !v.box.classList.contains("out") &&
    (v.el.seeking || v.el.readyState < 3));

  // ---------------------------------------------------------------- clock
  function render(force) {
    const frame = frameOf(position);
    if (force || frame !== shownFrame) {
      shownFrame = frame;
      if (view) view3d.dataset.points = String(view.update(points[frame] || null));
      root.dataset.frame = String(frames > 0 ? frame : -1);
    }
    if (!scrub.matches(":active")) scrub.value = String(position);
    timeOut.textContent = clock(position) + " / " + clock(maxT) + (frames > 0 ? " · " + t("wc_frame_n", "frame {n}", { n: frame }) : "");
    updateActiveStep();
    timeListeners.forEach((fn) => fn(position, frame));
  }

  function tick(now) {
    raf = 0;
    if (!isPlaying) return;
    const dt = Math.min(0.25, (now - lastNow) / 1000);  // a background tab comes back without a jump
    lastNow = now;
    if (waiting() && held < MAX_HOLD_S) {
      held += dt;  // hold the clock while a video catches up (a seek, a slow disk)
    } else {
      held = waiting() ? held : 0;
      position = Math.min(maxT, position + dt * speed);
    }
    syncVideos(false);
    render(false);
    if (position >= maxT) {
      pause();
      return;
    }
    raf = requestAnimationFrame(tick);
  }

  function setPlayButton() {
    playBtn.dataset.state = isPlaying ? "playing" : "paused";
    playBtn.querySelector("[data-role=icon]").textContent = isPlaying ? "\u275A\u275A" : "\u25B6";
    playBtn.querySelector("[data-role=text]").textContent = isPlaying ? t("wc_pause", "Pause") : t("wc_play", "Play");
  }

  function play() {
    if (!take || maxT <= 0) return;
    if (position >= maxT - 0.5 / fps) position = 0;  // at the end: play again from the start
    isPlaying = true;
    held = 0;
    lastNow = performance.now();
    setPlayButton();
    syncVideos(true);
    if (!raf) raf = requestAnimationFrame(tick);
  }

  function pause() {
    isPlaying = false;
    if (raf) cancelAnimationFrame(raf);
    raf = 0;
    setPlayButton();
    syncVideos(true);
    render(false);
  }

  function seek(time) {
    const value = Number(time);
    if (!Number.isFinite(value)) return;
    position = Math.max(0, Math.min(maxT, value));
    held = 0;
    syncVideos(true);
    render(false);
  }

  function stepFrame(delta) {
    if (isPlaying) pause();
    seek((frameOf(position) + delta) / fps);
  }

  function setSpeed(value) {
    speed = SPEEDS.includes(Number(value)) ? Number(value) : 1;
    speedSel.value = String(speed);
    videos.forEach((v) => { v.el.playbackRate = speed; });
  }

  function recomputeDuration() {
    if (frames > 0) {
      maxT = (frames - 1) / fps;
    } else {
      // No 3D yet (not processed): the timeline is the longest video's, from the clock's zero.
      const ends = videos.map((v) => (Number.isFinite(v.el.duration) ? v.el.duration - v.offset : 0));
      maxT = Math.max(Number(take && take.duration_s) || 0, ...ends, 0);
    }
    scrub.max = String(maxT);
    scrub.step = String(1 / fps);
    drawSegments();
    setControls(maxT > 0);
    render(false);
  }

  // ---------------------------------------------------------------- steps
  function sortedSteps() {
    return steps.map((s, i) => ({ ...s, index: i })).sort((a, b) => a.start_s - b.start_s);
  }

  function drawSegments() {
    const span = maxT > 0 ? maxT : 1;
    segments.replaceChildren(...steps.map((s, i) => {
      const start = Math.max(0, Math.min(span, Number(s.start_s) || 0));
      const end = Math.max(start, Math.min(span, Number(s.end_s) || 0));
      const seg = el("span", { class: "replay-segment seg-c" + (i % 8), title: (i + 1) + ". " + (s.name || "") });
      seg.style.left = (100 * start / span) + "%";
      seg.style.width = (100 * (end - start) / span) + "%";
      seg.dataset.step = String(i);
      return seg;
    }));
  }

  function drawStepList() {
    stepsList.replaceChildren(...steps.map((s, i) => {
      const button = el("button", { type: "button", class: "replay-step-button", dataset: { step: String(i) } },
        el("span", { class: "step-num seg-c" + (i % 8), text: String(i + 1) }),
        el("span", { class: "step-name", text: s.name || t("wc_step_n", "Step {n}", { n: i + 1 }) }),
        el("span", { class: "step-times muted", text: clock(s.start_s) + " – " + clock(s.end_s) }));
      button.addEventListener("click", () => seek(Number(s.start_s) || 0));
      const item = el("li", { dataset: { step: String(i) } }, button);
      if (s.instructions) item.append(el("p", { class: "step-instructions", text: s.instructions }));
      return item;
    }));
    noSteps.hidden = steps.length > 0;
    activeStep = -2;
    updateActiveStep();
  }

  function updateActiveStep() {
    // The step under the clock: the latest-starting one with start <= position < end (a step's end is
    // the next one's start), else one that ends exactly here (the last frame of the take).
    let current = -1, latest = -Infinity;
    steps.forEach((s, i) => {
      if (position >= s.start_s - 1e-6 && position < s.end_s - 1e-6 && s.start_s > latest) { current = i; latest = s.start_s; }
    });
    if (current < 0) current = steps.findIndex((s) => Math.abs(position - s.end_s) <= 1e-6);
    if (current !== activeStep) {
      activeStep = current;
      stepsList.querySelectorAll("li").forEach((li) => {
        const on = Number(li.dataset.step) === current;
        li.classList.toggle("active", on);
        const b = li.querySelector("button");
        if (on) b.setAttribute("aria-current", "step"); else b.removeAttribute("aria-current");
      });
      segments.querySelectorAll(".replay-segment").forEach((seg) => seg.classList.toggle("active", Number(seg.dataset.step) === current));
    }
    updateStepNav();
  }

  function nextStepStart() {
    const next = sortedSteps().find((s) => s.start_s > position + 0.5 / fps);
    return next ? next.start_s : null;
  }

  function prevStepStart() {
    // Back to the start of the step we are in, unless we are already (almost) there.
    const before = sortedSteps().filter((s) => s.start_s < position - 0.25);
    return before.length ? before[before.length - 1].start_s : null;
  }

  function updateStepNav() {
    const ready = !!take && maxT > 0;
    prevStepBtn.disabled = !ready || prevStepStart() === null;
    nextStepBtn.disabled = !ready || nextStepStart() === null;
  }

  function setSteps(list) {
    steps = (Array.isArray(list) ? list : []).map((s) => ({
      name: String(s.name || ""), instructions: String(s.instructions || ""),
      start_s: Number(s.start_s) || 0, end_s: Number(s.end_s) || 0,
    }));
    drawSegments();
    drawStepList();
  }

  // ---------------------------------------------------------------- loading
  async function load(takeId) {
    const seq = ++loadSeq;
    pause();
    take = null;
    points = [];
    frames = 0;
    position = 0;
    shownFrame = -2;
    root.dataset.takeId = takeId || "";
    root.dataset.frame = "-1";
    root.classList.add("loading");
    setControls(false);
    if (view) { view.clear(); view.clearOverlay(); }
    if (!takeId) {
      buildVideos([]);
      showMessage(t("wc_no_reference_yet", "No reference yet: record a take, then choose it."));
      root.classList.remove("loading");
      return { ok: false, message: t("wc_no_reference_yet", "No reference yet: record a take, then choose it.") };
    }
    showMessage(t("wc_loading", "Loading…"));
    const id = encodeURIComponent(takeId);
    const info = await api("GET", "/api/takes/" + id);
    // The 3D exists once the take is processed (asking earlier gets a 409, logged by the browser).
    const pose = info.ok && info.data.processing === "done" ? await api("GET", "/api/takes/" + id + "/pose3d")
      : { ok: false, status: 409 };
    if (seq !== loadSeq) return { ok: false, message: "superseded" };
    root.classList.remove("loading");
    if (!info.ok) {
      const text = t("wc_take_load_failed", "The take could not be loaded ({message}): reload the page.", { message: info.message });
      showMessage(text);
      buildVideos([]);
      return { ok: false, message: text };
    }
    take = info.data;
    fps = Number(pose.ok && pose.data.fps) || Number(take.fps) || 30;
    if (pose.ok && Array.isArray(pose.data.points)) {
      points = pose.data.points;
      frames = points.length;
      showMessage("");
    } else {
      frames = 0;
      const processing = take.processing === "queued" || take.processing === "running";
      showMessage(take.processing === "failed" ? t("wc_pose_failed", "No 3D skeleton: processing this take failed (see its message).")
        : take.processing === "none" ? t("wc_pose_none", "Take not processed: no 3D skeleton.")
        : processing || take.processing !== "done" || pose.status === 409 ? t("wc_pose_not_ready", "3D skeleton not computed yet: it will appear when the processing ends.")
          : t("wc_pose_load_failed", "3D skeleton unavailable ({message}): reload the page.", { message: pose.message }));
    }
    buildVideos(take.cameras);
    setSteps(take.steps || []);
    recomputeDuration();
    render(true);
    syncVideos(true);
    loadListeners.forEach((fn) => fn(take));
    return { ok: true };
  }

  // ---------------------------------------------------------------- controls
  playBtn.addEventListener("click", () => (isPlaying ? pause() : play()));
  backBtn.addEventListener("click", () => stepFrame(-1));
  fwdBtn.addEventListener("click", () => stepFrame(1));
  speedSel.addEventListener("change", () => setSpeed(speedSel.value));
  scrub.addEventListener("input", () => seek(Number(scrub.value)));
  prevStepBtn.addEventListener("click", () => { const s = prevStepStart(); if (s !== null) seek(s); });
  nextStepBtn.addEventListener("click", () => { const s = nextStepStart(); if (s !== null) seek(s); });

  /** A control of the page outside the player (Record, "Début ici"…): Space is its own, not the player's. */
  const otherControl = (target) => target instanceof Element && !root.contains(target) &&
    !!target.closest("button, a[href], [role=button], summary");
  document.addEventListener("keydown", (event) => {
    if (!take || event.altKey || event.ctrlKey || event.metaKey || isTyping(event.target)) return;
    if (event.target instanceof Element && event.target.closest("dialog[open]")) return;
    if (event.key === " " || event.code === "Space") {
      if (otherControl(event.target)) return;
      event.preventDefault();  // no page scroll, and no click of the focused button on top
      if (!event.repeat) (isPlaying ? pause() : play());
    } else if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
      event.preventDefault();
      stepFrame(event.key === "ArrowLeft" ? -1 : 1);
    }
  });
  // Space's click on a focused button fires on keyup: swallow it (the keydown above did the work).
  document.addEventListener("keyup", (event) => {
    if ((event.key === " " || event.code === "Space") && take && !isTyping(event.target) &&
        event.target instanceof HTMLButtonElement && root.contains(event.target)) event.preventDefault();
  });
  // Pause when the page is hidden: the videos stop anyway and the clock would run away.
  document.addEventListener("visibilitychange", () => { if (document.hidden && isPlaying) pause(); });

  setSpeed(speedSel.value);
  setSteps([]);

  return {
    load,
    play,
    pause,
    seek,
    setSteps,
    setSpeed,
    time: () => position,
    frame: () => frameOf(position),
    fps: () => fps,
    duration: () => maxT,
    playing: () => isPlaying,
    points: (frame) => points[frame] || null,
    onTime(fn) { timeListeners.add(fn); return () => timeListeners.delete(fn); },
    onLoad(fn) { loadListeners.add(fn); return () => loadListeners.delete(fn); },
    get take() { return take; },
    view,
  };
}
