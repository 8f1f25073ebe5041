// The public citizen page: one request by number and the last 4 digits of the NIK.
"use strict";
let lastAnswer = null;

function render(a) {
  lastAnswer = a;
  document.getElementById("answer-title").textContent = `${a.request_id} · ${a.service_name}`;
  const due = a.due_at ? ` · ${t("deadline")} ${when(a.due_at)}` : "";
  document.getElementById("answer-status").textContent =
    `${statusText(a.status)} (${t(`next_${a.next_actor}`)})${due} · ${a.agency_name}`;
  document.getElementById("answer-steps").replaceChildren(...a.history.map(s => el("li", {class: "step"},
    el("b", {}, statusText(s.status)), ` · ${when(s.occurred_at)}`, el("div", {}, s.text))));
  document.getElementById("answer-data").replaceChildren(...a.disclosures.map(d => el("li", {},
    `${when(d.recorded_at)} · ${d.recipient_name}: ${d.fields.join(", ")} (${d.purpose})`)));
  document.getElementById("answer").hidden = false;
}

async function lookup(event) {
  event.preventDefault();
  const error = document.getElementById("answer-error");
  error.textContent = "";
  document.getElementById("answer").hidden = true;
  const body = {request_id: document.getElementById("request-id").value.trim(),
                nik_last4: document.getElementById("last4").value.trim()};
  const response = await fetch("/v1/citizen/lookup", {method: "POST", headers: {"Content-Type": "application/json"},
                                                      body: JSON.stringify(body)});
  document.getElementById("last4").value = "";
  if (response.status === 429) { error.textContent = t("citizen_limited"); return; }
  if (!response.ok) { error.textContent = t("citizen_none"); return; }
  render(await response.json());
}

document.addEventListener("DOMContentLoaded", () => {
  applyTexts();
  document.getElementById("lang").addEventListener("click", () => { toggleLanguage(); if (lastAnswer) render(lastAnswer); });
  document.getElementById("lookup").addEventListener("submit", lookup);
});
