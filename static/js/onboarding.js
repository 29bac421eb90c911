// VSION onboarding checklist (templates/_onboarding.html, in every page for administrators and
// technicians): GET /api/onboarding says each step's state and whether to show the panel;
// "Hide" dismisses it (POST /api/onboarding/dismiss), the menu's entry reopens it
// (POST /api/onboarding/reopen). An ES module; the texts come with the page.
import { api } from "./common.js";

const panel = document.getElementById("onboarding");

function fill(text, values) {
  return String(text || "").replace(/\{(\w+)\}/g, (m, name) => (values && values[name] != null ? String(values[name]) : m));
}

function drawStep(step) {
  const item = document.getElementById("onboarding-" + step.key);
  if (!item) return;
  item.classList.toggle("done", step.done);
  const state = item.querySelector(".onboarding-state");
  state.textContent = step.done ? item.dataset.doneText : item.dataset.todoText;
  state.classList.toggle("status-connected", step.done);
  const link = item.querySelector(".onboarding-link");
  if (step.url) link.setAttribute("href", step.url); else link.removeAttribute("href");
  item.querySelector(".onboarding-elsewhere").hidden = Boolean(step.url);
  const detail = step.detail && Object.keys(step.detail).length ? fill(item.dataset.detail, step.detail) : "";
  item.querySelector(".onboarding-detail").textContent = detail.includes("{") ? "" : detail;
}

function draw(state) {
  if (!panel || !state || !Array.isArray(state.steps)) return;
  state.steps.forEach(drawStep);
  const progress = document.getElementById("onboarding-progress");
  progress.textContent = fill(progress.dataset.text, { done: state.done, total: state.total });
  document.getElementById("onboarding-complete").hidden = !state.complete;
  panel.hidden = !state.show;
  panel.dataset.complete = String(Boolean(state.complete));
}

async function send(method, url, body) {
  const res = await api(method, url, body);
  if (res.ok) draw(res.data);
  return res;
}

if (panel) {
  document.getElementById("onboarding-dismiss").addEventListener("click", () => send("POST", "/api/onboarding/dismiss", {}));
  const reopen = document.getElementById("nav-onboarding");
  if (reopen) {
    reopen.addEventListener("click", async (event) => {
      event.preventDefault();
      await send("POST", "/api/onboarding/reopen", {});
      panel.scrollIntoView({ behavior: "smooth", block: "start" });
    });
  }
  send("GET", "/api/onboarding");
}
