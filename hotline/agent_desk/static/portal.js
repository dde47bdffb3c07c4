// The department portal: workflow actions through the ticket API, files uploaded before
// the reply, refusals shown as the server worded them; the inbox's connection state.
"use strict";
(() => {
  const csrf = document.body.dataset.csrf || "";
  const cfgEl = document.getElementById("portal-config");
  const messages = cfgEl ? JSON.parse(cfgEl.dataset.config).messages : {};
  const result = document.getElementById("action-result");
  const ticket = document.getElementById("ticket");

  function say(text, ok) {
    if (!result) return;
    result.textContent = text;
    result.className = "result " + (ok ? "ok" : "error");
  }

  async function refusal(resp) {
    try {
      const body = await resp.json();
      return body.message || messages.error;
    } catch (e) {
      return messages.error + " (" + resp.status + ")";
    }
  }

  async function upload(number, file) {
    const data = new FormData();
    data.append("file", file, file.name);
    const resp = await fetch(`/api/tickets/${number}/attachments`, {
      method: "POST",
      headers: { "X-CSRF-Token": csrf },
      body: data,
      credentials: "same-origin",
    });
    if (!resp.ok) throw new Error(`${file.name}: ${await refusal(resp)}`);
  }

  function bodyOf(form) {
    const body = { action: form.dataset.action };
    for (const el of form.elements) {
      if (!el.name || el.type === "file" || el.type === "submit") continue;
      body[el.name] = el.dataset.type === "int" ? parseInt(el.value, 10) : el.value;
    }
    return body;
  }

  async function act(form) {
    const number = ticket.dataset.number;
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const files = form.querySelector("input[type=file]");
      if (files && files.files.length) {
        say(messages.portal_uploading, true);
        for (const f of files.files) await upload(number, f);
      }
      const resp = await fetch(`/api/tickets/${number}/actions`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(bodyOf(form)),
        credentials: "same-origin",
      });
      if (!resp.ok) throw new Error(await refusal(resp));
      say(messages.portal_done, true);
      window.location.reload();
    } catch (e) {
      say(`${messages.portal_refused}: ${e.message}`, false);
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  document.addEventListener("submit", (e) => {
    const form = e.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains("act")) return;
    e.preventDefault();
    act(form);
  });

  // The inbox refreshes itself (htmx, every 30 s): its connection state follows each try.
  const conn = document.getElementById("conn");
  function connection(live) {
    if (!conn) return;
    conn.className = "conn " + (live ? "live" : "lost");
    conn.querySelector(".conn-text").textContent =
      live ? messages.portal_connection_live : messages.portal_connection_lost;
  }
  document.body.addEventListener("htmx:afterRequest", (e) => {
    if (e.detail.elt && e.detail.elt.id === "inbox") connection(e.detail.successful);
  });
  document.body.addEventListener("htmx:sendError", () => connection(false));
})();
