// VSION ergonomics in the pages: the risk band under the replay's timeline, the posture of the
// frame shown (RULA, REBA and the joint angles), the expert's ergonomic inputs per step with each
// step's worst scores, the warnings on a risky reference, and a trainee's safety feedback.
// An ES module used by take.js and workcard.js; it hooks onto a replay player (replay.js) through
// its onLoad / onTime listeners and builds its own markup, so replay.js stays as it is.
//
// Data: GET /api/takes/<id>/ergonomics (takes/ergonomics.py): the report of
// scoring.ergonomics.ergonomics_report with the steps that apply now, plus `unreliable` (angles to
// show with a warning). Frame f of the report is frame f of the replay (both from pose3d.csv).
import { $, api, canvasContext, el, number, t } from "./common.js";

const LANG = document.documentElement.lang === "en" ? "en" : "fr";
const METHOD_KEY = "vsion.ergoMethod";

/** A message of the scoring (feedback, warning) in the page's language: its text in that
 *  language as scoring/feedback.py wrote it, else the English one. */
export function messageText(msg) {
  if (!msg || typeof msg !== "object") return "";
  const text = msg.text || {};
  return String(text[LANG] || text.en || msg.key || "");
}

/** The risk level 1-4 of a frame (1 acceptable ... 4 act now): RULA's action level, or REBA's risk
 *  level with negligible and low together; null when unknown. */
export function riskLevel(method, rulaLevel, rebaLevel) {
  const value = method === "reba" ? rebaLevel : rulaLevel;
  if (value === null || value === undefined || !Number.isFinite(Number(value))) return null;
  return method === "reba" ? Math.max(1, Number(value)) : Number(value);
}

/** RULA's action level or REBA's risk level in words. */
export function levelName(method, level) {
  const rula = {
    1: t("ergo_rula_level_1", "acceptable"),
    2: t("ergo_rula_level_2", "investigate further"),
    3: t("ergo_rula_level_3", "investigate, change soon"),
    4: t("ergo_rula_level_4", "investigate, change now"),
  };
  const reba = {
    0: t("ergo_reba_level_0", "negligible risk"),
    1: t("ergo_reba_level_1", "low risk"),
    2: t("ergo_reba_level_2", "medium risk"),
    3: t("ergo_reba_level_3", "high risk"),
    4: t("ergo_reba_level_4", "very high risk"),
  };
  const names = method === "reba" ? reba : rula;
  return level === null || level === undefined ? "–" : names[level] || String(level);
}

function savedMethod() {
  try { return localStorage.getItem(METHOD_KEY) === "reba" ? "reba" : "rula"; } catch (e) { return "rula"; }
}

function saveMethod(method) {
  try { localStorage.setItem(METHOD_KEY, method); } catch (e) { /* private mode: not remembered */ }
}

/** A "RULA 5" / "REBA 9" badge coloured by its risk level. */
export function scoreBadge(method, score, level, extra) {
  const risk = method === "reba" ? riskLevel("reba", null, level) : riskLevel("rula", level, null);
  return el("span", { class: "ergo-badge ergo-lvl-" + (risk || "none"), dataset: { method, score: score ?? "" },
    title: levelName(method, level) }, (method === "reba" ? "REBA " : "RULA ") + (score ?? "–"), extra || null);
}

// ================================================================== the angles shown per frame
/** The rows of the angles table: [label, name (axial), or [left name, right name]]. */
function angleRows() {
  return [
    [t("ergo_angle_trunk_flexion", "Trunk flexion"), "trunk_flexion"],
    [t("ergo_angle_trunk_side_bend", "Trunk side bend"), "trunk_side_bend"],
    [t("ergo_angle_trunk_twist", "Trunk twist"), "trunk_twist"],
    [t("ergo_angle_neck_flexion", "Neck flexion"), "neck_flexion"],
    [t("ergo_angle_neck_side_bend", "Neck side bend"), "neck_side_bend"],
    [t("ergo_angle_neck_twist", "Neck twist"), "neck_twist"],
    [t("ergo_angle_upper_arm_flexion", "Upper arm flexion"), ["left_upper_arm_flexion", "right_upper_arm_flexion"]],
    [t("ergo_angle_upper_arm_abduction", "Upper arm abduction"), ["left_upper_arm_abduction", "right_upper_arm_abduction"]],
    [t("ergo_angle_elbow_flexion", "Elbow flexion"), ["left_elbow_flexion", "right_elbow_flexion"]],
    [t("ergo_angle_wrist_flexion", "Wrist flexion"), ["left_wrist_flexion", "right_wrist_flexion"]],
    [t("ergo_angle_wrist_deviation", "Wrist deviation"), ["left_wrist_deviation", "right_wrist_deviation"]],
    [t("ergo_angle_knee_flexion", "Knee flexion"), ["left_knee_flexion", "right_knee_flexion"]],
  ];
}

function buildNowPanel() {
  const rows = angleRows().map(([label, names]) => {
    const cells = Array.isArray(names)
      ? names.map((name) => el("td", { dataset: { angle: name } }))
      : [el("td", { colspan: "2", class: "ergo-axial", dataset: { angle: names } })];
    return el("tr", {}, el("th", { scope: "row", text: label }), ...cells);
  });
  const table = el("table", { class: "ergo-angles", id: "ergo-angles" },
    el("thead", {}, el("tr", {}, el("th", { scope: "col", text: t("ergo_angle", "Angle") }),
      el("th", { scope: "col", text: t("ergo_left", "Left") }), el("th", { scope: "col", text: t("ergo_right", "Right") }))),
    el("tbody", {}, ...rows));
  return el("section", { class: "ergo-now", id: "ergo-now", hidden: true, "aria-labelledby": "ergo-now-title" },
    el("h3", { id: "ergo-now-title", class: "replay-steps-title", text: t("ergo_posture", "Posture at this moment") }),
    el("p", { class: "ergo-now-scores", id: "ergo-now-scores" }),
    table,
    el("p", { class: "muted small ergo-note" }, el("span", { class: "ergo-unreliable-mark", text: "*" }), " ",
      t("ergo_unreliable_note", "unreliable: twists rest on short landmark baselines, wrists on three hand landmarks.")));
}

// ================================================================== the risk band
function buildBand() {
  const canvas = el("canvas", { class: "ergo-band", id: "ergo-band", "aria-hidden": "true" });
  const select = el("select", { id: "ergo-method", "aria-label": t("ergo_method", "Risk score shown") },
    el("option", { value: "rula", text: "RULA" }), el("option", { value: "reba", text: "REBA" }));
  const legend = el("span", { class: "ergo-legend muted small" },
    ...[1, 2, 3, 4].map((k) => el("span", { class: "ergo-legend-item" }, el("span", { class: "ergo-swatch ergo-lvl-" + k }),
      " " + [t("ergo_band_1", "low"), t("ergo_band_2", "medium"), t("ergo_band_3", "high"), t("ergo_band_4", "very high")][k - 1])));
  const row = el("div", { class: "ergo-band-row", id: "ergo-band-row", hidden: true },
    el("span", { class: "ergo-band-title small", text: t("ergo_risk", "Posture risk") }), select, legend);
  return { canvas, select, row };
}

/** Draw the worst risk level of the frames under each pixel column. */
function drawBand(canvas, report, method) {
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (!w || !h) return;
  const ctx = canvasContext(canvas, w, h);
  const series = report.series, n = report.frames;
  if (!n) return;
  // Column x spans the times x/W .. (x+1)/W of the timeline (frame f is at f/(n-1) of it).
  const columns = new Array(Math.max(1, Math.round(w))).fill(0), span = Math.max(1, n - 1) / columns.length;
  const levels = series.rula_action_level.map((r, f) => riskLevel(method, r, series.reba_risk_level[f]) || 0);
  columns.forEach((_, x) => {
    const last = Math.min(n - 1, Math.ceil((x + 1) * span));
    for (let f = Math.min(n - 1, Math.floor(x * span)); f <= last; f++) columns[x] = Math.max(columns[x], levels[f]);
  });
  const style = getComputedStyle(canvas);
  const colours = [0, 1, 2, 3, 4].map((k) => style.getPropertyValue("--ergo-" + k).trim() || "#ccc");
  let start = 0;
  for (let x = 1; x <= columns.length; x++) {
    if (x === columns.length || columns[x] !== columns[start]) {
      ctx.fillStyle = colours[columns[start]];
      ctx.fillRect(start, 0, x - start, h);
      start = x;
    }
  }
}

// ================================================================== attach to a replay player
/**
 * The ergonomics of the take loaded in `player`: the risk band under the timeline, the posture
 * panel beside the player, and listeners for pages that show more (the steps editor).
 * Returns {reload(), report(), onReport(fn)}.
 */
export function attachErgonomics(player) {
  const root = $("replay");
  const timeline = root.querySelector(".replay-timeline");
  const band = buildBand();
  timeline.append(el("div", { class: "ergo-band-wrap" }, band.canvas));
  timeline.after(band.row);
  const now = buildNowPanel();
  const side = root.querySelector(".replay-side");
  if (side) side.append(now);
  let report = null, method = savedMethod(), seq = 0;
  const listeners = new Set();
  band.select.value = method;

  function show(on) {
    band.row.hidden = !on;
    band.canvas.closest(".ergo-band-wrap").hidden = !on;
    now.hidden = !on;
    root.dataset.ergonomics = on ? "1" : "0";
  }

  function redraw() {
    if (report) drawBand(band.canvas, report, method);
  }

  function showFrame(frame) {
    if (!report || !report.frames) return;
    const f = Math.max(0, Math.min(report.frames - 1, frame));
    const s = report.series, unreliable = new Set(report.unreliable || []);
    $("ergo-now-scores").replaceChildren(scoreBadge("rula", s.rula_score[f], s.rula_action_level[f]), " ",
      scoreBadge("reba", s.reba_score[f], s.reba_risk_level[f]));
    now.querySelectorAll("[data-angle]").forEach((cell) => {
      const name = cell.dataset.angle, value = (s.angles[name] || [])[f];
      cell.replaceChildren(Number.isFinite(value) ? number(Math.round(value) || 0, 0) + "°" : "–");  // no "-0°"
      if (unreliable.has(name)) cell.append(el("span", { class: "ergo-unreliable-mark", title: t("ergo_unreliable", "unreliable"), text: "*" }));
    });
    now.dataset.frame = String(f);
  }

  async function load(take) {
    const mine = ++seq;
    report = null;
    show(false);
    if (!take || take.processing !== "done") return;
    const res = await api("GET", "/api/takes/" + encodeURIComponent(take.id) + "/ergonomics");
    if (mine !== seq || !res.ok || !res.data || !res.data.series) return;
    report = res.data;
    show(true);
    redraw();
    showFrame(player.frame());
    listeners.forEach((fn) => fn(report));
  }

  band.select.addEventListener("change", () => {
    method = band.select.value === "reba" ? "reba" : "rula";
    saveMethod(method);
    redraw();
  });
  band.canvas.addEventListener("click", (event) => {
    const box = band.canvas.getBoundingClientRect();
    if (box.width > 0) player.seek(((event.clientX - box.left) / box.width) * player.duration());
  });
  new ResizeObserver(redraw).observe(band.canvas);
  player.onLoad(load);
  player.onTime((s, frame) => showFrame(frame));

  return {
    reload: () => load(player.take),
    report: () => report,
    onReport(fn) { listeners.add(fn); if (report) fn(report); return () => listeners.delete(fn); },
  };
}

// ================================================================== the steps editor (experts)
/** A step's worst scores as the saved steps give them (from the reference's report). */
export function stepSummary(summary) {
  if (!summary) return el("span", { class: "muted small", text: t("ergo_step_unsaved", "Scores after the steps are saved.") });
  const high = Number(summary.high_risk_s) || 0;
  return el("span", { class: "ergo-step-scores" },
    scoreBadge("rula", summary.rula.max, summary.rula.action_level), " ",
    scoreBadge("reba", summary.reba.max, summary.reba.risk_level), " ",
    el("span", { class: high > 0 ? "ergo-high" : "muted", dataset: { highRisk: String(high) },
      text: t("ergo_high_risk_time", "{s} s at high risk", { s: number(high, 1) }) }),
    summary.niosh && Number.isFinite(summary.niosh.lifting_index)
      ? el("span", { class: summary.niosh.lifting_index > 1 ? "ergo-high" : "muted",
        text: " · " + t("ergo_lifting_index", "lifting index {li} (limit {rwl} kg)", { li: number(summary.niosh.lifting_index, 2), rwl: number(summary.niosh.rwl_kg, 1) }) })
      : null);
}

const INPUT_DEFAULTS = { load_kg: 0, shock: false, static_posture: false, repeated: false, rapid_changes: false,
  coupling: "good", wrist_twist: "mid", arm_supported: false, sitting: false, lift: false, frequency_per_min: 0.2,
  duration_h: 1, control_at_destination: false };

function numberField(inputs, key, label, attrs, onChange) {
  const input = el("input", { type: "number", inputmode: "decimal", value: String(inputs[key]), dataset: { input: key }, ...attrs });
  input.addEventListener("change", () => {
    const v = Number(String(input.value).replace(",", "."));
    if (Number.isFinite(v)) inputs[key] = Math.min(Number(attrs.max), Math.max(Number(attrs.min), v));
    input.value = String(inputs[key]);
    onChange();
  });
  return el("label", { class: "ergo-field" }, label, input);
}

function checkField(inputs, key, label, onChange) {
  const input = el("input", { type: "checkbox", checked: !!inputs[key], dataset: { input: key } });
  input.addEventListener("change", () => { inputs[key] = input.checked; onChange(); });
  return el("label", { class: "ergo-check" }, input, " ", label);
}

function selectField(inputs, key, label, options, onChange) {
  const select = el("select", { dataset: { input: key } }, ...options.map(([value, text]) => el("option", { value, text })));
  select.value = inputs[key];
  select.addEventListener("change", () => { inputs[key] = select.value; onChange(); });
  return el("label", { class: "ergo-field" }, label, select);
}

/** The inputs form of one step (mutates `step.ergonomics`, then calls onChange). */
function inputsForm(step, onChange) {
  const inputs = step.ergonomics;
  const changed = () => { liftBox.hidden = !inputs.lift; onChange(); };
  const liftBox = el("div", { class: "ergo-lift", hidden: !inputs.lift },
    numberField(inputs, "frequency_per_min", t("ergo_frequency", "Lifts per minute"), { min: "0", max: "60", step: "0.1" }, changed),
    numberField(inputs, "duration_h", t("ergo_duration", "Lifting duration (h)"), { min: "0.1", max: "8", step: "0.5" }, changed),
    checkField(inputs, "control_at_destination", t("ergo_control", "Placed with care at the destination"), changed));
  return el("div", { class: "ergo-form" },
    el("div", { class: "ergo-row" },
      numberField(inputs, "load_kg", t("ergo_load", "Load or force (kg)"), { min: "0", max: "1000", step: "0.5" }, changed),
      selectField(inputs, "coupling", t("ergo_coupling", "Hand hold"), [["good", t("ergo_coupling_good", "good")],
        ["fair", t("ergo_coupling_fair", "fair")], ["poor", t("ergo_coupling_poor", "poor")],
        ["unacceptable", t("ergo_coupling_unacceptable", "unacceptable")]], changed),
      selectField(inputs, "wrist_twist", t("ergo_wrist_twist", "Forearm twist"), [["mid", t("ergo_twist_mid", "mid-range")],
        ["end", t("ergo_twist_end", "near the end of its range")]], changed)),
    el("div", { class: "ergo-row ergo-checks" },
      checkField(inputs, "lift", t("ergo_lift", "A lift (NIOSH)"), changed),
      checkField(inputs, "static_posture", t("ergo_static", "Held over 1 min"), changed),
      checkField(inputs, "repeated", t("ergo_repeated", "Repeated 4+ times a minute"), changed),
      checkField(inputs, "shock", t("ergo_shock", "Shock or sudden force"), changed),
      checkField(inputs, "rapid_changes", t("ergo_rapid", "Rapid changes, unstable base"), changed),
      checkField(inputs, "arm_supported", t("ergo_arm_supported", "Arm supported"), changed),
      checkField(inputs, "sitting", t("ergo_sitting", "Seated"), changed)),
    liftBox);
}

function fillSummary(node, report, step, index) {
  const summary = report && report.steps ? report.steps[index] : null;
  node.replaceChildren(stepSummary(summary && step && summary.name === step.name ? summary : null));
}

/**
 * The ergonomics part of one row of the steps editor: the step's worst scores (of the saved steps,
 * from the reference's `report`, may be null) and its inputs (a <details>; `step.ergonomics` is
 * filled with the defaults when first opened). `onChange` marks the steps as changed.
 */
export function stepErgonomics(report, step, index, onChange) {
  const scores = el("span", { class: "ergo-step-summary", dataset: { step: String(index) } });
  fillSummary(scores, report, step, index);
  const box = el("details", { class: "ergo-inputs", dataset: { step: String(index) } },
    el("summary", {}, el("span", { class: "ergo-inputs-title", text: t("ergo_inputs", "Ergonomics") }), " ", scores));
  box.addEventListener("toggle", () => {
    if (!box.open || box.querySelector(".ergo-form")) return;
    if (!step.ergonomics) step.ergonomics = { ...INPUT_DEFAULTS };
    box.append(inputsForm(step, onChange));
  });
  return box;
}

/** Refill the step scores of the editor's rows in `list` from a new `report` (`steps`: the rows' steps). */
export function fillStepSummaries(list, report, steps) {
  if (!list) return;
  list.querySelectorAll(".ergo-step-summary[data-step]").forEach((node) => {
    const index = Number(node.dataset.step);
    fillSummary(node, report, steps[index], index);
  });
}

/** The warnings of a reference's report (risky postures the card would teach), in `box`. */
export function showWarnings(box, report) {
  const warnings = (report && report.warnings) || [];
  box.replaceChildren(...(warnings.length ? [
    el("strong", { text: t("ergo_warnings_title", "This reference shows risky postures:") }),
    el("ul", {}, ...warnings.map((w) => el("li", { dataset: { key: w.key || "" }, text: messageText(w) }))),
  ] : []));
  box.hidden = warnings.length === 0;
}

// ================================================================== a trainee's attempt
/** "score-good" / "score-fair" / "score-poor" for a 0-100 safety score (the share of the time outside
 *  high-risk postures: a few percent at high risk is already worth a look). */
export function safetyClass(score) {
  if (!Number.isFinite(score)) return "score-none";
  return score >= 90 ? "score-good" : score >= 70 ? "score-fair" : "score-poor";
}

/** The safety part of an attempt's comparison: its score and the feedback per step. */
export function showSafety(c) {
  const box = $("safety-box");
  if (!box) return;
  const score = Number.isFinite(c.safety_score) ? c.safety_score : null;
  $("safety-score").textContent = score === null ? "–" : number(score, 0);
  $("safety-score").dataset.score = score === null ? "" : String(score);
  box.querySelector(".score-big").className = "score-big " + safetyClass(score);
  const detail = Number.isFinite(c.high_risk_s) ? t("ergo_high_risk_vs", "{s} s at high risk (reference: {r} s)", {
    s: number(c.high_risk_s, 1), r: Number.isFinite(c.reference_high_risk_s) ? number(c.reference_high_risk_s, 1) : "–" }) : "";
  $("safety-detail").textContent = detail;
  const feedback = Array.isArray(c.feedback) ? c.feedback : [];
  $("feedback").replaceChildren(...feedback.map((msg) => el("li", { class: "ergo-feedback-item", dataset: { key: msg.key || "" } },
    messageText(msg))));
  $("feedback-none").hidden = feedback.length > 0;
  box.hidden = false;
  $("feedback-section").hidden = false;
}

/** A small safety badge for lists (attempts of a card): "safety 92". */
export function safetyBadge(score) {
  if (!Number.isFinite(score)) return null;
  return el("span", { class: "score-badge safety-badge " + safetyClass(score), dataset: { role: "safety" },
    title: t("ergo_safety_title", "Safety: share of the time outside high-risk postures"),
    text: t("ergo_safety_short", "safety {score}", { score: number(score, 0) }) });
}
