// The console's little JavaScript: log in, act on notices (reasons in a real dialog), the emergency
// insert and the draft form with their live previews, the fleet's filters, its live badges and
// problems strip (server-sent events), enlarged board pictures, and the demo's fault switches.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf"]').content;
const lang = () => document.documentElement.dataset.lang || "zh";
const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

function showError(message) {
  const box = document.getElementById("error");
  box.textContent = message;
  box.hidden = !message;
  if (message) box.scrollIntoView({ block: "nearest" });
}

async function api(method, url, body) {
  const response = await fetch(url, {
    method, credentials: "same-origin",
    // The console's language: the API words its errors in it (what happened, what to do).
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf(), "X-Console-Lang": lang() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = data.error || (Array.isArray(data.detail) ? data.detail.map(d => d.msg).join("\n") : data.detail);
    throw new Error(detail || `HTTP ${response.status}`);
  }
  return data;
}

// -- times in the deployment's zone -------------------------------------------------------------------

function wallTime(ms, zone) {
  // "YYYY-MM-DDTHH:MM" in the deployment's time zone (what a datetime-local field holds).
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", {
    timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    hourCycle: "h23",
  }).formatToParts(new Date(ms)).map(p => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

function endFor(hours, box) {
  // An absolute end: now + hours, or the next midnight of the deployment's zone.
  if (hours === "today") {
    let midnight = Date.parse(box.dataset.midnight);
    while (midnight <= Date.now()) midnight += 86400e3;
    return midnight;
  }
  return Date.now() + Number(hours) * 3600e3;
}

// -- log in and out -------------------------------------------------------------------------------------

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
  $$("[data-logout]").forEach(button => button.addEventListener("click", async () => {
    await api("POST", "/api/logout").catch(() => null);
    location.href = "/login";
  }));
  $$("[data-lang-switch]").forEach(link => {  // keep the page's own query (a board, a period)
    const params = new URLSearchParams(location.search);
    params.set("lang", link.dataset.langSwitch);
    link.href = `${location.pathname}?${params}`;
  });
}

// -- dialogs -----------------------------------------------------------------------------------------------

function askReason(title, dangerous) {
  // A real dialog: says a reason is required, and will not confirm without one.
  const dialog = document.getElementById("reason-dialog");
  const form = document.getElementById("reason-form");
  const text = form.elements.reason;
  const ok = document.getElementById("reason-ok");
  document.getElementById("reason-title").textContent = title;
  document.getElementById("reason-danger").hidden = !dangerous;
  ok.className = dangerous ? "danger" : "";
  text.value = "";
  ok.disabled = true;
  text.oninput = () => { ok.disabled = !text.value.trim(); };
  return new Promise(resolve => {
    $$("[data-close]", dialog).forEach(b => { b.onclick = () => dialog.close("cancel"); });
    dialog.onclose = () => resolve(dialog.returnValue === "ok" && text.value.trim() ? text.value.trim() : null);
    dialog.showModal();
    text.focus();
  });
}

function setupZoom() {
  const dialog = document.getElementById("zoom");
  if (!dialog) return;
  $$("[data-close]", dialog).forEach(b => b.addEventListener("click", () => dialog.close()));
  document.addEventListener("click", event => {
    const button = event.target.closest("button[data-zoom]");
    if (!button) return;
    const card = button.closest("[data-board]");
    const img = $("img", button);
    const big = new URL(img.src, location.origin);
    big.searchParams.delete("scale");  // the server's large scale (about 768 px wide)
    const body = document.getElementById("zoom-body");
    body.textContent = "";
    const title = document.createElement("h2");
    title.textContent = $(".name", card) ? $(".name", card).textContent : card.dataset.board;
    const strip = document.createElement("div");
    strip.className = "strip";
    const picture = document.createElement("img");
    picture.className = "led";
    picture.alt = img.alt;
    picture.src = big.pathname + big.search;
    strip.append(picture);
    body.append(title, strip);
    document.getElementById("zoom-link").href = `/boards/${card.dataset.board}`;
    dialog.showModal();
  });
}

// -- notices: actions -------------------------------------------------------------------------------------

function setupActions() {
  const heading = document.querySelector("[data-notice]");
  if (!heading) return;
  const id = heading.dataset.notice;
  // A stage that asks for the confidentiality review (保密审查) is signed off only once it is ticked.
  const checked = document.getElementById("confidentiality-checked");
  const signOff = document.querySelector("[data-action=approve]");
  if (checked && signOff) checked.addEventListener("change", () => { signOff.disabled = !checked.checked; });
  const editForm = document.getElementById("edit-form");
  if (editForm) editForm.addEventListener("submit", async event => {
    event.preventDefault();
    try {
      await api("POST", `/api/notices/${id}/edit`,
                { title: editForm.elements.title.value, text: editForm.elements.text.value });
      location.reload();
    } catch (e) { showError(e.message); }
  });
  $$("[data-action]").forEach(button => button.addEventListener("click", async () => {
    let body;
    if (button.dataset.action === "approve" && checked) body = { confidentiality_checked: checked.checked };
    if (button.hasAttribute("data-reason")) {
      const reason = await askReason(button.dataset.title || button.textContent, button.hasAttribute("data-dangerous"));
      if (!reason) return;
      body = { reason };
    }
    try {
      await api("POST", `/api/notices/${id}/${button.dataset.action}`, body);
      location.reload();
    } catch (e) { showError(e.message); }
  }));
}

// -- previews of a draft ------------------------------------------------------------------------------------

function showPreview(result, errorsBox, previewBox) {
  errorsBox.textContent = "";
  for (const e of result.errors) { const li = document.createElement("li"); li.textContent = e; errorsBox.append(li); }
  previewBox.textContent = "";
  for (const p of result.previews) {
    const fig = document.createElement("figure");
    const pages = document.createElement("div");
    pages.className = "pages";
    p.pages.forEach((src, i) => {
      // At its own size (a whole number of pixels per LED); a scroll strip keeps its aspect and scrolls.
      const strip = document.createElement("div");
      strip.className = "strip";
      const img = document.createElement("img");
      img.className = "led";
      img.src = src; img.alt = p.size;
      if (p.sizes) { img.width = p.sizes[i][0]; img.height = p.sizes[i][1]; }
      strip.append(img);
      pages.append(strip);
    });
    const cap = document.createElement("figcaption");
    const cardFont = p.card_font ? (lang() === "en" ? " (drawn by the card in its own font)" : "（控制卡用自带字库显示文字）") : "";
    cap.textContent = `${p.size}${cardFont} · ${p.boards_text || p.boards.join(", ")}`;
    fig.append(pages, cap);
    previewBox.append(fig);
  }
}

function fillTemplate(text, values) {
  return text.replace(/{([^{}]*)}/g, (m, name) => values[name] !== undefined && values[name] !== "" ? values[name] : `{${name}}`);
}

// -- the emergency insert: template, targets, how long, publish ---------------------------------------------

function setupInsert() {
  const box = document.getElementById("insert");
  if (!box) return;
  const words = JSON.parse(box.dataset.words);
  const approver = box.dataset.approver === "yes";
  const publish = document.getElementById("insert-publish");
  const reason = document.getElementById("insert-reason");
  const reasonLabel = document.getElementById("insert-reason-label");
  const until = document.getElementById("insert-until");
  const slotsBox = document.getElementById("insert-slots");
  const state = { template: null, targets: new Set(), end: null, previewed: null, busy: false };
  const slotWords = JSON.parse(($("#slots") || { dataset: { words: "{}" } }).dataset.words || "{}");

  const press = (group, button, on) => { button.setAttribute("aria-pressed", on ? "true" : "false"); };
  const slots = () => {
    const values = state.template ? { ...JSON.parse(state.template.dataset.fixed) } : {};
    $$("[data-slot]", slotsBox).forEach(input => { values[input.dataset.slot] = input.value.trim(); });
    return values;
  };
  const body = () => ({
    template: state.template ? state.template.dataset.template : null, slots: slots(),
    targets: [...state.targets], end: state.end ? new Date(state.end).toISOString() : null, start: null,
  });
  const override = () => approver && state.template && state.template.dataset.level === "emergency";
  const key = () => JSON.stringify(body());

  const refresh = () => {
    const filled = $("#insert-filled");
    if (state.template) {
      const values = slots();
      $("[data-title]", filled).textContent = fillTemplate(state.template.dataset.title, values);
      $("[data-text]", filled).textContent = fillTemplate(state.template.dataset.text, values);
      filled.hidden = false;
    }
    publish.textContent = override() ? words.override : words.publish;
    publish.className = override() ? "danger" : "";
    reasonLabel.hidden = !override();
    const ready = state.template && state.targets.size && state.end && state.previewed === key()
      && (!override() || reason.value.trim().length >= 4);
    publish.disabled = !ready || state.busy;
    const windowNote = document.getElementById("insert-window");
    windowNote.textContent = state.end ? (lang() === "en" ? `from now until ${wallTime(state.end, box.dataset.tz).replace("T", " ")}`
      : `从现在到 ${wallTime(state.end, box.dataset.tz).replace("T", " ")}`) : "";
  };

  let timer = null;
  const preview = () => {
    clearTimeout(timer);
    state.previewed = null;
    refresh();
    if (!state.template || !state.targets.size) return;
    if ($$("[data-slot]", slotsBox).some(input => !input.value.trim())) return;  // a blank still to fill
    timer = setTimeout(async () => {
      const asked = key();
      const b = body();
      b.end = b.end || new Date(Date.now() + 3600e3).toISOString();
      try {
        const result = await api("POST", "/api/notices/preview", b);
        if (asked !== key()) return;
        showPreview(result, document.getElementById("insert-errors"), document.getElementById("insert-preview"));
        state.previewed = result.errors.length ? null : asked;
      } catch (e) {
        const errors = document.getElementById("insert-errors");
        errors.textContent = "";
        const li = document.createElement("li"); li.textContent = e.message; errors.append(li);
      }
      refresh();
    }, 150);
  };

  $$("#insert-templates button").forEach(button => button.addEventListener("click", () => {
    $$("#insert-templates button").forEach(b => press("t", b, b === button));
    state.template = button;
    slotsBox.textContent = "";
    const choices = JSON.parse(button.dataset.choices || "{}");
    let first = null;
    for (const name of [...Object.keys(choices), ...JSON.parse(button.dataset.free)]) {
      // Not a <label> around the buttons: a click on its words would press the first of them.
      const label = document.createElement(choices[name] ? "div" : "label");
      label.className = "slot";
      label.textContent = (slotWords[name] || name) + " ";
      let input;
      if (choices[name]) {
        // A row of buttons, none pressed: an emergency never goes out with a place nobody chose.
        input = document.createElement("input");
        input.type = "hidden";
        const row = document.createElement("div");
        row.className = "choices";
        row.setAttribute("role", "group");
        row.setAttribute("aria-label", slotWords[name] || name);
        for (const c of choices[name]) {
          const b = document.createElement("button");
          b.type = "button"; b.textContent = c; b.dataset.choice = c; b.setAttribute("aria-pressed", "false");
          b.addEventListener("click", () => {
            input.value = c;
            $$("button", row).forEach(o => press("c", o, o === b));
            preview();
          });
          row.append(b);
        }
        label.append(row);
      } else { input = document.createElement("input"); input.maxLength = 60; input.required = true; }
      input.dataset.slot = name;
      input.addEventListener("input", preview);
      label.append(input);
      slotsBox.append(label);
      first = first || (choices[name] ? null : input);
    }
    if (first) first.focus();
    preview();
  }));
  $$("#insert-targets button").forEach(button => button.addEventListener("click", () => {
    const target = button.dataset.target;
    if (state.targets.has(target)) state.targets.delete(target); else state.targets.add(target);
    if (target === "all" && state.targets.has("all")) state.targets = new Set(["all"]);
    else state.targets.delete(target === "all" ? "" : "all");
    $$("#insert-targets button").forEach(b => press("g", b, state.targets.has(b.dataset.target)));
    preview();
  }));
  $$("#insert-duration button").forEach(button => button.addEventListener("click", () => {
    $$("#insert-duration button").forEach(b => press("d", b, b === button));
    state.end = endFor(button.dataset.hours, box);
    until.value = wallTime(state.end, box.dataset.tz);
    preview();
    if (override()) reason.focus();  // the one thing left to type before publishing
  }));
  until.addEventListener("change", () => {
    $$("#insert-duration button").forEach(b => press("d", b, false));
    state.end = until.value ? Date.parse(until.value + offsetOf(box)) : null;
    preview();
  });
  reason.addEventListener("input", refresh);
  reason.addEventListener("keydown", event => { if (event.key === "Enter" && !publish.disabled) publish.click(); });
  refresh();
  publish.addEventListener("click", async () => {
    if (publish.disabled) return;
    state.busy = true;
    refresh();
    let notice = null;
    try {
      notice = await api("POST", "/api/notices", body());
      if (override()) await api("POST", `/api/notices/${notice.id}/override`, { reason: reason.value.trim() });
      else await api("POST", `/api/notices/${notice.id}/publish`);
      location.href = `/notices/${notice.id}`;
    } catch (e) {
      showError(notice ? `${e.message}\n#${notice.id}: /notices/${notice.id}` : e.message);
      state.busy = false;
      refresh();
    }
  });
}

function offsetOf(box) {
  // The deployment zone's offset now, as "+08:00" (from the server's midnight, which carries it).
  const m = (box.dataset.midnight || "").match(/([+-]\d{2}:\d{2})$/);
  return m ? m[1] : "Z";
}

// -- the draft form ----------------------------------------------------------------------------------------

function formDraft(form) {
  const get = name => form.elements[name] ? form.elements[name].value.trim() : "";
  const slots = {};
  form.querySelectorAll("[data-slot]").forEach(input => { slots[input.dataset.slot] = input.value.trim(); });
  const targets = [...form.querySelectorAll('input[name="targets"]:checked')].map(i => i.value);
  const later = form.querySelector('input[name="start-mode"][value="at"]');
  const body = { title: get("title") || null, text: get("text") || null, template: get("template") || null,
    slots, level: get("level") || null, targets, end: get("end") || null,
    start: later && later.checked ? get("start") || null : null, mode: get("mode") || null };
  if (body.template) { body.title = null; body.text = null; body.level = null; }
  return body;
}

function setupDraft() {
  const form = document.getElementById("draft");
  if (!form) return;
  const slotBox = document.getElementById("slots");
  const slotWords = JSON.parse(slotBox.dataset.words || "{}");
  const template = form.elements.template;
  const fill = () => {
    const option = template.selectedOptions[0];
    if (!template.value || !option) return;
    const values = {};
    slotBox.querySelectorAll("[data-slot]").forEach(input => { values[input.dataset.slot] = input.value.trim(); });
    form.elements.title.value = fillTemplate(option.dataset.title, values);
    form.elements.text.value = fillTemplate(option.dataset.text, values);
    form.elements.level.value = option.dataset.level;
  };
  const renderSlots = () => {
    slotBox.textContent = "";
    const option = template.selectedOptions[0];
    const slots = option && option.dataset.slots ? JSON.parse(option.dataset.slots) : {};
    for (const [name, choices] of Object.entries(slots)) {
      const label = document.createElement("label");
      label.textContent = (slotWords[name] || name) + " ";
      let input;
      if (choices.length) {
        input = document.createElement("select");
        for (const c of choices) { const o = document.createElement("option"); o.value = o.textContent = c; input.append(o); }
      } else { input = document.createElement("input"); input.maxLength = 60; }
      input.dataset.slot = name;
      input.name = "slot-" + name;
      input.addEventListener("input", fill);
      label.append(input);
      slotBox.append(label);
    }
    // A template fills the level and the wording (shown, not editable: it is pre-approved).
    const fixed = !!template.value;
    form.elements.title.readOnly = form.elements.text.readOnly = fixed;
    form.elements.level.disabled = fixed;
    document.getElementById("template-note").hidden = !fixed;
    if (fixed) fill(); else { form.elements.title.value = "通知"; form.elements.text.value = ""; }
  };
  template.addEventListener("change", renderSlots);
  $$('input[name="start-mode"]', form).forEach(radio => radio.addEventListener("change", () => {
    form.elements.start.hidden = !$('input[name="start-mode"][value="at"]', form).checked;
  }));
  $$("[data-quick-end] button", form).forEach(button => button.addEventListener("click", () => {
    $$("[data-quick-end] button", form).forEach(b => b.setAttribute("aria-pressed", b === button ? "true" : "false"));
    form.elements.end.value = wallTime(endFor(button.dataset.hours, form), form.dataset.tz);
    form.dispatchEvent(new Event("input"));
  }));
  let timer = null;
  const preview = async () => {
    const body = formDraft(form);
    const errors = document.getElementById("fit-errors");
    const box = document.getElementById("preview");
    if (!body.targets.length || (!body.text && !body.template)) return;
    body.end = body.end || wallTime(Date.now() + 3600e3, form.dataset.tz);
    try {
      showPreview(await api("POST", "/api/notices/preview", body), errors, box);
    } catch (e) {
      errors.textContent = "";
      const li = document.createElement("li"); li.textContent = e.message; errors.append(li);
    }
  };
  form.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(preview, 400); });
  form.addEventListener("change", () => { clearTimeout(timer); timer = setTimeout(preview, 400); });
  form.addEventListener("submit", async event => {
    event.preventDefault();
    try {
      const notice = await api("POST", "/api/notices", formDraft(form));
      location.href = "/notices/" + notice.id;
    } catch (e) { showError(e.message); }
  });
}

// -- the fleet: filters, live badges, the problems strip ---------------------------------------------------

function setupFilters() {
  const form = document.getElementById("filters");
  if (!form) return;
  const apply = () => {
    const q = form.elements.q.value.trim().toLowerCase();
    const area = form.elements.area.value, group = form.elements.group.value, wanted = form.elements.state.value;
    $$(".board[data-board]").forEach(card => {
      const state = card.dataset.state;
      const show = (!q || card.dataset.search.toLowerCase().includes(q))
        && (!area || card.dataset.area === area)
        && (!group || card.dataset.groups.split(" ").includes(group))
        && (!wanted || (wanted === "problem" ? state !== "ok" && state !== "sent" : state === wanted));
      card.hidden = !show;
    });
    $$("section.area").forEach(section => { section.hidden = !$$(".board[data-board]", section).some(c => !c.hidden); });
  };
  form.addEventListener("input", apply);
  form.addEventListener("change", apply);
  form.addEventListener("submit", event => event.preventDefault());
}

function words() {
  const el = document.getElementById("words");
  return el ? JSON.parse(el.textContent) : {};
}

function updateCard(el, entry, w) {
  const [intended, confirmed, online, , state, stateText, why, last, shows, pages] = entry;
  el.dataset.state = state;
  const onlineBadge = $("[data-online]", el);
  if (onlineBadge) {
    const up = online || state === "busy";
    onlineBadge.textContent = up ? w.online : online === false ? w.offline : w.unknown;
    onlineBadge.className = "badge " + (up ? "on" : online === false ? "s-offline" : "s-unknown");
  }
  const stateBadge = $("[data-state-text]", el);
  if (stateBadge) { stateBadge.textContent = stateText; stateBadge.className = "badge s-" + state; }
  const whyBox = $("[data-why]", el);
  if (whyBox) { whyBox.textContent = why; whyBox.hidden = !why; }
  const lastBox = $("[data-last]", el);
  if (lastBox && w.last_confirmed) lastBox.textContent = `${w.last_confirmed} ${last}`;
  const showsBox = $("[data-shows]", el);
  if (showsBox) showsBox.textContent = shows;
  const caption = $("[data-caption]", el);
  if (caption && caption.firstChild) caption.firstChild.textContent = (confirmed && confirmed === intended ? w.shows : w.intended) + "：";
  $$("img[data-which]", el).forEach(img => {
    const which = img.dataset.which;
    if (which === "sim") return;
    const url = new URL(img.getAttribute("src"), location.origin);
    url.searchParams.set("v", intended || "");
    const next = url.pathname + url.search;
    if (img.getAttribute("src") !== next) img.setAttribute("src", next);
  });
  el.dataset.pages = JSON.stringify(pages || []);
}

function updateProblems(problems) {
  const box = document.getElementById("problems");
  if (!box) return;
  box.textContent = "";
  box.classList.toggle("none", !problems.length);
  if (!problems.length) {
    const p = document.createElement("p"); p.className = "ok"; p.textContent = box.dataset.none; box.append(p);
    return;
  }
  const h = document.createElement("h2");
  const count = problems.reduce((n, p) => n + p.boards.length, 0);
  h.textContent = box.dataset.title + " ";
  const small = document.createElement("small"); small.textContent = `${count} ${words().boards || ""}`; h.append(small);
  const ul = document.createElement("ul");
  for (const p of problems) {
    const li = document.createElement("li");
    li.dataset.problem = p.state;
    const badge = document.createElement("b"); badge.className = "badge s-" + p.state; badge.textContent = p.state_text;
    const chips = document.createElement("span"); chips.className = "chips";
    for (const b of p.boards) {
      const a = document.createElement("a"); a.href = `/boards/${b.board}`; a.title = b.name; a.textContent = b.board; chips.append(a);
    }
    const why = document.createElement("span"); why.className = "why"; why.textContent = p.why;
    li.append(badge, " ", chips, " ", why);
    ul.append(li);
  }
  box.append(h, ul);
}

function refreshFleet(state) {
  const w = words();
  $$("[data-board]").forEach(el => {
    if (el.tagName === "TR") return;  // a notice's delivery table
    const entry = state.boards[el.dataset.board];
    if (entry) updateCard(el, entry, w);
  });
  updateProblems(state.problems || []);
  const summary = document.getElementById("summary");
  if (summary) {
    const all = Object.values(state.boards);
    const done = all.filter(e => e[0] && e[0] === e[1]).length;
    const up = all.filter(e => e[2] || e[4] === "busy").length;
    summary.textContent = `${done}/${all.length} ${w.confirmed} · ${up}/${all.length} ${w.online}`;
  }
  const form = document.getElementById("filters");
  if (form) form.dispatchEvent(new Event("change"));
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
  const source = new EventSource(`/api/events?lang=${lang()}`);
  source.addEventListener("state", event => {
    const state = JSON.parse(event.data);
    refreshFleet(state);
    refreshNotice().catch(() => null);
  });
  if (document.querySelector("img[data-refresh]")) {
    setInterval(() => $$("img[data-refresh]").forEach(img => {
      const url = new URL(img.getAttribute("src"), location.origin);
      url.searchParams.set("t", Date.now());
      img.src = url.pathname + url.search;
    }), 2000);
  }
}

// -- the demo's fault switches ----------------------------------------------------------------------------

function setupFaults() {
  $$(".fault[data-faults]").forEach(box => {
    const card = box.closest("[data-board]");
    box.addEventListener("click", async event => {
      const button = event.target.closest("button[data-fault]");
      if (!button) return;
      const now = JSON.parse(box.dataset.faults || "{}");
      const kind = button.dataset.fault;
      let wanted = { offline: !!now.offline, busy: !!now.busy, corrupt: now.corrupt || 0, delay: now.delay || 0 };
      if (kind === "restore") wanted = { offline: false, busy: false, corrupt: 0, delay: 0 };
      else if (kind === "offline" || kind === "busy") wanted[kind] = !wanted[kind];
      else if (kind === "corrupt") wanted.corrupt = wanted.corrupt ? 0 : 0.05;
      else if (kind === "delay") wanted.delay = wanted.delay ? 0 : 0.5;
      else if (kind === "power_cycle") wanted.power_cycle = true;
      try {
        const result = await api("POST", `/api/sim/${card.dataset.board}/fault`, wanted);
        box.dataset.faults = JSON.stringify(result.faults);
        $$("button[data-fault]", box).forEach(b => {
          if (["offline", "busy", "corrupt", "delay"].includes(b.dataset.fault)) {
            b.setAttribute("aria-pressed", result.faults[b.dataset.fault] ? "true" : "false");
          }
        });
        const names = Object.fromEntries($$("button[data-fault]", box).map(b => [b.dataset.fault, b.textContent]));
        const text = Object.keys(result.faults).map(k => names[k] || k).join(lang() === "en" ? ", " : "、");
        const note = $("[data-fault-text]", card);
        if (note) note.textContent = text || (lang() === "en" ? "none" : "无");
      } catch (e) { showError(e.message); }
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  setupLogin(); setupLogout(); setupZoom(); setupDraft(); setupInsert(); setupActions(); setupFilters();
  setupFaults(); setupLive();
});
