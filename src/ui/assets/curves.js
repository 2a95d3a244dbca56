// hpo ui, the run page's metric chart (loaded before app.js; uses its helpers and compare.js's
// ticks at call time). It starts on the study's metric (the hpo.metric tag of the run's study, or
// of the run itself when it is a study), else on the metric with the most points, and lets the user
// overlay several metrics and several runs, put steps or seconds on the x axis, use a log scale and
// read each point's value by hovering it.
'use strict';

const CURVE_COLORS = ['#1f6feb', '#d1242f', '#1a7f37', '#9a6700', '#8250df', '#bf3989', '#0a7ea4', '#57606a'];

// The metric a run's chart starts on.
async function defaultCurveKey(run) {
  const keys = run.data.metrics.map((m) => m.key);
  let studyMetric = tag(run, 'hpo.runType') === 'study' ? tag(run, 'hpo.metric') : undefined;
  if (!studyMetric && run.info.parent_run_id) {
    try {
      const parent = (await api('runs/' + enc(run.info.parent_run_id))).run;
      studyMetric = tag(parent, 'hpo.metric');
    } catch (e) { studyMetric = undefined; }
  }
  if (studyMetric && keys.includes(studyMetric)) return studyMetric;
  let best = run.data.metrics[0];
  for (const m of run.data.metrics) if (m.count > best.count) best = m;
  return best.key;
}

// The chart widget of `run`: returns its node and fills it once the histories arrive.
function curvesChart(run, firstKey) {
  const state = {keys: new Set([firstKey]), runs: [{id: run.info.run_id, name: run.info.run_name || run.info.run_id}], x: 'step', log: false};
  const plot = el('div', {id: 'curves-plot'});
  const status = el('span', {class: 'error'});
  const cache = new Map();
  const history = async (rid, key) => {
    const k = rid + '\u0000' + key;
    if (!cache.has(k)) cache.set(k, api('runs/' + enc(rid) + '/metrics/' + enc(key)).then((d) => d.history, () => []));
    return cache.get(k);
  };
  const redraw = async () => {
    const series = [];
    for (const r of state.runs) {
      for (const key of state.keys) {
        const pts = (await history(r.id, key)).filter((m) => Number.isFinite(m.value));
        if (pts.length) series.push({name: (state.runs.length > 1 ? r.name + ' ' : '') + key, pts});
      }
    }
    plot.replaceChildren(curvesSvg(series, state));
  };
  const keyBoxes = run.data.metrics.map((m) => el('label', {class: 'choice'}, el('input', {type: 'checkbox', class: 'curve-key', 'data-key': m.key,
    checked: state.keys.has(m.key), onchange: (ev) => { if (ev.target.checked) state.keys.add(m.key); else state.keys.delete(m.key); redraw(); }}), m.key));
  const xSel = el('select', {id: 'curve-x', onchange: (ev) => { state.x = ev.target.value; redraw(); }},
    el('option', {value: 'step'}, 'step'), el('option', {value: 'time'}, 'time (s)'));
  const logBox = el('input', {type: 'checkbox', id: 'curve-log', onchange: (ev) => { state.log = ev.target.checked; redraw(); }});
  const other = el('input', {id: 'curve-run', placeholder: 'another run id', size: 34});
  const add = el('button', {id: 'curve-add-run', onclick: () => {
    const rid = other.value.trim();
    if (!rid || state.runs.some((r) => r.id === rid)) return;
    api('runs/' + enc(rid)).then((d) => {
      status.textContent = '';
      state.runs.push({id: rid, name: d.run.info.run_name || rid});
      other.value = '';
      redraw();
    }, (err) => { status.textContent = err.message; });
  }}, 'Overlay run');
  redraw();
  return el('div', {id: 'chart'},
    el('div', {class: 'toolbar'}, 'Metrics: ', keyBoxes),
    el('div', {class: 'toolbar'}, 'x axis ', xSel, ' ', el('label', {class: 'choice'}, logBox, 'log scale'), ' ', other, add, ' ', status),
    plot);
}

// The SVG of several series ({name, pts: [{step, timestamp, value}]}), each in its colour, with a legend.
function curvesSvg(series, state) {
  const W = 640, H = 280, L = 75, R = 15, T = 10, B = 44;
  const root = svg('svg', {id: 'curves', width: W, height: H + 18 * series.length, viewBox: '0 0 ' + W + ' ' + (H + 18 * series.length), class: 'chart', role: 'img'});
  if (!series.length) {
    root.appendChild(svg('text', {x: L, y: H / 2}, 'no finite values'));
    return root;
  }
  const t0 = Math.min(...series.map((s) => Math.min(...s.pts.map((p) => p.timestamp))));
  const xOf = (p) => (state.x === 'time' ? (p.timestamp - t0) / 1000 : p.step);
  const ys = series.flatMap((s) => s.pts.map((p) => p.value));
  const log = state.log && ys.every((v) => v > 0);
  const axis = (label, values, isLog) => {
    const [lo, hi] = extent(values);
    const f = isLog ? Math.log : (v) => v;
    const pos = (v) => (f(v) - f(lo)) / (f(hi) - f(lo));
    return {label: isLog ? label + ' (log)' : label, pos, ticks: isLog ? logTicks(lo, hi, pos) : linearTicks(lo, hi, pos)};
  };
  const xa = axis(state.x === 'time' ? 'seconds since the first point' : 'step', series.flatMap((s) => s.pts.map(xOf)), false);
  const ya = axis(series.length === 1 ? series[0].name : 'value', ys, log);
  const sx = (p) => L + p * (W - L - R), sy = (p) => T + (1 - p) * (H - T - B);
  root.appendChild(svg('line', {x1: L, y1: H - B, x2: W - R, y2: H - B, class: 'axis'}));
  root.appendChild(svg('line', {x1: L, y1: T, x2: L, y2: H - B, class: 'axis'}));
  for (const t of xa.ticks) root.appendChild(svg('text', {x: sx(t.p), y: H - B + 15, 'text-anchor': 'middle', class: 'tick', 'data-axis': 'x'}, t.text));
  for (const t of ya.ticks) root.appendChild(svg('text', {x: L - 6, y: sy(t.p) + 4, 'text-anchor': 'end', class: 'tick', 'data-axis': 'y'}, t.text));
  root.appendChild(svg('text', {x: (L + W - R) / 2, y: H - 6, 'text-anchor': 'middle', class: 'label', id: 'curves-x-label'}, xa.label));
  root.appendChild(svg('text', {x: 12, y: (T + H - B) / 2, 'text-anchor': 'middle', class: 'label', id: 'curves-y-label',
    transform: 'rotate(-90 12 ' + (T + H - B) / 2 + ')'}, ya.label));
  series.forEach((s, i) => {
    const color = CURVE_COLORS[i % CURVE_COLORS.length];
    const pts = s.pts.map((p) => [sx(xa.pos(xOf(p))), sy(ya.pos(p.value)), p]);
    root.appendChild(svg('polyline', {points: pts.map((q) => q[0].toFixed(1) + ',' + q[1].toFixed(1)).join(' '), class: 'curve', stroke: color, fill: 'none'}));
    for (const q of pts.length <= 300 ? pts : []) {
      const c = svg('circle', {cx: q[0].toFixed(1), cy: q[1].toFixed(1), r: 3, fill: color, class: 'curve-point'});
      c.appendChild(svg('title', {}, s.name + ', step ' + q[2].step + ', ' + String(+((q[2].timestamp - t0) / 1000).toFixed(3)) + ' s: ' + fmtNum(q[2].value)));
      root.appendChild(c);
    }
    const y = H + 18 * i + 12;
    root.appendChild(svg('rect', {x: L, y: y - 9, width: 14, height: 10, fill: color}));
    root.appendChild(svg('text', {x: L + 20, y, class: 'legend-entry'}, s.name));
  });
  return root;
}
