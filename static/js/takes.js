// VSION takes library (templates/takes.html): GET /api/takes (filters, sort, one page at a time)
// drawn as a table, with label and notes (PATCH /api/takes/<id>), "process again"
// (POST /api/takes/<id>/process), "make it a reference" (POST /api/takes/<id>/promote) and delete
// (DELETE /api/takes/<id>) where the server says the user may; below, the job history
// (GET /api/jobs), kept up to date by `job status` events. An ES module; no inline script (CSP).
import { $, api, duration, el, say, t, when } from "./common.js";

const KINDS = { free: t("tl_kind_free", "Free take"), reference: t("tl_kind_reference", "Reference"),
  attempt: t("tl_kind_attempt", "Attempt") };
const STATUSES = { recording: t("tl_status_recording", "recording"), complete: t("tl_status_complete", "complete"),
  incomplete: t("tl_status_incomplete", "incomplete"), interrupted: t("tl_status_interrupted", "interrupted") };
const PROCESSING = { none: t("tl_processing_none", "not processed"), queued: t("tl_processing_queued", "queued"),
  running: t("tl_processing_running", "running"), done: t("tl_processing_done", "processed"),
  failed: t("tl_processing_failed", "failed"), cancelled: t("tl_processing_cancelled", "cancelled") };
const JOB_STATUSES = { queued: t("jh_status_queued", "queued"), running: t("jh_status_running", "running"),
  done: t("jh_status_done", "done"), failed: t("jh_status_failed", "failed"), cancelled: t("jh_status_cancelled", "cancelled") };
const JOB_KINDS = { process: t("jh_kind_process", "processing") };
const STAGES = { "2d pose": t("jh_stage_2d_pose", "2D pose"), sync: t("jh_stage_sync", "sync"),
  triangulation: t("jh_stage_triangulation", "triangulation"), filtering: t("jh_stage_filtering", "filtering"),
  exports: t("jh_stage_exports", "exports"), comparison: t("jh_stage_comparison", "comparison") };
const FAILURES = { input: t("jh_failure_input", "input to fix"), crash: t("jh_failure_crash", "server error"),
  cancelled: t("jh_failure_cancelled", "cancelled") };

const takesForm = $("tl-filters"), jobsForm = $("jh-filters");
const notice = $("tl-notice"), takesError = $("tl-error"), jobsError = $("jh-error");
const shown = { takes: new Map(), jobs: new Map() };  // id -> the object of the row shown
const pages = { takes: { page: 1, pages: 1 }, jobs: { page: 1, pages: 1 } };
let takesRequest = 0, jobsRequest = 0;

/** The query string of a filter form (empty fields left out) for `page`. */
function query(form, page) {
  const params = new URLSearchParams();
  for (const [key, value] of new FormData(form)) if (String(value).trim()) params.set(key, String(value).trim());
  params.set("page", String(page));
  return params.toString();
}

function badge(text, cls) {
  return el("span", { class: "badge " + cls, text });
}

function info(message) {
  say(notice, message, "ok");
}

// ------------------------------------------------------------------ takes
function labelCell(take) {
  const label = take.label ? el("span", { class: "tl-label", text: take.label })
    : el("span", { class: "muted tl-label", text: t("tl_no_label", "no label") });
  const notes = take.notes ? el("small", { class: "tl-notes", text: take.notes }) : null;
  return el("td", {}, el("a", { href: "/takes/" + encodeURIComponent(take.id), class: "tl-open" }, label),
    el("div", { class: "muted small tl-id", text: take.id }), notes);
}

function processingCell(take) {
  const state = take.processing || "none";
  const cell = el("td", {}, badge(PROCESSING[state] || state, "job-" + state));
  if (take.processing_message && state !== "done") cell.append(el("div", { class: "small tl-message", text: take.processing_message }));
  return cell;
}

function button(text, cls, onClick) {
  const node = el("button", { type: "button", class: "outline small " + cls, text });
  node.addEventListener("click", () => onClick(node));
  return node;
}

function actionsCell(take) {
  const buttons = [];
  if (take.can_edit) buttons.push(button(t("tl_edit", "Label and notes"), "tl-edit", () => openEdit(take)));
  if (take.can_process) buttons.push(button(t("tl_process", "Process again"), "tl-process", (b) => reprocess(take, b)));
  if (take.can_promote && $("tl-promote")) buttons.push(button(t("tl_promote", "Make it a reference"), "tl-promote", () => openPromote(take)));
  buttons.push(button(t("tl_jobs_of_take", "Jobs"), "secondary tl-jobs", () => showJobsOf(take.id)));
  if (take.can_delete) buttons.push(button(t("tl_delete", "Delete"), "secondary tl-delete", (b) => remove(take, b)));
  return el("td", {}, el("div", { class: "tl-actions" }, buttons));
}

function takeRow(take) {
  const card = take.work_card_id ? el("a", { href: "/workcards/" + encodeURIComponent(take.work_card_id),
    text: take.work_card_title || "#" + take.work_card_id }) : "–";
  return el("tr", { id: "take-" + take.id, dataset: { id: take.id, kind: take.kind, processing: take.processing || "none" } },
    el("td", { class: "tl-when", text: when(take.created_at) }), labelCell(take),
    el("td", { class: "tl-kind", text: KINDS[take.kind] || take.kind }), el("td", {}, card),
    el("td", { class: "tl-owner", text: take.user }), el("td", { text: duration(take.duration_s) }),
    el("td", { class: "tl-status", text: STATUSES[take.status] || take.status }), processingCell(take), actionsCell(take));
}

function fillSelect(select, options) {
  const current = select.value;
  select.replaceChildren(select.options[0], ...options.map(([value, text]) => el("option", { value: String(value), text })));
  select.value = options.some(([value]) => String(value) === current) ? current : "";
}

function renderTakes(data) {
  shown.takes = new Map(data.takes.map((take) => [take.id, take]));
  $("tl-body").replaceChildren(...data.takes.map(takeRow));
  $("tl-empty").hidden = data.takes.length > 0;
  pages.takes = { page: data.page, pages: Math.max(1, data.pages) };
  $("tl-count").textContent = t("tl_count", "{total} takes · page {page} of {pages}",
    { total: data.total, page: data.page, pages: Math.max(1, data.pages) });
  $("tl-prev").disabled = data.page <= 1;
  $("tl-next").disabled = data.page >= data.pages;
  fillSelect($("tl-owner"), (data.filters.owners || []).map((name) => [name, name]));
  fillSelect($("tl-card"), (data.filters.work_cards || []).map((card) => [card.id, card.title]));
}

async function loadTakes(page) {
  const mine = ++takesRequest;
  const res = await api("GET", "/api/takes?" + query(takesForm, page || pages.takes.page));
  if (mine !== takesRequest) return;  // a newer request was sent meanwhile
  $("tl-loading").hidden = true;
  $("tl-loading").removeAttribute("aria-busy");
  if (!res.ok || !res.data || !Array.isArray(res.data.takes)) {
    say(takesError, t("tl_load_failed", "Cannot load the takes: {message}", { message: res.message }));
    return;
  }
  say(takesError, "");
  renderTakes(res.data);
}

// ------------------------------------------------------------------ actions on a take
async function reprocess(take, node) {
  node.disabled = true;
  const res = await api("POST", "/api/takes/" + encodeURIComponent(take.id) + "/process", {});
  if (!res.ok) {
    node.disabled = false;
    say(takesError, t("tl_process_failed", "Not processed again: {message}", { message: res.message }));
    return;
  }
  say(takesError, "");
  info(t("tl_process_queued", "Take {take}: processing queued again (see the job history).", { take: take.label || take.id }));
  loadTakes();
  loadJobs(1);
}

async function remove(take, node) {
  if (!window.confirm(t("tl_delete_confirm", "Delete take {take} for good (videos, 3D skeleton, results)?", { take: take.label || take.id }))) return;
  node.disabled = true;
  const res = await api("DELETE", "/api/takes/" + encodeURIComponent(take.id));
  if (!res.ok) {
    node.disabled = false;
    say(takesError, t("tl_delete_failed", "Cannot delete: {message}", { message: res.message }));
    return;
  }
  say(takesError, "");
  info(t("tl_deleted", "Take {take} deleted.", { take: take.label || take.id }));
  loadTakes();
  loadJobs();
}

let editing = null;

function openEdit(take) {
  editing = take;
  $("tl-edit-title").textContent = t("tl_edit_title", "Label and notes of take {take}", { take: take.id });
  $("tl-edit-label").value = take.label || "";
  $("tl-edit-notes").value = take.notes || "";
  say($("tl-edit-error"), "");
  $("tl-edit").showModal();
  $("tl-edit-label").focus();
}

async function saveEdit(event) {
  event.preventDefault();
  const body = { label: $("tl-edit-label").value.trim(), notes: $("tl-edit-notes").value };
  $("tl-edit-save").disabled = true;
  const res = await api("PATCH", "/api/takes/" + encodeURIComponent(editing.id), body);
  $("tl-edit-save").disabled = false;
  if (!res.ok) {
    say($("tl-edit-error"), t("tl_save_failed", "Not saved: {message}", { message: res.message }));
    return;
  }
  $("tl-edit").close();
  info(t("tl_saved", "Take {take} updated.", { take: res.data.label || editing.id }));
  loadTakes();
}

let promoting = null;

async function openPromote(take) {
  promoting = take;
  $("tl-promote-title").textContent = t("tl_promote_title", "Make take {take} a reference take", { take: take.label || take.id });
  say($("tl-promote-error"), "");
  const res = await api("GET", "/api/workcards");
  const drafts = res.ok && res.data ? (res.data.cards || []).filter((card) => card.can_edit && card.status === "draft") : [];
  $("tl-promote-card").replaceChildren(...drafts.map((card) => el("option", { value: String(card.id), text: card.title })));
  $("tl-promote-card").disabled = drafts.length === 0;
  $("tl-promote-yes").disabled = drafts.length === 0;
  $("tl-promote-none").hidden = drafts.length > 0;
  $("tl-promote").showModal();
}

async function savePromote(event) {
  event.preventDefault();
  const select = $("tl-promote-card");
  const card = select.options[select.selectedIndex];
  if (!card) return;
  $("tl-promote-yes").disabled = true;
  const res = await api("POST", "/api/takes/" + encodeURIComponent(promoting.id) + "/promote", { work_card_id: Number(card.value) });
  $("tl-promote-yes").disabled = false;
  if (!res.ok) {
    say($("tl-promote-error"), t("tl_promote_failed", "Not done: {message}", { message: res.message }));
    return;
  }
  $("tl-promote").close();
  info(t("tl_promoted", "Take {take}: now a reference take of the card \"{card}\".", { take: promoting.label || promoting.id, card: card.textContent }));
  loadTakes();
}

// ------------------------------------------------------------------ job history
function progressText(job) {
  const stage = STAGES[job.stage] || job.stage || "";
  if (job.status !== "running") return job.status === "done" ? "100 %" : "";
  return job.total > 0 ? stage + " " + Math.round((100 * job.done) / job.total) + " %" : stage;
}

function jobRow(job) {
  const take = el("a", { href: "/takes/" + encodeURIComponent(job.take_id), text: job.take_label || job.take_id });
  const status = badge(JOB_STATUSES[job.status] || job.status, "job-" + job.status);
  const failure = job.failure && job.status === "failed" ? el("small", { class: "muted", text: " " + (FAILURES[job.failure] || job.failure) }) : null;
  return el("tr", { id: "job-" + job.id, dataset: { id: job.id, status: job.status, take: job.take_id } },
    el("td", { text: when(job.created_at) }), el("td", {}, take), el("td", { text: JOB_KINDS[job.kind] || job.kind }),
    el("td", { class: "jh-status" }, status, failure), el("td", { class: "jh-progress", text: progressText(job) }),
    el("td", { text: when(job.started_at) }), el("td", { text: when(job.finished_at) }),
    el("td", { text: job.queued_by || t("jh_by_vsion", "VSION") }), el("td", { class: "jh-message small", text: job.message || "" }));
}

function renderJobs(data) {
  shown.jobs = new Map(data.jobs.map((job) => [job.id, job]));
  $("jh-body").replaceChildren(...data.jobs.map(jobRow));
  $("jh-empty").hidden = data.jobs.length > 0;
  pages.jobs = { page: data.page, pages: Math.max(1, data.pages) };
  $("jh-count").textContent = t("jh_count", "{total} jobs · page {page} of {pages}",
    { total: data.total, page: data.page, pages: Math.max(1, data.pages) });
  $("jh-prev").disabled = data.page <= 1;
  $("jh-next").disabled = data.page >= data.pages;
}

async function loadJobs(page) {
  const mine = ++jobsRequest;
  const res = await api("GET", "/api/jobs?" + query(jobsForm, page || pages.jobs.page));
  if (mine !== jobsRequest) return;
  if (!res.ok || !res.data || !Array.isArray(res.data.jobs)) {
    say(jobsError, t("jh_load_failed", "Cannot load the job history: {message}", { message: res.message }));
    return;
  }
  say(jobsError, "");
  renderJobs(res.data);
}

function showJobsOf(takeId) {
  jobsForm.reset();
  $("jh-take").value = takeId;
  loadJobs(1);
  $("jh-title").scrollIntoView({ behavior: "smooth" });
}

// A `job status` event: the row of a job shown is redrawn; a new job or a finished one reloads
// the lists (at most once a second).
const soon = { takes: null, jobs: null };
function reloadSoon(what, load) {
  if (soon[what]) return;
  soon[what] = setTimeout(() => { soon[what] = null; load(); }, 1000);
}

function onJob(event) {
  if (!event || typeof event.id !== "string") return;
  const known = shown.jobs.get(event.id);
  const finished = event.status === "done" || event.status === "failed";
  if (known && !finished) {
    const job = { ...known, status: event.status, stage: event.stage, done: event.done, total: event.total };
    shown.jobs.set(job.id, job);
    const row = $("job-" + job.id);
    if (row) row.replaceWith(jobRow(job));
  } else {
    reloadSoon("jobs", () => loadJobs());
  }
  if (finished || event.status === "queued") reloadSoon("takes", () => loadTakes());
}

// ------------------------------------------------------------------ wiring
function wire(form, load) {
  form.addEventListener("change", () => load(1));
  form.addEventListener("submit", (event) => { event.preventDefault(); load(1); });
  form.addEventListener("reset", () => setTimeout(() => load(1), 0));
  let typing = null;
  form.querySelectorAll("input[type=search]").forEach((input) => input.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => load(1), 300);
  }));
}

wire(takesForm, loadTakes);
wire(jobsForm, loadJobs);
$("tl-prev").addEventListener("click", () => loadTakes(pages.takes.page - 1));
$("tl-next").addEventListener("click", () => loadTakes(pages.takes.page + 1));
$("jh-prev").addEventListener("click", () => loadJobs(pages.jobs.page - 1));
$("jh-next").addEventListener("click", () => loadJobs(pages.jobs.page + 1));
$("tl-edit-form").addEventListener("submit", saveEdit);
$("tl-edit-cancel").addEventListener("click", () => $("tl-edit").close());
if ($("tl-promote")) {
  $("tl-promote-form").addEventListener("submit", savePromote);
  $("tl-promote-cancel").addEventListener("click", () => $("tl-promote").close());
}
if (typeof io === "function") io({ transports: ["websocket", "polling"] }).on("job status", onJob);  // eslint-disable-line no-undef

loadTakes(1);
loadJobs(1);
