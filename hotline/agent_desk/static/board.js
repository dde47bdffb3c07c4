// The supervisor board: a view of the server's state. It loads the snapshot, then follows the
// event stream and loads the snapshot again (at most once a second) when calls or seats
// change, and every few seconds for the call records written as calls end. Text from the
// server is set with textContent only.
"use strict";
(() => {
  const cfgEl = document.getElementById("board-config");
  if (!cfgEl) return;
  const cfg = JSON.parse(cfgEl.dataset.config);
  const M = cfg.messages;
  const en = cfg.locale === "en";
  const $ = (id) => document.getElementById(id);
  const fmt = (s, vals) => String(s).replace(/\{(\w+)\}/g, (_, k) => String(vals[k] ?? ""));
  const pct = (v) => (v == null ? "—" : `${(v * 100).toFixed(1)}%`);
  const WINDOWS = ["today", "last_15m", "interval_30m"];
  let snap = null;
  let loading = false;
  let again = false;

  const api = async (method, url, body) => {
    try {
      return await window.hotline.api(method, url, body, "/board");
    } catch (err) {
      if (err.message === "error") err.message = M.error;
      throw err;
    }
  };
  const cell = (tr, text, cls) => {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  };

  let lastAlerts = null;
  function renderAlerts(list) {
    // Re-rendered only when they change, so a screen reader hears each change once.
    const key = JSON.stringify(list);
    if (key === lastAlerts) return;
    lastAlerts = key;
    const ul = $("alerts");
    ul.replaceChildren();
    if (!list.length) {
      const li = document.createElement("li");
      li.className = "none";
      li.textContent = M.board_no_alerts;
      ul.appendChild(li);
      return;
    }
    for (const a of list) {
      const li = document.createElement("li");
      li.dataset.kind = a.kind;
      const isRate = a.kind === "service_level";
      li.textContent = fmt(M[`board_alert_${a.kind}`] || a.kind, {
        subject: a.subject,
        value: isRate ? pct(a.value) : a.value,
        limit: isRate ? pct(a.limit) : a.limit,
      });
      ul.appendChild(li);
    }
  }

  function renderFormulas(figs) {
    const dl = $("formulas");
    dl.replaceChildren();
    figs.forEach((f, i) => {
      const dt = document.createElement("dt");
      dt.textContent = en ? f.name_en : f.name_zh;
      const dd = document.createElement("dd");
      dd.textContent = `= ${en ? f.formula_en : f.formula_zh}`;
      dl.append(dt, dd);
      const th = $(`fh-${i}`);
      th.textContent = en ? f.name_en : f.name_zh;
      th.title = en ? f.formula_en : f.formula_zh;
    });
  }

  function renderGroups(groups) {
    const body = document.querySelector("#groups tbody");
    body.replaceChildren();
    for (const g of groups) {
      const all = g.key === "*";
      WINDOWS.forEach((w, i) => {
        const c = g.windows[w];
        const tr = document.createElement("tr");
        tr.dataset.key = g.key;
        tr.dataset.window = w;
        if (i === 0) tr.classList.add("first");
        if (all) tr.classList.add("total");
        cell(tr, i === 0 ? (all ? M.board_all : g.queue) : "");
        cell(tr, i === 0 && !all ? g.line : "");
        cell(tr, i === 0 ? String(g.waiting) : "", "num waiting");
        cell(tr, i === 0 ? `${Math.round(g.longest_wait_s)}${M.seconds}` : "", "num longest");
        cell(tr, M[`board_window_${w}`], "window");
        cell(tr, String(c.offered), "num offered");
        cell(tr, String(c.answered), "num answered");
        cell(tr, String(c.abandoned), "num abandoned");
        cell(tr, String(c.short_abandoned), "num short");
        for (const f of c.figures) {
          const td = cell(tr, pct(f.value), `num fig ${f.key}`);
          td.dataset.value = f.value == null ? "" : String(f.value);
        }
        body.appendChild(tr);
      });
    }
  }

  function actionButton(label, op, state, reason) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.dataset.action = state;
    b.addEventListener("click", () => act(`/api/agents/${encodeURIComponent(op)}/state`, "POST", { state, reason }));
    return b;
  }

  function coachButton(label, callId, mode) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.dataset.coach = mode || "stop";
    const url = `/api/calls/${encodeURIComponent(callId)}/coach`;
    b.addEventListener("click", () => {
      if (!mode) return act(url, "DELETE");
      const seat = $("coach-seat").value.trim();
      if (!seat) {
        $("coach-seat").focus();
        return undefined;
      }
      return act(url, "POST", { mode, seat });
    });
    return b;
  }

  function renderOperators(ops) {
    const body = document.querySelector("#operators tbody");
    body.replaceChildren();
    for (const o of ops) {
      const tr = document.createElement("tr");
      tr.dataset.operator = o.id;
      tr.dataset.state = o.state;
      if (o.stuck) tr.classList.add("stuck");
      cell(tr, o.id);
      const st = cell(tr, M[`state_${o.state}`] || o.state);
      st.className = `state ${o.state}`;
      if (o.stuck) {
        const tag = document.createElement("span");
        tag.className = "stuck-tag";
        tag.textContent = M.board_stuck;
        st.appendChild(tag);
      }
      cell(tr, o.in_state_s == null ? "—" : `${Math.round(o.in_state_s)}${M.seconds}`, "num");
      cell(tr, String(o.calls_today), "num");
      const td = cell(tr, "");
      if (o.state !== "ready") td.appendChild(actionButton(M.board_force_ready, o.id, "ready", ""));
      if (o.state !== "not_ready") td.appendChild(actionButton(M.board_force_not_ready, o.id, "not_ready", "supervisor"));
      if (o.state !== "logged_out") td.appendChild(actionButton(M.board_sign_out, o.id, "logged_out", "supervisor"));
      if (o.state === "on_call" && o.call_id) {
        if (o.coached) {
          tr.dataset.coached = o.coached;
          tr.dataset.joined = o.coach_joined ? "1" : "0";
          st.append(` · ${M.board_coached}`);
          td.appendChild(coachButton(M.board_coach_stop, o.call_id, ""));
        } else {
          for (const mode of ["listen", "whisper", "barge"]) td.appendChild(coachButton(M[`board_${mode}`], o.call_id, mode));
        }
      }
      body.appendChild(tr);
    }
  }

  function renderStaffing(list) {
    const ul = $("staffing");
    ul.replaceChildren();
    for (const s of list) {
      const li = document.createElement("li");
      const minutes = Math.round(s.window_s / 60);
      li.dataset.window = String(minutes);
      li.dataset.needed = s.needed == null ? "" : String(s.needed);
      li.textContent =
        s.needed == null
          ? fmt(M.board_staffing_none, { minutes })
          : fmt(M.board_staffing_line, {
              minutes,
              arrivals: s.arrivals,
              handle: Math.round(s.handle_s),
              erlangs: s.traffic_erlangs.toFixed(2),
              needed: s.needed,
              working: s.working,
              ready: s.ready,
              level: pct(s.predicted_level),
            });
      ul.appendChild(li);
    }
  }

  function renderFlags(flags) {
    for (const li of document.querySelectorAll("#flags li")) {
      const on = flags.on.includes(li.dataset.flag);
      const st = li.querySelector(".flag-state");
      st.dataset.on = on ? "1" : "0";
      st.textContent = on ? M.board_flag_on : M.board_flag_off;
      li.hidden = !flags.known.includes(li.dataset.flag) && !on;
    }
  }

  // A keyboard user's focus survives the tables being drawn again.
  function focusKey() {
    const el = document.activeElement;
    if (!(el instanceof HTMLButtonElement)) return null;
    const tr = el.closest("tr");
    return tr ? { op: tr.dataset.operator, action: el.dataset.action, coach: el.dataset.coach } : null;
  }
  function refocus(k) {
    if (!k || !k.op) return;
    const tr = document.querySelector(`#operators tr[data-operator="${CSS.escape(k.op)}"]`);
    const sel = k.coach ? `button[data-coach="${CSS.escape(k.coach)}"]` : `button[data-action="${CSS.escape(k.action || "")}"]`;
    const b = tr && (tr.querySelector(sel) || tr.querySelector("button"));
    if (b) b.focus();
  }
  let lastSummary = "";
  function renderSummary(s) {
    const all = s.groups.find((g) => g.key === "*");
    if (!all) return;
    const level = all.windows.last_15m.figures.find((f) => f.key === "service_level");
    const text = fmt(M.board_summary, { waiting: all.waiting, level: pct(level && level.value) });
    if (text !== lastSummary) $("live-summary").textContent = lastSummary = text;
  }

  function render(s) {
    snap = s;
    const focused = focusKey();
    const note = $("counted-note");
    note.textContent = fmt(note.dataset.template, { tz: s.timezone });
    renderAlerts(s.alerts);
    const all = s.groups.find((g) => g.key === "*");
    if (all) renderFormulas(all.windows.today.figures);
    renderGroups(s.groups);
    renderOperators(s.operators);
    renderStaffing(s.staffing);
    renderFlags(s.flags);
    renderSummary(s);
    refocus(focused);
    document.body.dataset.boardTime = String(s.server_time);
  }

  async function load() {
    if (loading) {
      again = true;
      return;
    }
    loading = true;
    try {
      render(await api("GET", "/board/snapshot"));
    } catch (err) {
      $("action-result").textContent = `${M.error}: ${err.message}`;
    } finally {
      loading = false;
      if (again) {
        again = false;
        setTimeout(load, 1000);
      }
    }
  }

  async function act(url, method, body) {
    const out = $("action-result");
    try {
      await api(method, url, body);
      out.textContent = M.board_done;
      out.className = "result ok";
    } catch (err) {
      out.textContent = `${M.error}: ${err.message}`;
      out.className = "result error";
    }
    load();
  }

  for (const b of document.querySelectorAll(".flag-switch")) {
    b.addEventListener("click", () => {
      const on = snap ? !snap.flags.on.includes(b.dataset.flag) : true;
      act(`/api/ivr/flags/${encodeURIComponent(b.dataset.flag)}`, "PUT", { on });
    });
  }

  let pending = null;
  const soon = () => {
    if (pending) return;
    pending = setTimeout(() => {
      pending = null;
      load();
    }, 1000);
  };

  function connect(after) {
    const q = `types=call.,agent.${after ? `&after=${encodeURIComponent(after)}` : ""}`;
    const es = new EventSource(`/api/events?${q}`);
    const conn = $("conn");
    const setConn = (live) => {
      conn.className = `conn ${live ? "live" : "lost"}`;
      conn.dataset.live = live ? "1" : "0";
      conn.querySelector(".conn-text").textContent = live ? M.connection_live : M.connection_lost;
    };
    es.onopen = () => setConn(true);
    es.onerror = () => setConn(false);
    for (const type of ["agent.state", "call.queued", "call.offered", "call.answered", "call.abandoned", "call.left", "call.requeued", "call.coached"]) {
      es.addEventListener(type, soon);
    }
    es.addEventListener("reset", () => load());
  }

  (async () => {
    const s = await api("GET", "/board/snapshot");
    render(s);
    connect(s.resume_from);
    setInterval(load, 5000);
  })();
})();
