// VSION user administration: list users, create one (administrators only). No inline script (CSP).
(function () {
  "use strict";
  const labels = JSON.parse(document.body.dataset.labels || "{}");
  const $ = (id) => document.getElementById(id);
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function show(el, text) { el.textContent = text || ""; el.hidden = !text; }

  async function refresh() {
    const reply = await fetch("/api/users", { credentials: "same-origin" });
    if (!reply.ok) return;
    const body = $("users-body");
    body.replaceChildren();
    for (const user of (await reply.json()).users) {
      const row = document.createElement("tr");
      row.id = "user-" + user.username;
      const name = document.createElement("td"), role = document.createElement("td");
      name.textContent = user.username;
      role.textContent = labels["role_" + user.role] || user.role;
      row.append(name, role);
      body.append(row);
    }
  }

  $("user-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    show($("user-error"), "");
    show($("user-done"), "");
    const payload = { username: $("user-name").value.trim(), role: $("user-role").value, password: $("user-password").value };
    let reply;
    try {
      reply = await fetch("/api/users", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() }, body: JSON.stringify(payload),
      });
    } catch (err) {
      show($("user-error"), labels.live_disconnected);
      return;
    }
    const data = await reply.json().catch(() => ({}));
    if (!reply.ok) { show($("user-error"), data.error || reply.statusText); return; }
    show($("user-done"), (labels.users_created || "") + " " + data.username);
    $("user-form").reset();
    refresh();
  });

  refresh();
})();
