// VSION work card list (templates/workcards.html): GET /api/workcards drawn as cards, filtered by
// text and tag; experts and admins create a card (POST /api/workcards) and land on it.
// The page's one module.
import { parseTags, statusOf } from "./cards.js";
import { $, api, el, say, t, when } from "./common.js";

const list = $("cards"), filter = $("card-filter"), tagFilter = $("tag-filter"), count = $("card-count");
const loading = $("cards-loading"), empty = $("cards-empty"), noneMatch = $("cards-none-match"), error = $("cards-error");
let cards = [];

const norm = (s) => String(s || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();

function cardItem(card) {
  const status = statusOf(card);
  const tags = (card.tags || []).map((tag) => el("button", { type: "button", class: "tag", dataset: { tag },
    title: t("wc_filter_by_tag", "Show the “{tag}” cards", { tag }), text: tag }));
  tags.forEach((b) => b.addEventListener("click", (event) => {
    event.preventDefault();
    tagFilter.value = b.dataset.tag;
    render();
  }));
  const nSteps = (card.steps || []).length;
  return el("li", { class: "wc-card status-" + status.key, id: "card-" + card.id, dataset: { id: String(card.id) } },
    el("a", { href: "/workcards/" + encodeURIComponent(card.id), class: "wc-card-link" },
      el("span", { class: "wc-card-title", text: card.title })),
    el("div", { class: "wc-card-meta" },
      el("span", { class: "badge wc-status wc-status-" + status.key, text: status.text }),
      el("span", { class: "muted", text: Number(card.version) > 0 ? t("wc_version_n", "version {n}", { n: card.version }) : t("wc_never_published", "never published") }),
      el("span", { class: "muted", text: t("wc_by", "by {author}", { author: card.author || "?" }) })),
    card.description ? el("p", { class: "wc-card-desc", text: card.description }) : null,
    el("div", { class: "wc-card-foot" },
      el("span", { class: "tags" }, tags),
      el("span", { class: "muted small", text: (nSteps === 1 ? t("wc_steps_one", "1 step") : t("wc_steps_n", "{n} steps", { n: nSteps })) +
        (card.updated_at ? " · " + when(card.updated_at) : "") })));
}

function render() {
  const words = norm(filter.value).split(/\s+/).filter(Boolean);
  const tag = tagFilter.value;
  const shown = cards.filter((card) => {
    if (tag && !(card.tags || []).includes(tag)) return false;
    const text = norm([card.title, card.description, card.author, ...(card.tags || [])].join(" "));
    return words.every((w) => text.includes(w));
  });
  list.replaceChildren(...shown.map(cardItem));
  empty.hidden = cards.length > 0;
  noneMatch.hidden = cards.length === 0 || shown.length > 0;
  count.textContent = cards.length ? t("wc_count", "{shown} card(s) of {total}", { shown: shown.length, total: cards.length }) : "";
}

function fillTags() {
  const current = tagFilter.value;
  const tags = [...new Set(cards.flatMap((c) => c.tags || []))].sort((a, b) => a.localeCompare(b));
  tagFilter.replaceChildren(el("option", { value: "", text: t("wc_all_tags", "All tags") }),
    ...tags.map((tag) => el("option", { value: tag, text: tag })));
  tagFilter.value = tags.includes(current) ? current : "";
}

async function load() {
  const res = await api("GET", "/api/workcards");
  loading.hidden = true;
  loading.removeAttribute("aria-busy");
  if (!res.ok) {
    say(error, t("wc_cards_load_failed", "The cards could not be loaded ({message}): reload the page.", { message: res.message }));
    return;
  }
  say(error, "");
  cards = (res.data && res.data.cards) || [];
  fillTags();
  render();
}

filter.addEventListener("input", render);
tagFilter.addEventListener("change", render);

// ------------------------------------------------------------------ new card (experts, admins)
const form = $("new-card-form");
if (form) {
  const panel = $("new-card"), open = $("new-card-open"), formError = $("new-card-error"), submit = $("new-card-submit");
  const show = (on) => {
    panel.hidden = !on;
    open.setAttribute("aria-expanded", String(on));
    if (on) $("new-title").focus();
  };
  open.addEventListener("click", () => show(panel.hidden));
  $("new-card-cancel").addEventListener("click", () => { show(false); say(formError, ""); });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const title = $("new-title").value.trim();
    const description = $("new-description").value.trim();
    const parsed = parseTags($("new-tags").value);
    if (!title) { say(formError, t("wc_title_required", "Give the card a title.")); $("new-title").focus(); return; }
    if (parsed.error) { say(formError, parsed.error); $("new-tags").focus(); return; }
    say(formError, "");
    submit.disabled = true;
    submit.setAttribute("aria-busy", "true");
    const res = await api("POST", "/api/workcards", { title, description, tags: parsed.tags });
    submit.disabled = false;
    submit.removeAttribute("aria-busy");
    if (!res.ok || !res.data || res.data.id === undefined) {
      say(formError, t("wc_create_failed", "The card was not created: {message}", { message: res.message || t("wc_bad_answer", "unexpected answer from the server") }));
      return;
    }
    window.location.assign("/workcards/" + encodeURIComponent(res.data.id));
  });
}

load();
