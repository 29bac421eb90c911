// VSION Cameras page (administrators and technicians): the cameras with their live previews,
// add / edit / remove / reorder, and Test (what the source delivers, or why it fails). Every
// change goes through /api/cameras/...; the server's answer redraws the list. Errors are shown
// in the page's language from their code (labels camerr_*, camtest_*), else the server's text.
// No inline script (CSP).

const labels = JSON.parse(document.body.dataset.labels || "{}");
const maxCameras = Number(document.body.dataset.maxCameras || 6);
const MAX_LIVE = 4;  // MJPEG previews open at once (a browser keeps about six connections per server)
const $ = (id) => document.getElementById(id);
const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

/** A label with {name} placeholders filled in (the key itself when unknown). */
function L(key, values) {
  return (labels[key] || key).replace(/\{(\w+)\}/g, (m, name) => (values && name in values ? values[name] : m));
}

function el(tag, props, children) {
  const { dataset, ...rest } = props || {};
  const node = Object.assign(document.createElement(tag), rest);
  Object.assign(node.dataset, dataset || {});
  for (const child of children || []) if (child) node.append(child);
  return node;
}

function show(node, text) { node.textContent = text || ""; node.hidden = !text; }

/** A refusal's text in the page's language: its code's label with its parameters, else the server's words. */
function refusal(body, status) {
  if (status === 401) return labels.wc_login_again || "login required";
  const key = body && body.code ? "camerr_" + body.code : null;
  if (key && labels[key] && (!/\{\w+\}/.test(labels[key]) || Object.keys(body.params || {}).length)) {
    return L(key, body.params);
  }
  return (body && body.error) || L("wc_server_error", { status });
}

async function call(method, url, payload) {
  let reply;
  try {
    reply = await fetch(url, {
      method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(), Accept: "application/json" },
      body: payload === undefined ? undefined : JSON.stringify(payload),
    });
  } catch (err) {
    return { error: labels.wc_offline || "offline" };
  }
  const body = await reply.json().catch(() => ({}));
  return reply.ok ? { data: body } : { error: refusal(body, reply.status), body };
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
  return el("span", { className: "badge status-" + status, textContent: labels["status_" + status] || status,
    dataset: { role: "status" } });
}

function previewBox(cam, live) {
  const frame = el("div", { className: "frame" });
  if (live) {
    frame.append(el("img", { src: `/video_feed/${cam.index}?v=${generation}`, alt: cam.name, loading: "eager" }));
  } else {
    frame.append(el("span", { className: "muted", textContent: labels.cams_preview_paused }));
  }
  const toggle = el("button", { type: "button", className: "outline secondary small cam-preview-toggle",
    textContent: live ? labels.cams_preview_pause : labels.cams_preview_play });
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
    ["cams_edit", "cam-edit", () => openForm(cam), false],
    ["cams_up", "cam-up", () => move(i, -1), i === 0],
    ["cams_down", "cam-down", () => move(i, 1), i === state.cameras.length - 1],
    ["cams_remove", "cam-remove", () => remove(cam), state.cameras.length <= 1],
  ];
  return el("div", { className: "cam-buttons" }, buttons.map(([key, cls, act, off]) => {
    const b = el("button", { type: "button", className: "outline small " + cls, textContent: labels[key],
      disabled: off || locked() });
    b.addEventListener("click", act);
    return b;
  }));
}

function card(cam, i, live) {
  const health = cam.health || {};
  const [frame, toggle] = previewBox(cam, live);
  const stats = el("footer", { className: "cam-stats" }, [
    el("span", {}, [el("b", { textContent: (health.fps || 0).toFixed(1), dataset: { role: "fps" } }), " " + labels.fps]),
    el("span", { className: "muted cam-source", textContent: cam.safe_url }),
    cam.safe_preview_url ? el("span", { className: "muted", textContent: L("cams_substream", { url: cam.safe_preview_url }) }) : null,
    el("span", { className: "error", textContent: health.status === "connected" ? "" : (health.error || ""),
      dataset: { role: "error" } }),
  ]);
  return el("article", { className: "camera cam-card", id: "cam-card-" + cam.name, dataset: { name: cam.name } }, [
    el("header", {}, [el("span", { className: "cam-title", textContent: `${labels.camera} ${i + 1} · ${cam.name}` }),
      statusBadge(health)]),
    frame, stats,
    el("p", { className: "warning cam-health", hidden: true, dataset: { role: "health" } }),
    el("div", { className: "cam-actions" }, [toggle, cardButtons(cam, i)]),
  ]);
}

function renderList() {
  const live = liveNames();
  list.replaceChildren(...state.cameras.map((cam, i) => card(cam, i, live.includes(cam.name))));
  $("cams-count").textContent = L("cams_count", { n: state.cameras.length, max: maxCameras });
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
  box.replaceChildren(...(moved.length ? moved.map((c) => el("p", { className: "warning",
    textContent: L("cams_health_moved", { name: c.name, error: Number(c.error_px).toFixed(1), limit: Number(c.limit_px).toFixed(1) }) }))
    : [el("p", { className: "muted", textContent: labels.cams_health_ok })]));
  box.hidden = false;
  for (const c of moved) {
    const p = document.querySelector(`#cam-card-${CSS.escape(c.name)} [data-role=health]`);
    if (p) { p.textContent = L("cams_health_moved", { name: c.name, error: Number(c.error_px).toFixed(1), limit: Number(c.limit_px).toFixed(1) }); p.hidden = false; }
  }
}

function updateStatus(health) {
  for (const item of health || []) {
    const cardNode = document.getElementById("cam-card-" + item.name);
    if (!cardNode) continue;
    cardNode.querySelector("[data-role=status]").replaceWith(statusBadge(item));
    cardNode.querySelector("[data-role=fps]").textContent = (item.fps || 0).toFixed(1);
    cardNode.querySelector("[data-role=error]").textContent = item.status === "connected" ? "" : (item.error || "");
  }
}

async function load() {
  const reply = await call("GET", "/api/cameras/config");
  if (reply.error) { show(errorBox, reply.error); return; }
  state = reply.data;
  renderList();
}

function applied(data, message) {
  state = data;
  generation += 1;
  renderList();
  show(errorBox, "");
  show(doneBox, message);
}

// ------------------------------------------------------------------ changes
async function move(i, step) {
  const names = state.cameras.map((c) => c.name);
  [names[i], names[i + step]] = [names[i + step], names[i]];
  const reply = await call("PUT", "/api/cameras/order", { names });
  if (reply.error) show(errorBox, reply.error);
  else applied(reply.data, L("cams_saved", { names: names.join(", ") }));
}

async function remove(cam) {
  if (!window.confirm(L("cams_remove_confirm", { name: cam.name }))) return;
  const reply = await call("DELETE", "/api/cameras/config/" + encodeURIComponent(cam.name));
  if (reply.error) show(errorBox, reply.error);
  else applied(reply.data, L("cams_removed", { name: cam.name }));
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
  fields.password.placeholder = cam && cam.has_password ? labels.cams_password_keep : "";
  $("cam-password-stored").hidden = !(cam && cam.has_password);
  $("cam-form-title").textContent = cam ? L("cams_edit_title", { name: cam.name }) : labels.cams_add;
  $("cam-save").textContent = cam ? labels.cams_save : labels.cams_save_new;
  show(formError, "");
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
  const lines = [el("strong", { className: result.ok ? "" : "error",
    textContent: `${title} — ${result.ok ? labels.cams_test_ok : labels.cams_test_failed}` })];
  if (f) lines.push(el("p", { className: "error cam-test-failure", dataset: { code: f.code },
    textContent: labels["camtest_" + f.code] ? L("camtest_" + f.code, f.params) : f.message }));
  if (result.codec) lines.push(el("p", { className: "cam-test-found", textContent: L("cams_test_found",
    { codec: result.codec, width: result.width, height: result.height, fps: Number(result.fps).toFixed(2) }) }));
  if (result.open_ms !== null) lines.push(el("p", { className: "muted cam-test-latency", textContent: L("cams_test_latency",
    { rtt: result.rtt_ms === null ? "–" : result.rtt_ms, open: result.open_ms, first: result.first_frame_ms === null ? "–" : result.first_frame_ms }) }));
  if (result.snapshot) lines.push(el("img", { className: "cam-test-snapshot", src: result.snapshot, alt: labels.cams_test_snapshot }));
  return el("div", { className: "cam-test-block" }, lines);
}

$("cam-test").addEventListener("click", async () => {
  const box = $("cam-test-result");
  const body = payload();
  delete body.name;
  if (editing) body.camera = editing;  // an empty password: the stored one is used
  show(formError, "");
  box.replaceChildren(el("p", { className: "muted", textContent: labels.cams_testing }));
  box.hidden = false;
  $("cam-test").disabled = true;
  const reply = await call("POST", "/api/cameras/test", body);
  $("cam-test").disabled = false;
  if (reply.error) { box.hidden = true; show(formError, reply.error); return; }
  box.replaceChildren(testBlock(labels.cams_test_main, reply.data.main), testBlock(labels.cams_test_preview, reply.data.preview));
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  show(formError, "");
  const save = $("cam-save");
  save.disabled = true;
  save.setAttribute("aria-busy", "true");
  const reply = editing
    ? await call("PUT", "/api/cameras/config/" + encodeURIComponent(editing), payload())
    : await call("POST", "/api/cameras/config", payload());
  save.disabled = false;
  save.removeAttribute("aria-busy");
  if (reply.error) { show(formError, reply.error); return; }
  formCard.hidden = true;
  editing = null;
  applied(reply.data, L("cams_saved", { names: reply.data.cameras.map((c) => c.name).join(", ") }));
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
