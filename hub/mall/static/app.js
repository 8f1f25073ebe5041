// The staff dashboard: summary, queues, risk, requests and a live feed, updated from /v1/stream (SSE).
"use strict";
const state = {me: null, summary: null, cursor: null, agency: null, stream: null, received: 0, timer: null,
               listTimer: null, dim: "by_service"};

async function api(path, options) {
  const response = await fetch(path, Object.assign({credentials: "same-origin"}, options || {}));
  if (response.status === 401) { showLogin(); throw new Error("401"); }
  if (!response.ok) throw new Error(String(response.status));
  return response;
}
const json = async (path, options) => (await api(path, options)).json();

function showLogin() {
  document.getElementById("login").hidden = false;
  document.getElementById("board").hidden = true;
  document.getElementById("signout").hidden = true;
  if (state.stream) { state.stream.close(); state.stream = null; }
}

async function signIn(event) {
  event.preventDefault();
  const token = document.getElementById("token").value.trim();
  const response = await fetch("/v1/session", {method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json"}, body: JSON.stringify({token})});
  if (!response.ok) { document.getElementById("login-error").textContent = t("bad_token"); return; }
  document.getElementById("token").value = "";
  await start(await response.json());
}

async function signOut() {
  await fetch("/v1/session", {method: "DELETE", credentials: "same-origin"});
  showLogin();
}

function ageOf(iso) {
  const hours = (Date.now() - new Date(iso).getTime()) / 3.6e6;
  return hours >= 48 ? `${Math.floor(hours / 24)} ${t("days")}` : `${Math.max(0, Math.floor(hours))} ${t("hours")}`;
}
const fmt = (x, digits) => (x == null ? "-" : Number(x).toFixed(digits));

function renderSummary(s) {
  state.summary = s;
  const c = s.counts;
  const set = (id, v) => { document.getElementById(id).textContent = v; };
  set("kpi-open", c.open); set("kpi-new-today", c.new_today); set("kpi-finished-today", c.finished_today);
  set("kpi-in-process", c.in_process); set("kpi-waiting", c.waiting_on_citizen);
  set("kpi-at-risk", c.at_risk); set("kpi-breached", c.breached);
  const within = s.lead.within_standard == null ? "" : ` · ${Math.round(s.lead.within_standard * 100)}% ${t("within")}`;
  set("kpi-lead", `${fmt(s.lead.median_days, 2)} / ${fmt(s.lead.p90_days, 2)}${within}`);
  set("kpi-oldest", s.oldest_open ? `${s.oldest_open.request_id} (${ageOf(s.oldest_open.submitted_at)})` : "-");
  const body = document.getElementById("by-agency");
  body.replaceChildren(...s.by_agency.map(b => el("tr", {"data-agency": b.key, title: b.name},
    el("td", {}, b.name), el("td", {class: "n"}, b.open), el("td", {class: "n s-at_risk"}, b.at_risk || ""),
    el("td", {class: "n s-breached"}, b.breached || ""))));
  renderRisk();
}

function renderRisk() {
  if (!state.summary) return;
  const rows = state.summary[state.dim].filter(b => b.at_risk || b.breached);
  document.getElementById("risk-rows").replaceChildren(...rows.map(b => el("tr", {title: b.key},
    el("td", {}, b.name), el("td", {class: "n s-at_risk"}, b.at_risk), el("td", {class: "n s-breached"}, b.breached),
    el("td", {class: "n"}, b.open))));
}

async function loadSummary() {
  renderSummary(await json("/v1/summary"));
}

function listQuery() {
  const params = new URLSearchParams({limit: "50"});
  const filter = document.getElementById("req-filter").value;
  if (filter === "open") params.set("open", "true");
  else if (filter === "at_risk" || filter === "breached") params.set("sla", filter);
  else if (filter === "citizen") params.set("actor", "citizen");
  if (filter !== "all") params.set("kind", "request");
  if (state.agency) params.set("agency", state.agency);
  params.set("order", filter === "all" ? "recent" : "oldest");
  return params;
}

function requestRow(r) {
  const cls = r.sla === "ok" ? "" : `s-${r.sla}`;
  return el("tr", {"data-id": r.request_id, title: `${r.service_name} · ${r.agency_name}`},
    el("td", {}, r.request_id), el("td", {}, r.service_name), el("td", {}, r.village_name),
    el("td", {class: cls}, statusText(r.status)), el("td", {class: "n"}, ageOf(r.submitted_at)));
}

async function loadRequests(append) {
  const params = listQuery();
  if (append && state.cursor) params.set("cursor", state.cursor);
  const page = await json(`/v1/requests?${params}`);
  const body = document.getElementById("request-rows");
  const rows = page.items.map(requestRow);
  if (append) body.append(...rows); else body.replaceChildren(...rows);
  state.cursor = page.next_cursor;
  document.getElementById("more").hidden = !page.next_cursor;
}

async function openTimeline(id) {
  const r = await json(`/v1/requests/${encodeURIComponent(id)}`);
  document.getElementById("timeline-title").textContent = `${r.request_id} · ${r.service_name}`;
  const next = t(`next_${r.next_actor}`);
  const due = r.due_at ? ` · ${t("deadline")} ${when(r.due_at)}` : "";
  document.getElementById("timeline-meta").textContent =
    `${r.agency_name} · ${r.village_name}, ${r.kecamatan_name} · ${statusText(r.status)} (${next})` +
    ` · ${t("standard")} ${r.sla_working_days} ${t("days")}${due}`;
  document.getElementById("timeline-steps").replaceChildren(...r.history.map(s => el("li", {class: "step"},
    el("div", {}, el("b", {}, statusText(s.status)), s.native_status ? ` (${s.native_status})` : ""),
    el("div", {class: "when"}, `${when(s.occurred_at)} · ${s.agency}`),
    el("div", {class: "text"}, s.citizen_text))));
  document.getElementById("timeline").hidden = false;
}

function scheduleRefresh() {
  if (!state.timer) state.timer = setTimeout(() => { state.timer = null; loadSummary().catch(() => {}); }, 800);
  if (!state.listTimer) state.listTimer = setTimeout(() => {
    state.listTimer = null;
    if (!state.cursor || document.getElementById("request-rows").children.length <= 50) loadRequests(false).catch(() => {});
  }, 2500);
}

function onEvent(message) {
  const e = JSON.parse(message.data);
  state.received += 1;
  document.getElementById("live-count").textContent = state.received;
  const list = document.getElementById("live-events");
  list.prepend(el("li", {"data-id": e.request_id},
    `${when(e.occurred_at)} · ${e.request_id} · ${e.service_name} · ${statusText(e.status)} · ${e.village_name}`));
  while (list.children.length > 40) list.lastChild.remove();
  document.getElementById("live").title = e.occurred_at;
  scheduleRefresh();
}

function openStream() {
  if (state.stream) state.stream.close();
  const stream = new EventSource("/v1/stream");
  stream.addEventListener("request", onEvent);
  stream.addEventListener("reset", () => { loadSummary(); loadRequests(false); });
  stream.onopen = () => document.getElementById("live").classList.replace("off", "on");
  stream.onerror = () => document.getElementById("live").classList.replace("on", "off");
  state.stream = stream;
}

async function showDisclosures(event) {
  if (event) event.preventDefault();
  const nik = document.getElementById("nik").value;
  const found = await json("/v1/disclosures", {method: "POST", headers: {"Content-Type": "application/json"},
                                             body: JSON.stringify({nik})});
  document.getElementById("disclosure-summary").textContent =
    `${found.deliveries} ${t("deliveries")}, ${found.requests} ${t("requests").toLowerCase()}`;
  document.getElementById("disclosure-rows").replaceChildren(...found.items.map(d => el("tr", {},
    el("td", {}, when(d.recorded_at)), el("td", {title: d.purpose}, d.recipient_name), el("td", {}, d.fields.join(", ")),
    el("td", {}, d.channel), el("td", {}, d.request_id))));
}

async function exportDisclosures(format) {
  const nik = document.getElementById("nik").value;
  const response = await api(`/v1/disclosures/export?format=${format}`, {method: "POST",
    headers: {"Content-Type": "application/json"}, body: JSON.stringify({nik})});
  const link = el("a", {href: URL.createObjectURL(await response.blob()), download: `data-pribadi.${format}`});
  document.body.append(link); link.click(); link.remove();
}

async function showScope(event) {
  event.preventDefault();
  const iso = id => new Date(document.getElementById(id).value).toISOString();
  const params = new URLSearchParams({recipient: document.getElementById("scope-recipient").value,
                                      start: iso("scope-start"), end: iso("scope-end")});
  const s = await json(`/v1/breach-scope?${params}`);
  const fields = [...new Set(s.items.flatMap(i => i.fields))].join(", ");
  document.getElementById("scope-summary").textContent =
    `${s.citizens} ${t("citizens")}, ${s.deliveries} ${t("deliveries")}: ${fields}`;
}

async function start(me) {
  state.me = me;
  document.getElementById("login").hidden = true;
  document.getElementById("board").hidden = false;
  document.getElementById("signout").hidden = false;
  document.getElementById("privacy").hidden = me.role !== "manager";
  document.getElementById("who").textContent = `${me.name} (${me.role}${me.agency ? " · " + me.agency : ""})`;
  await Promise.all([loadSummary(), loadRequests(false)]);
  openStream();
}

document.addEventListener("DOMContentLoaded", () => {
  applyTexts();
  document.getElementById("lang").addEventListener("click", () => {
    toggleLanguage(); if (state.summary) renderSummary(state.summary); loadRequests(false).catch(() => {});
  });
  document.getElementById("login-form").addEventListener("submit", signIn);
  document.getElementById("signout").addEventListener("click", signOut);
  document.getElementById("risk-dim").addEventListener("change", e => { state.dim = e.target.value; renderRisk(); });
  document.getElementById("req-filter").addEventListener("change", () => loadRequests(false));
  document.getElementById("more").addEventListener("click", () => loadRequests(true));
  document.getElementById("req-search").addEventListener("change", e => { if (e.target.value) openTimeline(e.target.value.trim()).catch(() => {}); });
  document.getElementById("by-agency").addEventListener("click", e => {
    const row = e.target.closest("tr[data-agency]");
    if (!row) return;
    state.agency = state.agency === row.dataset.agency ? null : row.dataset.agency;
    const chip = document.getElementById("req-agency");
    chip.hidden = !state.agency; chip.textContent = state.agency ? `${state.agency} ×` : "";
    loadRequests(false);
  });
  document.getElementById("req-agency").addEventListener("click", () => {
    state.agency = null; document.getElementById("req-agency").hidden = true; loadRequests(false);
  });
  for (const id of ["request-rows", "live-events"]) {
    document.getElementById(id).addEventListener("click", e => {
      const row = e.target.closest("[data-id]");
      if (row) openTimeline(row.dataset.id).catch(() => {});
    });
  }
  document.getElementById("timeline-close").addEventListener("click", () => { document.getElementById("timeline").hidden = true; });
  document.getElementById("disclosure-form").addEventListener("submit", showDisclosures);
  document.getElementById("export-csv").addEventListener("click", () => exportDisclosures("csv"));
  document.getElementById("export-pdf").addEventListener("click", () => exportDisclosures("pdf"));
  document.getElementById("scope-form").addEventListener("submit", showScope);
  fetch("/v1/me", {credentials: "same-origin"}).then(r => (r.ok ? r.json().then(start) : showLogin()));
});
