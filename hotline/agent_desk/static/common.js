// Shared by every page: the language menu submits itself; a form's CSRF token travels with
// htmx requests through hx-headers on <body>.
"use strict";
document.addEventListener("change", (e) => {
  const el = e.target;
  if (el instanceof HTMLSelectElement && el.classList.contains("autosubmit") && el.form) {
    el.form.submit();
  }
});
