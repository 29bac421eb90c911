// VSION calibration wizard: per-camera intrinsics, extrinsics (camera graph), floor origin,
// result (3D rig, save, saved sets). The page's one module, no inline code (CSP). The 3D view
// lives in rig3d.js; the session and its driver in calibration-session.js; the board and its
// print in board-print.js; calibrating from a take in calibration-recording.js; the health
// check in calibration-health.js.
//
// Protocol: Socket.IO events "calibration <verb>" answered by an ack {ok, ...} or
// {ok: false, code, message}; live detections, moments and progress are pushed by the server.
import { cameraStatus } from "./cameras.js";
import { $, api, canvasContext, csrfToken, el, number, readData, svg, t, when } from "./common.js";
import { resetRigView, showRig } from "./rig3d.js";
import { initBoard, render as renderBoardCard } from "./board-print.js";
import { initHealth } from "./calibration-health.js";
import { initRecording, render as renderRecordingCard } from "./calibration-recording.js";
import { driving, initSession, lockDriving, readOnly, renderSession } from "./calibration-session.js";
import { attachWorkArea } from "./workarea.js";

(function () {
  // ------------------------------------------------------------------ page data and helpers
  const body = document.body;
  const lang = document.documentElement.lang || "fr";
  const SHORT_MS = 60000;   // ordinary requests
  const LONG_MS = 300000;   // intrinsics and the joint solve
  const STALE_MS = 1500;    // an overlay with no fresh detection for this long is wiped
  const COLOUR_STILL = "#22c55e", COLOUR_MOVING = "#f59e0b";

  const state = {
    cameras: readData("cameras", []),       // [{index, name, status, width, height}]
    board: readData("board", { cols: 9, rows: 6, square_mm: 115 }),
    active: readData("active", null),        // the calibration in force (summary) or null
    minViews: 6,
    grid: [8, 6],                            // coverage grid [cols, rows]
    step: "camera",
    camera: 0,
    mode: "full",                            // "positions": the intrinsics in force are kept
    auto: true,
    intr: {},                                // name -> {captured, result, error, coverage}
    moments: { moments: 0, views: {}, pairs: {}, floor: null },
    rig: null,                               // RIG of this session, or null
    solvedWith: null,                        // moments/floor signature at the last solve
    saved: null,                             // {id, created_at} once saved
    sets: [],                                // saved calibration sets
    compare: [],                             // ids ticked for comparison (max 2, oldest first)
    busy: {},                                // action name -> true while it runs
    begun: false,
  };
  state.cameras.forEach((c) => intrEntry(c.name));

  /** A server hint (a name such as "hint_no_board") in the page's language; else the text as is. */
  function hint(message) {
    const hints = {
      hint_no_picture: t("hint_no_picture", "No picture from this camera: check that it is connected (Cameras page)."),
      hint_no_board: t("hint_no_board", "Board not found: show the whole board to the camera, well lit."),
      hint_hold_still: t("hint_hold_still", "Board found: hold it still for a moment."),
      hint_captured: t("hint_captured", "View captured: move or tilt the board to a new position."),
      hint_move_board: t("hint_move_board", "Position already captured: move the board to a red cell of the map, or tilt it."),
      hint_board_ok: t("hint_board_ok", "Board found and still: ready to capture."),
      hint_floor_ok: t("hint_floor_ok", "Origin captured."),
    };
    return message ? hints[message] || message : "";
  }

  function percent(fraction) {
    if (fraction === null || fraction === undefined || !isFinite(fraction)) return "–";
    return new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 0 }).format(fraction);
  }

  /** A date and time, medium length, in the page's language. */
  const formatDate = (iso) => when(iso, "medium");

  const camName = (i) => (state.cameras[i] ? state.cameras[i].name : String(i));
  const camLabel = (i) => t("camera", "Camera") + " " + (i + 1) + " · " + camName(i);
  const camIndex = (name) => state.cameras.findIndex((c) => c.name === name);

  function intrEntry(name) {
    if (!state.intr[name]) state.intr[name] = { captured: 0, result: null, error: null, coverage: null, size: null };
    return state.intr[name];
  }

  function pairCount(a, b) {
    const pairs = state.moments.pairs || {};
    return pairs[a + "|" + b] || pairs[b + "|" + a] || 0;
  }

  /** Quality badge for a reprojection RMS (px): the usual checkerboard rule of thumb. */
  function quality(rms) {
    if (rms === null || rms === undefined) return null;
    if (rms <= 0.5) return { cls: "ok", text: t("calib_quality_good", "good") };
    if (rms <= 1.0) return { cls: "warn", text: t("calib_quality_fair", "fair") };
    return { cls: "bad", text: t("calib_quality_poor", "redo") };
  }

  function setBadge(node, cls, text) {
    node.className = "badge" + (cls ? " " + cls : "");
    node.textContent = text || "";
    node.hidden = !text;
  }

  // ------------------------------------------------------------------ messages and progress
  function tell(text) { $("calib-message").textContent = text || ""; }

  function showError(message) {
    const box = $("calib-error");
    box.textContent = message || "";
    box.hidden = !message;
  }

  /** Show the progress bar; `fraction` null gives an indeterminate bar. */
  function showProgress(stage, fraction) {
    $("progress-box").hidden = false;
    $("progress-stage").textContent = stage || "";
    const bar = $("progress-bar");
    if (fraction === null || fraction === undefined) {
      bar.removeAttribute("value");
      $("progress-pct").textContent = "";
    } else {
      bar.value = Math.max(0, Math.min(1, fraction));
      $("progress-pct").textContent = percent(bar.value);
    }
  }

  function hideProgress() { $("progress-box").hidden = true; }

  /** A stage of the joint solve, as the server reports it ("bundle adjustment", ...), in the page's language. */
  function stageLabel(stage) {
    const names = {
      board_poses: t("calib_stage_board_poses", "Board pose in each view"),
      initial_poses: t("calib_stage_initial_poses", "Initial camera poses"),
      bundle_adjustment: t("calib_stage_bundle_adjustment", "Bundle adjustment"),
      bundle_adjustment_without_outliers: t("calib_stage_bundle_adjustment_without_outliers", "Bundle adjustment (without outliers)"),
      world_frame: t("calib_stage_world_frame", "World frame"),
      detection: t("calib_stage_detection", "Looking for the board in the videos"),
      done: t("calib_stage_done", "Done"),
    };
    const intrinsics = /^intrinsics (.+)$/.exec(String(stage || ""));
    if (intrinsics) return t("calib_stage_intrinsics", "Intrinsics of {camera}", { camera: intrinsics[1] });
    return names[String(stage || "").toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "")] || stage;
  }

  function setBusy(action, on) {
    state.busy[action] = on;
    renderButtons();
  }

  // ------------------------------------------------------------------ server access
  const socket = io({ transports: ["websocket", "polling"] });

  /** Emit `event` and resolve with the ack; a timeout or a lost link resolves as a failure ack. */
  function emit(event, payload, timeoutMs) {
    return new Promise((resolve) => {
      if (!socket.connected) {
        resolve({ ok: false, code: "offline", message: t("live_disconnected", "Connection to the server lost, retrying…") });
        return;
      }
      socket.timeout(timeoutMs || SHORT_MS).emit(event, payload, (err, ack) => {
        if (err) resolve({ ok: false, code: "timeout", message: t("calib_timeout", "The server does not answer: check the connection and try again.") });
        else if (!ack || typeof ack !== "object") resolve({ ok: false, code: "invalid", message: t("calib_bad_answer", "Unexpected answer from the server: try again; if it persists, look at its log.") });
        else resolve(ack);
      });
    });
  }

  // ------------------------------------------------------------------ live views (MJPEG + overlay)
  const views = [];  // every .cam-view on the page

  /** Wrap a .cam-view element: its <img> shows the MJPEG preview, its <canvas> the corners. */
  function makeView(wrapper, camera, src) {
    const view = {
      el: wrapper, img: wrapper.querySelector("img"), canvas: wrapper.querySelector("canvas"),
      nofeed: wrapper.querySelector(".nofeed"), camera, src, active: false, detection: null, staleTimer: 0, retry: 0,
    };
    new ResizeObserver(() => drawOverlay(view)).observe(wrapper);
    view.img.addEventListener("error", () => onFeedError(view));
    view.img.addEventListener("load", () => { view.nofeed.hidden = true; });
    setAspect(view, cameraSize(camera));
    views.push(view);
    return view;
  }

  function cameraSize(i) {
    const cam = state.cameras[i];
    return cam && cam.width && cam.height ? [cam.width, cam.height] : null;
  }

  /** Give the view the camera's aspect ratio, so the picture fills it (no letterbox). */
  function setAspect(view, size) {
    if (size && size[0] && size[1]) view.el.style.aspectRatio = size[0] + " / " + size[1];
  }

  /** Start or stop the view's MJPEG stream (hidden views must not keep a stream open). */
  function setViewActive(view, on) {
    if (on === view.active) return;
    view.active = on;
    clearTimeout(view.retry);
    if (on) {
      view.img.src = view.src;
    } else {
      view.img.removeAttribute("src");
      setDetection(view, null);
    }
  }

  /** The stream broke (server restart, camera gone): say so and try again in a moment. */
  function onFeedError(view) {
    if (!view.active) return;
    view.nofeed.hidden = false;
    clearTimeout(view.retry);
    view.retry = setTimeout(() => {
      if (view.active) view.img.src = view.src + (view.src.includes("?") ? "&" : "?") + "t=" + Date.now();
    }, 3000);
  }

  /** Point the (single) intrinsics view at another camera. */
  function setViewCamera(view, camera, src) {
    if (view.camera === camera && view.src === src) return;
    const wasActive = view.active;
    setViewActive(view, false);
    view.camera = camera;
    view.src = src;
    view.el.style.aspectRatio = "";
    setAspect(view, cameraSize(camera));
    view.img.alt = camLabel(camera);
    if (wasActive) setViewActive(view, true);
  }

  function setDetection(view, detection) {
    view.detection = detection;
    clearTimeout(view.staleTimer);
    if (detection) {
      if (detection.image_size) setAspect(view, detection.image_size);
      view.staleTimer = setTimeout(() => setDetection(view, null), STALE_MS);
    }
    drawOverlay(view);
  }

  /** Draw the detected corners over the picture (corners come in full-resolution pixels). */
  function drawOverlay(view) {
    const w = view.el.clientWidth, h = view.el.clientHeight;
    const ctx = canvasContext(view.canvas, w, h);
    const d = view.detection;
    if (!d || !d.found || !d.corners || !d.corners.length || !d.image_size || !w || !h) return;
    // The picture is drawn "contain" in the view: same scale on both axes, centred.
    const [iw, ih] = d.image_size;
    const s = Math.min(w / iw, h / ih), ox = (w - iw * s) / 2, oy = (h - ih * s) / 2;
    const pts = d.corners.map(([x, y]) => [ox + x * s, oy + y * s]);
    drawCornerGrid(ctx, pts, d.still ? COLOUR_STILL : COLOUR_MOVING);
  }

  /** Rows of corners joined by lines, a dot per corner, the first corner ringed (board orientation). */
  function drawCornerGrid(ctx, pts, colour) {
    const cols = state.board.cols;
    const perRow = pts.length % cols === 0 ? cols : pts.length;  // corners arrive row by row
    ctx.lineWidth = 2;
    ctx.strokeStyle = colour;
    ctx.beginPath();
    pts.forEach((p, k) => (k % perRow === 0 ? ctx.moveTo(p[0], p[1]) : ctx.lineTo(p[0], p[1])));
    ctx.stroke();
    ctx.fillStyle = colour;
    pts.forEach((p) => {
      ctx.beginPath();
      ctx.arc(p[0], p[1], 3, 0, 2 * Math.PI);
      ctx.fill();
    });
    const [x0, y0] = pts[0];
    ctx.beginPath();
    ctx.arc(x0, y0, 7, 0, 2 * Math.PI);
    ctx.fillStyle = "#ffffff";
    ctx.fill();
    ctx.lineWidth = 3;
    ctx.strokeStyle = "#1d4ed8";
    ctx.stroke();
  }

  function flash(view) {
    view.el.classList.remove("flash");
    void view.el.offsetWidth;  // restart the CSS animation
    view.el.classList.add("flash");
  }

  function detectBadge(node, d) {
    if (!d) setBadge(node, "", "");
    else if (!d.found) setBadge(node, "muted-badge", t("calib_not_found", "Board not found"));
    else if (d.still === undefined) setBadge(node, "ok", t("calib_found", "Board found"));  // a one-off check: no motion known
    else setBadge(node, d.still ? "ok" : "warn", t("calib_found", "Board found") + " · " + (d.still ? t("calib_still", "still") : t("calib_moving", "moving")));
  }

  // ------------------------------------------------------------------ navigation
  const panels = { camera: $("panel-camera"), extrinsics: $("panel-extrinsics"), floor: $("panel-floor"), result: $("panel-result") };
  const intrView = makeView($("intr-view"), 0, feedUrl(0));
  const extViews = state.cameras.map((c) => makeView($("ext-view-" + c.index), c.index, $("ext-view-" + c.index).dataset.src));
  const floorViews = state.cameras.map((c) => makeView($("floor-view-" + c.index), c.index, $("floor-view-" + c.index).dataset.src));

  function feedUrl(i) {
    const step = $("step-camera-" + i);
    return step ? step.dataset.feed : "/video_feed/" + i;
  }

  /** Show `step` (and camera `camera` for the intrinsics step), and tell the server where we are
   * (`tell`: false when the page only shows where the wizard is, which does not take a free wizard). */
  async function goTo(step, camera, tell = true) {
    state.step = step;
    if (step === "camera") state.camera = camera;
    showError("");
    showPanel();
    if (readOnly() || !tell) {  // watching or opening: this page shows the panel, the wizard does not move
      if (step === "result") loadSets();
      return;
    }
    const payload = step === "camera" ? { step, camera } : { step };
    const ack = await emit("calibration focus", payload);
    if (!ack.ok) showError(ack.message);
    else if (ack.state) applyState(ack.state);
    if (step === "result") loadSets();
  }

  function showPanel() {
    Object.entries(panels).forEach(([name, panel]) => { panel.hidden = name !== state.step; });
    if (state.step === "camera" && intrView.camera !== state.camera) {
      setViewCamera(intrView, state.camera, feedUrl(state.camera));
      detectBadge($("intr-detect"), null);
      $("intr-hint").textContent = "";
    }
    setViewActive(intrView, state.step === "camera");
    extViews.forEach((v) => setViewActive(v, state.step === "extrinsics"));
    floorViews.forEach((v) => setViewActive(v, state.step === "floor"));
    renderAll();
    tell(guide(state.step));
  }

  /** What to do at `step`, for the message line. */
  function guide(step) {
    const guides = {
      camera: () => t("calib_guide_camera", "{camera}: show the whole board to the camera and hold it still in varied positions (centre, edges, corners, tilted).", { camera: camLabel(state.camera) }),
      extrinsics: () => t("calib_guide_extrinsics", "Show the board, held still, to several cameras at once until every camera is linked in the graph, then run the calibration."),
      floor: () => t("calib_guide_floor", "Lay the board flat on the floor where the origin should be, then click “Capture the origin”."),
      result: () => t("calib_guide_result", "Check the camera positions and the errors, then click “Save”."),
    };
    return guides[step] ? guides[step]() : "";
  }

  function nextStep() {
    if (state.step === "camera" && state.camera + 1 < state.cameras.length) goTo("camera", state.camera + 1);
    else if (state.step === "camera") goTo("extrinsics");
    else if (state.step === "extrinsics") goTo("floor");
    else if (state.step === "floor") goTo("result");
  }

  function prevStep() {
    const last = state.cameras.length - 1;
    if (state.step === "camera" && state.camera > 0) goTo("camera", state.camera - 1);
    else if (state.step === "extrinsics") goTo("camera", last);
    else if (state.step === "floor") goTo("extrinsics");
    else if (state.step === "result") goTo("floor");
  }

  // ------------------------------------------------------------------ server state
  /** Merge the server's STATE into ours (counts, results, moments, rig, auto flag). */
  function applyState(s) {
    if (!s) return;
    if (typeof s.auto === "boolean") state.auto = s.auto;
    if (s.mode) state.mode = s.mode;
    if (s.board) state.board = Object.assign({}, state.board, s.board);
    renderSession(s);
    Object.entries(s.intrinsics || {}).forEach(([name, info]) => {
      const entry = intrEntry(name);
      entry.captured = info.captured || 0;
      if (Array.isArray(info.coverage)) entry.coverage = info.coverage;
      if (info.result) { entry.result = info.result; entry.error = null; } else entry.result = null;
    });
    if (s.moments) applyMoments(s.moments);
    if (s.rig !== undefined) {
      if (s.rig && !state.rig) state.solvedWith = momentsSignature();  // a rig from before this page: assume current
      state.rig = s.rig;
    }
    renderAll();
  }

  function applyMoments(m) {
    state.moments = { moments: m.moments || 0, views: m.views || {}, pairs: m.pairs || {}, floor: m.floor || null };
  }

  /** What the last solve was computed from, to tell when the result is out of date. */
  function momentsSignature() {
    return JSON.stringify([state.moments.moments, state.moments.floor || []]);
  }

  const rigIsStale = () => !!state.rig && state.solvedWith !== null && state.solvedWith !== momentsSignature();

  async function begin() {
    const ack = await emit("calibration begin", {});
    if (!ack.ok) {
      showError(t("calib_begin_failed", "The calibration could not start: {message}", { message: ack.message }));
      return;
    }
    if (Array.isArray(ack.cameras) && ack.cameras.length) mergeCameras(ack.cameras);
    if (ack.board) state.board = ack.board;
    if (Array.isArray(ack.coverage_grid)) state.grid = ack.coverage_grid;
    if (ack.min_views) state.minViews = ack.min_views;
    const first = !state.begun;
    state.begun = true;
    initSession(sessionContext, ack);
    if (first) initTools();
    applyState(ack.state);
    // First time: resume where the server's wizard is. After a reconnect: stay where the technician is.
    const s = ack.state || {};
    if (first && s.step && panels[s.step]) goTo(s.step, s.step === "camera" ? (s.camera || 0) : state.camera, false);
    else goTo(state.step, state.camera, driving());
    body.dataset.ready = "1";  // the page has resumed the server's wizard (tests wait for this)
  }

  /** Camera health from the server (status, resolution) into our list, matched by index. */
  function mergeCameras(list) {
    list.forEach((c) => {
      const i = typeof c.index === "number" ? c.index : camIndex(c.name);
      if (state.cameras[i]) Object.assign(state.cameras[i], c);
    });
    renderCameraStatus();
  }

  // ------------------------------------------------------------------ rendering: step bar
  function renderAll() {
    renderStepbar();
    renderButtons();
    renderCameraStatus();
    if (state.step === "camera") renderIntrinsics();
    if (state.step === "extrinsics") renderExtrinsics();
    if (state.step === "floor") renderFloor();
    if (state.step === "result") renderResult();
  }

  function renderStepbar() {
    state.cameras.forEach((c, i) => {
      const entry = intrEntry(c.name);
      const sub = entry.result ? "✓ " + number(entry.result.rms_px, 2) + " px"
        : entry.captured + " " + t("calib_views_short", "views");
      stepButton($("step-camera-" + i), state.step === "camera" && state.camera === i, !!entry.result, c.name + " · " + sub);
    });
    const m = state.moments;
    stepButton($("step-extrinsics"), state.step === "extrinsics", !!state.rig && !rigIsStale(),
      m.moments + " " + t("calib_moments_short", "moments"));
    stepButton($("step-floor"), state.step === "floor", !!(m.floor && m.floor.length),
      m.floor && m.floor.length ? "✓ " + t("calib_seen_by", "seen by {n}", { n: m.floor.length }) : "");
    stepButton($("step-result"), state.step === "result", !!state.saved,
      state.saved ? "✓ " + t("calib_saved_short", "saved") : state.rig ? t("calib_to_save", "to be saved") : "");
  }

  function stepButton(button, current, done, sub) {
    if (!button) return;
    button.classList.toggle("current", current);
    button.classList.toggle("done", done);
    if (current) button.setAttribute("aria-current", "step");
    else button.removeAttribute("aria-current");
    button.querySelector("[data-role=sub]").textContent = sub;
  }

  function renderCameraStatus() {
    const cam = state.cameras[state.camera];
    if (cam) {
      const cls = cam.status === "connected" ? "ok" : cam.status === "failed" ? "bad" : "warn";
      setBadge($("intr-status"), cls, cameraStatus(cam.status));
    }
  }

  /** Enable or disable every action button from the current state and the running actions. */
  function renderButtons() {
    const b = state.busy;
    const name = camName(state.camera);
    const entry = intrEntry(name);
    $("intr-check").disabled = !!b.check;
    $("intr-capture").disabled = !!b.capture || !!b.intrinsics;
    $("intr-run").disabled = !!b.intrinsics || entry.captured < state.minViews;
    $("intr-reset").disabled = !!b.intrinsics || !!b.reset;
    $("prev-step").disabled = state.step === "camera" && state.camera === 0;
    $("next-step").disabled = state.step === "result";
    $("intr-auto").checked = state.auto;
    $("ext-auto").checked = state.auto;
    const hasMoments = state.moments.moments > 0 || !!state.moments.floor;
    ["ext-run", "floor-solve", "result-solve"].forEach((id) => { $(id).disabled = !!b.solve || !hasMoments; });
    $("floor-capture").disabled = !!b.floor;
    $("save").disabled = !!b.save || !state.rig || !!b.solve;
    $("compare").disabled = state.compare.length !== 2 || !!b.compare;
    const positions = state.mode === "positions";  // the intrinsics in force are kept: no camera step
    state.cameras.forEach((c) => { const step = $("step-camera-" + c.index); if (step) step.disabled = positions; });
    $("refine-intrinsics").closest("label").hidden = positions;
    if (positions && state.step === "camera") $("intr-capture").disabled = $("intr-run").disabled = true;
    lockDriving();
    renderBoardCard();
    renderRecordingCard();
  }

  // ------------------------------------------------------------------ session, driver and tools (hooks)
  /** A read-only page follows the driver's wizard: its state, and the step it shows. */
  function follow(s) {
    applyState(s);
    if (s.step && panels[s.step] && (s.step !== state.step || (s.step === "camera" && s.camera !== state.camera))) {
      goTo(s.step, s.step === "camera" ? (s.camera || 0) : state.camera);
    }
  }

  /** A new session began ("New calibration" or "Cameras moved"): forget this page's results too. */
  function onSession(s) {
    state.cameras.forEach((c) => Object.assign(intrEntry(c.name), { captured: 0, result: null, error: null, coverage: null }));
    Object.assign(state, { rig: null, solvedWith: null, saved: null });
    $("saved-info").hidden = true;
    showRig3d(null, "");
    applyState(s);
    goTo(s.step || "camera", 0);
  }

  const sessionContext = {
    socket, emit, showError, tell, follow, onSession,
    render: () => { renderButtons(); renderStepbar(); },
  };

  /** The board card, the calibration from a take and the health check (once, at the first begin). */
  function initTools() {
    initBoard({ board: state.board, onBoard: (board) => { state.board = Object.assign({}, state.board, board); renderAll(); } });
    initRecording({
      socket, emit, tell, cameras: state.cameras, stageLabel, loadSets,
      applyIntrinsics: (name, result) => { Object.assign(intrEntry(name), { result, error: null }); renderAll(); },
      showSet: async (id) => { await goTo("result"); await showSet(id); },
    });
    initHealth();
  }

  // ------------------------------------------------------------------ rendering: intrinsics step
  function renderIntrinsics() {
    const i = state.camera, name = camName(i), entry = intrEntry(name);
    $("intr-title").textContent = camLabel(i);
    const size = entry.size || cameraSize(i);
    const board = state.board;
    $("intr-board-line").textContent = t("calib_board_line", "Resolution {w} x {h} · square side {side} cm · {cols} x {rows} corners", {
      w: size ? size[0] : "?", h: size ? size[1] : "?",
      side: new Intl.NumberFormat(lang, { maximumFractionDigits: 2 }).format(board.square_mm / 10),
      cols: board.cols, rows: board.rows,
    });
    $("intr-captured").textContent = entry.captured;
    $("intr-min").textContent = t("calib_min_views", "at least {n}", { n: state.minViews });
    drawCoverage($("intr-coverage"), entry.coverage, size);
    renderNeedLine(entry);
    renderIntrinsicsResult(entry);
  }

  /** The "what next" line under the buttons. */
  function renderNeedLine(entry) {
    let text;
    if (state.busy.intrinsics) text = t("calib_running", "Calibration running…");
    else if (entry.result) text = state.camera + 1 < state.cameras.length ? t("calib_intr_done_next", "Calibration done: go to the next camera with “Next”.") : t("calib_intr_done_last", "Calibration done: go on to the extrinsics with “Next”.");
    else if (entry.captured < state.minViews) text = t("calib_need_views", "Capture {n} more view(s) to be able to run the calibration.", { n: state.minViews - entry.captured });
    else text = t("calib_ready_to_run", "Enough views: run the calibration (more varied views give a better result).");
    $("intr-need").textContent = text;
  }

  function renderIntrinsicsResult(entry) {
    const err = $("intr-error");
    err.textContent = entry.error || "";
    err.hidden = !entry.error;
    const r = entry.result;
    $("intr-result").hidden = !r;
    $("intr-result-empty").hidden = !!r || !!entry.error;
    if (!r) return;
    $("res-rms").textContent = number(r.rms_px, 2) + " px";
    const q = quality(r.rms_px);
    setBadge($("res-quality"), q && q.cls, q && q.text);
    $("res-used").textContent = r.used + " / " + r.views;
    $("res-found").textContent = r.found + " / " + r.views;
    const rejected = r.rejected || [];
    $("res-rejected").textContent = rejected.length ? rejected.length + " (" + rejected.join(", ") + ")" : t("calib_none", "none");
    $("res-coverage").textContent = percent(r.coverage);
    $("res-focal").textContent = number(r.fx, 1) + " ; " + number(r.fy, 1);
    $("res-principal").textContent = number(r.cx, 1) + " ; " + number(r.cy, 1);
  }

  /** The coverage map: one cell per grid cell of the image, darker green for more corners seen. */
  function drawCoverage(canvas, coverage, size) {
    const [cols, rows] = state.grid;
    const aspect = size ? size[0] / size[1] : cols / rows;
    canvas.style.aspectRatio = String(aspect);
    const w = canvas.clientWidth || 240, h = Math.round(w / aspect);
    const ctx = canvasContext(canvas, w, h);
    ctx.fillStyle = "#1f2937";
    ctx.fillRect(0, 0, w, h);
    const cw = w / cols, ch = h / rows;
    let covered = 0;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const count = coverage && coverage[r] ? coverage[r][c] || 0 : 0;
        if (count > 0) covered++;
        // Log scale: the first corners in a cell matter most.
        const level = count > 0 ? 0.3 + 0.7 * Math.min(1, Math.log1p(count) / Math.log1p(60)) : 0;
        ctx.fillStyle = count > 0 ? "rgba(34, 197, 94, " + level.toFixed(2) + ")" : "rgba(239, 68, 68, 0.55)";
        ctx.fillRect(c * cw + 1, r * ch + 1, cw - 2, ch - 2);
      }
    }
    $("intr-coverage-pct").textContent = coverage ? "· " + percent(covered / (cols * rows)) : "";
  }

  // ------------------------------------------------------------------ intrinsics actions
  async function checkBoard() {
    const i = state.camera;
    setBusy("check", true);
    showError("");
    const ack = await emit("calibration check", { camera: i });
    setBusy("check", false);
    if (!ack.ok) { showError(ack.message); return; }
    if (ack.image_size) intrEntry(camName(i)).size = ack.image_size;
    if (state.camera === i && ack.image_size) {
      setDetection(intrView, { found: ack.found, still: true, corners: ack.corners || [], image_size: ack.image_size });
    }
    if (state.camera === i) detectBadge($("intr-detect"), { found: ack.found });
    tell(hint(ack.message) || (ack.found ? t("calib_found", "Board found") : t("calib_not_found", "Board not found")));
  }

  async function captureView() {
    const i = state.camera, name = camName(i);
    setBusy("capture", true);
    showError("");
    const ack = await emit("calibration capture", { camera: i });
    setBusy("capture", false);
    if (!ack.ok) { showError(ack.message); return; }
    intrEntry(name).captured = ack.captured;
    if (state.camera === i) flash(intrView);
    tell(t("calib_captured_n", "View captured ({n} in total).", { n: ack.captured }) + " " + hint(ack.message));
    renderAll();
  }

  async function runIntrinsics() {
    const i = state.camera, name = camName(i), entry = intrEntry(name);
    entry.error = null;
    setBusy("intrinsics", true);
    showError("");
    showProgress(t("calib_running_camera", "Calibrating {camera}…", { camera: camLabel(i) }), null);
    renderAll();
    const ack = await emit("calibration intrinsics", { camera: i }, LONG_MS);
    hideProgress();
    setBusy("intrinsics", false);
    if (ack.ok && ack.result) {
      entry.result = ack.result;
      tell(t("calib_intr_done", "{camera} calibrated: RMS error {rms} px.", { camera: camLabel(i), rms: number(ack.result.rms_px, 2) }));
    } else {
      entry.result = null;
      entry.error = ack.message || t("calib_bad_answer", "Unexpected answer from the server: try again; if it persists, look at its log.");
      tell(t("calib_intr_failed", "Calibrating {camera} failed: read the message below.", { camera: camLabel(i) }));
    }
    renderAll();
  }

  // Clearing views is destructive: the first click arms the button, a second within 4 s confirms.
  let resetArmed = 0;
  function disarmReset() {
    clearTimeout(resetArmed);
    resetArmed = 0;
    const button = $("intr-reset");
    button.textContent = button.dataset.label;
    button.classList.remove("armed");
  }

  async function resetViews() {
    const button = $("intr-reset");
    if (!resetArmed) {
      button.textContent = t("calib_reset_confirm", "Confirm clearing");
      button.classList.add("armed");
      resetArmed = setTimeout(disarmReset, 4000);
      return;
    }
    disarmReset();
    const i = state.camera, name = camName(i);
    setBusy("reset", true);
    showError("");
    const ack = await emit("calibration reset", { camera: i });
    setBusy("reset", false);
    if (!ack.ok) { showError(ack.message); return; }
    Object.assign(intrEntry(name), { captured: 0, result: null, error: null, coverage: null });
    applyState(ack.state);
    tell(t("calib_reset_done", "Views cleared for {camera}: capture again.", { camera: camLabel(i) }));
  }

  async function setAuto(enabled) {
    state.auto = enabled;
    renderButtons();
    const ack = await emit("calibration auto", { enabled });
    if (!ack.ok) {
      state.auto = !enabled;
      renderButtons();
      showError(ack.message);
    } else {
      tell(enabled ? t("calib_auto_on", "Automatic capture on: hold the board still to capture a view.") : t("calib_auto_off", "Automatic capture off: click “Capture” for each view."));
    }
  }

  // ------------------------------------------------------------------ rendering: extrinsics step
  function renderExtrinsics() {
    $("moments-count").textContent = state.moments.moments;
    renderPairTable();
    const components = renderGraph();
    renderGraphHints(components);
    renderExtWarning();
    renderSolveResult($("ext-result"));
  }

  /** N x N table of moments shared by each pair; the diagonal holds each camera's moments. */
  function renderPairTable() {
    const table = $("pair-table"), names = state.cameras.map((c) => c.name);
    const head = el("tr", {}, [el("th", { scope: "col" })]);
    names.forEach((n, i) => head.append(el("th", { scope: "col", title: n, text: String(i + 1) })));
    table.tHead.replaceChildren(head);
    const rows = names.map((a, i) => {
      const tr = el("tr", {}, [el("th", { scope: "row", text: i + 1 + " · " + a })]);
      names.forEach((b, j) => {
        const n = i === j ? (state.moments.views[a] || 0) : pairCount(a, b);
        const cls = i === j ? "pair-diag" : n === 0 ? "pair-zero" : "";
        tr.append(el("td", { class: cls, id: "pair-" + i + "-" + j, text: String(n) }));
      });
      return tr;
    });
    table.tBodies[0].replaceChildren(...rows);
  }

  /** Cameras on a circle, an edge per pair sharing a moment (width ~ count). Returns the components. */
  function renderGraph() {
    const graph = $("camera-graph"), names = state.cameras.map((c) => c.name), n = names.length;
    const cx = 160, cy = 150, radius = n > 1 ? 95 : 0;
    const pos = names.map((_, i) => {
      const a = -Math.PI / 2 + (2 * Math.PI * i) / n;
      return [cx + radius * Math.cos(a), cy + radius * Math.sin(a), a];
    });
    const edges = [];
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) {
      const count = pairCount(names[i], names[j]);
      if (count > 0) edges.push([i, j, count]);
    }
    const maxCount = Math.max(1, ...edges.map((e) => e[2]));
    const nodes = [];
    edges.forEach(([i, j, count]) => {
      nodes.push(svg("line", {
        class: "graph-edge", x1: pos[i][0], y1: pos[i][1], x2: pos[j][0], y2: pos[j][1],
        "stroke-width": (1.5 + 8.5 * Math.sqrt(count / maxCount)).toFixed(1),
      }));
      const label = svg("text", { class: "graph-edge-label", x: (pos[i][0] + pos[j][0]) / 2, y: (pos[i][1] + pos[j][1]) / 2 });
      label.textContent = String(count);
      nodes.push(label);
    });
    const linked = new Set(edges.flatMap((e) => [e[0], e[1]]));
    names.forEach((name, i) => {
      const isolated = n > 1 && !linked.has(i);
      const g = svg("g", { class: "graph-node" + (isolated ? " isolated" : ""), id: "graph-node-" + i });
      const title = svg("title");
      title.textContent = camLabel(i);
      g.append(title, svg("circle", { cx: pos[i][0], cy: pos[i][1], r: 15 }));
      const numberText = svg("text", { class: "num", x: pos[i][0], y: pos[i][1] });
      numberText.textContent = String(i + 1);
      const outward = radius ? 33 : 28;
      const nameText = svg("text", {
        class: "name", x: pos[i][0] + outward * Math.cos(pos[i][2]), y: pos[i][1] + (radius ? outward * Math.sin(pos[i][2]) : outward),
      });
      nameText.textContent = name.length > 14 ? name.slice(0, 13) + "…" : name;
      g.append(numberText, nameText);
      nodes.push(g);
    });
    graph.replaceChildren(...nodes);
    return components(n, edges);
  }

  /** Connected components of the camera graph (lists of camera indices). */
  function components(n, edges) {
    const parent = Array.from({ length: n }, (_, i) => i);
    const find = (i) => (parent[i] === i ? i : (parent[i] = find(parent[i])));
    edges.forEach(([i, j]) => { parent[find(i)] = find(j); });
    const groups = {};
    for (let i = 0; i < n; i++) (groups[find(i)] = groups[find(i)] || []).push(i);
    return Object.values(groups);
  }

  /** Say what to do about the graph: isolated cameras, separate groups, or ready. */
  function renderGraphHints(groups) {
    const list = $("graph-hints"), items = [];
    const n = state.cameras.length;
    if (state.moments.moments === 0) {
      items.push(el("li", { class: "warn", text: t("calib_no_moments", "No moment captured: show the board, held still, to two or more cameras at once.") }));
    } else {
      groups.filter((g) => g.length === 1 && n > 1).forEach(([i]) => {
        const text = t("calib_kv", "{k}: {v}", { k: camLabel(i), v: t("calib_isolated_hint", "show the board to this camera and a neighbour at the same time") });
        items.push(el("li", { class: "bad", id: "graph-hint-" + i, text }));
      });
      const linkedGroups = groups.filter((g) => g.length > 1);
      if (groups.length > 1 && linkedGroups.length > 1) {
        items.push(el("li", { class: "warn", text: t("calib_split_hint", "The cameras form {n} separate groups: show the board at the same time to two cameras of different groups.", { n: groups.length }) }));
      }
      if (groups.length === 1) items.push(el("li", { class: "ok", text: t("calib_graph_ok", "Every camera is linked: you can run the calibration.") }));
    }
    list.replaceChildren(...items);
  }

  /** Cameras the solve will lack intrinsics for (no result now and none in the active calibration). */
  function renderExtWarning() {
    if (state.mode === "positions") {
      $("ext-warning").textContent = t("calib_positions_kept", "Cameras moved: the intrinsics in force are kept; only the positions are calibrated again.");
      $("ext-warning").hidden = false;
      return;
    }
    const activeNames = (state.active && state.active.cameras) || [];
    const missing = state.cameras.filter((c) => !intrEntry(c.name).result && !activeNames.includes(c.name));
    const reused = state.cameras.filter((c) => !intrEntry(c.name).result && activeNames.includes(c.name));
    const parts = [];
    if (missing.length) parts.push(t("calib_missing_intrinsics", "Missing intrinsics for {cameras}: calibrate these cameras at their own step first.", { cameras: missing.map((c) => camLabel(c.index)).join(", ") }));
    if (reused.length) parts.push(t("calib_reuse_intrinsics", "The active calibration's intrinsics will be used for: {cameras}.", { cameras: reused.map((c) => c.name).join(", ") }));
    const box = $("ext-warning");
    box.textContent = parts.join(" ");
    box.hidden = !parts.length;
  }

  function renderSolveResult(node) {
    if (!state.rig) { node.hidden = true; return; }
    node.hidden = false;
    node.textContent = rigIsStale() ? t("calib_stale", "Moments or the floor origin were captured since the last run: run the calibration again to include them, then save.")
      : t("calib_solve_done", "Calibration done in {s} s ({outliers} observations rejected). Next step: floor origin.", { s: number(state.rig.seconds, 1), outliers: state.rig.outliers || 0 });
  }

  async function runSolve() {
    setBusy("solve", true);
    showError("");
    showProgress(t("calib_running", "Calibration running…"), 0);
    const signature = momentsSignature();
    const ack = await emit("calibration solve", { refine_intrinsics: $("refine-intrinsics").checked }, LONG_MS);
    hideProgress();
    setBusy("solve", false);
    if (!ack.ok || !ack.result) {
      showError(ack.message || t("calib_bad_answer", "Unexpected answer from the server: try again; if it persists, look at its log."));
      tell(t("calib_solve_failed", "The calibration failed: follow the error message's advice, then run it again."));
      return;
    }
    state.rig = ack.result;
    state.solvedWith = signature;
    state.saved = null;
    $("saved-info").hidden = true;
    tell(t("calib_solve_done", "Calibration done in {s} s ({outliers} observations rejected). Next step: floor origin.", { s: number(ack.result.seconds, 1), outliers: ack.result.outliers || 0 }));
    showRig3d(state.rig, "");
    renderAll();
  }

  // ------------------------------------------------------------------ rendering: floor step
  function renderFloor() {
    const seen = state.moments.floor;
    $("floor-result").hidden = !seen;
    if (seen) {
      $("floor-summary").textContent = t("calib_floor_seen", "Origin seen by {n} camera(s) out of {total}.", { n: seen.length, total: state.cameras.length });
      $("floor-cameras").replaceChildren(...state.cameras.map((c) => {
        const saw = seen.includes(c.name);
        return el("li", {}, [el("span", {
          class: "badge " + (saw ? "ok" : "muted-badge"), id: "floor-cam-" + c.index,
          text: camLabel(c.index) + " · " + (saw ? t("calib_floor_saw", "saw it") : t("calib_floor_missed", "did not see it")),
        })]);
      }));
    }
    // The floor is an input of the joint solve: after capturing it, the rig must be solved again.
    const needSolve = !!seen && (!state.rig || rigIsStale());
    $("floor-solve").hidden = !needSolve;
    const next = $("floor-next-hint");
    next.hidden = !seen;
    next.textContent = needSolve ? t("calib_floor_then_solve", "Now run the calibration to place the rig on the floor, then go on to the result.") : t("calib_floor_done", "Origin included: go on to the result.");
  }

  async function captureFloor() {
    setBusy("floor", true);
    showError("");
    const ack = await emit("calibration floor", {});
    setBusy("floor", false);
    if (!ack.ok) {
      showError(ack.message);
      tell(t("calib_floor_none", "No camera saw the board: check that all of it is in the picture and well lit, then try again."));
      return;
    }
    state.moments.floor = ack.cameras || [];
    tell(hint(ack.message) + " " + t("calib_floor_seen", "Origin seen by {n} camera(s) out of {total}.", { n: state.moments.floor.length, total: state.cameras.length }));
    renderAll();
  }

  // ------------------------------------------------------------------ rendering: result step
  let rigShown = null, rigCaption = "";

  /** Hand a rig to the 3D view (with a work area: {corners, dashed}, or none). */
  function showRig3d(rig, caption, area) {
    rigShown = rig;
    rigCaption = caption || "";
    $("rig3d-caption").textContent = rigCaption;
    $("rig3d-placeholder").hidden = !!rig;
    $("rig3d-current").hidden = !(caption && state.rig);
    showRig($("rig3d"), rig, area || null);
  }
  attachWorkArea(showRig3d);

  function renderResult() {
    const rig = state.rig;
    $("result-empty").hidden = !!rig;
    $("result-details").hidden = !rig;
    $("result-stale").hidden = !rigIsStale();
    if (!rigCaption) showRig3d(rig, "");
    if (!rig) return;
    const rows = (rig.cameras || []).map((c) => {
      const i = camIndex(c.name);
      const q = quality(c.rms_px);
      return el("tr", { id: "result-row-" + (i >= 0 ? i : c.name) }, [
        el("th", { scope: "row", text: i >= 0 ? camLabel(i) : c.name }),
        el("td", {}, [number(c.rms_px, 2) + " ", q ? el("span", { class: "badge " + q.cls, text: q.text }) : ""]),
        el("td", { text: number(c.median_px, 2) }),
        el("td", { text: c.views === null || c.views === undefined ? "–" : String(c.views) }),
      ]);
    });
    $("result-table").tBodies[0].replaceChildren(...rows);
    const parts = [];
    if (rig.outliers !== undefined) parts.push(t("calib_kv", "{k}: {v}", { k: t("calib_outliers", "Rejected observations"), v: rig.outliers }));
    if (rig.seconds !== undefined) parts.push(t("calib_kv", "{k}: {v}", { k: t("calib_duration", "Solve time"), v: number(rig.seconds, 1) + " s" }));
    $("result-summary").textContent = parts.join(" · ");
    const info = $("saved-info");
    info.hidden = !state.saved;
    if (state.saved) info.textContent = t("calib_saved", "Calibration saved: {id} ({date}). It is now the active calibration.", { id: state.saved.id, date: formatDate(state.saved.created_at) });
  }

  async function saveRig() {
    setBusy("save", true);
    showError("");
    const note = $("save-note").value.trim().slice(0, 200);
    const ack = await emit("calibration save", { note });
    setBusy("save", false);
    if (!ack.ok || !ack.set) { showError(ack.message || t("calib_bad_answer", "Unexpected answer from the server: try again; if it persists, look at its log.")); return; }
    state.saved = ack.set;
    tell(t("calib_saved", "Calibration saved: {id} ({date}). It is now the active calibration.", { id: ack.set.id, date: formatDate(ack.set.created_at) }));
    renderAll();
    await loadSets();
  }

  // ------------------------------------------------------------------ saved calibration sets
  async function loadSets() {
    const r = await api("GET", "/api/calibrations");
    const err = $("sets-error");
    err.hidden = r.ok;
    if (!r.ok) { err.textContent = t("calib_load_failed", "The saved calibrations could not be loaded ({message}): click “Refresh”.", { message: r.message }); return; }
    state.sets = Array.isArray(r.data) ? r.data : [];
    state.compare = state.compare.filter((id) => state.sets.some((s) => s.id === id));
    const active = state.sets.find((s) => s.active);
    if (active) setActive(active);
    renderSets();
  }

  function setActive(set) {
    state.active = set;
    const summary = $("active-summary");
    summary.replaceChildren(t("calib_active_is", "Active calibration:") + " ",
      el("time", { id: "active-date", datetime: set.created_at, text: formatDate(set.created_at) }),
      " · ", el("span", { id: "active-cameras", text: (set.cameras || []).join(", ") }));
  }

  /** "left 0,31 · right 0,42": RMS per camera, in the set's camera order. */
  function rmsSummary(set) {
    const rms = set.rms_px || {};
    const names = (set.cameras || []).filter((n) => n in rms);
    Object.keys(rms).forEach((n) => { if (!names.includes(n)) names.push(n); });
    return names.map((n) => n + " " + number(rms[n], 2)).join(" · ");
  }

  function renderSets() {
    $("sets-empty").hidden = state.sets.length > 0;
    const rows = state.sets.map((s) => {
      const tick = el("input", {
        type: "checkbox", id: "compare-" + s.id, "data-id": s.id, checked: state.compare.includes(s.id),
        "aria-label": t("calib_select", "Select to compare:") + " " + formatDate(s.created_at),
      });
      tick.addEventListener("change", () => toggleCompare(s.id, tick.checked));
      const activate = el("button", { type: "button", class: "small", id: "activate-" + s.id, disabled: s.active, text: t("calib_activate", "Activate") });
      activate.addEventListener("click", () => activateSet(s.id));
      const show = el("button", { type: "button", class: "small outline secondary", id: "show-" + s.id, text: t("calib_show", "Show") });
      show.addEventListener("click", () => showSet(s.id));
      const dateCell = el("td", {}, [el("time", { datetime: s.created_at, text: formatDate(s.created_at) }), " ",
        s.active ? el("span", { class: "badge ok", text: t("calib_is_active", "active") }) : ""]);
      return el("tr", { id: "set-row-" + s.id, class: s.active ? "active-set" : "" }, [
        el("td", {}, [tick]), dateCell, el("td", { text: (s.cameras || []).join(", ") }),
        el("td", { class: "small", text: rmsSummary(s) }), el("td", { text: s.note || "" }),
        el("td", { class: "row-actions" }, [activate, show]),
      ]);
    });
    $("sets-body").replaceChildren(...rows);
    renderCompareBar();
  }

  function toggleCompare(id, on) {
    state.compare = state.compare.filter((x) => x !== id);
    if (on) state.compare.push(id);
    if (state.compare.length > 2) {  // keep the two most recent choices
      const dropped = state.compare.shift();
      const box = $("compare-" + dropped);
      if (box) box.checked = false;
    }
    renderCompareBar();
  }

  function renderCompareBar() {
    $("compare-hint").textContent = state.compare.length === 2 ? "" : t("calib_compare_pick", "Tick two calibrations to compare.");
    renderButtons();
  }

  async function activateSet(id) {
    setBusy("activate", true);
    showError("");
    const r = await api("POST", "/api/calibrations/" + encodeURIComponent(id) + "/activate");
    setBusy("activate", false);
    if (!r.ok) { showError(r.message); return; }
    tell(t("calib_activated", "Calibration {id} activated: it is now used for reconstruction.", { id }));
    await loadSets();
  }

  async function showSet(id) {
    const r = await api("GET", "/api/calibrations/" + encodeURIComponent(id));
    if (!r.ok || !r.data || !r.data.rig) { showError(r.message || t("calib_bad_answer", "Unexpected answer from the server: try again; if it persists, look at its log.")); return; }
    showRig3d(r.data.rig, t("calib_showing_set", "Showing the calibration of {date}.", { date: formatDate(r.data.created_at) }));
    $("rig3d").scrollIntoView({ behavior: "smooth", block: "nearest" });
  }

  async function compareSets() {
    const [a, b] = state.compare;
    setBusy("compare", true);
    showError("");
    const r = await api("GET", "/api/calibrations/compare?a=" + encodeURIComponent(a) + "&b=" + encodeURIComponent(b));
    setBusy("compare", false);
    if (!r.ok) { showError(r.message); return; }
    renderComparison(r.data);
  }

  function renderComparison(data) {
    const date = (id) => {
      const set = state.sets.find((s) => s.id === id);
      return set ? formatDate(set.created_at) : id;
    };
    $("compare-result").hidden = false;
    $("compare-title").textContent = t("calib_compare_title", "Comparison: {a} → {b}", { a: date(data.a), b: date(data.b) });
    const signed = (v, d) => (v === null || v === undefined ? "–" : (v > 0 ? "+" : "") + number(v, d));
    const rows = (data.cameras || []).map((c) => el("tr", {}, [
      el("th", { scope: "row", text: c.name }), el("td", { text: number(c.centre_shift_mm, 1) }),
      el("td", { text: number(c.rotation_deg, 2) }), el("td", { text: signed(c.focal_change_pct, 2) }),
    ]));
    $("compare-table").tBodies[0].replaceChildren(...rows);
    const missing = data.missing || [];
    $("compare-missing").hidden = !missing.length;
    $("compare-missing").textContent = t("calib_missing_in_one", "Cameras in only one of the two calibrations: {cameras}", { cameras: missing.join(", ") });
  }

  // ------------------------------------------------------------------ wiring
  document.querySelectorAll("#stepbar .step").forEach((button) => {
    button.addEventListener("click", () => goTo(button.dataset.step, Number(button.dataset.camera || 0)));
  });
  $("intr-check").addEventListener("click", checkBoard);
  $("intr-capture").addEventListener("click", captureView);
  $("intr-run").addEventListener("click", runIntrinsics);
  $("intr-reset").addEventListener("click", resetViews);
  $("intr-auto").addEventListener("change", (e) => setAuto(e.target.checked));
  $("ext-auto").addEventListener("change", (e) => setAuto(e.target.checked));
  $("next-step").addEventListener("click", nextStep);
  $("prev-step").addEventListener("click", prevStep);
  ["ext-run", "floor-solve", "result-solve"].forEach((id) => $(id).addEventListener("click", runSolve));
  $("floor-capture").addEventListener("click", captureFloor);
  $("result-go-extrinsics").addEventListener("click", () => goTo("extrinsics"));
  $("save").addEventListener("click", saveRig);
  $("sets-refresh").addEventListener("click", loadSets);
  $("calib-import-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = $("calib-import-file").files[0];
    const error = $("calib-import-error"), done = $("calib-import-done");
    error.hidden = done.hidden = true;
    if (!file) { error.textContent = t("calib_import_pick", "Choose a file first."); error.hidden = false; return; }
    const form = new FormData();
    form.append("file", file);
    let reply, data = {};
    try {
      reply = await fetch("/api/calibrations/import", { method: "POST", body: form, credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": csrfToken() } });
      data = await reply.json().catch(() => ({}));
    } catch (err) {
      error.textContent = t("live_disconnected", "Connection to the server lost, retrying…");
      error.hidden = false;
      return;
    }
    if (!reply.ok) { error.textContent = data.error || reply.statusText; error.hidden = false; return; }
    const mapped = Object.entries(data.mapped || {}).filter(([a, b]) => a !== b).map(([a, b]) => a + " → " + b).join(", ");
    done.textContent = t("calib_import_done", "Calibration {id} imported and in force.", { id: data.id }) + (mapped ? " " + t("calib_import_mapped", "Cameras matched in order: {mapped}.", { mapped }) : "");
    done.hidden = false;
    await loadSets();
  });
  $("compare").addEventListener("click", compareSets);
  $("rig3d-reset").addEventListener("click", resetRigView);
  $("rig3d-current").addEventListener("click", () => showRig3d(state.rig, ""));
  window.addEventListener("resize", () => { if (state.step === "camera") renderIntrinsics(); });
  document.querySelectorAll("time[datetime]").forEach((node) => { node.textContent = formatDate(node.getAttribute("datetime")); });

  // ------------------------------------------------------------------ server events
  socket.on("connect", () => { $("link-lost").hidden = true; begin(); });
  socket.on("disconnect", () => { $("link-lost").hidden = false; });
  socket.on("connect_error", () => { $("link-lost").hidden = false; });
  socket.on("camera status", (data) => mergeCameras((data && data.cameras) || []));

  socket.on("calibration live", (d) => {
    const i = d.camera, name = camName(i), entry = intrEntry(name);
    if (typeof d.captured === "number") entry.captured = d.captured;
    if (Array.isArray(d.coverage)) entry.coverage = d.coverage;
    if (Array.isArray(d.image_size)) entry.size = d.image_size;
    views.filter((v) => v.active && v.camera === i).forEach((v) => {
      setDetection(v, d);
      if (d.just_captured) flash(v);
    });
    if (state.step === "camera" && state.camera === i) {
      detectBadge($("intr-detect"), d);
      $("intr-hint").textContent = hint(d.message);
      if (d.just_captured) tell(t("calib_captured_n", "View captured ({n} in total).", { n: d.captured }));
      renderIntrinsics();
      renderButtons();
    } else if (state.step === "extrinsics" || state.step === "floor") {
      const card = $((state.step === "extrinsics" ? "ext-card-" : "floor-card-") + i);
      if (card) detectBadge(card.querySelector("[data-role=detect]"), d);
    }
    renderStepbar();
  });

  socket.on("calibration moments", (m) => {
    applyMoments(m || {});
    renderAll();
  });

  socket.on("calibration progress", (p) => {
    if (!p || (!state.busy.solve && !state.busy.intrinsics)) return;
    showProgress(stageLabel(p.stage), typeof p.fraction === "number" ? p.fraction : null);
  });

  showPanel();
})();
