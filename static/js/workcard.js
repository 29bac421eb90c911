// VSION work card page (templates/workcard.html): the card, its reference takes (record, processing,
// choose), the reference's replay with the steps editor, the attempts with their scores and the
// progress chart. The server decides what the user may do (body data-can-*); the JSON routes and
// Socket.IO events are those of the work cards contract. While a recorder's cameras are shown, it
// asks for live pose (as the live page does) and draws the 2D skeleton over each preview and the
// 3D skeleton beside them. The page's one module.
import { cameraStatus } from "./cameras.js";
import { parseTags, statusOf } from "./cards.js";
import { $, api, clock, duration, el, number, readData, say, scoreClass, scoreText, svg, t, when } from "./common.js";
import { PoseFeed, poseMessage, poseRate, poseUnavailable } from "./livepose.js";
import { drawOverlay } from "./pose-overlay.js";
import { failure, jobStatus, stageLabel } from "./processing.js";
import { createReplay } from "./replay.js";
import { createSkeletonView } from "./skeleton3d.js";
import { showUnavailable } from "./view3d.js";
const body = document.body;
const cardId = Number(body.dataset.cardId);
const role = body.dataset.role || "";
const canEdit = body.dataset.canEdit === "1";
const isStaff = role !== "trainee";
const cardUrl = "/api/workcards/" + encodeURIComponent(cardId);

const cardError = $("card-error"), cardNotice = $("card-notice");
let card = null;
let takes = [];
let stepsDirty = false;  // the steps editor has changes not saved yet
const jobs = new Map();  // take id -> its latest `job status`
let player = null;

function notice(message) {
  say(cardNotice, message, "ok");
  if (message) setTimeout(() => { if (cardNotice.textContent === message) say(cardNotice, ""); }, 8000);
}

const isDraft = () => card && card.status !== "published";
const hasPublished = () => card && (card.status === "published" || Number(card.version) > 0);

// ================================================================== the card
function renderCard() {
  const head = $("card-head");
  head.removeAttribute("aria-busy");
  $("card-title").textContent = card.title;
  document.title = card.title + " · VSION";
  const status = statusOf(card);
  const badge = $("card-status");
  badge.className = "badge wc-status wc-status-" + status.key;
  badge.textContent = status.text;
  $("card-version").textContent = Number(card.version) > 0 ? t("wc_version_n", "version {n}", { n: card.version }) : t("wc_never_published", "never published");
  $("card-author").textContent = t("wc_by", "by {author}", { author: card.author || "?" });
  $("card-updated").textContent = card.updated_at ? t("wc_updated", "changed {date}", { date: when(card.updated_at) }) : "";
  $("card-tags").replaceChildren(...(card.tags || []).map((tag) => el("span", { class: "tag", text: tag })));
  $("card-description").textContent = card.description || "";
  $("card-description").hidden = !card.description;

  const editable = canEdit && card.can_edit !== false;
  const show = (id, on) => { const node = $(id); if (node) node.hidden = !on; };
  show("card-edit-open", editable && isDraft());
  show("card-publish", editable && isDraft());
  show("card-revise", editable && !isDraft());
  show("summary-link", hasPublished());
  if (!(editable && isDraft())) show("card-edit", false);
  fillEditForm();
  showReference();
  $("attempts-panel").hidden = !(hasPublished() || takes.some((tk) => tk.kind === "attempt"));
}

async function loadCard() {
  const res = await api("GET", cardUrl);
  if (!res.ok) {
    $("card-title").textContent = t("wc_card", "Work card");
    $("card-head").removeAttribute("aria-busy");
    say(cardError, t("wc_card_load_failed", "The card could not be loaded ({message}): go back to the list of cards.", { message: res.message }));
    return false;
  }
  card = res.data;
  renderCard();
  return true;
}

// ------------------------------------------------------------------ title, description, tags (PATCH)
const editForm = $("card-edit-form");

function fillEditForm() {
  if (!editForm || !card || !$("card-edit").hidden) return;  // never overwrite what is being typed
  $("edit-title").value = card.title || "";
  $("edit-description").value = card.description || "";
  $("edit-tags").value = (card.tags || []).join(", ");
}

if (editForm) {
  const panel = $("card-edit"), open = $("card-edit-open"), formError = $("card-edit-error"), save = $("card-edit-save");
  const showEdit = (on) => {
    if (!on) panel.hidden = true;
    fillEditForm();
    panel.hidden = !on;
    open.setAttribute("aria-expanded", String(on));
    if (on) $("edit-title").focus();
  };
  open.addEventListener("click", () => showEdit(panel.hidden));
  $("card-edit-cancel").addEventListener("click", () => { say(formError, ""); showEdit(false); });
  editForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const title = $("edit-title").value.trim(), description = $("edit-description").value.trim();
    const parsed = parseTags($("edit-tags").value);
    if (!title) { say(formError, t("wc_title_required", "Give the card a title.")); $("edit-title").focus(); return; }
    if (parsed.error) { say(formError, parsed.error); $("edit-tags").focus(); return; }
    save.disabled = true;
    const res = await api("PATCH", cardUrl, { title, description, tags: parsed.tags });
    save.disabled = false;
    if (!res.ok) { say(formError, t("wc_save_failed", "Changes not saved: {message}", { message: res.message })); return; }
    say(formError, "");
    card = res.data;
    panel.hidden = true;
    open.setAttribute("aria-expanded", "false");
    renderCard();
    notice(t("wc_saved", "Card saved."));
  });
}

// ------------------------------------------------------------------ publish, revise
async function cardAction(button, path, refused) {
  if (path === "/publish" && stepsDirty) {
    say(cardError, t("wc_save_steps_first", "Save the steps first (“Save the steps” button)."));
    return;
  }
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  const res = await api("POST", cardUrl + path, {});
  button.disabled = false;
  button.removeAttribute("aria-busy");
  if (!res.ok) {
    say(cardError, refused(res.message));
    cardError.scrollIntoView({ block: "nearest" });
    return;
  }
  say(cardError, "");
  // What the page offers depends on the state (recording a reference, an attempt): load it afresh.
  window.location.reload();
}
if ($("card-publish")) $("card-publish").addEventListener("click", (e) => cardAction(e.currentTarget, "/publish",
  (message) => t("wc_publish_refused", "Publishing refused: {message}", { message })));
if ($("card-revise")) $("card-revise").addEventListener("click", (e) => cardAction(e.currentTarget, "/revise",
  (message) => t("wc_revise_refused", "The card could not be reopened: {message}", { message })));

// ================================================================== the reference's replay
function showReference() {
  const ref = card.reference_take_id || "";
  $("replay-panel").hidden = !ref;
  const link = $("replay-take-link");
  link.href = ref ? "/takes/" + encodeURIComponent(ref) : "#";
  link.hidden = !ref;
  const editing = canEdit && isDraft() && !!ref && !!$("steps-editor");
  if ($("steps-editor")) $("steps-editor").hidden = !editing;
  $("replay").classList.toggle("editing", editing);  // a lower player: it and the steps fit on a laptop
  if (!ref) return;
  if (!player) {
    player = createReplay($("replay"));
    player.onTime(onEditorTime);
  }
  if (player.take && player.take.id === ref) {
    if (!stepsDirty) setEditSteps(card.steps);
    return;
  }
  player.load(ref).then(() => setEditSteps(card.steps));
}

// ------------------------------------------------------------------ steps editor (author, draft)
const MAX_STEPS = 50, MAX_NAME = 80, MAX_INSTRUCTIONS = 2000;
let editSteps = [];
const editList = $("steps-edit-list");

const frameTime = (s) => {
  const fps = player ? player.fps() : 30;
  return Math.round(Math.round(s * fps) / fps * 1000) / 1000;
};

function setEditSteps(steps) {
  editSteps = (steps || []).map((s) => ({ name: s.name || "", instructions: s.instructions || "",
    start_s: Number(s.start_s) || 0, end_s: Number(s.end_s) || 0 }));
  setDirty(false);
  if (player) player.setSteps(editSteps);
  renderEditor();
}

function setDirty(on) {
  stepsDirty = on;
  if ($("steps-dirty")) $("steps-dirty").hidden = !on;
}

function changed(structural) {
  setDirty(true);
  if (player) player.setSteps(editSteps);
  if (structural) renderEditor(); else checkSteps(false);
}

/** Errors (block saving) and warnings (shown) for the steps being edited. */
function validateSteps() {
  const errors = [], warnings = [];
  const maxT = player ? player.duration() : Infinity, tolerance = player ? 1 / player.fps() : 0;
  if (editSteps.length > MAX_STEPS) errors.push(t("wc_too_many_steps", "At most {max} steps: remove some.", { max: MAX_STEPS }));
  editSteps.forEach((s, i) => {
    const n = i + 1;
    if (!s.name.trim() || s.name.trim().length > MAX_NAME) errors.push({ i, field: "name", text: t("wc_step_name_needed", "Step {n}: give it a name ({max} characters at most).", { n, max: MAX_NAME }) });
    if (s.instructions.length > MAX_INSTRUCTIONS) errors.push({ i, field: "instructions", text: t("wc_step_instructions_long", "Step {n}: instructions too long ({max} characters at most).", { n, max: MAX_INSTRUCTIONS }) });
    if (!(s.start_s >= 0) || !(s.end_s > s.start_s)) errors.push({ i, field: "end", text: t("wc_step_order", "Step {n}: the end must come after the start.", { n }) });
    else if (maxT > 0 && s.end_s > maxT + tolerance) errors.push({ i, field: "end", text: t("wc_step_too_long", "Step {n}: the end is past the end of the take ({d}).", { n, d: clock(maxT) }) });
    const next = editSteps[i + 1];
    if (next && next.start_s < s.end_s - 1e-6 && next.end_s > s.start_s) warnings.push(t("wc_step_overlap", "Steps {a} and {b} overlap.", { a: n, b: n + 1 }));
    else if (next && next.start_s < s.start_s) warnings.push(t("wc_step_not_chrono", "Step {b} starts before step {a}: check the order.", { a: n, b: n + 1 }));
  });
  return { errors, warnings };
}

/** Mark the fields in error; `report`: also write the errors out (on save). Returns true when valid. */
function checkSteps(report) {
  if (!editList) return true;
  const { errors, warnings } = validateSteps();
  editList.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
  errors.forEach((e) => {
    if (typeof e !== "object") return;
    const node = editList.querySelector(`li[data-index="${e.i}"] [data-role="${e.field}"]`);
    if (node) node.setAttribute("aria-invalid", "true");
  });
  say($("steps-warning"), warnings.join(" "), "info");
  if (report) say($("steps-error"), errors.map((e) => (typeof e === "object" ? e.text : e)).join(" "));
  else if (!errors.length) say($("steps-error"), "");
  return errors.length === 0;
}

/** The start or end time of step `i` (key "start_s" or "end_s"): a field and a button that sets it
 *  to the player's time. */
function timeField(step, i, key) {
  const n = i + 1;
  const texts = key === "start_s"
    ? { field: t("wc_step_start_of", "Start of step {n} (s)", { n }), short: t("wc_start", "Start"),
      here: t("wc_start_here", "Start here"), title: t("wc_start_here_title", "Step {n} starts at the player's current time", { n }) }
    : { field: t("wc_step_end_of", "End of step {n} (s)", { n }), short: t("wc_end", "End"),
      here: t("wc_end_here", "End here"), title: t("wc_end_here_title", "Step {n} ends at the player's current time", { n }) };
  const input = el("input", { type: "number", min: "0", step: "0.01", inputmode: "decimal", value: step[key].toFixed(2),
    dataset: { role: key === "start_s" ? "start" : "end" }, "aria-label": texts.field });
  input.addEventListener("change", () => {
    const v = Number(input.value.replace(",", "."));
    if (Number.isFinite(v)) step[key] = Math.max(0, Math.round(v * 1000) / 1000);
    input.value = step[key].toFixed(2);
    changed(false);
  });
  const here = el("button", { type: "button", class: "outline small", dataset: { role: key === "start_s" ? "set-start" : "set-end" },
    title: texts.title, text: texts.here });
  here.addEventListener("click", () => {
    step[key] = frameTime(player ? player.time() : 0);
    changed(true);
  });
  return el("div", { class: "step-time" }, el("span", { class: "muted small", text: texts.short }), input, here);
}

function editorRow(step, i) {
  const name = el("input", { type: "text", maxlength: String(MAX_NAME), value: step.name, required: true,
    dataset: { role: "name" }, placeholder: t("wc_step_n", "Step {n}", { n: i + 1 }), "aria-label": t("wc_step_name_of", "Name of step {n}", { n: i + 1 }) });
  name.addEventListener("input", () => { step.name = name.value; changed(false); });
  const instructions = el("textarea", { rows: "2", maxlength: String(MAX_INSTRUCTIONS), dataset: { role: "instructions" },
    placeholder: t("wc_instructions_placeholder", "Instructions: what to do, what to watch for…"), "aria-label": t("wc_step_instructions_of", "Instructions of step {n}", { n: i + 1 }) });
  instructions.value = step.instructions;
  instructions.addEventListener("input", () => { step.instructions = instructions.value; changed(false); });
  const button = (role, text, title, fn, disabled) => {
    const b = el("button", { type: "button", class: "outline secondary small", dataset: { role }, title, "aria-label": title, text, disabled });
    b.addEventListener("click", fn);
    return b;
  };
  const move = (delta) => () => {
    const j = i + delta;
    [editSteps[i], editSteps[j]] = [editSteps[j], editSteps[i]];
    changed(true);
    const moved = editList.querySelector(`li[data-index="${j}"] [data-role="${delta < 0 ? "up" : "down"}"]`);
    if (moved && !moved.disabled) moved.focus();
  };
  return el("li", { class: "step-row", dataset: { index: String(i) } },
    el("div", { class: "step-row-head" },
      el("span", { class: "step-num seg-c" + (i % 8), text: String(i + 1) }),
      name,
      el("div", { class: "step-row-tools" },
        button("go", "\u25B6", t("wc_go_to_step", "Go to the start of step {n}", { n: i + 1 }), () => player && player.seek(step.start_s)),
        button("up", "\u2191", t("wc_move_up", "Move step {n} up", { n: i + 1 }), move(-1), i === 0),
        button("down", "\u2193", t("wc_move_down", "Move step {n} down", { n: i + 1 }), move(1), i === editSteps.length - 1),
        button("remove", "\u2715", t("wc_remove_step", "Remove step {n}", { n: i + 1 }), () => { editSteps.splice(i, 1); changed(true); }))),
    el("div", { class: "step-row-times" },
      timeField(step, i, "start_s"),
      timeField(step, i, "end_s"),
      el("span", { class: "muted small step-length", text: t("wc_step_length", "length {d} s", { d: number(Math.max(0, step.end_s - step.start_s), 2) }) })),
    instructions);
}

function renderEditor() {
  if (!editList) return;
  editList.replaceChildren(...editSteps.map(editorRow));
  $("steps-edit-empty").hidden = editSteps.length > 0;
  $("step-add").disabled = editSteps.length >= MAX_STEPS;
  checkSteps(false);
}

function onEditorTime(now) {
  if (!editList) return;
  // Highlight the steps that contain the player's time (the one being cut).
  editList.querySelectorAll("li.step-row").forEach((li) => {
    const s = editSteps[Number(li.dataset.index)];
    // A step's end is the next one's start: [start, end), closed at the end of the take.
    const atEnd = !!player && now >= player.duration() - 1e-6;
    li.classList.toggle("current", !!s && now >= s.start_s - 1e-6 && (now < s.end_s - 1e-6 || (atEnd && now <= s.end_s + 1e-6)));
  });
}

if (editList) {
  $("step-add").addEventListener("click", () => {
    if (editSteps.length >= MAX_STEPS) return;
    const now = frameTime(player ? player.time() : 0), maxT = player ? player.duration() : now + 2;
    const next = editSteps.map((s) => s.start_s).filter((s) => s > now + 1e-6).sort((a, b) => a - b)[0];
    const end = Math.min(maxT, next !== undefined ? next : now + 2);
    editSteps.push({ name: t("wc_step_n", "Step {n}", { n: editSteps.length + 1 }), instructions: "", start_s: now,
      end_s: end > now ? frameTime(end) : frameTime(Math.min(maxT, now + 1)) });
    changed(true);
    const input = editList.querySelector(`li[data-index="${editSteps.length - 1}"] [data-role="name"]`);
    if (input) { input.focus(); input.select(); }
  });
  $("steps-save").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    if (!checkSteps(true)) return;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    const steps = editSteps.map((s) => ({ name: s.name.trim(), instructions: s.instructions.trim(), start_s: s.start_s, end_s: s.end_s }));
    const res = await api("PUT", cardUrl + "/steps", { steps });
    button.disabled = false;
    button.removeAttribute("aria-busy");
    if (!res.ok) { say($("steps-error"), t("wc_steps_save_failed", "Steps not saved: {message}", { message: res.message })); return; }
    say($("steps-error"), "");
    card = res.data;
    setEditSteps(card.steps);
    renderCard();
    notice(t("wc_steps_saved", "Steps saved."));
  });
  window.addEventListener("beforeunload", (event) => {
    if (stepsDirty) { event.preventDefault(); event.returnValue = ""; }
  });
}

// ================================================================== takes: lists and processing
let reloadTimer = 0, pollTimer = 0;

async function loadTakes() {
  const res = await api("GET", cardUrl + "/takes");
  if (!res.ok) {
    say(cardError, t("wc_takes_load_failed", "The takes could not be loaded ({message}): reload the page.", { message: res.message }));
    return;
  }
  takes = (res.data && res.data.takes) || [];
  renderTakes();
  if (card) $("attempts-panel").hidden = !(hasPublished() || takes.some((tk) => tk.kind === "attempt"));
  clearTimeout(pollTimer);
  // Processing is reported by `job status` events; the poll covers a lost link or another worker.
  if (takes.some((tk) => tk.processing === "queued" || tk.processing === "running")) pollTimer = setTimeout(loadTakes, 10000);
}

function reloadTakesSoon() {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(loadTakes, 400);
}

/** The processing state of a take: the take's own, refined by a live job. */
function processingOf(take) {
  const job = jobs.get(take.id);
  let state = take.processing || "none";
  if (job && state !== "done" && state !== "failed" && ["queued", "running", "failed"].includes(job.status)) state = job.status;
  return { state, job };
}

function processingCell(take) {
  const { state, job } = processingOf(take);
  const cell = el("div", { class: "processing" },
    el("span", { class: "badge job-" + state, dataset: { role: "processing" },
      text: jobStatus(state) }));
  if ((state === "running" || state === "queued") && job) {
    const bar = el("progress", { max: "1" });
    const total = Number(job.total) > 0 ? Number(job.total) : 0;
    if (total) { bar.max = total; bar.value = Math.min(total, Number(job.done) || 0); } else if (state === "queued") bar.value = 0;
    cell.append(el("span", { class: "muted small", text: stageLabel(job.stage) + (total ? " · " + (Number(job.done) || 0) + " / " + total : "") }), bar);
  } else if (state === "running" || state === "queued") {
    cell.append(el("progress", {}));
  } else if (state === "failed") {
    const why = take.processing_message || (job && job.message);
    cell.append(el("span", { class: "error small", text: failure(why) }));
  }
  return cell;
}

const takeLink = (take, text) => el("a", { href: "/takes/" + encodeURIComponent(take.id), text });

function referenceRow(take) {
  const current = card && card.reference_take_id === take.id;
  const actions = el("div", { class: "row-actions" }, takeLink(take, t("wc_view", "View")));
  if (current) {
    actions.append(el("span", { class: "badge wc-status-published", text: t("wc_current_reference", "Current reference") }));
  } else if (canEdit && isDraft()) {
    const { state } = processingOf(take);
    const choose = el("button", { type: "button", class: "outline small", dataset: { role: "choose", take: take.id },
      text: t("wc_choose_reference", "Use as reference"), disabled: state !== "done",
      title: state !== "done" ? t("wc_choose_wait", "Wait until this take is processed.") : t("wc_choose_reference", "Use as reference") });
    choose.addEventListener("click", () => chooseReference(take.id, choose));
    actions.append(choose);
  }
  return el("tr", { id: "take-" + take.id, class: current ? "current" : "", dataset: { take: take.id } },
    el("td", { text: when(take.created_at) }), el("td", { text: take.user || "" }),
    el("td", { text: duration(take.duration_s) }), el("td", {}, processingCell(take)), el("td", {}, actions));
}

async function chooseReference(takeId, button) {
  if (stepsDirty) { say(cardError, t("wc_save_steps_first", "Save the steps first (“Save the steps” button).")); return; }
  button.disabled = true;
  const res = await api("POST", cardUrl + "/reference", { take_id: takeId });
  button.disabled = false;
  if (!res.ok) { say(cardError, t("wc_choose_failed", "Reference not changed: {message}", { message: res.message })); return; }
  say(cardError, "");
  card = res.data;
  renderCard();
  renderTakes();
  notice(t("wc_reference_chosen", "Reference chosen: now cut the steps under the player."));
  $("replay-panel").scrollIntoView({ behavior: "smooth", block: "start" });
}

function attemptRow(take) {
  const { state } = processingOf(take);
  const result = Number.isFinite(take.score)
    ? el("span", { class: "score-badge " + scoreClass(take.score), dataset: { role: "score" }, text: scoreText(take.score) + " / 100" })
    : state === "done" ? el("span", { class: "muted small", text: t("wc_no_score", "no score") }) : processingCell(take);
  const cells = [el("td", {}, takeLink(take, when(take.created_at) || take.id))];
  if (isStaff) cells.push(el("td", { text: take.user || "" }));
  cells.push(el("td", { text: duration(take.duration_s) }), el("td", {}, result),
    el("td", {}, takeLink(take, Number.isFinite(take.score) ? t("wc_view_result", "See the details") : t("wc_view", "View"))));
  return el("tr", { id: "take-" + take.id, dataset: { take: take.id } }, ...cells);
}

function renderTakes() {
  const refs = takes.filter((tk) => tk.kind === "reference"), attempts = takes.filter((tk) => tk.kind === "attempt");
  const refTable = $("reference-takes");
  if (refTable) {
    refTable.tBodies[0].replaceChildren(...refs.map(referenceRow));
    refTable.hidden = refs.length === 0;
    $("reference-takes-empty").hidden = refs.length > 0;
  }
  const attTable = $("attempts");
  attTable.tBodies[0].replaceChildren(...attempts.map(attemptRow));
  attTable.hidden = attempts.length === 0;
  $("attempts-empty").hidden = attempts.length > 0;
  updateProgressUsers(attempts);
}

// ================================================================== progress chart
let progressUser = null, progressSeq = 0, progressSignature = null;

function updateProgressUsers(attempts) {
  // The chart is fetched again when an attempt comes, goes or gets its score.
  const signature = attempts.map((tk) => tk.id + ":" + tk.user + ":" + tk.score).join(",");
  const select = $("progress-user");
  if (!select) {  // a trainee: their own progress
    if (progressUser === null) progressUser = "";
    if (signature !== progressSignature) loadProgress();
    progressSignature = signature;
    return;
  }
  const users = [...new Set(attempts.map((tk) => tk.user).filter(Boolean))];
  const keep = users.includes(progressUser) ? progressUser : users[0] || "";
  select.replaceChildren(...users.map((u) => el("option", { value: u, text: u })));
  select.disabled = users.length === 0;
  select.closest("label").hidden = users.length === 0;
  select.value = keep;
  const changedUser = keep !== progressUser;
  progressUser = keep;
  if (changedUser || signature !== progressSignature) loadProgress();
  progressSignature = signature;
}

if ($("progress-user")) $("progress-user").addEventListener("change", (e) => { progressUser = e.target.value; loadProgress(); });

function setSummaryLink() {
  const link = $("summary-link");
  link.href = "/workcards/" + encodeURIComponent(cardId) + "/summary" + (isStaff && progressUser ? "?user=" + encodeURIComponent(progressUser) : "");
}

async function loadProgress() {
  setSummaryLink();
  const box = $("progress-chart"), msg = $("progress-message");
  if (isStaff && !progressUser) {
    box.replaceChildren();
    say(msg, t("wc_progress_none", "No scored attempt yet."), "info");
    return;
  }
  const seq = ++progressSeq;
  const res = await api("GET", cardUrl + "/progress" + (progressUser ? "?user=" + encodeURIComponent(progressUser) : ""));
  if (seq !== progressSeq) return;
  if (!res.ok) {
    box.replaceChildren();
    say(msg, t("wc_progress_failed", "Progress unavailable ({message}): reload the page.", { message: res.message }));
    return;
  }
  const attempts = (res.data && res.data.attempts) || [];
  drawProgress(box, attempts);
  const scores = attempts.map((a) => a.score).filter(Number.isFinite);
  if (!scores.length) {
    say(msg, t("wc_progress_none", "No scored attempt yet."), "info");
  } else {
    const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
    say(msg, t("wc_progress_stats", "Last score {last} · best {best} · mean {mean} ({n} scored attempt(s))", { last: scoreText(scores[scores.length - 1]), best: scoreText(Math.max(...scores)),
      mean: scoreText(mean), n: scores.length }), "info");
  }
}

/** An SVG line chart of the scores (0-100) across attempts, oldest first; each point links to its attempt. */
function drawProgress(box, attempts) {
  const W = 560, H = 210, left = 34, right = 12, top = 10, bottom = 24;
  const pw = W - left - right, ph = H - top - bottom, n = attempts.length;
  const x = (i) => left + (n <= 1 ? pw / 2 : (i * pw) / (n - 1));
  const y = (s) => top + (1 - Math.max(0, Math.min(100, s)) / 100) * ph;
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "presentation", "data-points": String(n) });
  [0, 25, 50, 75, 100].forEach((s) => {
    chart.append(svg("line", { x1: left, x2: W - right, y1: y(s), y2: y(s), class: "grid" + (s === 0 ? " axis" : "") }),
      svg("text", { x: left - 6, y: y(s) + 4, class: "tick", "text-anchor": "end" }, String(s)));
  });
  if (!n) {
    box.replaceChildren(chart);
    return;
  }
  const every = Math.max(1, Math.ceil(n / 12));
  attempts.forEach((a, i) => {
    if (i % every === 0 || i === n - 1) chart.append(svg("text", { x: x(i), y: H - 6, class: "tick", "text-anchor": "middle" }, String(i + 1)));
  });
  // The line, broken where an attempt has no score.
  let run = [];
  const flush = () => {
    if (run.length > 1) chart.append(svg("polyline", { points: run.join(" "), class: "line" }));
    run = [];
  };
  attempts.forEach((a, i) => (Number.isFinite(a.score) ? run.push(`${x(i).toFixed(1)},${y(a.score).toFixed(1)}`) : flush()));
  flush();
  attempts.forEach((a, i) => {
    if (!Number.isFinite(a.score)) return;
    const title = t("wc_progress_point", "Attempt {n} · {date} · {score} / 100", { n: i + 1, date: when(a.created_at), score: scoreText(a.score) });
    const link = svg("a", { href: "/takes/" + encodeURIComponent(a.take_id), "aria-label": title },
      svg("circle", { cx: x(i), cy: y(a.score), r: 5, class: "point " + scoreClass(a.score) }, svg("title", {}, title)));
    chart.append(link);
  });
  box.replaceChildren(chart);
}

// ================================================================== recording over Socket.IO
const socket = typeof io === "function" ? io({ transports: ["websocket", "polling"] }) : null;
let recState = readData("recording", {});
let lastTakeOfMine = null;
const recorders = [];

function makeRecorder(prefix, kind) {
  const root = $(prefix + "-recorder");
  if (!root) return;
  const r = {
    kind, root, busy: false, startedAt: null, userOpened: false,
    record: $(prefix + "-record"), stop: $(prefix + "-stop"), toggle: $(prefix + "-cameras-toggle"),
    label: $(prefix + "-rec-label"), elapsed: $(prefix + "-rec-elapsed"), take: $(prefix + "-rec-take"),
    error: $(prefix + "-rec-error"), cameras: $(prefix + "-cameras"),
    // Live pose: the 2D overlays (camera index -> overlay), the 3D view (made when first shown).
    overlays: new Map(), skeleton: $(prefix + "-skeleton"), poseRate: $(prefix + "-pose-rate"),
    poseMessage: $(prefix + "-skeleton-message"), view: null, viewFailed: false, poseFrames: 0,
  };
  r.cameras.querySelectorAll(".camera").forEach((cameraCard) => {
    const frame = cameraCard.querySelector(".frame"), canvas = frame && frame.querySelector("canvas.pose-overlay");
    if (!canvas) return;
    const overlay = { frame, img: frame.querySelector("img"), canvas, points: null, drawn: false, aspect: "" };
    r.overlays.set(Number(cameraCard.dataset.index), overlay);
    overlay.img.addEventListener("load", () => fitFrames(r));
    new ResizeObserver(() => drawOverlay(overlay)).observe(frame);
  });
  r.showCameras = (on) => {
    r.cameras.hidden = !on;
    r.toggle.setAttribute("aria-expanded", String(on));
    r.toggle.textContent = on ? r.toggle.dataset.hide : r.toggle.dataset.show;
    // The MJPEG previews run only while shown: the server stops encoding when nobody watches.
    r.cameras.querySelectorAll("img[data-src]").forEach((img) => {
      if (on && img.getAttribute("src") !== img.dataset.src) img.src = img.dataset.src;
      else if (!on) img.removeAttribute("src");
    });
    // So does live pose: asked for while some recorder shows its cameras.
    if (on) ensureSkeletonView(r); else clearPose(r);
    syncLivePose(false);
    showPoseState(r);
  };
  const reset = $(prefix + "-skeleton-reset");
  if (reset) reset.addEventListener("click", () => { if (r.view) r.view.frame(); });
  r.toggle.addEventListener("click", () => { r.userOpened = r.cameras.hidden; r.showCameras(r.cameras.hidden); });
  r.record.addEventListener("click", () => startRecording(r));
  r.stop.addEventListener("click", () => stopRecording(r));
  recorders.push(r);
}

const isMine = (state, kind) => !!state && !!state.recording && Number(state.work_card_id) === cardId && state.kind === kind;

function applyRecording(state) {
  recState = state || { recording: false };
  const on = !!recState.recording;
  body.classList.toggle("is-recording", recorders.some((r) => isMine(recState, r.kind)));
  recorders.forEach((r) => {
    const mine = isMine(recState, r.kind);
    r.record.disabled = on || r.busy || !socket;
    r.stop.disabled = !mine || r.busy;
    r.label.textContent = mine ? t("recording", "Recording") : on ? t("wc_busy_other", "Another take is being recorded: wait until it is stopped.") : t("idle", "Ready");
    r.label.classList.toggle("on", mine);
    r.root.classList.toggle("is-recording", mine);
    if (mine) {
      if (typeof recState.elapsed_s === "number") r.startedAt = Date.now() / 1000 - recState.elapsed_s;
      else if (!r.startedAt) r.startedAt = Date.now() / 1000;
      if (r.cameras.hidden) r.showCameras(true);
    } else {
      r.startedAt = null;
    }
    r.elapsed.hidden = !mine;
  });
}

function startRecording(r) {
  if (!socket) return;
  r.busy = true;
  applyRecording(recState);
  say(r.error, "");
  r.take.textContent = "";
  socket.timeout(30000).emit("start recording", { work_card_id: cardId, kind: r.kind }, (err, ack) => {
    r.busy = false;
    if (err) say(r.error, t("wc_no_answer", "The server does not answer: check the connection and try again."));
    else if (!ack || !ack.ok) say(r.error, t("wc_record_failed", "Recording failed: {message}", { message: (ack && ack.message) || t("wc_bad_answer", "unexpected answer from the server") }));
    if (!err && ack && ack.ok) {
      lastTakeOfMine = ack.take_id || null;
      applyRecording({ work_card_id: cardId, kind: r.kind, ...ack });
    } else {
      applyRecording(recState);
    }
  });
}

function stopRecording(r) {
  if (!socket) return;
  r.busy = true;
  applyRecording(recState);
  say(r.error, "");
  const payload = recState.take_id ? { take_id: recState.take_id } : {};
  socket.timeout(30000).emit("stop recording", payload, (err, ack) => {
    r.busy = false;
    if (err) {
      say(r.error, t("wc_no_answer", "The server does not answer: check the connection and try again."));
      applyRecording(recState);
      return;
    }
    if (!ack || !ack.ok) {
      say(r.error, t("wc_stop_failed", "Stopping failed: {message}", { message: (ack && ack.message) || t("wc_bad_answer", "unexpected answer from the server") }));
      applyRecording(recState);
      return;
    }
    lastTakeOfMine = ack.take_id || lastTakeOfMine;
    applyRecording(ack);
    r.take.textContent = t("wc_take_saved_processing", "Take {take} saved: processing (see the list).", { take: ack.take_id || "" });
    if (!r.userOpened) r.showCameras(false);
    loadTakes();
    setTimeout(loadTakes, 2000);  // the take is registered as it stops; its job may be announced a moment later
  });
}

setInterval(() => {
  recorders.forEach((r) => {
    if (!r.startedAt) return;
    const s = Math.max(0, Date.now() / 1000 - r.startedAt);
    r.elapsed.textContent = t("elapsed", "Elapsed") + " " + String(Math.floor(s / 60)).padStart(2, "0") + ":" + String(Math.floor(s % 60)).padStart(2, "0");
  });
}, 250);

function updateCameraBadges(cameras) {
  (cameras || []).forEach((cam) => {
    document.querySelectorAll(`.recorder-cameras .camera[data-index="${cam.index}"] [data-role=status]`).forEach((badge) => {
      badge.className = "badge status-" + cam.status;
      badge.textContent = cameraStatus(cam.status);
    });
  });
}

function onJob(job) {
  if (!job || typeof job.take_id !== "string") return;
  const known = takes.some((tk) => tk.id === job.take_id);
  if (!known && !(job.work_card_id !== undefined && Number(job.work_card_id) === cardId)) return;
  jobs.set(job.take_id, job);
  const finished = job.status === "done" || job.status === "failed";
  if (!known || finished) reloadTakesSoon(); else renderTakes();
  const score = Number.isFinite(job.score) ? job.score : job.report && job.report.score;
  if (job.status === "done" && Number.isFinite(score) && job.take_id === lastTakeOfMine) {
    notice(t("wc_attempt_scored", "Attempt scored: {score} / 100.", { score: scoreText(score) }));
  }
}

async function loadJobs() {
  const res = await api("GET", "/api/jobs");
  if (!res.ok || !res.data || !Array.isArray(res.data.jobs)) return;
  res.data.jobs.slice().reverse().forEach((job) => { if (job && job.take_id) jobs.set(job.take_id, job); });
  renderTakes();
}

if (socket) {
  const lost = $("link-lost");
  socket.on("connect", () => {
    if (lost) lost.hidden = true;
    syncLivePose(true);  // again on every reconnect: the server forgets a client that went away
    loadJobs();
  });
  socket.on("disconnect", () => { if (lost) lost.hidden = false; });
  socket.on("connect_error", () => { if (lost) lost.hidden = false; });
  socket.on("recording status", (state) => {
    if (recorders.some((r) => r.busy)) return;  // the ack of our own request decides
    applyRecording(state);
    if (state && !state.recording && state.take_id && (Number(state.work_card_id) === cardId || takes.some((tk) => tk.id === state.take_id))) reloadTakesSoon();
  });
  socket.on("recording error", (error) => {
    const r = recorders.find((x) => x.busy) || recorders.find((x) => isMine(recState, x.kind));
    if (r && error && error.message) say(r.error, t("wc_record_failed", "Recording failed: {message}", { message: error.message }));
  });
  socket.on("camera status", (data) => updateCameraBadges(data && data.cameras));
  socket.on("job status", onJob);
  socket.on("pose3d", onPose);
}

// ================================================================== live pose while the cameras are shown
// As on the live page (static/js/live.js): `live pose` {enabled} with its ack, then `pose3d` events
// {rate, calibrated, cameras: [{index, points: 33 x [x, y, score] normalized | null}], points3d}.
let poseEnabled = false;   // what the server was last asked (or will be, once connected)
let poseAck = null;        // the last `live pose` answer, or {ok: false, message} when none came
const feed = new PoseFeed(drawLatest);

const shownRecorders = () => recorders.filter((r) => !r.cameras.hidden);

/** Ask for live pose while some recorder shows its cameras, and no longer once none does. */
function syncLivePose(force) {
  const want = shownRecorders().length > 0;
  if (!socket || (!force && want === poseEnabled)) return;
  if (want !== poseEnabled) poseAck = null;
  poseEnabled = want;
  if (!socket.connected) return;  // sent on connect
  if (!want && force) return;     // a new connection: the server has nothing to forget
  socket.timeout(10000).emit("live pose", { enabled: want }, (err, ack) => {
    if (want !== poseEnabled) return;  // asked again meanwhile: that newer request answers
    poseAck = err ? { ok: false, message: poseUnavailable() } : (ack || { ok: false });
    recorders.forEach(showPoseState);
  });
}

/** The 3D view of recorder `r`, made the first time its cameras are shown (WebGL may be missing). */
function ensureSkeletonView(r) {
  if (r.view || r.viewFailed || !r.skeleton) return;
  try {
    r.view = createSkeletonView(r.skeleton);
  } catch (e) {
    r.viewFailed = true;
    showUnavailable(r.skeleton, "skeleton-unavailable");
  }
}

/** Give each preview its camera's shape (portrait cameras get tall previews, not letterboxed ones). */
function fitFrames(r) {
  let portrait = 0, known = 0;
  r.overlays.forEach((overlay) => {
    const w = overlay.img.naturalWidth, h = overlay.img.naturalHeight;
    if (!w || !h) return;
    known++;
    if (h > w) portrait++;
    const aspect = w + " / " + h;
    if (overlay.aspect !== aspect) {
      overlay.aspect = aspect;
      overlay.frame.style.aspectRatio = aspect;
    }
  });
  if (!known) return;
  const isPortrait = portrait * 2 > known, n = r.overlays.size;
  r.cameras.classList.toggle("portrait", isPortrait);
  const grid = r.cameras.querySelector(".recorder-cameras");
  if (grid) grid.style.setProperty("--cols", String(n <= 4 ? n : Math.ceil(n / 2)));
}

/** Draw a pose3d payload over the shown recorders' cameras and in their 3D views. */
function drawLatest(latest) {
  if (!poseEnabled) return;
  const byIndex = new Map((latest.cameras || []).map((c) => [c.index, c.points]));
  shownRecorders().forEach((r) => {
    r.overlays.forEach((overlay, index) => {
      overlay.points = Array.isArray(byIndex.get(index)) ? byIndex.get(index) : null;
      drawOverlay(overlay);
    });
    if (r.view) {
      const n = r.view.update(latest.points3d || null);
      r.poseFrames++;
      r.skeleton.dataset.points = String(n);
      r.skeleton.dataset.frames = String(r.poseFrames);
    }
    showPoseState(r);
  });
}

function onPose(data) {
  if (poseEnabled && data) feed.push(data);
}

/** Wipe recorder `r`'s overlays and 3D skeleton (data stale, cameras hidden). */
function clearPose(r) {
  r.overlays.forEach((overlay) => {
    overlay.points = null;
    if (overlay.drawn) drawOverlay(overlay);
  });
  if (r.view) r.view.clear();
  if (r.skeleton) r.skeleton.dataset.points = "0";
}

/** The rate and the message over recorder `r`'s 3D view, from the last answer and the freshest data. */
function showPoseState(r) {
  if (!r.poseRate || !r.poseMessage) return;
  r.poseRate.textContent = poseRate(feed);
  const text = socket ? poseMessage(feed, poseAck) : poseUnavailable();
  r.poseMessage.textContent = text;
  r.poseMessage.hidden = !text;
}

setInterval(() => {
  if (feed.expired()) {
    recorders.forEach((r) => { clearPose(r); showPoseState(r); });
  }
  shownRecorders().forEach(fitFrames);  // an MJPEG <img> may not fire `load` for its first picture
}, 250);

// ================================================================== start
makeRecorder("ref", "reference");
makeRecorder("att", "attempt");
applyRecording(recState);
loadCard().then((ok) => { if (ok) loadTakes(); });
