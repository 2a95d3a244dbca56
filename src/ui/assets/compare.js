// hpo ui, the compare page: plots of all trials of a study, or of runs picked in the runs table,
// from one request to /api/compare. Loaded before app.js, whose helpers (el, svg, api, fmtNum, ...)
// it uses once the page runs. Numeric params sit on linear or log axes, other params on categorical
// axes. Up to SVG_MAX runs every mark is an SVG element (with a title); above that the marks are
// painted on a canvas over the SVG frame, which stays fast at 10,000 runs (the frame then carries
// the count of marks in data-marks, and the canvas's title names the mark under the pointer).
'use strict';

const GRID = 20;
const SVG_MAX = 2000;
const LOG_SPAN = 100;
const MAX_TICKS = 12;

function extent(values) {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
  if (!Number.isFinite(lo)) return [0, 1];
  if (lo === hi) return lo > 0 ? [lo / 2, hi * 2] : [lo - 1, hi + 1];
  return [lo, hi];
}

function asNumber(s) {
  if (s === undefined || s === null || String(s).trim() === '') return NaN;
  const n = Number(s);
  return Number.isFinite(n) ? n : NaN;
}

// Whether positive values spanning at least LOG_SPAN suit a log axis.
function suitsLog(values) {
  const [lo, hi] = extent(values.filter(Number.isFinite));
  return values.length > 0 && values.every((v) => !Number.isFinite(v) || v > 0) && lo > 0 && hi / lo >= LOG_SPAN;
}

// A round step giving about n intervals over span: 1, 2 or 5 times a power of ten.
function niceStep(span, n) {
  const raw = span / n;
  const e = 10 ** Math.floor(Math.log10(raw));
  const m = raw / e;
  return (m < 1.5 ? 1 : m < 3 ? 2 : m < 7 ? 5 : 10) * e;
}

// A tick's label with as many digits as the step needs, so neighbouring ticks never read the same:
// fixed decimals for everyday magnitudes, exponents for tiny or huge ones.
function tickLabel(v, step, mag) {
  if (Math.abs(v) < step * 1e-9) return '0';
  if (mag >= 1e5 || mag < 1e-3) {
    const digits = Math.floor(Math.log10(mag)) - Math.floor(Math.log10(step) + 1e-9);
    return v.toExponential(Math.min(Math.max(digits, 0), 15));
  }
  return v.toFixed(Math.min(Math.max(-Math.floor(Math.log10(step) + 1e-9), 0), 15));
}

// Ticks at the round values inside [lo, hi], with distinct labels.
function linearTicks(lo, hi, pos) {
  const step = niceStep(hi - lo, 4);
  const mag = Math.max(Math.abs(lo), Math.abs(hi));
  const out = [], seen = new Set();
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9 && out.length < MAX_TICKS; k++) {
    const text = tickLabel(k * step, step, mag);
    if (seen.has(text)) continue;
    seen.add(text);
    out.push({p: Math.min(Math.max(pos(k * step), 0), 1), text});
  }
  return out;
}

// Ticks of a log axis: the powers of ten inside, else 1, 2 and 5 times them, else round linear values.
function logTicks(lo, hi, pos) {
  const decades = [], fine = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v < lo * (1 - 1e-12) || v > hi * (1 + 1e-12)) continue;
      const tick = {p: pos(v), text: m === 1 ? '1e' + e : String(Number(v.toPrecision(1)))};
      if (m === 1) decades.push(tick);
      fine.push(tick);
    }
  }
  if (decades.length >= 2) return decades;
  if (fine.length >= 2) return fine.slice(0, MAX_TICKS);
  return linearTicks(lo, hi, pos);
}

// An axis maps a trial to a position in [0, 1] (NaN when it has no value) and has labelled ticks.
function numericAxis(label, get, trials, log) {
  const vals = trials.map(get).filter((v) => Number.isFinite(v) && (!log || v > 0));
  const [lo, hi] = extent(vals);
  const f = log ? Math.log : (v) => v;
  const a = f(lo), b = f(hi);
  const pos = (v) => (Number.isFinite(v) && (!log || v > 0) ? (f(v) - a) / (b - a) : NaN);
  const ticks = log ? logTicks(lo, hi, pos) : linearTicks(lo, hi, pos);
  return {label: log ? label + ' (log)' : label, at: (t) => pos(get(t)), ticks, categorical: false};
}

function categoricalAxis(label, get, categories) {
  const index = new Map(categories.map((c, i) => [c, i]));
  const k = Math.max(categories.length, 1);
  const every = Math.ceil(categories.length / MAX_TICKS);
  const short = (c) => (c.length > 14 ? c.slice(0, 13) + '…' : c);
  const ticks = categories.map((c, i) => ({p: (i + 0.5) / k, text: short(c)})).filter((_, i) => i % every === 0);
  return {label, at: (t) => { const i = index.get(get(t)); return i === undefined ? NaN : (i + 0.5) / k; }, ticks, categorical: true, k};
}

// The axis of a param given the server's description of it and the log choices.
function paramAxis(p, trials, logs) {
  const get = (t) => t.params[p.key];
  if (p.kind === 'categorical') return categoricalAxis(p.key, get, p.categories);
  return numericAxis(p.key, (t) => asNumber(get(t)), trials, logs.has(p.key));
}

// A small spread of marks on a categorical axis, fixed per trial, so equal values do not hide each other.
function jitter(axis, t) {
  if (!axis.categorical) return 0;
  const h = Math.sin((t.number + 1) * 12.9898) * 43758.5453;
  return ((h - Math.floor(h)) - 0.5) * 0.5 / axis.k;
}

// A color from good (low metric: dark blue) to bad (high: orange), t in [0, 1].
const RAMP = [[49, 54, 149], [69, 117, 180], [116, 173, 209], [171, 217, 233], [254, 224, 144], [253, 174, 97], [244, 109, 67]];
function rampColor(t) {
  const x = Math.min(Math.max(Number.isFinite(t) ? t : 0, 0), 1) * (RAMP.length - 1);
  const i = Math.min(Math.floor(x), RAMP.length - 2);
  const f = x - i;
  const c = RAMP[i].map((v, k) => Math.round(v + (RAMP[i + 1][k] - v) * f));
  return 'rgb(' + c.join(',') + ')';
}

// A chart: an SVG frame with both axes, and the marks drawn by addMarks.
function frame(id, xAxis, yAxis, W, H) {
  W = W || 560; H = H || 300;
  const L = 75, R = 20, T = 12, B = 44;
  const root = svg('svg', {id, width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, class: 'chart', role: 'img'});
  const sx = (p) => L + p * (W - L - R);
  const sy = (p) => T + (1 - p) * (H - T - B);
  root.appendChild(svg('line', {x1: L, y1: H - B, x2: W - R, y2: H - B, class: 'axis'}));
  root.appendChild(svg('line', {x1: L, y1: T, x2: L, y2: H - B, class: 'axis'}));
  for (const t of xAxis.ticks) {
    const anchor = t.p === 0 && !xAxis.categorical ? 'start' : t.p === 1 ? 'end' : 'middle';
    root.appendChild(svg('line', {x1: sx(t.p), y1: H - B, x2: sx(t.p), y2: H - B + 4, class: 'axis'}));
    root.appendChild(svg('text', {x: sx(t.p), y: H - B + 15, 'text-anchor': anchor, class: 'tick', 'data-axis': 'x'}, t.text));
  }
  for (const t of yAxis.ticks) {
    root.appendChild(svg('line', {x1: L - 4, y1: sy(t.p), x2: L, y2: sy(t.p), class: 'axis'}));
    root.appendChild(svg('text', {x: L - 6, y: sy(t.p) + 4, 'text-anchor': 'end', class: 'tick', 'data-axis': 'y'}, t.text));
  }
  root.appendChild(svg('text', {x: (L + W - R) / 2, y: H - 6, 'text-anchor': 'middle', class: 'label'}, xAxis.label));
  root.appendChild(svg('text', {x: 12, y: (T + H - B) / 2, 'text-anchor': 'middle', class: 'label',
    transform: 'rotate(-90 12 ' + (T + H - B) / 2 + ')'}, yAxis.label));
  return {root, sx, sy, W, H, L, R, T, B};
}

// Draws marks ({dot: [x, y] | line: [[x, y], ...], cls, color, trial, title}) on an SVG chart, or on
// a canvas under it when there are many (the chart is then transparent, so its axes and labels stay
// on top); `under` are colored cells ({rect: [x, y, w, h], color}) drawn below the marks. Returns the
// node to put on the page.
function addMarks(root, W, H, marks, under) {
  const cells = under || [];
  if (marks.length <= SVG_MAX) {
    if (cells.length) {
      const g = svg('g', {class: 'cells'});
      for (const c of cells) {
        g.appendChild(svg('rect', {x: c.rect[0].toFixed(1), y: c.rect[1].toFixed(1), width: c.rect[2].toFixed(1),
          height: c.rect[3].toFixed(1), fill: c.color}));
      }
      root.insertBefore(g, root.firstChild);
    }
    for (const m of marks) {
      const node = m.dot
        ? svg('circle', {cx: m.dot[0].toFixed(1), cy: m.dot[1].toFixed(1), r: 3.5, class: 'mark ' + m.cls, 'data-trial': m.trial.number})
        : svg('polyline', {points: m.line.map((p) => p[0].toFixed(1) + ',' + p[1].toFixed(1)).join(' '), class: 'mark ' + m.cls,
          'data-trial': m.trial.number, stroke: m.color});
      if (m.color && m.dot) node.setAttribute('fill', m.color);
      node.appendChild(svg('title', {}, m.title()));
      root.appendChild(node);
    }
    return root;
  }
  root.dataset.marks = marks.length;
  const scale = window.devicePixelRatio || 1;
  const canvas = el('canvas', {width: Math.round(W * scale), height: Math.round(H * scale), class: 'marks'});
  canvas.style.width = W + 'px';
  canvas.style.height = H + 'px';
  const g = canvas.getContext('2d');
  g.scale(scale, scale);
  g.fillStyle = '#fff';
  g.fillRect(0, 0, W, H);
  for (const c of cells) {
    g.fillStyle = c.color;
    g.fillRect(c.rect[0], c.rect[1], c.rect[2], c.rect[3]);
  }
  const dots = marks.filter((m) => m.dot);
  // one path per color (kept in first-seen order, so later marks stay on top): far fewer strokes
  const byColor = (list, fallback) => {
    const groups = new Map();
    for (const m of list) {
      const c = m.color || fallback(m);
      if (!groups.has(c)) groups.set(c, []);
      groups.get(c).push(m);
    }
    return groups;
  };
  g.globalAlpha = 0.35;
  g.lineWidth = 1;
  for (const [color, lines] of byColor(marks.filter((m) => m.line), () => '#1f6feb')) {
    g.strokeStyle = color;
    g.beginPath();
    for (const m of lines) m.line.forEach((p, i) => (i ? g.lineTo(p[0], p[1]) : g.moveTo(p[0], p[1])));
    g.stroke();
  }
  g.globalAlpha = 0.8;
  for (const [color, group] of byColor(dots, (m) => (m.cls === 'cpoint' ? '#fff' : '#1f6feb'))) {
    g.fillStyle = color;
    g.beginPath();
    for (const m of group) {
      g.moveTo(m.dot[0] + 2, m.dot[1]);
      g.arc(m.dot[0], m.dot[1], 2, 0, 2 * Math.PI);
    }
    g.fill();
    if (group[0].cls === 'cpoint') { g.strokeStyle = '#24292f'; g.lineWidth = 0.5; g.stroke(); }
  }
  // the title of the dot under the pointer, looked up in a coarse grid of the dots
  const cell = 8, buckets = new Map();
  for (const m of dots) {
    const k = Math.floor(m.dot[0] / cell) + ':' + Math.floor(m.dot[1] / cell);
    if (!buckets.has(k)) buckets.set(k, []);
    buckets.get(k).push(m);
  }
  canvas.addEventListener('mousemove', (ev) => {
    const r = canvas.getBoundingClientRect();
    const x = ev.clientX - r.left, y = ev.clientY - r.top;
    let best = null, bestD = 36;
    for (let i = -1; i <= 1; i++) {
      for (let j = -1; j <= 1; j++) {
        for (const m of buckets.get((Math.floor(x / cell) + i) + ':' + (Math.floor(y / cell) + j)) || []) {
          const d = (m.dot[0] - x) ** 2 + (m.dot[1] - y) ** 2;
          if (d < bestD) { bestD = d; best = m; }
        }
      }
    }
    canvas.title = best ? best.title() : '';
  });
  root.classList.add('over');
  return el('div', {class: 'layered'}, canvas, root);
}

function trialTitle(t, metric) {
  return t.name + ' (' + t.number + '): ' + metric + ' ' + fmtNum(t.value);
}

// 1. Each trial's metric against its number, and the best so far.
function historyPlot(trials, metric, yAxis) {
  const xAxis = numericAxis('trial', (t) => t.number, trials, false);
  const f = frame('plot-history', xAxis, yAxis);
  // the best so far as a staircase
  let best = Infinity;
  const line = [];
  for (const t of trials) {
    if (t.value >= best) continue;
    best = t.value;
    const x = f.sx(xAxis.at(t)), y = f.sy(yAxis.at(t));
    if (line.length) line.push([x, line[line.length - 1][1]]);
    line.push([x, y]);
  }
  if (line.length) line.push([f.sx(1), line[line.length - 1][1]]);
  f.root.appendChild(svg('polyline', {points: line.map((p) => p[0].toFixed(1) + ',' + p[1].toFixed(1)).join(' '), class: 'best'}));
  const marks = trials.map((t) => ({dot: [f.sx(xAxis.at(t)), f.sy(yAxis.at(t))], cls: 'point', trial: t, title: () => trialTitle(t, metric)}));
  return addMarks(f.root, f.W, f.H, marks);
}

// 2. Parallel coordinates: one vertical axis per param and one for the metric.
function parallelPlot(trials, metric, axes, yAxis) {
  const all = axes.concat([yAxis]);
  const W = Math.max(560, 120 * all.length), H = 320, T = 26, B = 30, L = 60, R = 80;
  const root = svg('svg', {id: 'plot-parallel', width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, class: 'chart', role: 'img'});
  const step = all.length > 1 ? (W - L - R) / (all.length - 1) : 0;
  const sy = (p) => T + (1 - p) * (H - T - B);
  all.forEach((a, i) => {
    const x = L + i * step;
    root.appendChild(svg('line', {x1: x, y1: T, x2: x, y2: H - B, class: 'axis'}));
    root.appendChild(svg('text', {x, y: T - 10, 'text-anchor': 'middle', class: 'label'}, a.label));
    for (const t of a.ticks) root.appendChild(svg('text', {x: x + 4, y: sy(t.p) + 4, class: 'tick', 'data-axis': a.label}, t.text));
  });
  // the best trials last, so they are drawn on top
  const marks = trials.slice().sort((a, b) => b.value - a.value).map((t) => {
    const line = [];
    all.forEach((a, i) => {
      const p = a.at(t);
      if (Number.isFinite(p)) line.push([L + i * step, sy(p)]);
    });
    // colors in 32 steps, so a canvas draws them in 32 strokes
    return {line, cls: 'pline', color: rampColor(Math.round(yAxis.at(t) * 31) / 31), trial: t, title: () => trialTitle(t, metric)};
  });
  return addMarks(root, W, H, marks);
}

// 3. One param against the metric; a trial without the param sits on the left edge.
function scatterPlot(trials, metric, xAxis, yAxis) {
  const f = frame('plot-scatter', xAxis, yAxis);
  const marks = trials.map((t) => {
    const p = xAxis.at(t);
    const x = Number.isFinite(p) ? p + jitter(xAxis, t) : 0;
    return {dot: [f.sx(x), f.sy(yAxis.at(t))], cls: 'point', trial: t,
      title: () => trialTitle(t, metric) + ', ' + xAxis.key + ' ' + (t.params[xAxis.key] ?? 'missing')};
  });
  return addMarks(f.root, f.W, f.H, marks);
}

// 4. Two params against the metric: a GRID x GRID map, each cell colored by the mean metric of the trials
// in it, or of the nearest trial when it holds none; the trials on top as dots.
function contourPlot(trials, metric, xAxis, yAxis, metricAxis) {
  const f = frame('plot-contour', xAxis, yAxis);
  const px = trials.map((t) => { const p = xAxis.at(t); return Number.isFinite(p) ? p + jitter(xAxis, t) : 0; });
  const py = trials.map((t) => { const p = yAxis.at(t); return Number.isFinite(p) ? p + jitter(yAxis, {number: t.number + 7919}) : 0; });
  const vs = trials.map((t) => metricAxis.at(t));
  const sums = new Float64Array(GRID * GRID);
  const counts = new Uint32Array(GRID * GRID);
  const cellOf = (p) => Math.min(Math.max(Math.floor(p * GRID), 0), GRID - 1);
  trials.forEach((t, i) => {
    const k = cellOf(py[i]) * GRID + cellOf(px[i]);
    sums[k] += vs[i];
    counts[k] += 1;
  });
  const cw = (f.W - f.L - f.R) / GRID, ch = (f.H - f.T - f.B) / GRID;
  const cells = [];
  for (let gy = 0; gy < GRID; gy++) {
    for (let gx = 0; gx < GRID; gx++) {
      let v;
      const k = gy * GRID + gx;
      if (counts[k]) v = sums[k] / counts[k];
      else {
        const cx = (gx + 0.5) / GRID, cy = (gy + 0.5) / GRID;
        let bestD = Infinity;
        for (let i = 0; i < trials.length; i++) {
          const d = (px[i] - cx) ** 2 + (py[i] - cy) ** 2;
          if (d < bestD) { bestD = d; v = vs[i]; }
        }
      }
      cells.push({rect: [f.L + gx * cw, f.T + (GRID - 1 - gy) * ch, cw + 0.5, ch + 0.5], color: rampColor(v)});
    }
  }
  const marks = trials.map((t, i) => ({dot: [f.sx(px[i]), f.sy(py[i])], cls: 'cpoint', trial: t,
    title: () => trialTitle(t, metric) + ', ' + xAxis.key + ' ' + (t.params[xAxis.key] ?? 'missing') + ', ' +
      yAxis.key + ' ' + (t.params[yAxis.key] ?? 'missing')}));
  return addMarks(f.root, f.W, f.H, marks, cells);
}

// The colour scale of the contour and parallel-coordinate plots: the ramp from the lowest (best) to
// the highest metric, with the metric axis's ticks under it.
function colorLegend(id, metric, metricAxis) {
  const W = 560, H = 40, L = 75, R = 20, T = 4, BAR = 12, N = 32;
  const root = svg('svg', {id, width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, class: 'legend', role: 'img'});
  const w = (W - L - R) / N;
  for (let i = 0; i < N; i++) {
    root.appendChild(svg('rect', {x: (L + i * w).toFixed(1), y: T, width: (w + 0.5).toFixed(1), height: BAR, fill: rampColor((i + 0.5) / N)}));
  }
  root.appendChild(svg('text', {x: L - 6, y: T + BAR - 2, 'text-anchor': 'end', class: 'label'}, metric));
  for (const t of metricAxis.ticks) {
    const anchor = t.p < 0.02 ? 'start' : t.p > 0.98 ? 'end' : 'middle';
    root.appendChild(svg('text', {x: L + t.p * (W - L - R), y: T + BAR + 14, 'text-anchor': anchor, class: 'tick'}, t.text));
  }
  return root;
}

// 5. Importance (computed by the server) as horizontal bars.
function importancePlot(rows) {
  const W = 560, rowH = 22, L = 150, R = 60, T = 8;
  const H = T * 2 + Math.max(rows.length, 1) * rowH;
  const root = svg('svg', {id: 'plot-importance', width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, class: 'chart', role: 'img'});
  if (!rows.length) root.appendChild(svg('text', {x: 10, y: T + 14}, 'no params'));
  rows.forEach((r, i) => {
    const y = T + i * rowH;
    root.appendChild(svg('text', {x: L - 6, y: y + 15, 'text-anchor': 'end', class: 'label'}, r.param));
    root.appendChild(svg('rect', {x: L, y: y + 3, width: Math.max(r.value * (W - L - R), 0).toFixed(1), height: rowH - 6, class: 'bar'}));
    root.appendChild(svg('text', {x: L + r.value * (W - L - R) + 4, y: y + 15}, (r.value * 100).toFixed(1) + '%'));
  });
  return root;
}

// 5. Intermediate values: each run's learning curve (the watched metric by step) from
// /api/compare/curves, pruned runs drawn dashed and marked with a cross where they stopped, and the
// thresholds their pruner compared them with as short bars (one mark per run in data-trial).
function intermediatePlot(data, log) {
  const {metric, curves} = data;
  const pts = [];
  for (const c of curves) {
    for (const [s, v] of c.points) pts.push({s, v});
    for (const [s, v] of c.thresholds) pts.push({s, v});
  }
  const xAxis = numericAxis('step', (p) => p.s, pts, false);
  const yAxis = numericAxis(metric, (p) => p.v, pts, log && pts.every((p) => p.v > 0));
  const f = frame('plot-intermediate', xAxis, yAxis, 560, 320);
  const X = (s) => f.sx(xAxis.at({s})), Y = (v) => f.sy(yAxis.at({v}));
  const ok = (x, y) => Number.isFinite(x) && Number.isFinite(y);
  for (const c of curves) {
    const pruned = c.state === 'PRUNED';
    const title = c.name + ' (' + c.number + '): ' + c.state.toLowerCase() +
      (c.pruned ? ' at step ' + c.pruned.step + ', ' + metric + ' ' + fmtNum(c.pruned.value) : '');
    const g = svg('g', {class: 'lc' + (pruned ? ' pruned' : ''), 'data-trial': c.number, 'data-state': c.state});
    g.appendChild(svg('title', {}, title));
    const line = c.points.map(([s, v]) => [X(s), Y(v)]).filter(([x, y]) => ok(x, y));
    g.appendChild(svg('polyline', {points: line.map((p) => p[0].toFixed(1) + ',' + p[1].toFixed(1)).join(' '), class: 'lcurve'}));
    for (const [s, v] of c.thresholds) {
      const x = X(s), y = Y(v);
      if (ok(x, y)) g.appendChild(svg('line', {x1: x - 4, y1: y, x2: x + 4, y2: y, class: 'threshold', 'data-step': s}));
    }
    if (c.pruned) {
      const x = X(c.pruned.step), y = Y(c.pruned.value);
      if (ok(x, y)) g.appendChild(svg('path', {d: 'M' + (x - 4) + ',' + (y - 4) + 'l8,8m0,-8l-8,8', class: 'pruned-mark', 'data-step': c.pruned.step}));
    }
    f.root.appendChild(g);
  }
  return f.root;
}

function paramSelect(id, keys, chosen, onchange) {
  return el('select', {id, onchange: (ev) => onchange(ev.target.value)},
    keys.map((k) => el('option', {value: k, selected: k === chosen}, k)));
}

// The compare page: `what` is {study: run id} or {runs: [run ids], experiment: id or null}.
async function comparePage(what) {
  const q = what.study ? 'study=' + enc(what.study) : 'runs=' + what.runs.map(enc).join(',');
  const data = await api('compare?' + q);
  const {metric, trials} = data;
  const expId = data.study ? data.study.experiment_id : what.experiment;
  const back = expId !== undefined && expId !== null ? ['  ', el('a', {href: '#/experiments/' + enc(expId)}, 'back to the experiment')] : [];
  const title = data.study
    ? el('h1', {}, 'Compare ', el('a', {href: '#/runs/' + enc(data.study.run_id)}, data.study.run_name || data.study.run_id))
    : el('h1', {}, 'Compare ' + data.total + ' selected runs');
  const head = [title, el('p', {class: 'muted', id: 'compare-summary'}, trials.length + ' finished runs with ' + metric + ' of ' + data.total +
    ' (lower is better).', back)];
  if (!trials.length) {
    show(...head, el('p', {}, 'No finished runs with a finite ' + metric + '.'));
    return;
  }
  const keys = data.params.map((p) => p.key);
  const byKey = new Map(data.params.map((p) => [p.key, p]));
  // log axes: chosen by the server for params, by the same rule here for the metric; toggled below
  const logs = new Set(data.params.filter((p) => p.log).map((p) => p.key));
  if (suitsLog(trials.map((t) => t.value))) logs.add('\u0000metric');
  const canLog = data.params.filter((p) => p.kind === 'numeric' &&
    trials.every((t) => t.params[p.key] === undefined || asNumber(t.params[p.key]) > 0)).map((p) => p.key);
  const metricPositive = trials.every((t) => t.value > 0);
  const ranked = data.importance.map((r) => r.param).filter((k) => byKey.has(k));
  let sx = ranked[0] || keys[0];
  let cx = ranked[0] || keys[0], cy = ranked[1] || keys[1] || keys[0];
  const boxes = {history: el('div', {class: 'plot'}), parallel: el('div', {class: 'plot'}), scatter: el('div', {class: 'plot'}), contour: el('div', {class: 'plot'})};
  const metricAxis = () => numericAxis(metric, (t) => t.value, trials, logs.has('\u0000metric'));
  const axisOf = (k) => Object.assign(paramAxis(byKey.get(k), trials, logs), {key: k});
  const draw = {
    history: () => boxes.history.replaceChildren(historyPlot(trials, metric, metricAxis())),
    parallel: () => boxes.parallel.replaceChildren(parallelPlot(trials, metric, keys.map(axisOf), metricAxis()),
      colorLegend('legend-parallel', metric, metricAxis())),
    scatter: () => keys.length && boxes.scatter.replaceChildren(scatterPlot(trials, metric, axisOf(sx), metricAxis())),
    contour: () => keys.length && boxes.contour.replaceChildren(contourPlot(trials, metric, axisOf(cx), axisOf(cy), metricAxis()),
      colorLegend('legend-contour', metric, metricAxis())),
  };
  const redraw = () => Object.values(draw).forEach((d) => d());
  const logBox = (key, label) => el('label', {class: 'choice'}, el('input', {type: 'checkbox', class: 'log-toggle', 'data-key': label,
    checked: logs.has(key), onchange: (ev) => { if (ev.target.checked) logs.add(key); else logs.delete(key); redraw(); }}), label);
  const logChoices = canLog.map((k) => logBox(k, k));
  if (metricPositive) logChoices.push(logBox('\u0000metric', metric));
  const parts = [...head];
  if (logChoices.length) parts.push(el('div', {class: 'toolbar', id: 'log-axes'}, 'Log scale: ', logChoices));
  parts.push(el('div', {class: 'plots'},
    el('section', {class: 'plot'}, el('h2', {}, 'Optimization history'), boxes.history),
    el('section', {class: 'plot'}, el('h2', {}, 'Parameter importance'),
      data.importance_note ? el('p', {id: 'importance-note', class: 'muted'}, data.importance_note) : importancePlot(data.importance),
      el('p', {class: 'muted small'}, 'Share of the variance of ' + metric + ' explained by each param alone (its categories, or ' +
        'equal-count bins of its values), corrected for chance, normalized to sum 1.'))),
  el('section', {class: 'plot'}, el('h2', {}, 'Parallel coordinates'), boxes.parallel));
  if (keys.length) {
    parts.push(el('div', {class: 'plots'},
      el('section', {class: 'plot'}, el('h2', {}, 'Scatter'),
        el('div', {class: 'toolbar'}, 'param ', paramSelect('scatter-param', keys, sx, (v) => { sx = v; draw.scatter(); })), boxes.scatter),
      el('section', {class: 'plot'}, el('h2', {}, 'Contour'),
        el('div', {class: 'toolbar'}, 'x ', paramSelect('contour-x', keys, cx, (v) => { cx = v; draw.contour(); }),
          ' y ', paramSelect('contour-y', keys, cy, (v) => { cy = v; draw.contour(); })), boxes.contour)));
  } else {
    parts.push(el('p', {class: 'muted'}, 'No params: no scatter or contour.'));
  }
  const curvesBox = el('div', {class: 'plot', id: 'intermediate'});
  parts.push(el('section', {class: 'plot'}, el('h2', {}, 'Intermediate values'), curvesBox));
  redraw();
  show(...parts);
  intermediateSection(q, curvesBox);
}

// Fills the intermediate-values section once its data came (a study without learning curves says so).
async function intermediateSection(q, box) {
  let data;
  try {
    data = await api('compare/curves?' + q);
  } catch (e) {
    box.replaceChildren(el('p', {class: 'muted'}, 'Learning curves unavailable: ' + e.message));
    return;
  }
  if (!data.curves.length) {
    box.replaceChildren(el('p', {class: 'muted', id: 'intermediate-note'}, 'No run reported ' + data.metric + ' by step.'));
    return;
  }
  let log = false;
  const pruned = data.curves.filter((c) => c.state === 'PRUNED').length;
  const draw = () => box.replaceChildren(
    el('div', {class: 'toolbar'}, el('label', {class: 'choice'}, el('input', {type: 'checkbox', id: 'intermediate-log', checked: log,
      onchange: (ev) => { log = ev.target.checked; draw(); }}), 'log scale')),
    intermediatePlot(data, log),
    el('p', {class: 'muted small', id: 'intermediate-summary'}, data.curves.length + ' runs with ' + data.metric + ' by step, ' + pruned +
      ' pruned (dashed, a cross where they stopped); bars: the pruner\'s threshold at the steps it decided on' +
      (data.truncated ? '; only the first ' + data.curves.length + ' runs' : '') + '.'));
  draw();
}
