// VSION calibration page: the calibration session ("New calibration", "Cameras moved: redo
// positions") and who drives the wizard. One technician drives at a time; the others watch
// read-only (their pages follow the driver's) until it is handed over, released, or left idle.
// Imported by calibration.js, which calls initSession() once its Socket.IO link is up.
import { $, el, t } from "./common.js";

// The controls that act on the wizard: disabled while someone else drives it.
const DRIVING = ["intr-check", "intr-capture", "intr-run", "intr-reset", "intr-auto", "ext-auto", "refine-intrinsics",
  "ext-run", "floor-capture", "floor-solve", "result-solve", "save", "save-note", "session-new", "session-positions"];

let driver = { driver: null, present: [], idle_s: 300, expires_in_s: null };
let me = "";
let ctx = null;

/** True while another technician drives the wizard (this page only watches). */
export function readOnly() {
  return !!driver.driver && driver.driver !== me;
}

/** True while this page's user drives the wizard. */
export function driving() {
  return !!driver.driver && driver.driver === me;
}

// Of those, the ones nothing else disables: enabled again when this page may drive.
const ONLY_LOCKED = ["intr-auto", "ext-auto", "refine-intrinsics", "save-note", "session-new", "session-positions"];

/** Disable every control that acts on the wizard while someone else drives it (and enable again
 * those only the driver lock disables once this page may drive). */
export function lockDriving() {
  const locked = readOnly();
  (locked ? DRIVING : ONLY_LOCKED).forEach((id) => { const node = $(id); if (node) node.disabled = locked; });
}

/** The session's line: its id, and whether it only redoes the positions. */
export function renderSession(s) {
  if (!s || !s.session) return;
  const line = $("session-line");
  line.textContent = s.mode === "positions"
    ? t("ses_line_positions", "Session {id}: positions only, the intrinsics in force are kept.", { id: s.session })
    : t("ses_line", "Session {id}.", { id: s.session });
  document.body.dataset.mode = s.mode || "full";
}

function driverText() {
  const minutes = Math.round((driver.idle_s || 300) / 60);
  if (!driver.driver) return t("drv_nobody_hint", "Nobody is driving the calibration: the first technician to act drives it.");
  if (driver.driver === me) return t("drv_you", "You are driving the calibration (released after {min} min without action).", { min: minutes });
  return t("drv_other", "{name} is driving the calibration: you are watching. They can hand it over to you.", { name: driver.driver });
}

function renderDriver() {
  const line = $("driver-line");
  line.textContent = driverText();
  line.classList.toggle("watching", readOnly());
  document.body.dataset.driver = driver.driver || "";
  document.body.dataset.readonly = readOnly() ? "1" : "0";
  const mine = driver.driver === me;
  const others = (driver.present || []).filter((name) => name !== me);
  $("driver-take").hidden = !!driver.driver;
  $("driver-release").hidden = !mine;
  $("driver-handover").hidden = !mine || !others.length;
  const select = $("handover-to");
  select.hidden = !mine || !others.length;
  const chosen = select.value;
  select.replaceChildren(...others.map((name) => el("option", { value: name, text: name, selected: name === chosen })));
}

function setDriver(state) {
  if (!state) return;
  driver = state;
  renderDriver();
  ctx.render();
}

async function changeDriver(payload) {
  ctx.showError("");
  const ack = await ctx.emit("calibration driver", payload);
  if (!ack.ok) { ctx.showError(ack.message); return; }
  setDriver(ack.driver);
}

// Starting again is destructive: the first click arms the button, a second within 4 s confirms.
const armed = {};
function arm(button, text) {
  if (armed[button.id]) {
    disarm(button);
    return true;
  }
  button.textContent = text;
  button.classList.add("armed");
  armed[button.id] = setTimeout(() => disarm(button), 4000);
  return false;
}

function disarm(button) {
  clearTimeout(armed[button.id]);
  delete armed[button.id];
  button.textContent = button.dataset.label;
  button.classList.remove("armed");
}

async function startSession(mode, button) {
  const confirmText = mode === "new"
    ? t("ses_new_confirm", "Confirm: start from nothing")
    : t("ses_positions_confirm", "Confirm: clear the moments and the floor");
  if (!arm(button, confirmText)) return;
  ctx.showError("");
  const ack = await ctx.emit("calibration session", { mode });
  if (!ack.ok) { ctx.showError(ack.message); return; }
  ctx.onSession(ack.state);
  ctx.tell(mode === "new"
    ? t("ses_new_done", "New calibration: every view, moment and result of the last session is cleared; the saved calibrations stay.")
    : t("ses_positions_done", "Redo positions: the intrinsics in force are kept. Show the board to several cameras at once, capture the floor origin, then run the calibration."));
}

/**
 * Wire the session bar. `context`: {socket, emit(event, payload), showError(text), tell(text),
 * render() (draw the wizard's buttons again), follow(state) (a read-only page follows the
 * driver's), onSession(state) (a new session began)}; `begun`: the "calibration begin" ack.
 */
export function initSession(context, begun) {
  const first = ctx === null;
  ctx = context;
  me = begun.me || "";
  setDriver(begun.driver);
  if (!first) return;
  $("driver-take").addEventListener("click", () => changeDriver({ action: "take" }));
  $("driver-release").addEventListener("click", () => changeDriver({ action: "release" }));
  $("driver-handover").addEventListener("click", () => {
    const to = $("handover-to").value;
    if (to) changeDriver({ action: "hand_over", to });
  });
  $("session-new").addEventListener("click", (e) => startSession("new", e.currentTarget));
  $("session-positions").addEventListener("click", (e) => startSession("positions", e.currentTarget));
  ctx.socket.on("calibration driver", (state) => setDriver(state));
  ctx.socket.on("calibration state", (shared) => {
    if (shared && shared.state && readOnly()) ctx.follow(shared.state);
  });
}
