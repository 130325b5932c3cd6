// The console's little JavaScript: log in, act on notices, live draft previews, live updates (SSE).
"use strict";

const csrf = () => document.querySelector('meta[name="csrf"]').content;

function showError(message) {
  const box = document.getElementById("error");
  box.textContent = message;
  box.hidden = !message;
}

async function api(method, url, body) {
  const response = await fetch(url, {
    method, credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = data.error || (Array.isArray(data.detail) ? data.detail.map(d => `${(d.loc || []).join(".")}: ${d.msg}`).join("\n") : data.detail);
    throw new Error(detail || `HTTP ${response.status}`);
  }
  return data;
}

function formDraft(form) {
  const get = name => form.elements[name] ? form.elements[name].value.trim() : "";
  const slots = {};
  form.querySelectorAll("[data-slot]").forEach(input => { slots[input.dataset.slot] = input.value.trim(); });
  const targets = [...form.querySelectorAll('input[name="targets"]:checked')].map(i => i.value);
  const body = { title: get("title") || null, text: get("text") || null, template: get("template") || null,
    slots, level: get("level") || null, targets, end: get("end") || null, start: get("start") || null,
    mode: get("mode") || null };
  if (body.template) { body.title = null; body.text = null; body.level = null; }
  return body;
}

function setupLogin() {
  const form = document.getElementById("login");
  if (!form) return;
  form.addEventListener("submit", async event => {
    event.preventDefault();
    try {
      await api("POST", "/api/login", { name: form.elements.name.value, password: form.elements.password.value });
      const next = new URL(new URLSearchParams(location.search).get("next") || "/", location.origin);
      location.href = next.origin === location.origin ? next.pathname + next.search : "/";  // never elsewhere
    } catch (e) { showError(e.message); }
  });
}

function setupLogout() {
  document.querySelectorAll("[data-logout]").forEach(button => button.addEventListener("click", async () => {
    await api("POST", "/api/logout").catch(() => null);
    location.href = "/login";
  }));
}

function setupDraft() {
  const form = document.getElementById("draft");
  if (!form) return;
  const slotBox = document.getElementById("slots");
  const template = form.elements.template;
  const renderSlots = () => {
    slotBox.textContent = "";
    const option = template.selectedOptions[0];
    const slots = option && option.dataset.slots ? JSON.parse(option.dataset.slots) : {};
    for (const [name, choices] of Object.entries(slots)) {
      const label = document.createElement("label");
      label.textContent = name + " ";
      let input;
      if (choices.length) {
        input = document.createElement("select");
        for (const c of choices) { const o = document.createElement("option"); o.value = o.textContent = c; input.append(o); }
      } else { input = document.createElement("input"); input.maxLength = 60; }
      input.dataset.slot = name;
      input.name = "slot-" + name;
      label.append(input);
      slotBox.append(label);
    }
    form.elements.title.disabled = form.elements.text.disabled = form.elements.level.disabled = !!template.value;
  };
  template.addEventListener("change", renderSlots);
  let timer = null;
  const preview = async () => {
    const body = formDraft(form);
    const errors = document.getElementById("fit-errors");
    const box = document.getElementById("preview");
    if (!body.targets.length || (!body.text && !body.template)) return;
    body.end = body.end || new Date(Date.now() + 3600e3).toISOString().slice(0, 16);
    try {
      const result = await api("POST", "/api/notices/preview", body);
      errors.textContent = "";
      for (const e of result.errors) { const li = document.createElement("li"); li.textContent = e; errors.append(li); }
      box.textContent = "";
      for (const p of result.previews) {
        const fig = document.createElement("figure");
        for (const src of p.pages) { const img = document.createElement("img"); img.src = src; img.alt = p.size; fig.append(img); }
        const cap = document.createElement("figcaption");
        cap.textContent = `${p.size}${p.card_font ? " (card font)" : ""}: ${p.boards.join(", ")}`;
        fig.append(cap);
        box.append(fig);
      }
    } catch (e) {
      errors.textContent = "";
      const li = document.createElement("li"); li.textContent = e.message; errors.append(li);
    }
  };
  form.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(preview, 400); });
  form.addEventListener("submit", async event => {
    event.preventDefault();
    try {
      const notice = await api("POST", "/api/notices", formDraft(form));
      location.href = "/notices/" + notice.id;
    } catch (e) { showError(e.message); }
  });
}

function setupActions() {
  const heading = document.querySelector("[data-notice]");
  if (!heading) return;
  const id = heading.dataset.notice;
  document.querySelectorAll("[data-action]").forEach(button => button.addEventListener("click", async () => {
    let body;
    if (button.hasAttribute("data-reason")) {
      const reason = prompt(button.textContent);
      if (!reason) return;
      body = { reason };
    }
    try {
      await api("POST", `/api/notices/${id}/${button.dataset.action}`, body);
      location.reload();
    } catch (e) { showError(e.message); }
  }));
}

function refreshPictures(state) {
  document.querySelectorAll("[data-board]").forEach(el => {
    const entry = state.boards[el.dataset.board];
    if (!entry) return;
    el.querySelectorAll("img[data-which]").forEach(img => {
      const which = img.dataset.which;
      const version = which === "intended" ? entry[0] : which === "confirmed" ? entry[1] : Date.now();
      const src = `/img/boards/${el.dataset.board}/${which}.png?v=${version || ""}`;
      if (img.getAttribute("src") !== src) img.setAttribute("src", src);
    });
    const status = el.querySelector("[data-status]");
    if (status) status.dataset.confirmed = entry[0] && entry[0] === entry[1] ? "yes" : "no";
  });
  const summary = document.getElementById("summary");
  if (summary) {
    const all = Object.values(state.boards);
    summary.textContent = summary.textContent.replace(/^\d+\/\d+/, `${all.filter(e => e[0] && e[0] === e[1]).length}/${all.length}`);
  }
}

async function refreshNotice() {
  const heading = document.querySelector("[data-notice]");
  if (!heading) return;
  const n = await api("GET", `/api/notices/${heading.dataset.notice}`);
  const table = document.getElementById("delivery");
  for (const b of n.boards) {
    const row = table.querySelector(`tr[data-board="${b.board}"]`);
    if (!row) continue;
    row.cells[1].textContent = JSON.parse(table.dataset.words || "{}")[b.state] || b.state;
    row.cells[1].className = "d-" + b.state.replace(" ", "-");
    row.cells[2].textContent = b.detail;
  }
  document.getElementById("delivered").textContent = `${n.boards.filter(b => b.state === "confirmed").length}/${n.boards.length}`;
  if (document.getElementById("notice-state").dataset.state !== n.state) location.reload();  // new buttons too
}

function setupLive() {
  if (!document.querySelector('meta[name="csrf"]').content || !window.EventSource) return;
  const source = new EventSource("/api/events");
  source.addEventListener("state", event => {
    const state = JSON.parse(event.data);
    refreshPictures(state);
    refreshNotice().catch(() => null);
  });
  if (document.body.dataset.page === "sim") {
    setInterval(() => document.querySelectorAll("img[data-refresh]").forEach(img => {
      img.src = img.src.replace(/(\?.*)?$/, "?t=" + Date.now());
    }), 2000);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  setupLogin(); setupLogout(); setupDraft(); setupActions(); setupLive();
});
