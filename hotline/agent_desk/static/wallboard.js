// The wallboard: a view of the server's figures. It asks for /wallboard/snapshot every few
// seconds, and a second after the event stream says a call was queued, answered or lost; it
// computes nothing itself. Ticket categories and words are set with textContent only.
"use strict";
(() => {
  const cfgEl = document.getElementById("wb-config");
  if (!cfgEl) return;
  const cfg = JSON.parse(cfgEl.dataset.config);
  const M = cfg.messages;
  const $ = (id) => document.getElementById(id);
  const fmt = (s, vals) => String(s).replace(/\{(\w+)\}/g, (_, k) => String(vals[k] ?? ""));
  const pct = (v) => (v == null ? "—" : `${(v * 100).toFixed(1)}%`);
  let skew = 0; // server clock minus ours, seconds
  let tz = cfg.timezone;
  let lastOk = 0;
  let chart = null;
  let soon = null;
  let lastTrend = null;
  const shown = {}; // what each part last drew: unchanged parts are left alone, so a screen
  // reader hears a surge once, not at every poll

  function changed(part, data) {
    const key = JSON.stringify(data);
    if (shown[part] === key) return false;
    shown[part] = key;
    return true;
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = String(text);
    return e;
  }
  function duration(s) {
    if (s == null) return "—";
    const n = Math.round(s);
    return n >= 60 ? `${Math.floor(n / 60)}${M.wb_minutes}${n % 60}${M.wb_seconds}` : `${n}${M.wb_seconds}`;
  }
  function clockText(ts, withSeconds) {
    const opt = { hour: "2-digit", minute: "2-digit", hour12: false, timeZone: tz };
    if (withSeconds) opt.second = "2-digit";
    return new Date(ts * 1000).toLocaleTimeString(cfg.locale, opt);
  }

  // -- the figures ---------------------------------------------------------------------------
  function renderKpis(s) {
    $("k-calls").textContent = String(s.calls_total);
    for (const f of s.figures) {
      $(`k-${f.key}`).textContent = pct(f.value);
      const tile = $(`tile-${f.key}`);
      if (tile.classList.contains("targeted")) {
        tile.classList.toggle("good", f.value != null && f.value >= s.target);
        tile.classList.toggle("bad", f.value != null && f.value < s.target);
      }
    }
    $("k-waiting").textContent = String(s.waiting.count);
    $("k-longest").textContent = duration(s.waiting.longest_s);
    $("tile-waiting").classList.toggle("busy", s.waiting.count > 0);
    $("wb-stale").hidden = !s.stale;
  }
  function renderTopics(topics) {
    const body = $("topics").tBodies[0];
    body.replaceChildren();
    topics.top.forEach((x, i) => {
      const tr = document.createElement("tr");
      tr.append(el("td", "rank", i + 1), el("td", "name", x.name), el("td", "num count", x.count), el("td", "num share", pct(x.share)));
      tr.firstChild.nextSibling.title = x.name;
      body.append(tr);
    });
    if (!topics.top.length) {
      const tr = document.createElement("tr");
      const td = el("td", "muted", M.wb_no_topics);
      td.colSpan = 4;
      tr.append(td);
      body.append(tr);
    }
    $("topics-total").textContent = fmt(M.wb_tickets, { n: topics.total });
  }
  function renderWords(words) {
    const box = $("words");
    box.replaceChildren();
    if (!words.length) {
      box.append(el("span", "muted", M.wb_no_words));
      return;
    }
    const top = words[0].count;
    for (const w of words) {
      const level = Math.max(1, Math.min(5, Math.ceil((w.count / top) * 5)));
      const span = el("span", `w w${level}`, w.word);
      span.append(el("span", "n", w.count));
      box.append(span);
    }
  }
  function renderSurges(surges) {
    const ul = $("surges");
    ul.replaceChildren();
    for (const s of surges) {
      const text = s.kind === "calls" ? fmt(M.wb_surge_calls, s) : fmt(M.wb_surge_topic, s);
      const li = el("li", s.flagged ? "flagged" : "calm", text);
      li.dataset.kind = s.kind;
      li.append(el("span", "ratio", s.ratio == null ? (s.current ? M.wb_surge_new : "") : fmt(M.wb_ratio, { ratio: s.ratio })));
      ul.append(li);
    }
    if (!surges.some((s) => s.flagged)) ul.append(el("li", "calm", M.wb_no_surge));
  }

  // -- the trend chart -----------------------------------------------------------------------
  function chartOption(trend) {
    const size = Math.max(12, Math.min(22, Math.round(window.innerWidth / 95)));
    const series = [
      {
        id: "today",
        name: M.wb_today_series,
        type: "line",
        data: trend.today,
        symbol: "none",
        lineStyle: { width: 4, color: "#4fc3f7" },
        itemStyle: { color: "#4fc3f7" },
        areaStyle: { color: "rgba(79,195,247,0.18)" },
        z: 3,
      },
    ];
    if (trend.usual) {
      series.push({
        id: "usual",
        name: M.wb_usual_series,
        type: "line",
        data: trend.usual,
        symbol: "none",
        lineStyle: { width: 3, type: "dashed", color: "#ffb74d" },
        itemStyle: { color: "#ffb74d" },
        z: 2,
      });
    }
    return {
      animation: false,
      textStyle: { color: "#f4f8fb", fontSize: size },
      legend: { top: 0, right: 10, textStyle: { color: "#f4f8fb", fontSize: size } },
      grid: { left: 10, right: 20, top: size * 2.4, bottom: 6, containLabel: true },
      xAxis: {
        type: "category",
        data: trend.labels,
        boundaryGap: false,
        axisLabel: { color: "#a9bccf", fontSize: size, interval: 3 },
        axisLine: { lineStyle: { color: "#24425e" } },
      },
      yAxis: {
        type: "value",
        minInterval: 1,
        axisLabel: { color: "#a9bccf", fontSize: size },
        splitLine: { lineStyle: { color: "#1b3349" } },
      },
      series,
    };
  }
  function renderTrend(trend) {
    if (!window.echarts) return;
    $("trend-note").hidden = !!trend.usual; // before drawing: it takes the chart's room
    if (!chart) {
      const box = $("trend-chart");
      chart = window.echarts.init(box, null, { renderer: "canvas" });
      // The chart follows its box (the window, or the note above it); type follows the width.
      new ResizeObserver(() => {
        chart.resize();
        if (lastTrend) chart.setOption(chartOption(lastTrend), { notMerge: true });
      }).observe(box);
    }
    lastTrend = trend;
    chart.setOption(chartOption(trend), { notMerge: true });
  }

  // -- talking to the server -----------------------------------------------------------------
  function setConn(live) {
    const conn = $("conn");
    conn.className = `conn ${live ? "live" : "lost"}`;
    conn.dataset.live = live ? "1" : "0";
    conn.querySelector(".conn-text").textContent = live ? M.connection_live : M.connection_lost;
  }
  async function refresh() {
    soon = null;
    try {
      const r = await fetch("/wallboard/snapshot", { credentials: "same-origin" });
      if (r.status === 401) {
        location.href = "/login?next=%2Fwallboard";
        return;
      }
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      const s = await r.json();
      skew = s.server_time - Date.now() / 1000;
      tz = s.timezone;
      renderKpis(s);
      if (changed("topics", s.topics)) renderTopics(s.topics);
      if (changed("words", s.hot_words)) renderWords(s.hot_words);
      if (changed("surges", s.surges)) renderSurges(s.surges);
      if (changed("trend", s.trend)) renderTrend(s.trend);
      lastOk = Date.now();
      $("wb-updated").textContent = fmt(M.wb_updated, { time: clockText(s.server_time, true) });
      document.body.dataset.snapshot = String(s.read_at);
      setConn(true);
      tick();
    } catch (err) {
      setConn(false);
    }
  }
  function refreshSoon() {
    if (!soon) soon = setTimeout(refresh, 1000);
  }
  function follow() {
    // Calls queued, answered or lost change the waiting count now; the stream resumes by
    // itself after a drop, and the poll keeps the screen right if it never comes back.
    const es = new EventSource("/api/events?types=call.");
    for (const type of ["call.queued", "call.answered", "call.abandoned", "call.left", "call.requeued"]) {
      es.addEventListener(type, refreshSoon);
    }
    es.addEventListener("reset", refreshSoon);
  }
  function tick() {
    $("wb-clock").textContent = clockText(Date.now() / 1000 + skew, true);
    if (lastOk && Date.now() - lastOk > cfg.poll_s * 3000) setConn(false);
  }

  refresh();
  follow();
  setInterval(refresh, cfg.poll_s * 1000);
  setInterval(tick, 1000);
})();
