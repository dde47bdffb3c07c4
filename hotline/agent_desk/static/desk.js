// The operator desk: a view of the server's state. It loads a snapshot, then follows the
// seat's event stream (EventSource resumes with the last event id by itself); it never
// decides a seat's or a call's state on its own. Citizen text is set with textContent only.
"use strict";
(() => {
  const cfgEl = document.getElementById("desk-config");
  if (!cfgEl) return;
  const cfg = JSON.parse(cfgEl.dataset.config);
  if (!cfg.has_seat) return;
  const M = cfg.messages;
  const $ = (id) => document.getElementById(id);
  const fmt = (s, vals) => String(s).replace(/\{(\w+)\}/g, (_, k) => String(vals[k] ?? ""));
  const form = $("draft");
  const DRAFT_FIELDS = ["kind", "category", "location", "urgency", "department", "content"];

  let seat = null;
  let skew = 0; // server clock minus ours, seconds
  let call = null; // {id, phase, panel, partial: {side: element}}
  let departments = [];
  let touched = new Set();
  let pinned = true;
  let kbTimer = null;
  let held = false;
  let lastKbText = "";

  // -- talking to the server ---------------------------------------------------------------
  const api = async (method, url, body) => {
    try {
      return await window.hotline.api(method, url, body, "/desk");
    } catch (err) {
      if (err.message === "error") err.message = M.error;
      throw err;
    }
  };
  const now = () => Date.now() / 1000 + skew;
  const eventTime = (e) => {
    const ms = parseInt(String(e.lastEventId || "").split("-")[0], 10);
    return Number.isFinite(ms) && ms > 0 ? ms / 1000 : now();
  };
  function showError(err) {
    const el = $("ticket-result");
    el.textContent = `${M.error}: ${err.message}`;
    el.className = "result error";
  }

  // -- the seat ------------------------------------------------------------------------------
  function reasonText(code) {
    const opt = document.querySelector(`#nr-reason option[value="${CSS.escape(code)}"]`);
    return opt ? opt.textContent : code;
  }
  function renderSeat() {
    if (!seat) return;
    const st = $("seat-state");
    st.textContent = M[`state_${seat.state}`] || seat.state;
    st.className = `state ${seat.state}`;
    st.dataset.state = seat.state;
    $("seat-reason").textContent = seat.reason ? `(${reasonText(seat.reason)})` : "";
    $("calls-today").textContent = String(seat.calls_today ?? 0);
    $("avg-talk").textContent = seat.avg_talk_s != null ? `${Math.round(seat.avg_talk_s)}${M.seconds}` : "—";
    $("btn-ready").disabled = !["not_ready", "logged_out", "wrap_up"].includes(seat.state);
    $("btn-not-ready").disabled = ["reserved", "not_ready"].includes(seat.state);
    $("wrapup").hidden = seat.state !== "wrap_up";
    tick();
  }
  function tick() {
    if (!seat) return;
    const since = Math.max(0, Math.round(now() - (seat.since || now())));
    $("seat-since").textContent = since >= 60 ? `${Math.floor(since / 60)}${M.minutes}${since % 60}${M.seconds}` : `${since}${M.seconds}`;
    if (seat.state === "wrap_up" && seat.wrapup_until) {
      $("wrapup-left").textContent = String(Math.max(0, Math.ceil(seat.wrapup_until - now())));
    }
  }
  async function setState(state, extra = {}) {
    try {
      await api("POST", `/api/agents/${encodeURIComponent(cfg.seat)}/state`, { state, ...extra });
    } catch (err) {
      showError(err);
    }
  }

  // -- the call panel ------------------------------------------------------------------------
  function openPanel(panel, phase) {
    const fresh = !call || call.id !== panel.call_id;
    call = { id: panel.call_id, phase, panel, partial: fresh ? {} : call.partial };
    if (fresh) {
      $("transcript").replaceChildren();
      form.reset();
      touched = new Set();
      form.querySelectorAll(".touched").forEach((el) => el.classList.remove("touched"));
      $("ticket-result").textContent = "";
      delete $("ticket-result").dataset.number;
      $("kb").replaceChildren(li(M.no_kb, "muted"));
      $("kb-article").replaceChildren();
      $("urgent-reasons").hidden = true;
      held = false;
      lastKbText = "";
    }
    $("idle").hidden = true;
    $("panel").hidden = false;
    $("p-caller").textContent = panel.caller || "—";
    $("p-line").textContent = panel.line || "—";
    $("p-ivr").textContent = (panel.ivr_path || []).join(" → ") || "—";
    $("p-waited").textContent = panel.waited_s != null ? `${Math.round(panel.waited_s)}${M.seconds}` : "—";
    const rep = $("p-repeat");
    rep.hidden = !(panel.repeat_count > 0);
    rep.textContent = panel.repeat_count > 0 ? fmt(M.repeat_caller, { n: panel.repeat_count }) : "";
    const hist = $("p-history");
    hist.replaceChildren();
    for (const t of panel.history || []) {
      const day = (t.created_at || "").slice(0, 10);
      hist.append(li(`${t.number} · ${day} · ${t.category || t.kind || ""} · ${t.status || ""} — ${t.content || ""}`));
    }
    if (!hist.children.length) hist.append(li(M.no_history, "muted"));
    setDescription(panel.description || "", panel.description_draft);
    setPhase(phase);
    setSubmitting(false);
  }
  function setPhase(phase, note = "") {
    if (!call) return;
    call.phase = phase;
    $("panel").className = `panel ${phase}`;
    $("panel").dataset.phase = phase;
    $("panel-title").textContent = phase === "ringing" ? M.incoming : phase === "talking" ? M.in_call : M.call_ended;
    const status = $("p-status");
    status.hidden = !note;
    status.textContent = note;
    for (const id of ["btn-hold", "btn-transfer", "btn-conference", "btn-hangup"]) {
      $(id).disabled = phase !== "talking";
    }
  }
  function closePanel(note) {
    call = null;
    $("panel").hidden = true;
    const idle = $("idle");
    idle.hidden = false;
    idle.dataset.note = note || "";
    if (note) idle.textContent = note;
  }
  function setDescription(text, draft) {
    $("p-description-card").hidden = !text;
    $("p-description").textContent = text;
    if (draft) fillDraft(draft);
  }
  function li(text, cls) {
    const el = document.createElement("li");
    el.textContent = text;
    if (cls) el.className = cls;
    return el;
  }

  // -- transcript ------------------------------------------------------------------------------
  function onSegment(d, final) {
    if (!call || d.call_id !== call.id) return;
    const box = $("transcript");
    let el = call.partial[d.side];
    if (!el) {
      el = document.createElement("p");
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = d.side === "caller" ? M.caller_side : M.operator_side;
      const text = document.createElement("span");
      text.className = "text";
      el.append(who, text);
      box.append(el);
    }
    el.className = `seg ${d.side === "caller" ? "caller" : "operator"} ${final ? "final" : "partial"}`;
    el.querySelector(".text").textContent = d.text;
    if (final) {
      delete call.partial[d.side];
      scheduleKb();
    } else {
      call.partial[d.side] = el;
    }
    if (pinned) box.scrollTop = box.scrollHeight;
  }
  $("transcript").addEventListener("scroll", () => {
    const box = $("transcript");
    pinned = box.scrollHeight - box.scrollTop - box.clientHeight < 24;
    $("scroll-latest").hidden = pinned;
  });
  $("scroll-latest").addEventListener("click", () => {
    const box = $("transcript");
    box.scrollTop = box.scrollHeight;
    pinned = true;
    $("scroll-latest").hidden = true;
  });

  // -- the draft form: filled by the server's draft, never over what the operator typed --------
  function fillDraft(draft) {
    if (!draft) return;
    const loc = draft.location && typeof draft.location === "object" ? draft.location.text : draft.location;
    const values = {
      kind: draft.kind,
      category: draft.category,
      location: loc,
      urgency: draft.urgent ? "urgent" : "normal",
      department: departmentId(draft.department),
      content: draft.summary || draft.content,
    };
    for (const name of DRAFT_FIELDS) {
      const v = values[name];
      if (touched.has(name) || v == null || v === "") continue;
      const el = form.elements.namedItem(name);
      if (el && el.value !== String(v)) el.value = String(v);
    }
    const reasons = $("urgent-reasons");
    const list = draft.urgent_reasons || [];
    reasons.hidden = !(draft.urgent && list.length);
    reasons.textContent = list.length ? `${M.urgent_reasons}: ${list.join("；")}` : "";
    previewDeadline();
  }
  function departmentId(code) {
    if (!code) return "";
    const d = departments.find((x) => x.code === code || x.name === code);
    return d ? String(d.id) : "";
  }
  form.addEventListener("input", (e) => {
    const name = e.target.name;
    if (DRAFT_FIELDS.includes(name)) {
      touched.add(name);
      e.target.classList.add("touched");
    }
    if (name === "kind" || name === "urgency") previewDeadline();
    if (name === "content" || name === "category") scheduleKb();
  });
  async function previewDeadline() {
    const kind = form.elements.namedItem("kind").value;
    const urgency = form.elements.namedItem("urgency").value;
    try {
      const d = await api("GET", `/api/tickets/deadline?kind=${encodeURIComponent(kind)}&urgency=${encodeURIComponent(urgency)}`);
      const due = new Date(d.reply_due);
      $("deadline").textContent = `${M.deadline}: ${due.toLocaleString(document.documentElement.lang || "zh-CN")}`;
    } catch (err) {
      $("deadline").textContent = "";
    }
  }
  async function submit(mode) {
    if (!call || call.ticket || call.submitting) return;
    const f = form.elements;
    const content = f.namedItem("content").value.trim();
    const body = {
      content: content || "—",
      kind: f.namedItem("kind").value,
      urgency: f.namedItem("urgency").value,
      category: f.namedItem("category").value || null,
      location: f.namedItem("location").value || null,
      summary: content || null,
    };
    if (mode === "answer") {
      body.then = { action: "answer", text: f.namedItem("answer").value.trim() || content || "—" };
    } else {
      const lead = parseInt(f.namedItem("department").value, 10);
      if (!lead) {
        f.namedItem("department").focus();
        showError(new Error(M.choose_department));
        return;
      }
      body.then = { action: "dispatch", lead };
    }
    const current = call;
    current.submitting = true;
    setSubmitting(true);
    try {
      const t = current.pending // the ticket exists; only its action failed before
        ? await api("POST", `/api/tickets/${current.pending}/actions`, body.then)
        : await api("POST", `/api/calls/${encodeURIComponent(current.id)}/ticket`, body);
      current.ticket = t.number;
      const el = $("ticket-result");
      el.textContent = fmt(M.ticket_created, { number: t.number });
      el.className = "result ok";
      el.dataset.number = t.number;
    } catch (err) {
      const made = err.data && err.data.details && err.data.details.number;
      if (made) current.pending = made;
      showError(err);
    } finally {
      current.submitting = false;
      setSubmitting(false);
    }
  }
  function setSubmitting(busy) {
    const done = Boolean(call && call.ticket);
    $("btn-answered").disabled = busy || done;
    $("btn-dispatch").disabled = busy || done;
  }

  // -- knowledge base --------------------------------------------------------------------------
  function scheduleKb() {
    clearTimeout(kbTimer);
    kbTimer = setTimeout(refreshKb, 1500);
  }
  async function refreshKb() {
    if (!call) return;
    const text = [...$("transcript").querySelectorAll(".seg.caller .text")].map((x) => x.textContent).join(" ");
    const typed = ["category", "content"].map((n) => form.elements.namedItem(n).value).join(" ");
    const all = `${$("p-description").textContent} ${text} ${typed}`.trim();
    if (!all || all === lastKbText) return;
    lastKbText = all;
    try {
      const res = await api("POST", "/api/kb/suggest", { text: all.slice(-2000), limit: 5 });
      const ul = $("kb");
      ul.replaceChildren();
      for (const a of res.articles || []) {
        const item = document.createElement("li");
        const link = document.createElement("a");
        link.href = "#";
        link.textContent = a.title;
        link.setAttribute("hx-get", `/desk/kb/${encodeURIComponent(a.id)}`);
        link.setAttribute("hx-target", "#kb-article");
        item.append(link);
        ul.append(item);
      }
      if (!ul.children.length) ul.append(li(M.no_kb, "muted"));
      if (window.htmx) window.htmx.process(ul);
    } catch (err) {
      /* suggestions are a help, not a must */
    }
  }
  $("kb-article").addEventListener("click", (e) => {
    if (e.target.classList.contains("kb-close")) $("kb-article").replaceChildren();
  });

  // -- call controls -----------------------------------------------------------------------
  async function control(action, target = "") {
    if (!call) return;
    try {
      await api("POST", `/desk/calls/${encodeURIComponent(call.id)}/control`, { action, target });
      if (action === "hold" || action === "resume") setHeld(action === "hold");
    } catch (err) {
      showError(err);
    }
  }

  function setHeld(on) {
    held = on;
    $("btn-hold").textContent = held ? M.resume : M.hold;
  }

  // -- events ------------------------------------------------------------------------------
  function onAgentState(d, e) {
    if (d.operator !== cfg.seat || !seat) return;
    seat.state = d.state;
    seat.reason = d.reason || "";
    seat.since = eventTime(e);
    if (d.until) seat.wrapup_until = d.until;
    if (call && call.phase === "ringing" && !["reserved", "on_call"].includes(d.state)) {
      closePanel(M.caller_hung_up);
    } else if (call && call.phase === "talking" && d.state !== "on_call") {
      setPhase("ended");
    } else if (call && call.phase === "ringing" && d.state === "on_call") {
      setPhase("talking"); // the answer's own event may have come first
    }
    if (d.state === "wrap_up") refreshFigures();
    renderSeat();
  }
  async function refreshFigures() {
    try {
      const snap = await api("GET", "/desk/snapshot");
      seat.calls_today = snap.seat.calls_today;
      seat.avg_talk_s = snap.seat.avg_talk_s;
      renderSeat();
    } catch (err) {
      /* the figures catch up on the next change */
    }
  }
  let lastId = "";
  let retry = 1000;
  function connect(after) {
    const es = new EventSource(`/api/events${after ? `?after=${encodeURIComponent(after)}` : ""}`);
    const conn = $("conn");
    const setConn = (live) => {
      conn.className = `conn ${live ? "live" : "lost"}`;
      conn.dataset.live = live ? "1" : "0";
      conn.querySelector(".conn-text").textContent = live ? M.connection_live : M.connection_lost;
    };
    es.onopen = () => {
      setConn(true);
      retry = 1000;
    };
    es.onerror = () => {
      setConn(false);
      if (es.readyState !== EventSource.CLOSED) return; // the browser retries by itself
      // A non-200 answer (a restart, a 503, signed out) ends an EventSource for good.
      setTimeout(async () => {
        try {
          await api("GET", "/desk/snapshot"); // a 401 goes to the sign-in page
        } catch (err) {
          /* try the stream again anyway */
        }
        connect(lastId || after);
      }, retry);
      retry = Math.min(retry * 2, 15000);
    };
    const on = (type, fn) =>
      es.addEventListener(type, (e) => {
        if (e.lastEventId) lastId = e.lastEventId;
        try {
          fn(JSON.parse(e.data), e);
        } catch (err) {
          console.error(type, err);
        }
      });
    on("agent.state", onAgentState);
    on("desk.offer", (d) => {
      if (d.operator !== cfg.seat) return;
      if (call && call.id === d.call_id) return; // a replayed offer never sets a call back
      openPanel(d, seat && seat.state === "on_call" ? "talking" : "ringing");
    });
    on("call.held", (d) => call && d.call_id === call.id && setHeld(true));
    on("call.resumed", (d) => call && d.call_id === call.id && setHeld(false));
    on("call.answered", (d) => call && d.call_id === call.id && setPhase("talking"));
    on("call.abandoned", (d) => call && d.call_id === call.id && call.phase === "ringing" && closePanel(M.caller_hung_up));
    on("call.left", (d) => call && d.call_id === call.id && call.phase === "ringing" && closePanel(M.caller_hung_up));
    on("transcript.partial", (d) => onSegment(d, false));
    on("transcript.final", (d) => onSegment(d, true));
    on("transcript.draft", (d) => call && d.call_id === call.id && fillDraft(d.draft));
    on("transcript.done", (d) => call && d.call_id === call.id && d.draft && fillDraft(d.draft));
    on("transcript.description", (d) => call && d.call_id === call.id && setDescription(d.text || "", d.draft));
    on("call.coached", (d) => call && d.call_id === call.id && ($("p-coached").hidden = !d.on));
    es.addEventListener("reset", () => {
      // the gap is older than the stream keeps: a fresh snapshot (once a minute at most)
      const last = Number(sessionStorage.getItem("desk-reset") || 0);
      if (Date.now() - last < 60000) return;
      sessionStorage.setItem("desk-reset", String(Date.now()));
      location.reload();
    });
    es.addEventListener("signed-out", () => {
      es.close();
      location.href = "/login?next=%2Fdesk";
    });
  }

  // -- start ---------------------------------------------------------------------------------
  async function start() {
    const snap = await api("GET", "/desk/snapshot");
    skew = snap.server_time - Date.now() / 1000;
    seat = snap.seat;
    renderSeat();
    if (snap.call) openPanel(snap.call.panel, snap.call.phase);
    try {
      departments = (await api("GET", "/api/departments")).departments || [];
      const sel = form.elements.namedItem("department");
      for (const d of departments) {
        const opt = document.createElement("option");
        opt.value = String(d.id);
        opt.textContent = d.name;
        sel.append(opt);
      }
    } catch (err) {
      departments = [];
    }
    connect(snap.resume_from);
    setInterval(tick, 500);
  }

  $("btn-ready").addEventListener("click", () => setState("ready"));
  $("btn-not-ready").addEventListener("click", () => setState("not_ready", { reason: $("nr-reason").value }));
  $("btn-extend").addEventListener("click", () => setState("wrap_up", { extend_s: cfg.extend_s }));
  $("btn-answered").addEventListener("click", () => submit("answer"));
  $("btn-dispatch").addEventListener("click", () => submit("dispatch"));
  $("btn-hold").addEventListener("click", () => control(held ? "resume" : "hold"));
  $("btn-transfer").addEventListener("click", () => control("transfer", $("transfer-to").value.trim()));
  $("btn-conference").addEventListener("click", () => control("conference", $("transfer-to").value.trim()));
  $("btn-hangup").addEventListener("click", () => control("hangup"));
  const help = $("help");
  $("btn-help").addEventListener("click", () => (help.hidden = !help.hidden));
  $("help-close").addEventListener("click", () => (help.hidden = true));
  document.addEventListener("keydown", (e) => {
    const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement?.tagName || "");
    if (e.key === "Escape") help.hidden = true;
    if (e.key === "?" && !typing) help.hidden = !help.hidden;
    if (!e.altKey) return;
    const k = e.key.toLowerCase();
    const acts = {
      r: ["btn-ready", () => setState("ready")],
      n: ["btn-not-ready", () => setState("not_ready", { reason: $("nr-reason").value })],
      a: ["btn-answered", () => submit("answer")],
      d: ["btn-dispatch", () => submit("dispatch")],
      f: [null, () => form.elements.namedItem("content").focus()],
    };
    const act = acts[k];
    if (act) {
      e.preventDefault();
      if (!act[0] || !$(act[0]).disabled) act[1](); // a shortcut does what its button may
    }
  });
  start().catch((err) => showError(err));
})();
