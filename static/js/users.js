// VSION user administration (administrators only): list users, create one, change a role,
// enable or disable an account, reset a password, unlock an account locked by wrong passwords.
// No inline script or handler (CSP): everything is wired here.
(function () {
  "use strict";
  const labels = JSON.parse(document.body.dataset.labels || "{}");
  const me = Number(document.body.dataset.me);
  const lang = document.documentElement.lang || "fr";
  const $ = (id) => document.getElementById(id);
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const roles = Array.from($("user-role").options).map((o) => o.value);

  function show(el, text) { el.textContent = text || ""; el.hidden = !text; }
  function label(key, values) {
    return (labels[key] || key).replace(/\{(\w+)\}/g, (m, name) => (values && name in values ? values[name] : m));
  }
  function el(tag, props, children) {
    const node = Object.assign(document.createElement(tag), props || {});
    for (const child of children || []) node.append(child);
    return node;
  }
  function clock(iso) {
    return new Date(iso).toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });
  }
  function when(iso) {
    return new Date(iso).toLocaleString(lang, { dateStyle: "short", timeStyle: "short" });
  }

  // A reply's error, readable: the server's message, or why there is none.
  async function failure(reply) {
    if (reply.status === 401) return labels.wc_login_again;
    const data = await reply.json().catch(() => ({}));
    return data.error || label("wc_server_error", { status: reply.status });
  }

  async function send(method, url, payload) {
    let reply;
    try {
      reply = await fetch(url, {
        method, credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() }, body: JSON.stringify(payload),
      });
    } catch (err) {
      return { error: labels.wc_offline || labels.live_disconnected };
    }
    if (!reply.ok) return { error: await failure(reply) };
    return { data: await reply.json() };
  }

  function stateCell(user) {
    const cell = el("td", { className: "user-state" });
    if (user.locked && user.locked_until) {
      const addresses = (user.throttled || []).filter((t) => t.waits_until).map((t) => t.address).join(", ");
      cell.append(el("strong", { className: "error user-locked", textContent: label("users_locked_until", { time: clock(user.locked_until), addresses }) }));
    } else if (user.failed_logins > 0) {
      cell.append(el("span", { className: "warning", textContent: label("users_failed_logins", { n: user.failed_logins }) }));
    }
    if (!user.active) cell.append(el("div", { className: "muted", textContent: labels.users_disabled }));
    cell.append(el("small", {
      className: "muted user-last-login",
      textContent: user.last_login_at ? label("users_last_login", { time: when(user.last_login_at) }) : labels.users_never_logged_in,
    }));
    return cell;
  }

  // One row per account; every change goes through PATCH /api/users/<id> and redraws the row
  // from the server's answer (or from the unchanged user, with the error, when refused).
  function row(user, message, isError) {
    const self = user.id === me;
    const tr = el("tr", { id: "user-" + user.username });
    tr.dataset.userId = user.id;
    const error = el("p", { className: "error user-error", role: "alert", hidden: true });
    const done = el("p", { className: "muted user-done", hidden: true });
    done.setAttribute("aria-live", "polite");

    async function change(payload, doneLabel) {
      show(error, ""); show(done, "");
      const reply = await send("PATCH", "/api/users/" + user.id, payload);
      if (reply.error) tr.replaceWith(row(user, reply.error, true));
      else tr.replaceWith(row(reply.data, doneLabel || labels.users_saved, false));
    }

    const role = el("select", { className: "user-role-select", disabled: self });
    role.setAttribute("aria-label", labels.users_role + " " + user.username);
    for (const value of roles) {
      role.append(el("option", { value, textContent: labels["role_" + value] || value, selected: value === user.role }));
    }
    role.addEventListener("change", () => change({ role: role.value }));

    const active = el("input", { type: "checkbox", className: "user-active", checked: user.active, disabled: self });
    active.setAttribute("role", "switch");
    active.setAttribute("aria-label", labels.users_active + " " + user.username);
    active.addEventListener("change", () => change({ active: active.checked }));

    const password = el("input", { type: "password", className: "user-new-password", minLength: 12, maxLength: 200,
      autocomplete: "new-password", placeholder: labels.users_new_password });
    password.setAttribute("aria-label", labels.users_new_password + " " + user.username);
    const reset = el("button", { type: "submit", className: "outline small user-reset-button", textContent: labels.users_reset_password });
    const resetForm = el("form", { className: "user-reset", autocomplete: "off", noValidate: true }, [password, reset]);
    resetForm.addEventListener("submit", (event) => {
      event.preventDefault();
      if (password.value.length < 12) { show(error, labels.users_password_hint); return; }
      change({ password: password.value }, labels.users_password_reset_done);
    });
    const actions = el("td", { className: "user-actions" }, [resetForm]);
    if (user.locked) {
      const unlock = el("button", { type: "button", className: "small user-unlock", textContent: labels.users_unlock });
      unlock.addEventListener("click", () => change({ unlock: true }, labels.users_unlocked));
      actions.append(unlock);
    }
    actions.append(error, done);

    const name = el("td", { textContent: user.username });
    if (self) name.append(" ", el("small", { className: "muted", textContent: "(" + labels.users_you + ")" }));
    tr.append(name, el("td", {}, [role]), el("td", {}, [active]), stateCell(user), actions);
    if (message) show(isError ? error : done, message);
    return tr;
  }

  async function refresh() {
    let reply;
    try {
      reply = await fetch("/api/users", { credentials: "same-origin" });
    } catch (err) {
      show($("users-error"), labels.wc_offline || labels.live_disconnected);
      return;
    }
    if (!reply.ok) { show($("users-error"), await failure(reply)); return; }
    show($("users-error"), "");
    $("users-body").replaceChildren(...(await reply.json()).users.map((user) => row(user)));
  }

  $("user-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    show($("user-error"), "");
    show($("user-done"), "");
    const payload = { username: $("user-name").value.trim(), role: $("user-role").value, password: $("user-password").value };
    const reply = await send("POST", "/api/users", payload);
    if (reply.error) { show($("user-error"), reply.error); return; }
    show($("user-done"), (labels.users_created || "") + " " + reply.data.username);
    $("user-form").reset();
    refresh();
  });

  refresh();
})();
