// The live page: polls the training process (live.py) and draws what it says.
// No framework and no build step; the charts are uPlot's (vendor/uplot).
"use strict";

const TOKEN = document.querySelector('meta[name="live-token"]').content;
const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
                 "#17becf", "#7f7f7f", "#bcbd22"];
const POLL_TRAINING = 1500, POLL_IDLE = 3000, REANSWER = 3000;
const $ = (id) => document.getElementById(id);

let state = null, version = -1, charts = {}, drawing = null, answered = {step: -1, at: 0};
let busy = false;

// ---------------------------------------------------------------------------
// talking to the server

async function getJSON(path) {
  const r = await fetch(path, {cache: "no-store"});
  return [r.status, await r.json()];
}

async function postJSON(path, body, withToken) {
  const headers = {"Content-Type": "application/json"};
  if (withToken) headers["X-Live-Token"] = TOKEN;
  const r = await fetch(path, {method: "POST", headers, body: JSON.stringify(body || {})});
  return [r.status, await r.json()];
}

async function poll() {
  let wait = POLL_IDLE;
  try {
    const [, s] = await getJSON("api/state");
    state = s;
    showState(s);
    if (s.version !== version) {
      const [, view] = await getJSON("api/epoch");
      version = view.version;
      showEpoch(view);
    }
    if ((s.status === "training" || s.status === "paused" || s.status === "stopping") &&
        !document.hidden) {  // a tab in the background asks less often
      wait = POLL_TRAINING;
    }
    reanswer(s);
  } catch (e) {
    setStatus("disconnected");
  }
  setTimeout(poll, wait);
}

// ---------------------------------------------------------------------------
// status and progress

function setStatus(status) {
  const badge = $("status");
  badge.textContent = status;
  badge.className = "badge " + status;
  $("pause").textContent = status === "paused" ? "continue" : "pause";
  const live = status === "training" || status === "paused";
  $("pause").disabled = !live;
  $("stop").disabled = !live;
}

function seconds(s) {
  if (s === null || s === undefined) return "?";
  if (s < 60) return Math.round(s) + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + Math.round(s % 60) + " s";
  return Math.floor(s / 3600) + " h " + Math.round((s % 3600) / 60) + " min";
}

function showState(s) {
  setStatus(s.status);
  const entry = s.entries[s.current];
  if (!entry) return;
  const name = entry.layers.join("-") + (entry.label ? " (" + entry.label + ")" : "");
  if (document.title !== "live: " + name) {  // a change repaints: only when there is one
    $("title").textContent = "live: " + name;
    document.title = "live: " + name;
  }
  const p = s.progress;
  const parts = [];
  if (s.status === "training" || s.status === "paused" || s.status === "stopping") {
    parts.push("epoch " + Math.min(p.epoch, entry.epochs) + "/" + entry.epochs);
    parts.push("batch " + p.done + "/" + p.total);
    if (p.loss !== null) parts.push("running loss " + p.loss.toFixed(4));
  } else if (entry.test_accuracy !== null && entry.test_accuracy !== undefined) {
    parts.push("test accuracy " + (100 * entry.test_accuracy).toFixed(2) + "%");
  }
  parts.push('steps <span id="steps">' + p.steps + "</span>");
  if (p.steps_per_s) parts.push(p.steps_per_s.toFixed(0) + " steps/s");
  if (s.status === "training") parts.push(seconds(p.eta) + " left");
  const progress = parts.join(" &middot; ");
  if ($("progress").innerHTML !== progress) $("progress").innerHTML = progress;
  showCurves(s);
}

// ---------------------------------------------------------------------------
// charts

function chartWidth(id) {
  return Math.max(300, $(id).parentElement.clientWidth - 4);
}

function chart(id, series, data, log) {
  const old = charts[id];
  if (old && old.series.length === series.length + 1 &&
      old.series.every((s, i) => i === 0 || s.label === series[i - 1].label)) {
    old.setData(data);
    return old;
  }
  if (old) old.destroy();
  const opts = {
    width: chartWidth(id), height: 200,
    scales: {x: {time: false}, y: log ? {distr: 3} : {}},
    series: [{label: id === "running-chart" ? "epoch" : "epoch"}].concat(series),
    axes: [{}, {size: 60}],
    legend: {live: true},
  };
  charts[id] = new uPlot(opts, data, $(id));
  return charts[id];
}

function line(label, colour, current, dashed) {
  return {label, stroke: colour, width: current ? 2.5 : 1.2, dash: dashed ? [6, 4] : undefined,
          spanGaps: true, points: {show: true, size: current ? 5 : 3},
          value: (u, v) => v === null || v === undefined ? "-" : v.toPrecision(4)};
}

let curvesKey = "";

function showCurves(s) {
  const running = s.running;
  chart("running-chart", [line("running loss", COLOURS[0], true, false)],
        [running.map((p) => p[0]), running.map((p) => p[1])], false);
  const key = s.current + ":" + s.entries.map((e) => e.curves.epoch.length).join(",");
  if (key === curvesKey) return;  // the epoch curves change once an epoch
  curvesKey = key;
  const most = Math.max(1, ...s.entries.map((e) => e.curves.epoch.length));
  const xs = Array.from({length: most}, (_, i) => i + 1);
  const pick = (e, key) => xs.map((x) => {
    const i = e.curves.epoch.indexOf(x);
    return i < 0 ? null : e.curves[key][i];
  });
  const several = s.entries.length > 1;
  $("loss-chart").dataset.epochs = s.entries[s.current].curves.epoch.length;
  for (const [id, key] of [["loss-chart", "loss"], ["acc-chart", "acc"]]) {
    const series = [], data = [xs];
    s.entries.forEach((e, n) => {
      const colour = COLOURS[n % COLOURS.length], current = n === s.current;
      const name = several ? (e.label || "entry " + (n + 1)) + ": " : "";
      series.push(line(name + "val " + key, colour, current, false));
      data.push(pick(e, "val_" + key));
      series.push(line(name + "train " + key, colour, current, true));
      data.push(pick(e, "train_" + key));
    });
    chart(id, series, data, key === "loss");
  }
  const entry = s.entries[s.current];
  chart("lr-chart", [line("learning rate", COLOURS[2], true, false)],
        [entry.curves.epoch, entry.curves.lr], false);
}

// ---------------------------------------------------------------------------
// once an epoch: layers, weights, validation

const MEANINGS = {
  act: "mean and standard deviation of the layer's activations on the probe rows",
  dead: "share of the layer's units never active on any probe row (a dead ReLU unit no longer learns)",
  saturated: "share of activations within reach of the activation's limits, where its derivative is almost 0",
  dW_rms: "root mean square of the gradient of the loss with respect to this layer's weights: how hard it is pushed",
  step: "update-to-weight ratio: how far one step moves the weights, relative to their size (healthy about 1e-3)",
  update: "how far the whole last epoch moved the weights, relative to their size",
};

function fmt(v, digits) {
  if (v === null || v === undefined) return "-";
  return Math.abs(v) >= 0.01 && Math.abs(v) < 1000 ? v.toFixed(digits || 3) : v.toExponential(1);
}

function share(v) {
  return v === null || v === undefined ? "-" : (100 * v).toFixed(0) + "%";
}

function cell(tr, html, title, cls) {
  const td = document.createElement("td");
  td.innerHTML = html;
  if (title) td.title = title;
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function histogram(h) {
  const c = document.createElement("canvas");
  c.width = 160; c.height = 40;
  const g = c.getContext("2d");
  const top = Math.max(1, ...h.counts);
  const w = c.width / h.counts.length;
  g.fillStyle = "#4a7bd0";
  h.counts.forEach((n, i) => {
    const height = (c.height - 2) * n / top;
    g.fillRect(i * w, c.height - height, w - 0.5, height);
  });
  const total = h.counts.reduce((a, b) => a + b, 0);
  c.title = "activations other than 0, from " + fmt(h.lo) + " to " + fmt(h.hi) +
            (h.zero ? "; exactly 0: " + share(h.zero) : "");
  c.addEventListener("mousemove", (ev) => {
    const i = Math.min(h.counts.length - 1, Math.floor(ev.offsetX / w));
    const step = (h.hi - h.lo) / h.counts.length;
    c.title = "activations " + fmt(h.lo + i * step) + " to " + fmt(h.lo + (i + 1) * step) +
              ": " + h.counts[i] + " of " + total + " non-zero values" +
              (h.zero ? "; exactly 0: " + share(h.zero) : "");
  });
  return c;
}

function showLayers(view) {
  const table = $("layers");
  table.innerHTML = "";
  $("general").innerHTML = "";
  if (!view) { $("layers-note").textContent = "no statistics yet"; return; }
  const last = view.epochs.length - 1;
  $("layers-note").textContent = "after epoch " + view.epochs[last] + ", on " + view.rows +
    " probe rows; hover over a figure for what it means";
  const head = document.createElement("tr");
  ["layer", "activations", "mean ± std", "dead / saturated", "dW RMS", "step ratio",
   "epoch moved W", "diagnosis"].forEach((h) => {
    const th = document.createElement("th");
    th.textContent = h;
    head.appendChild(th);
  });
  table.appendChild(head);
  for (const layer of view.layers) {
    const tr = document.createElement("tr");
    cell(tr, layer.name);
    const hist = cell(tr, "");
    if (layer.hist) hist.appendChild(histogram(layer.hist));
    if (layer.hidden) {
      cell(tr, fmt(layer.act_mean[last]) + " ± " + fmt(layer.act_std[last]), MEANINGS.act);
      const dead = layer.dead && layer.dead[last] !== null;
      cell(tr, dead ? share(layer.dead[last]) + " dead" :
                      layer.saturated ? share(layer.saturated[last]) + " saturated" : "-",
           dead ? MEANINGS.dead : MEANINGS.saturated);
    } else {
      cell(tr, "-"); cell(tr, "-");
    }
    cell(tr, fmt(layer.dW_rms[last]), "dW RMS " + fmt(layer.dW_rms[last]) + ": " + MEANINGS.dW_rms);
    cell(tr, fmt(layer.step[last]), "step ratio " + fmt(layer.step[last]) + ": " + MEANINGS.step);
    cell(tr, fmt(layer.update[last]), MEANINGS.update);
    const diag = cell(tr, "", "", "diag");
    diag.textContent = layer.diagnosis.join(" ") || "";
    table.appendChild(tr);
  }
  $("general").textContent = view.general.join(" ");
  const xs = view.epochs;
  const per = (key) => view.layers.map((l, n) => line(l.name, COLOURS[n % COLOURS.length], true, false));
  chart("grad-chart", per("dW_rms"), [xs].concat(view.layers.map((l) => l.dW_rms)), true);
  chart("step-chart", per("step"), [xs].concat(view.layers.map((l) => l.step.map(
    (v) => v && v > 0 ? v : null))), true);
}

function b64bytes(text) {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

function diverging(v) {  // 0..255, 128 is 0: blue, white, red
  const t = (v - 127.5) / 127.5;
  return t > 0 ? [255, 255 * (1 - t), 255 * (1 - t)] : [255 * (1 + t), 255 * (1 + t), 255];
}

function showTiles(tiles) {
  const c = $("tiles");
  if (!tiles) { c.width = c.height = 1; return; }
  const side = tiles.side, cols = 8, rows = Math.ceil(tiles.count / cols), gap = 1;
  c.width = cols * (side + gap); c.height = rows * (side + gap);
  c.style.width = (c.width * 2) + "px";
  const g = c.getContext("2d");
  g.fillStyle = "#fff";
  g.fillRect(0, 0, c.width, c.height);
  const img = g.createImageData(c.width, c.height);
  const data = b64bytes(tiles.data);
  img.data.fill(255);
  for (let k = 0; k < tiles.count; k++) {
    const r0 = Math.floor(k / cols) * (side + gap), c0 = (k % cols) * (side + gap);
    for (let p = 0; p < side * side; p++) {
      const [r, gr, b] = diverging(data[k * side * side + p]);
      const at = 4 * ((r0 + Math.floor(p / side)) * c.width + c0 + (p % side));
      img.data[at] = r; img.data[at + 1] = gr; img.data[at + 2] = b; img.data[at + 3] = 255;
    }
  }
  g.putImageData(img, 0, 0);
}

function greyCanvas(pixels, side, scale) {
  const c = document.createElement("canvas");
  c.width = c.height = side;
  c.style.width = c.style.height = (side * scale) + "px";
  paintGrey(c, pixels);
  return c;
}

function paintGrey(c, pixels) {
  const g = c.getContext("2d");
  const side = Math.round(Math.sqrt(pixels.length));
  c.width = c.height = side;
  const img = g.createImageData(side, side);
  for (let p = 0; p < pixels.length; p++) {
    img.data[4 * p] = img.data[4 * p + 1] = img.data[4 * p + 2] = pixels[p];
    img.data[4 * p + 3] = 255;
  }
  g.putImageData(img, 0, 0);
}

function showValidation(v) {
  const table = $("confusion"), box = $("mistakes");
  table.innerHTML = ""; box.innerHTML = "";
  if (!v) {
    $("val-note").textContent = "no validation rows here (a finished run served from its weights " +
      "file, or VAL_FRACTION = 0): see confusion.png and mistakes.png in its folder";
    return;
  }
  $("val-note").textContent = "the network at the end of the latest epoch, on the first " +
    v.rows + " validation rows: " + (100 * v.accuracy).toFixed(2) + "% right. Rows: true class; " +
    "columns: the answer.";
  const k = v.confusion.length;
  const head = document.createElement("tr");
  head.appendChild(document.createElement("th"));
  for (let j = 0; j < k; j++) {
    const th = document.createElement("th"); th.textContent = j; head.appendChild(th);
  }
  table.appendChild(head);
  v.confusion.forEach((row, i) => {
    const tr = document.createElement("tr");
    const th = document.createElement("th"); th.textContent = i; tr.appendChild(th);
    const total = Math.max(1, row.reduce((a, b) => a + b, 0));
    row.forEach((n, j) => {
      const td = cell(tr, n ? String(n) : "", "true " + i + ", answered " + j + ": " + n +
                      " rows (" + (100 * n / total).toFixed(1) + "% of the " + i + "s)");
      const a = i === j ? n / total : Math.min(1, 5 * n / total);
      td.style.background = i === j ? "rgba(60,150,60," + a + ")" : "rgba(210,60,50," + a + ")";
    });
    table.appendChild(tr);
  });
  for (const m of v.mistakes) {
    const fig = document.createElement("figure");
    fig.appendChild(greyCanvas(b64bytes(m.pixels), 28, 2));
    const cap = document.createElement("figcaption");
    cap.textContent = "true " + m.label + " (" + m.p_label.toFixed(2) + ")\nsaid " + m.said +
                      " (" + m.p_said.toFixed(2) + ")";
    cap.style.whiteSpace = "pre";
    fig.appendChild(cap);
    box.appendChild(fig);
  }
  if (!v.mistakes.length) box.textContent = "no mistakes on these rows";
}

function showEpoch(view) {
  showLayers(view.layers);
  showTiles(view.tiles);
  showValidation(view.validation);
}

// ---------------------------------------------------------------------------
// the pad

const pad = $("pad"), pen = pad.getContext("2d");

function clearPad() {
  pen.fillStyle = "#fff";
  pen.fillRect(0, 0, pad.width, pad.height);
  drawing = null;
  $("answer").textContent = "\u2013";
  $("answer-note").textContent = "";
  $("probs").innerHTML = "";
  $("hidden").innerHTML = "";
  $("pad-warning").textContent = "";
  $("input").getContext("2d").clearRect(0, 0, 112, 112);
}

let down = false, last = null, inked = false;

function at(ev) {
  const r = pad.getBoundingClientRect();
  const p = ev.touches ? ev.touches[0] : ev;
  return [(p.clientX - r.left) * pad.width / r.width, (p.clientY - r.top) * pad.height / r.height];
}

function strokeTo(p) {
  pen.strokeStyle = "#000"; pen.lineWidth = 18; pen.lineCap = "round"; pen.lineJoin = "round";
  pen.beginPath();
  pen.moveTo(last[0], last[1]);
  pen.lineTo(p[0], p[1]);
  pen.stroke();
  last = p;
  inked = true;
}

function start(ev) { ev.preventDefault(); down = true; last = at(ev); strokeTo(last); }
function move(ev) { if (!down) return; ev.preventDefault(); strokeTo(at(ev)); }
function end(ev) {
  if (!down) return;
  down = false;
  if (ev.cancelable) ev.preventDefault();
  if (inked) ask({png: pad.toDataURL("image/png")}, true);
}

pad.addEventListener("mousedown", start);
pad.addEventListener("mousemove", move);
window.addEventListener("mouseup", end);
pad.addEventListener("touchstart", start, {passive: false});
pad.addEventListener("touchmove", move, {passive: false});
pad.addEventListener("touchend", end, {passive: false});
$("clear").addEventListener("click", () => { inked = false; clearPad(); });

async function ask(body, fresh) {
  if (busy && !fresh) return;
  busy = true;
  try {
    const [status, a] = await postJSON("api/predict", body, false);
    if (status !== 200) {
      $("answer").textContent = "?";
      $("answer-note").textContent = a.error || "no answer";
      return;
    }
    if (fresh) drawing = a.input;
    answered = {step: a.step, at: Date.now()};
    showAnswer(a);
  } catch (e) {
    $("answer-note").textContent = "no answer: the server is gone";
  } finally {
    busy = false;
  }
}

function reanswer(s) {
  if (!drawing || busy || Date.now() - answered.at < REANSWER) return;
  if (s.progress.steps === answered.step && s.version === answered.version) return;
  answered.version = s.version;
  ask({pixels: drawing}, false);
}

function showAnswer(a) {
  $("answer").textContent = String(a.answer);
  $("answer-note").textContent = (100 * a.probs[a.answer]).toFixed(1) + "% sure, by the network " +
    "at epoch " + a.epoch.toFixed(2) + " (step " + a.step + ")";
  $("pad-warning").textContent = a.warnings.join(" ");
  paintGrey($("input"), a.input);
  $("input").style.width = $("input").style.height = "112px";
  const probs = $("probs");
  if (probs.children.length !== 3 * a.probs.length) {
    probs.innerHTML = "";
    a.probs.forEach((_, k) => {
      const label = document.createElement("span"); label.textContent = k;
      const track = document.createElement("div");
      track.appendChild(document.createElement("div"));
      probs.append(label, track, document.createElement("span"));
    });
  }
  a.probs.forEach((p, k) => {
    const bar = probs.children[3 * k + 1].firstChild;
    bar.className = "bar" + (k === a.answer ? " top" : "");
    bar.style.width = (100 * p).toFixed(1) + "%";
    probs.children[3 * k + 2].textContent = (100 * p).toFixed(1) + "%";
  });
  const hidden = $("hidden");
  if (hidden.children.length !== 2 * a.hidden.length) {  // built once, then repainted
    hidden.innerHTML = "";
    a.hidden.forEach(() => {
      const label = document.createElement("div");
      label.className = "label";
      const c = document.createElement("canvas");
      c.height = 1;
      c.addEventListener("mousemove", (ev) => {
        const acts = c.acts;
        const i = Math.min(acts.length - 1, Math.floor(ev.offsetX * acts.length / c.clientWidth));
        c.title = "unit " + (i + 1) + ": activation " + acts[i].toPrecision(3);
      });
      hidden.append(label, c);
    });
  }
  a.hidden.forEach((acts, l) => {
    const label = hidden.children[2 * l], c = hidden.children[2 * l + 1];
    const active = acts.filter((v) => v > 0).length;
    label.textContent = "hidden layer " + (l + 1) + ": " + acts.length + " units, " + active +
                        " active (brighter: larger activation)";
    c.acts = acts;
    c.width = acts.length;
    const g = c.getContext("2d"), img = g.createImageData(acts.length, 1);
    const top = Math.max(1e-9, ...acts.map(Math.abs));
    acts.forEach((v, i) => {
      const t = Math.abs(v) / top;
      img.data[4 * i] = v < 0 ? 60 : 255 * t; img.data[4 * i + 1] = 120 * t;
      img.data[4 * i + 2] = v < 0 ? 255 * t : 40; img.data[4 * i + 3] = 255;
    });
    g.putImageData(img, 0, 0);
  });
}

// ---------------------------------------------------------------------------
// the controls

$("pause").addEventListener("click", async () => {
  const path = state && state.status === "paused" ? "api/continue" : "api/pause";
  const [status, a] = await postJSON(path, {}, true);
  if (status === 200) setStatus(a.status === "training" && path === "api/pause" ? "paused" : a.status);
});

$("stop").addEventListener("click", async () => {
  const [status, a] = await postJSON("api/stop", {}, true);
  if (status === 200) setStatus(a.status);
});

window.addEventListener("resize", () => {
  for (const [id, c] of Object.entries(charts)) c.setSize({width: chartWidth(id), height: 200});
});

clearPad();
poll();
