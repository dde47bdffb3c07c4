// Shared by every page: the language menu submits itself; a form's CSRF token travels with
// htmx requests through hx-headers on <body>.
"use strict";
document.addEventListener("change", (e) => {
  const el = e.target;
  if (el instanceof HTMLSelectElement && el.classList.contains("autosubmit") && el.form) {
    el.form.submit();
  }
});

// One way for a page's script to ask its server: JSON in and out, the session's CSRF token
// on every request, a sign-in page when the session has ended (back to ``page`` after it),
// and an Error carrying the server's answer (``err.data``) when it refuses.
window.hotline = {
  async api(method, url, body, page) {
    const opt = {
      method,
      headers: { "X-CSRF-Token": document.body.dataset.csrf || "" },
      credentials: "same-origin",
    };
    if (body !== undefined) {
      opt.headers["Content-Type"] = "application/json";
      opt.body = JSON.stringify(body);
    }
    const r = await fetch(url, opt);
    if (r.status === 401) {
      location.href = `/login?next=${encodeURIComponent(page || location.pathname)}`;
      throw new Error("signed out");
    }
    const type = r.headers.get("Content-Type") || "";
    const data = type.includes("json") ? await r.json() : await r.text();
    if (!r.ok) {
      const err = new Error((data && data.message) || "error");
      err.data = data;
      throw err;
    }
    return data;
  },
};
