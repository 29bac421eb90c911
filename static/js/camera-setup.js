// VSION Cameras page (administrators and technicians): the cameras with their live previews,
// add / edit / remove / reorder, and Test (what the source delivers, or why it fails). Every
// change goes through /api/cameras/...; the server's answer redraws the list. Errors are shown
// in the page's language from their code (camerr_*, camtest_*), else the server's text.
// The page's one module, no inline script (CSP).
import { $, api, el, number, say, t } from "./common.js";
import { cameraStatus } from "./cameras.js";

const maxCameras = Number(document.body.dataset.maxCameras || 6);
const MAX_LIVE = 4;  // MJPEG previews open at once (a browser keeps about six connections per server)

/** A change refused, by its code ({error, code, params} from the server). */
function changeRefusal(code, p) {
  const texts = {
    not_rtsp: () => t("camerr_not_rtsp", "Not an RTSP URL ({scheme}): write rtsp://host[:port]/path.", p),
    bad_url: () => t("camerr_bad_url", "Invalid RTSP URL: rtsp://host[:port]/path, without spaces.", p),
    missing: () => t("camerr_missing", "This source's field '{field}' is missing.", p),
    rtsp_only: () => t("camerr_rtsp_only", "A user name, a password and a sub-stream are for RTSP cameras only.", p),
    credentials_twice: () => t("camerr_credentials_twice", "Give the user name and the password in their fields or in the URL, not both.", p),
    preview_credentials: () => t("camerr_preview_credentials", "The sub-stream uses the camera's user name and password: write its URL without them.", p),
    password_without_user: () => t("camerr_password_without_user", "A password needs a user name.", p),
    unknown_camera: () => t("camerr_unknown_camera", "No camera is named {name}.", p),
    no_file: () => t("camerr_no_file", "No such video file on the server: {path}", p),
    bad_name: () => t("camerr_bad_name", "'{name}' cannot name a camera: 1 to 32 letters, digits, - or _, starting with a letter or a digit.", p),
    name_taken: () => t("camerr_name_taken", "A camera is already named {name} (names must differ, whatever the case: they name the takes' files).", p),
    too_many: () => t("camerr_too_many", "VSION works with {max} cameras at most: remove one first.", p),
    last_camera: () => t("camerr_last_camera", "VSION needs one camera at least: add another before removing {name}.", p),
    bad_order: () => t("camerr_bad_order", "The new order must name every camera once: {names}.", p),
    bad_source: () => t("camerr_bad_source", "This source cannot be used: {reason}", p),
    recording: () => t("camerr_recording", "A take is recording: stop it before changing the cameras.", p),
    no_config_file: () => t("camerr_no_config_file", "This server was started without a configuration file: change config.yaml, then restart it.", p),
    config_write: () => t("camerr_config_write", "config.yaml cannot be changed: {error}", p),
  };
  return texts[code] ? texts[code]() : null;
}

/** Why a connection test failed, by its code (the server's words for an unknown code). */
function testFailure(failure) {
  const p = failure.params || {};
  const texts = {
    unauthorized: () => t("camtest_unauthorized", "The camera refused the user name or the password (RTSP 401).", p),
    not_found: () => t("camtest_not_found", "Nothing at this address: {reason}", p),
    unreachable: () => t("camtest_unreachable", "The camera cannot be reached at {host}: {reason}", p),
    timeout: () => t("camtest_timeout", "No answer from the camera within {seconds} s.", p),
    no_video: () => t("camtest_no_video", "The source has no video track.", p),
    unsupported_codec: () => t("camtest_unsupported_codec", "The video codec {codec} cannot be decoded.", p),
    resolution_mismatch: () => t("camtest_resolution_mismatch", "The camera sends {width}×{height} but was calibrated at {calibrated}: calibrate it again, or set it back to {calibrated}.", p),
    no_frames: () => t("camtest_no_frames", "Connected, but no picture came within {seconds} s.", p),
    error: () => t("camtest_error", "The source cannot be read: {reason}", p),
  };
  return texts[failure.code] ? texts[failure.code]() : failure.message;
}

/** A refusal's text in the page's language: its code's text with its parameters, else the server's words. */
function refusal(reply) {
  const body = reply.data || {};
  const params = body.params || {};
  const needed = /\{\w+\}/;
  const text = body.code ? changeRefusal(body.code, params) : null;
  if (text && (!needed.test(text) || Object.keys(params).length)) return text;
  return reply.status === 401 ? reply.message : body.error || reply.message;
}

/** The API's answer: {data} or {error} (already in the page's language). */
async function call(method, url, payload) {
  const reply = await api(method, url, payload);
  return reply.ok ? { data: reply.data } : { error: refusal(reply) };
}

// ------------------------------------------------------------------ state
let state = { cameras: [], recording: false, editable: true, calibration_health: null };
let editing = null;            // the name of the camera in the form, or null when adding
let generation = 0;            // bumps the previews' URLs after a change: indices may have moved
const paused = new Set();      // names whose preview the user paused
const list = $("cams-list"), form = $("cam-form"), formCard = $("cam-form-card");
const errorBox = $("cams-error"), doneBox = $("cams-done"), formError = $("cam-form-error");

function liveNames() {
  return state.cameras.map((c) => c.name).filter((n) => !paused.has(n)).slice(0, MAX_LIVE);
}

function locked() { return state.recording || !state.editable; }

// ------------------------------------------------------------------ the list
function statusBadge(health) {
  const status = (health && health.status) || "connecting";
  return el("span", { class: "badge status-" + status, text: cameraStatus(status), dataset: { role: "status" } });
}

function previewBox(cam, live) {
  const frame = el("div", { class: "frame" });
  if (live) {
    frame.append(el("img", { src: `/video_feed/${cam.index}?v=${generation}`, alt: cam.name, loading: "eager" }));
  } else {
    frame.append(el("span", { class: "muted", text: t("cams_preview_paused", "Preview paused") }));
  }
  const toggle = el("button", { type: "button", class: "outline secondary small cam-preview-toggle",
    text: live ? t("cams_preview_pause", "Pause") : t("cams_preview_play", "Show live") });
  toggle.addEventListener("click", () => {
    if (live) paused.add(cam.name);
    else {
      paused.delete(cam.name);
      const open = liveNames();  // over the limit: pause the last one shown
      if (!open.includes(cam.name) && open.length) paused.add(open[open.length - 1]);
    }
    renderList();
  });
  return [frame, toggle];
}

function cardButtons(cam, i) {
  const buttons = [
    [t("cams_edit", "Edit"), "cam-edit", () => openForm(cam), false],
    [t("cams_up", "Move up"), "cam-up", () => move(i, -1), i === 0],
    [t("cams_down", "Move down"), "cam-down", () => move(i, 1), i === state.cameras.length - 1],
    [t("cams_remove", "Remove"), "cam-remove", () => remove(cam), state.cameras.length <= 1],
  ];
  return el("div", { class: "cam-buttons" }, buttons.map(([text, cls, act, off]) => {
    const b = el("button", { type: "button", class: "outline small " + cls, text, disabled: off || locked() });
    b.addEventListener("click", act);
    return b;
  }));
}

function card(cam, i, live) {
  const health = cam.health || {};
  const [frame, toggle] = previewBox(cam, live);
  const stats = el("footer", { class: "cam-stats" }, [
    el("span", {}, [el("b", { text: number(health.fps || 0, 1), dataset: { role: "fps" } }), " " + t("fps", "fps")]),
    el("span", { class: "muted cam-source", text: cam.safe_url }),
    cam.safe_preview_url ? el("span", { class: "muted", text: t("cams_substream", "Sub-stream: {url}", { url: cam.safe_preview_url }) }) : null,
    el("span", { class: "error", text: health.status === "connected" ? "" : (health.error || ""), dataset: { role: "error" } }),
  ]);
  return el("article", { class: "camera cam-card", id: "cam-card-" + cam.name, dataset: { name: cam.name } }, [
    el("header", {}, [el("span", { class: "cam-title", text: t("camera", "Camera") + ` ${i + 1} · ${cam.name}` }),
      statusBadge(health)]),
    frame, stats,
    el("p", { class: "warning cam-health", hidden: true, dataset: { role: "health" } }),
    el("div", { class: "cam-actions" }, [toggle, cardButtons(cam, i)]),
  ]);
}

function renderList() {
  const live = liveNames();
  list.replaceChildren(...state.cameras.map((cam, i) => card(cam, i, live.includes(cam.name))));
  $("cams-count").textContent = t("cams_count", "{n} of at most {max} cameras", { n: state.cameras.length, max: maxCameras });
  $("cams-add").disabled = locked() || state.cameras.length >= maxCameras;
  $("cams-recording").hidden = !state.recording;
  $("cams-no-config").hidden = state.editable;
  renderHealth(state.calibration_health);
}

/** The calibration health warnings: one line per camera that seems to have moved. */
function renderHealth(report) {
  const box = $("cams-health");
  const moved = report && Array.isArray(report.cameras) ? report.cameras.filter((c) => c.moved) : [];
  document.querySelectorAll(".cam-health").forEach((p) => { p.hidden = true; });
  if (!report) { box.hidden = true; return; }
  const movedText = (c) => t("cams_health_moved", "{name} seems to have moved: an error of {error} px against a limit of {limit} px. Check its mount, then redo the positions (Calibration).",
    { name: c.name, error: number(c.error_px, 1), limit: number(c.limit_px, 1) });
  box.replaceChildren(...(moved.length ? moved.map((c) => el("p", { class: "warning", text: movedText(c) }))
    : [el("p", { class: "muted", text: t("cams_health_ok", "Calibration checked: no camera seems to have moved.") })]));
  box.hidden = false;
  for (const c of moved) {
    const p = document.querySelector(`#cam-card-${CSS.escape(c.name)} [data-role=health]`);
    if (p) { p.textContent = movedText(c); p.hidden = false; }
  }
}

function updateStatus(health) {
  for (const item of health || []) {
    const cardNode = document.getElementById("cam-card-" + item.name);
    if (!cardNode) continue;
    cardNode.querySelector("[data-role=status]").replaceWith(statusBadge(item));
    cardNode.querySelector("[data-role=fps]").textContent = number(item.fps || 0, 1);
    cardNode.querySelector("[data-role=error]").textContent = item.status === "connected" ? "" : (item.error || "");
  }
}

async function load() {
  const reply = await call("GET", "/api/cameras/config");
  if (reply.error) { say(errorBox, reply.error); return; }
  state = reply.data;
  renderList();
}

function applied(data, message) {
  state = data;
  generation += 1;
  renderList();
  say(errorBox, "");
  say(doneBox, message, "info");
}

// ------------------------------------------------------------------ changes
async function move(i, step) {
  const names = state.cameras.map((c) => c.name);
  [names[i], names[i + step]] = [names[i + step], names[i]];
  const reply = await call("PUT", "/api/cameras/order", { names });
  if (reply.error) say(errorBox, reply.error);
  else applied(reply.data, t("cams_saved", "Saved: the cameras are now {names}.", { names: names.join(", ") }));
}

async function remove(cam) {
  if (!window.confirm(t("cams_remove_confirm", "Remove camera {name}? The takes already recorded are kept.", { name: cam.name }))) return;
  const reply = await call("DELETE", "/api/cameras/config/" + encodeURIComponent(cam.name));
  if (reply.error) say(errorBox, reply.error);
  else applied(reply.data, t("cams_removed", "Camera {name} removed.", { name: cam.name }));
}

// ------------------------------------------------------------------ the form
const fields = { name: $("cam-name"), source: $("cam-source"), url: $("cam-url"), user: $("cam-user"),
  password: $("cam-password"), preview_url: $("cam-preview-url"), usb: $("cam-usb"), file: $("cam-file"),
  demo: $("cam-demo") };

function showSource() {
  form.querySelectorAll("fieldset[data-source]").forEach((f) => { f.hidden = f.dataset.source !== fields.source.value; });
}
fields.source.addEventListener("change", showSource);

function openForm(cam) {
  editing = cam ? cam.name : null;
  form.reset();
  fields.name.value = cam ? cam.name : "cam" + (state.cameras.length + 1);
  fields.source.value = cam ? cam.source : "rtsp";
  if (cam) {
    for (const key of ["url", "user", "preview_url", "usb", "file", "demo"]) {
      if (cam[key] !== null && cam[key] !== undefined) fields[key].value = cam[key];
    }
  }
  fields.password.placeholder = cam && cam.has_password ? t("cams_password_keep", "unchanged when empty") : "";
  $("cam-password-stored").hidden = !(cam && cam.has_password);
  $("cam-form-title").textContent = cam ? t("cams_edit_title", "Edit camera {name}", { name: cam.name }) : t("cams_add", "Add a camera");
  $("cam-save").textContent = cam ? t("cams_save", "Save") : t("cams_save_new", "Add");
  say(formError, "");
  $("cam-test-result").hidden = true;
  showSource();
  formCard.hidden = false;
  fields.name.focus();
}

/** The form as the API's payload: only the chosen source's fields, empty ones left out. */
function payload() {
  const source = fields.source.value;
  const out = { name: fields.name.value.trim(), source };
  const text = (key) => { const v = fields[key].value.trim(); if (v) out[key] = v; };
  if (source === "rtsp") {
    text("url"); text("user"); text("preview_url");
    if (fields.password.value) out.password = fields.password.value;
  } else if (source === "file") {
    text("file");
  } else if (fields[source].value !== "") {
    out[source] = Number(fields[source].value);
  }
  return out;
}

function testBlock(title, result) {
  if (!result) return null;
  const f = result.failure;
  const verdict = result.ok ? t("cams_test_ok", "Connected") : t("cams_test_failed", "Test failed");
  const lines = [el("strong", { class: result.ok ? "" : "error", text: `${title} — ${verdict}` })];
  if (f) lines.push(el("p", { class: "error cam-test-failure", dataset: { code: f.code }, text: testFailure(f) }));
  if (result.codec) lines.push(el("p", { class: "cam-test-found", text: t("cams_test_found", "{codec} · {width}×{height} · {fps} fps",
    { codec: result.codec, width: result.width, height: result.height, fps: number(result.fps, 2) }) }));
  if (result.open_ms !== null) lines.push(el("p", { class: "muted cam-test-latency", text: t("cams_test_latency", "Network round trip: {rtt} ms · opening: {open} ms · first picture: {first} ms",
    { rtt: result.rtt_ms === null ? "–" : result.rtt_ms, open: result.open_ms, first: result.first_frame_ms === null ? "–" : result.first_frame_ms }) }));
  if (result.snapshot) lines.push(el("img", { class: "cam-test-snapshot", src: result.snapshot, alt: t("cams_test_snapshot", "Picture received during the test") }));
  return el("div", { class: "cam-test-block" }, lines);
}

$("cam-test").addEventListener("click", async () => {
  const box = $("cam-test-result");
  const body = payload();
  delete body.name;
  if (editing) body.camera = editing;  // an empty password: the stored one is used
  say(formError, "");
  box.replaceChildren(el("p", { class: "muted", text: t("cams_testing", "Testing…") }));
  box.hidden = false;
  $("cam-test").disabled = true;
  const reply = await call("POST", "/api/cameras/test", body);
  $("cam-test").disabled = false;
  if (reply.error) { box.hidden = true; say(formError, reply.error); return; }
  box.replaceChildren(testBlock(t("cams_test_main", "Main stream"), reply.data.main), testBlock(t("cams_test_preview", "Sub-stream"), reply.data.preview));
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  say(formError, "");
  const save = $("cam-save");
  save.disabled = true;
  save.setAttribute("aria-busy", "true");
  const reply = editing
    ? await call("PUT", "/api/cameras/config/" + encodeURIComponent(editing), payload())
    : await call("POST", "/api/cameras/config", payload());
  save.disabled = false;
  save.removeAttribute("aria-busy");
  if (reply.error) { say(formError, reply.error); return; }
  formCard.hidden = true;
  editing = null;
  applied(reply.data, t("cams_saved", "Saved: the cameras are now {names}.", { names: reply.data.cameras.map((c) => c.name).join(", ") }));
});

$("cam-cancel").addEventListener("click", () => { formCard.hidden = true; editing = null; });
$("cams-add").addEventListener("click", () => openForm(null));

// ------------------------------------------------------------------ live status
if (window.io) {
  const socket = window.io({ transports: ["websocket", "polling"] });
  socket.on("camera status", (data) => {
    if (!data) return;
    const names = (data.cameras || []).map((c) => c.name).join("|");
    const recording = !!data.recording;
    if (names !== state.cameras.map((c) => c.name).join("|") || recording !== state.recording) {
      load();  // changed elsewhere (another page, a take started): draw it again
      return;
    }
    updateStatus(data.cameras);
    if ("health" in data && JSON.stringify(data.health) !== JSON.stringify(state.calibration_health)) {
      state.calibration_health = data.health;
      renderHealth(data.health);
    }
  });
}

load();
