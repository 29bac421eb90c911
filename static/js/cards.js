// VSION work cards: what the work card list and the work card page share (a card's status, the
// tags typed in a form). An ES module.
import { t } from "./common.js";

/** The status shown on a card: published, draft, or a published card being revised. */
export function statusOf(card) {
  if (card.status === "published") return { key: "published", text: t("wc_status_published", "Published") };
  if (Number(card.version) > 0) return { key: "revising", text: t("wc_status_revising", "Being revised") };
  return { key: "draft", text: t("wc_status_draft", "Draft") };
}

/** Tags typed as "a, b; c": trimmed, de-duplicated, at most 20 of at most 40 characters. */
export function parseTags(text) {
  const tags = [];
  String(text || "").split(/[,;]/).map((s) => s.trim()).filter(Boolean).forEach((tag) => {
    if (!tags.includes(tag)) tags.push(tag);
  });
  if (tags.length > 20) return { error: t("wc_too_many_tags", "At most 20 tags: remove some.") };
  const long = tags.find((tag) => tag.length > 40);
  if (long) return { error: t("wc_tag_too_long", "The tag “{tag}” is longer than 40 characters: shorten it.", { tag: long }) };
  return { tags };
}
