// The live status page: polls /api/v1/* every second and draws Spark-style
// timelines and histograms (Chart.js) and tables. After each refresh it
// records on <body> what it drew (data-* attributes, computed from the
// charts' own data and canvas), which the browser test compares with the API.
"use strict";

const $ = (id) => document.getElementById(id);
const fmtInt = (n) => (n === null || n === undefined) ? "-" : Math.round(n).toLocaleString("en-US");
const fmtMs = (ms) => (ms === null || ms === undefined) ? "-" : (ms < 10 ? ms.toFixed(2) : ms < 1000 ? ms.toFixed(1) : ms.toFixed(0)) + " ms";
const fmtBytes = (b) => {
  if (b === null || b === undefined) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (b >= 1024 && i < units.length - 1) { b /= 1024; i++; }
  return (i === 0 ? b.toFixed(0) : b.toFixed(1)) + " " + units[i];
};
const clock = (ms) => new Date(ms).toLocaleTimeString("en-GB", { hour12: false }) + "." + String(ms % 1000).padStart(3, "0");
const dateTime = (ms) => new Date(ms).toLocaleString("en-GB", { hour12: false });

// Rows of `list` as table cells; each cell is [text, className?].
function fillTable(id, list, cells, rowData) {
  const body = $(id).tBodies[0];
  body.replaceChildren();
  for (const item of list) {
    const tr = document.createElement("tr");
    if (rowData) for (const [k, v] of Object.entries(rowData(item))) tr.dataset[k] = v;
    for (const [text, cls] of cells(item)) {
      const td = document.createElement("td");
      td.textContent = text;
      if (cls) td.className = cls;
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
  if (list.length === 0) {
    const tr = document.createElement("tr");
    const td = document.createElement("td");
    td.colSpan = $(id).tHead.rows[0].cells.length;
    td.className = "text";
    td.textContent = "none";
    tr.appendChild(td);
    body.appendChild(tr);
  }
}

const series = [
  { key: "input", unit: "records/s", color: "#1f77b4", value: (b, interval) => b.input_records * 1000 / interval },
  { key: "scheduling", unit: "ms", color: "#ff7f0e", value: (b) => b.scheduling_delay_ms },
  { key: "processing", unit: "ms", color: "#2ca02c", value: (b) => b.processing_time_ms },
  { key: "total", unit: "ms", color: "#d62728", value: (b) => b.total_delay_ms },
];
const charts = {};

function makeCharts() {
  for (const s of series) {
    const common = { animation: false, responsive: true, maintainAspectRatio: false,
                     plugins: { legend: { display: false } } };
    charts["timeline-" + s.key] = new Chart($("timeline-" + s.key), {
      type: "line",
      data: { labels: [], datasets: [{ data: [], borderColor: s.color, backgroundColor: s.color,
                                       pointRadius: 1.5, borderWidth: 1.5, tension: 0 }] },
      options: { ...common, scales: { x: { ticks: { maxTicksLimit: 8, maxRotation: 0 } },
                                      y: { beginAtZero: true, title: { display: true, text: s.unit } } } },
    });
    charts["hist-" + s.key] = new Chart($("hist-" + s.key), {
      type: "bar",
      data: { labels: [], datasets: [{ data: [], backgroundColor: s.color }] },
      options: { ...common, indexAxis: "y",
                 scales: { x: { beginAtZero: true, title: { display: true, text: "batches" } },
                           y: { reverse: true, title: { display: true, text: s.unit } } } },
    });
  }
}

// Ten equal bins from 0 to the largest value.
function histogram(values) {
  const bins = 10;
  const max = Math.max(1e-9, ...values);
  const width = max / bins;
  const counts = new Array(bins).fill(0);
  for (const v of values) counts[Math.min(bins - 1, Math.floor(v / width))]++;
  const num = (x) => x >= 10 ? Math.round(x).toLocaleString("en-US") : x.toFixed(x >= 1 ? 1 : 2);
  const labels = counts.map((_, i) => num(width * i) + "–" + num(width * (i + 1)));
  return { labels, counts };
}

// How many pixels of a canvas something was drawn on.
function paintedPixels(canvas) {
  const ctx = canvas.getContext("2d");
  const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) n++;
  return n;
}

function drawBatches(batches, interval) {
  const labels = batches.map((b) => clock(b.batch_time_ms));
  for (const s of series) {
    const values = batches.map((b) => s.value(b, interval));
    const line = charts["timeline-" + s.key];
    line.data.labels = labels;
    line.data.datasets[0].data = values;
    line.update();
    const h = histogram(values);
    const bar = charts["hist-" + s.key];
    bar.data.labels = h.labels;
    bar.data.datasets[0].data = h.counts;
    bar.update();
    const avg = values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;
    $("avg-" + s.key).textContent = values.length ? "avg " + (s.unit === "ms" ? fmtMs(avg) : fmtInt(avg) + " " + s.unit) : "";
  }
  // What was drawn, read back from the charts themselves.
  const input = charts["timeline-input"];
  const drawn = input.getDatasetMeta(0).data.length;
  const records = input.data.datasets[0].data.reduce((a, r) => a + Math.round(r * interval / 1000), 0);
  const histCount = charts["hist-processing"].data.datasets[0].data.reduce((a, c) => a + c, 0);
  const d = document.body.dataset;
  d.batchesDrawn = String(drawn);
  d.recordsDrawn = String(records);
  d.histogramBatches = String(histCount);
  d.firstBatch = batches.length ? String(batches[0].batch_time_ms) : "";
  d.lastBatch = batches.length ? String(batches[batches.length - 1].batch_time_ms) : "";
  d.inputPixels = String(paintedPixels(input.canvas));
  d.histogramPixels = String(paintedPixels(charts["hist-processing"].canvas));
}

async function refresh() {
  const get = (path) => fetch(path, { cache: "no-store" }).then((r) => {
    if (!r.ok) throw new Error(path + ": HTTP " + r.status);
    return r.json();
  });
  const [status, batches, receivers, workers, checkpoints, operators] = await Promise.all([
    get("/api/v1/status"), get("/api/v1/batches"), get("/api/v1/receivers"),
    get("/api/v1/workers"), get("/api/v1/checkpoints"), get("/api/v1/operators")]);

  const state = $("state");
  state.textContent = status.state;
  state.className = "state " + status.state;
  $("error").hidden = !status.error;
  $("error").textContent = status.error;
  $("started").textContent = dateTime(status.started_wall_ms);
  $("uptime").textContent = Math.round((status.wall_ms - status.started_wall_ms) / 1000) + " s";
  $("interval").textContent = fmtMs(status.batch_interval_ms);
  $("batches-completed").textContent = fmtInt(status.batches_completed);
  $("in-flight").textContent = fmtInt(status.batches_in_flight);
  $("received-records").textContent = fmtInt(status.received_records);
  $("processed-records").textContent = fmtInt(status.processed_records);
  $("input-rate").textContent = fmtInt(status.input_rate) + " records/s";
  $("batches-note").textContent = "(last " + batches.length + " of " + fmtInt(status.batches_completed) + ")";
  document.body.dataset.processedRecords = String(status.processed_records);

  drawBatches(batches, status.batch_interval_ms);
  fillTable("batches", batches.slice(-20).reverse(), (b) => [
    [clock(b.batch_time_ms), "text"], [fmtInt(b.batch_index)], [fmtInt(b.input_records)],
    [fmtMs(b.scheduling_delay_ms)], [fmtMs(b.processing_time_ms)], [fmtMs(b.total_delay_ms)]],
    (b) => ({ batchTime: b.batch_time_ms, records: b.input_records, processingMs: b.processing_time_ms }));
  fillTable("receivers", receivers, (r) => [
    [String(r.stream)], [r.name, "text"], [r.state, "text"], [fmtInt(r.rate) + " /s"], [fmtInt(r.records)],
    [fmtInt(r.errors)], [r.last_error ? dateTime(r.last_error_wall_ms) + ": " + r.last_error : "-", "text"]],
    (r) => ({ stream: r.stream, records: r.records }));
  fillTable("workers", workers, (w) => [
    [w.label, "text"], [w.node, "text"], [w.state + (w.lost_reason ? " (" + w.lost_reason + ")" : ""), "text"],
    [w.heartbeat_age_ms === null ? "-" : fmtMs(w.heartbeat_age_ms)], [fmtInt(w.tasks_running)],
    [fmtInt(w.tasks_completed)], [fmtInt(w.state_partitions)]],
    (w) => ({ label: w.label, tasksCompleted: w.tasks_completed }));
  const last = checkpoints.last;
  $("checkpoint-summary").textContent = !checkpoints.enabled ? "Checkpoints are off."
    : fmtInt(checkpoints.written) + " written to " + checkpoints.dir +
      (last ? "; the last after batch " + clock(last.batch_time_ms) + ", " + fmtMs(last.duration_ms) + ", " + fmtBytes(last.bytes) : "");
  fillTable("checkpoints", checkpoints.recent.slice(-8).reverse(), (c) => [
    [c.batch_time_ms < 0 ? "(before the first)" : clock(c.batch_time_ms), "text"], [clock(c.wall_ms), "text"],
    [fmtMs(c.duration_ms)], [fmtBytes(c.bytes)]],
    (c) => ({ batchTime: c.batch_time_ms, bytes: c.bytes }));
  fillTable("operators", operators, (o) => [
    [String(o.node)], [o.name, "text"], [fmtInt(o.partitions)],
    [o.state_bytes === null ? "no checkpoint yet" : fmtBytes(o.state_bytes)],
    [o.measured_batch_ms === null ? "-" : clock(o.measured_batch_ms), "text"]],
    (o) => ({ node: o.node, partitions: o.partitions }));
  document.body.dataset.updates = String(Number(document.body.dataset.updates) + 1);
}

function loop() {
  refresh().catch((e) => {
    $("state").textContent = "unreachable";
    $("state").className = "state failed";
    document.body.dataset.lastError = String(e);
  }).finally(() => setTimeout(loop, 1000));
}

makeCharts();
loop();
