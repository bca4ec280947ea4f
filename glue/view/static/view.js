// The live view's page: reads /events (server-sent events) and draws one card per product.
// Every string from the feed (product ids, versions) goes into the page with textContent or as
// plotly data values, never as HTML or as a plotly title/label, so a hostile product id stays text.
"use strict";
(function () {
  const series = new Map();          // product id -> its points and latest values
  const dirty = new Set();           // products whose charts need redrawing
  let historyMs = 600000;
  let lastMessageAt = 0;
  const seen = [];                   // [product, second ms, page ms] of predictions drawn (bench/tests)
  const pendingSeen = [];
  window.__view = { messages: 0, seen: seen, errors: 0 };

  const fmt = (v, digits) => (v === null || v === undefined || Number.isNaN(v)) ? "–" : Number(v).toFixed(digits);
  const fmtPrice = (v) => (v === null || v === undefined) ? "–" :
    Number(v).toLocaleString("en-US", { maximumFractionDigits: v >= 100 ? 2 : 5, minimumFractionDigits: 2 });
  const fmtMs = (v) => (v === null || v === undefined) ? "–" : (v >= 1000 ? (v / 1000).toFixed(2) + " s" : v.toFixed(0) + " ms");
  const utc = (ms) => new Date(ms).toISOString().slice(11, 19);

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function newSeries(pid) {
    return { pid, ft: [], mid: [], v60: [], v300: [], lim: [], pt: [], prob: [], thr: null, mv: "", sv: "",
             label: "", alerts: [], card: null, charts: null, lastProb: null, lastMid: null, lastSpike: false };
  }

  function card(s) {
    if (s.card) return s.card;
    document.getElementById("empty").hidden = true;
    const c = el("article", "card");
    c.dataset.product = s.pid;                       // an attribute value: never parsed as markup
    const head = el("div", "card-head");
    head.appendChild(el("div", "product-name", s.pid));
    const figs = el("div", "figures");
    const price = el("div"); price.appendChild(el("span", "label", "mid")); price.appendChild(el("b", "price-value", "–"));
    const prob = el("div"); prob.appendChild(el("span", "label", "P(spike)")); prob.appendChild(el("b", "prob-value", "–"));
    const vol = el("div"); vol.appendChild(el("span", "label", "vol 60 s (bps)")); vol.appendChild(el("b", "vol-value", "–"));
    figs.append(price, vol, prob);
    head.appendChild(figs);
    c.appendChild(head);
    c.appendChild(el("div", "versions", ""));
    const charts = {};
    for (const name of ["price", "vol", "prob"]) {
      charts[name] = el("div", "chart chart-" + name);
      c.appendChild(charts[name]);
    }
    // keep cards in product order
    const list = document.getElementById("products");
    const after = [...list.querySelectorAll(".card")].find((x) => x.dataset.product > s.pid);
    list.insertBefore(c, after || null);
    s.card = c; s.charts = charts; s.plotted = false;
    return c;
  }

  function trimFront(times, arrays, horizon) {
    let n = 0;
    while (n < times.length && times[n] < horizon) n++;
    if (n) { times.splice(0, n); for (const a of arrays) a.splice(0, n); }
  }

  function apply(row) {
    let s = series.get(row.p);
    if (!s) { s = newSeries(row.p); series.set(row.p, s); }
    if (row.k === "f") {
      s.ft.push(row.t); s.mid.push(row.mid); s.v60.push(row.v60); s.v300.push(row.v300);
      s.lim.push(row.lim === undefined ? null : row.lim);  // the label's threshold on sigma at this second
      if (row.mid !== null) s.lastMid = row.mid;
      s.lastV60 = row.v60;
      if (row.sv) s.fsv = row.sv;
    } else if (row.k === "p") {
      s.pt.push(row.t); s.prob.push(row.prob);
      s.thr = row.thr; s.mv = row.mv; s.sv = row.sv; s.lastProb = row.prob; s.lastSpike = row.spike;
      if (row.spike) s.alerts.push({ t: row.t, prob: row.prob });
      pendingSeen.push([row.p, row.t]);
    }
    dirty.add(s.pid);
  }

  function midAt(s, t) {
    // the mid of the feature row at (or just before) second t, for the alert markers
    let lo = 0, hi = s.ft.length - 1, best = null;
    while (lo <= hi) { const m = (lo + hi) >> 1; if (s.ft[m] <= t) { best = m; lo = m + 1; } else hi = m - 1; }
    return best === null ? null : s.mid[best];
  }

  const layoutBase = {
    margin: { l: 54, r: 10, t: 6, b: 22 }, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
    font: { color: "#aab4c3", size: 11 }, showlegend: true,
    legend: { orientation: "h", x: 0, y: 1.18, font: { size: 10 }, bgcolor: "rgba(0,0,0,0)" },
    xaxis: { type: "date", gridcolor: "#263040", tickformat: "%H:%M:%S" },
    yaxis: { gridcolor: "#263040", zeroline: false },
  };
  const config = { displayModeBar: false, responsive: true };

  function drawText(s) {
    card(s);
    const c = s.card;
    c.querySelector(".price-value").textContent = fmtPrice(s.lastMid);
    c.querySelector(".vol-value").textContent = fmt(s.lastV60, 2);
    const pv = c.querySelector(".prob-value");
    pv.textContent = fmt(s.lastProb, 3);
    pv.classList.toggle("hot", !!s.lastSpike);
    c.classList.toggle("alerting", !!s.lastSpike);
    c.querySelector(".versions").textContent =
      "model " + (s.mv || "?") + " · SQL " + (s.sv || s.fsv || "?") + " · threshold " + fmt(s.thr, 3) +
      " · " + (s.label || "label τ ?");
  }

  function drawCharts(s) {
    if (typeof Plotly === "undefined") return;
    const x0 = s.ft.length ? s.ft[0] : (s.pt.length ? s.pt[0] : 0);
    const x1 = Math.max(s.ft.length ? s.ft[s.ft.length - 1] : 0, s.pt.length ? s.pt[s.pt.length - 1] : 0);
    const at = s.alerts.filter((a) => a.t >= x0);
    const price = [
      { x: s.ft, y: s.mid, type: "scatter", mode: "lines", name: "mid", line: { color: "#58a6ff", width: 1.5 } },
      { x: at.map((a) => a.t), y: at.map((a) => midAt(s, a.t)), type: "scatter", mode: "markers", name: "alert",
        marker: { color: "#f85149", size: 6, symbol: "triangle-up", opacity: 0.85 } },
    ];
    const vol = [
      { x: s.ft, y: s.v300, type: "scatter", mode: "lines", name: "vol 300 s", line: { color: "#a371f7", width: 1.5 } },
      { x: s.ft, y: s.v60, type: "scatter", mode: "lines", name: "vol 60 s", line: { color: "#d29922", width: 1.5 } },
    ];
    if (s.lim.some((v) => v !== null)) {
      // flat at tau (assignment label) or k x the trailing reference (relative label): it moves with the market
      vol.push({ x: s.ft, y: s.lim, type: "scatter", mode: "lines", name: "label threshold",
                 line: { color: "#f85149", width: 1, dash: "dash" } });
    }
    const prob = [
      { x: s.pt, y: s.prob, type: "scatter", mode: "lines", name: "P(spike)", line: { color: "#3fb950", width: 1.5 } },
    ];
    if (s.thr !== null && x1) {
      prob.push({ x: [x0, x1], y: [s.thr, s.thr], type: "scatter", mode: "lines", name: "threshold",
                  line: { color: "#f85149", width: 1, dash: "dash" } });
    }
    const l = (extra) => Object.assign({}, layoutBase, extra);
    Plotly.react(s.charts.price, price, l({ yaxis: Object.assign({}, layoutBase.yaxis, { tickformat: ",.2f" }) }), config);
    Plotly.react(s.charts.vol, vol, l({ yaxis: Object.assign({}, layoutBase.yaxis, { rangemode: "tozero" }) }), config);
    Plotly.react(s.charts.prob, prob, l({ yaxis: Object.assign({}, layoutBase.yaxis, { range: [0, 1] }) }), config);
  }

  function health(h) {
    const t = h.topics;
    const set = (stage, field, text) => {
      document.querySelector(`.stage[data-stage="${stage}"] [data-field="${field}"]`).textContent = text;
    };
    const age = (a) => a === null ? "no rows" : a.toFixed(1) + " s";
    const stages = { ingest: t.raw, featurize: t.features, score: t.predictions };
    for (const [stage, topic] of Object.entries(stages)) {
      document.querySelector(`.stage[data-stage="${stage}"]`).classList.toggle("stale", topic.stale);
      set(stage, "rate", fmt(topic.rate, 1));
      set(stage, "age", age(topic.age_s));
    }
    set("ingest", "reconnects", String(h.ingest.reconnects));
    set("ingest", "seq_gaps", String(h.ingest.seq_gaps));
    set("featurize", "lag", fmtMs(h.featurize_lag.p50_ms));
    set("featurize", "lag_last", fmtMs(h.featurize_lag.last_ms) + " / " + fmtMs(h.featurize_lag.max_ms));
    set("score", "lat", fmtMs(h.score_latency.p50_ms));
    set("score", "lat_last", fmtMs(h.score_latency.last_ms) + " / " + fmtMs(h.score_latency.max_ms));
    const err = document.getElementById("reader-error");
    err.hidden = !h.reader_error;
    err.textContent = h.reader_error || "";
    const skipped = document.getElementById("skipped");
    skipped.hidden = !h.skipped;
    skipped.textContent = h.skipped ? h.skipped + " record(s) the view could not read (not a product row)" : "";
    for (const p of h.products) {
      let s = series.get(p.p);
      if (!s) { s = newSeries(p.p); series.set(p.p, s); dirty.add(p.p); }
      if (s.label !== p.label) { s.label = p.label; dirty.add(p.p); }
    }
    const body = document.querySelector("#alerts tbody");
    const rows = h.alerts.slice().sort((a, b) => b.t - a.t || (a.p < b.p ? -1 : 1));  // newest first
    body.replaceChildren(...rows.map((a) => {
      const tr = el("tr");
      tr.append(el("td", "", utc(a.t)), el("td", "product", a.p), el("td", "p", fmt(a.prob, 3)));
      return tr;
    }));
    document.getElementById("no-alerts").hidden = rows.length > 0;
  }

  function onMessage(ev) {
    const msg = JSON.parse(ev.data);
    lastMessageAt = Date.now();
    window.__view.messages += 1;
    historyMs = msg.history_s * 1000;
    if (msg.reset) {
      for (const s of series.values()) { if (s.card) s.card.remove(); }
      series.clear();
      chartsDirty.clear();
    }
    for (const row of msg.rows) apply(row);
    health(msg.health);
    for (const pid of dirty) {
      const s = series.get(pid);
      const newest = Math.max(s.ft.length ? s.ft[s.ft.length - 1] : 0, s.pt.length ? s.pt[s.pt.length - 1] : 0);
      trimFront(s.ft, [s.mid, s.v60, s.v300, s.lim], newest - historyMs);
      trimFront(s.pt, [s.prob], newest - historyMs);
      s.alerts = s.alerts.filter((a) => a.t >= newest - historyMs);
      drawText(s);                     // the figures: cheap, on every message
      chartsDirty.add(pid);
    }
    dirty.clear();
    const drawnAt = Date.now();        // the values are in the DOM now
    for (const [p, t] of pendingSeen) seen.push([p, t, drawnAt]);
    pendingSeen.length = 0;
    if (seen.length > 50000) seen.splice(0, 25000);
    document.getElementById("clock").textContent = "server " + new Date(msg.now_ms).toISOString().slice(0, 19).replace("T", " ") + " UTC";
    window.__view.lastRender = Date.now();
  }

  // Charts are redrawn on their own clock: about once a second, one product at a time in short slices so
  // that messages are handled between them, and never more than a quarter of the time (a slow machine
  // draws less often instead of queueing messages behind the drawing).
  const chartsDirty = new Set();
  let queue = [], cycleStart = 0, busy = 0;
  function chartLoop() {
    if (!queue.length) { queue = [...chartsDirty]; chartsDirty.clear(); cycleStart = performance.now(); busy = 0; }
    const t0 = performance.now();
    while (queue.length && performance.now() - t0 < 30) {
      const s = series.get(queue.shift());
      if (s && s.card) drawCharts(s);
    }
    busy += performance.now() - t0;
    if (queue.length) { setTimeout(chartLoop, 0); return; }
    setTimeout(chartLoop, Math.max(50, 1000 - (performance.now() - cycleStart), 3 * busy));
  }

  function connect() {
    const conn = document.getElementById("conn");
    const source = new EventSource("/events");
    source.onopen = () => { conn.textContent = "live"; conn.className = "pill on"; };
    source.onmessage = (ev) => {
      try { onMessage(ev); } catch (e) { window.__view.errors += 1; throw e; }
    };
    source.onerror = () => { conn.textContent = "reconnecting…"; conn.className = "pill off"; };
  }

  setInterval(() => {
    if (lastMessageAt && Date.now() - lastMessageAt > 5000) {
      const conn = document.getElementById("conn");
      conn.textContent = "no updates"; conn.className = "pill off";
    }
  }, 1000);

  function start() { connect(); setTimeout(chartLoop, 200); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
