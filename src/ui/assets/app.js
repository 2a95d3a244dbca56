// hpo ui: a small single-page app over the JSON API under /api/.
// Every piece of user data reaches the page through textContent or setAttribute on
// attributes that cannot run code; no markup is ever built from strings.
'use strict';

const TOKEN = document.querySelector('meta[name="hpo-token"]').getAttribute('content');
const READ_ONLY = document.querySelector('meta[name="hpo-read-only"]').getAttribute('content') === 'true';
const PAGE_SIZE = 100;
const SVG_NS = 'http://www.w3.org/2000/svg';

// ---- DOM helpers ----

// el('a', {href: '#/x', class: 'c'}, 'text', childNode, ...): children that are not nodes become text.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function main() {
  return document.getElementById('main');
}

function show(...nodes) {
  main().replaceChildren(...nodes);
}

function enc(s) {
  return encodeURIComponent(s);
}

function fmtTime(ms) {
  if (ms === null || ms === undefined) return '';
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

function fmtNum(v) {
  if (v === null || v === undefined) return '';
  if (typeof v !== 'number') return String(v);
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1e5 || Math.abs(v) < 1e-3 ? v.toExponential(4) : v.toPrecision(5);
}

function fmtDuration(info) {
  if (!info.end_time) return info.status === 'RUNNING' ? 'running' : '';
  const s = (info.end_time - info.start_time) / 1000;
  return s < 60 ? s.toFixed(1) + ' s' : (s / 60).toFixed(1) + ' min';
}

function tag(run, key) {
  const t = run.data.tags.find((t) => t.key === key);
  return t ? t.value : undefined;
}

// ---- API ----

class ApiError extends Error {
  constructor(status, body) {
    super(body && body.error ? body.error : 'HTTP ' + status);
    this.status = status;
    this.body = body || {};
  }
}

async function api(path, options) {
  const resp = await fetch('/api/' + path, options);
  let body = null;
  try {
    body = await resp.json();
  } catch (e) {
    body = null;
  }
  if (!resp.ok) throw new ApiError(resp.status, body);
  return body;
}

function post(path, body) {
  return api(path, {
    method: 'POST',
    headers: {'Content-Type': 'application/json', 'X-HPO-Token': TOKEN},
    body: JSON.stringify(body || {}),
  });
}

function errorBox(err) {
  return el('p', {class: 'error'}, err.message || String(err));
}

function table(headers, rows) {
  return el('table', {},
    el('thead', {}, el('tr', {}, headers.map((h) => (h instanceof Node ? h : el('th', {}, h))))),
    el('tbody', {}, rows));
}

// ---- pages ----

async function experimentsPage() {
  const data = await api('experiments');
  const rows = data.experiments.map((e) => el('tr', {},
    el('td', {}, el('a', {href: '#/experiments/' + enc(e.experiment_id)}, e.name)),
    el('td', {class: 'num'}, e.run_count),
    el('td', {}, fmtTime(e.last_update_time)),
    el('td', {}, e.main_metric || ''),
    el('td', {class: 'num'}, fmtNum(e.best_value))));
  show(el('h1', {}, 'Experiments'),
    table(['Name', 'Runs', 'Last update', 'Main metric', 'Best'], rows));
}

// State of the runs table, kept across re-renders of the same experiment.
// A page showing running runs reloads itself; any navigation cancels the pending reload.
const REFRESH_MS = 5000;
let refreshTimer = null;

const runsState = {experiment: null, filter: '', order: null, desc: false, tokens: [null], page: 0, open: new Set(),
  columns: new Map(), runs: [], next: null, kids: new Map(), picked: new Set()};
// The most runs the compare page takes (the server's MAX_COMPARE_RUNS).
const MAX_COMPARE = 200;

function orderClause(col) {
  if (!col) return null;
  const dir = runsState.desc ? ' DESC' : ' ASC';
  if (col.kind === 'attr') return 'attributes.' + col.key + dir;
  if (col.key.includes('`')) return null;
  return (col.kind === 'param' ? 'params.`' : 'metrics.`') + col.key + '`' + dir;
}

async function experimentPage(id, query) {
  if (runsState.experiment !== id) {
    Object.assign(runsState, {experiment: id, filter: '', order: null, desc: false, tokens: [null], page: 0});
    runsState.open = new Set();
    runsState.columns = new Map();
    runsState.picked = new Set();
  }
  runsState.kids = new Map();
  const filter = query.get('filter') || '';
  if (filter !== runsState.filter) Object.assign(runsState, {filter, tokens: [null], page: 0});
  const input = el('input', {type: 'search', id: 'filter', placeholder: "filter, e.g. metrics.loss < 0.5 AND params.algo = 'tpe'", value: runsState.filter, size: 60});
  const errorLine = el('div', {class: 'error', id: 'filter-error'});
  const holder = el('div', {id: 'runs'});
  // The applied filter lives in the address (#/experiments/ID?filter=...), so it can be bookmarked.
  const apply = () => {
    const target = '#/experiments/' + enc(id) + (input.value ? '?filter=' + enc(input.value) : '');
    if (location.hash !== target) { location.hash = target; return; }
    runsState.filter = input.value;
    runsState.tokens = [null];
    runsState.page = 0;
    loadRuns(id, holder, errorLine, input);
  };
  input.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') apply(); });
  show(el('h1', {}, 'Experiment ', el('span', {id: 'exp-name'}, id)),
    el('div', {class: 'toolbar'}, input, el('button', {onclick: apply}, 'Filter'),
      el('button', {onclick: () => loadRuns(id, holder, errorLine, input)}, 'Refresh')),
    errorLine, holder);
  api('experiments').then((d) => {
    const e = d.experiments.find((x) => String(x.experiment_id) === id);
    if (e) document.getElementById('exp-name').textContent = e.name;
  }).catch(() => {});
  await loadRuns(id, holder, errorLine, input);
}

// Without a filter the table is a tree: top-level runs (studies and lone runs), each study's trials fetched
// when it is expanded, in the same order. With a filter it lists the matching runs, nesting a trial under its
// study when both are on the page.
function treeMode() {
  return runsState.filter.trim() === '';
}

function runsQuery(extra) {
  const q = new URLSearchParams();
  q.set('filter', runsState.filter);
  const clause = orderClause(runsState.order);
  if (clause) q.set('order_by', clause);
  for (const [k, v] of Object.entries(extra)) if (v !== null && v !== undefined) q.set(k, v);
  return q.toString();
}

// Loads (or extends with `more`) the children of a study, up to `size` at a time.
async function loadKids(expId, parentId, more) {
  const have = runsState.kids.get(parentId);
  const token = more && have ? have.next : null;
  const size = more || !have ? PAGE_SIZE : Math.min(Math.max(have.runs.length, PAGE_SIZE), 1000);
  const data = await api('experiments/' + enc(expId) + '/runs?' +
    runsQuery({parent: parentId, max_results: size, page_token: token}));
  const runs = token ? have.runs.concat(data.runs) : data.runs;
  runsState.kids.set(parentId, {runs, next: data.next_page_token});
}

async function loadRuns(id, holder, errorLine, input) {
  const extra = {max_results: PAGE_SIZE, page_token: runsState.tokens[runsState.page]};
  if (treeMode()) extra.parent = 'none';
  let data;
  try {
    data = await api('experiments/' + enc(id) + '/runs?' + runsQuery(extra));
  } catch (err) {
    if (err.status === 400) {
      const col = err.body.column;
      errorLine.replaceChildren(el('span', {}, err.message));
      if (col && err.body.clause === 'filter') {
        errorLine.appendChild(el('pre', {class: 'caret'}, runsState.filter + '\n' + ' '.repeat(col - 1) + '^'));
        input.focus();
        input.setSelectionRange(col - 1, col);
      }
      return;
    }
    throw err;
  }
  errorLine.replaceChildren();
  runsState.tokens[runsState.page + 1] = data.next_page_token;
  runsState.runs = data.runs;
  runsState.next = data.next_page_token;
  if (treeMode()) {
    const open = data.runs.filter((r) => runsState.open.has(r.info.run_id) && r.child_count > 0);
    await Promise.all(open.map((r) => loadKids(id, r.info.run_id, false)));
  }
  renderRuns(id, holder, errorLine, input);
  clearTimeout(refreshTimer);
  const shown = data.runs.concat(...[...runsState.kids.values()].map((k) => k.runs));
  if (shown.some((r) => r.info.status === 'RUNNING')) {
    const hash = location.hash;
    refreshTimer = setTimeout(() => {
      if (location.hash === hash && document.contains(holder)) loadRuns(id, holder, errorLine, input).catch(() => {});
    }, REFRESH_MS);
  }
}

function pager(next, reload) {
  const prev = el('button', {disabled: runsState.page === 0, onclick: () => { runsState.page -= 1; reload(); }}, '← Previous');
  const nextB = el('button', {disabled: !next, onclick: () => { runsState.page += 1; reload(); }}, 'Next →');
  return el('div', {class: 'pager'}, prev, el('span', {}, ' page ' + (runsState.page + 1) + ' '), nextB);
}

// Redraws the runs table from what is loaded (after expanding a study or choosing columns).
function renderRuns(id, holder, errorLine, input) {
  const chooserOpen = holder.querySelector('details.columns')?.open || false;
  const reload = () => loadRuns(id, holder, errorLine, input);
  const {table: t, chooser} = runsTable(runsState.runs, id, holder, errorLine, input);
  chooser.open = chooserOpen;
  holder.replaceChildren(chooser, pickBar(id), t, pager(runsState.next, reload));
  updatePicked();
}

// The bar above the runs table: compare the runs whose boxes are ticked (on any page), or clear them.
function pickBar(expId) {
  const go = el('button', {id: 'compare-selected', onclick: () => {
    location.hash = '#/compare?runs=' + [...runsState.picked].map(enc).join(',') + '&experiment=' + enc(expId);
  }}, 'Compare selected');
  const clear = el('button', {id: 'clear-selected', onclick: () => {
    runsState.picked.clear();
    for (const box of document.querySelectorAll('input.pick, input.pick-all')) box.checked = false;
    updatePicked();
  }}, 'Clear selection');
  return el('div', {class: 'toolbar'}, go, clear, el('span', {class: 'muted', id: 'picked-note'}));
}

function updatePicked() {
  const n = runsState.picked.size;
  const go = document.getElementById('compare-selected');
  if (!go) return;
  go.textContent = 'Compare selected (' + n + ')';
  go.disabled = n === 0 || n > MAX_COMPARE;
  document.getElementById('clear-selected').disabled = n === 0;
  document.getElementById('picked-note').textContent = n > MAX_COMPARE
    ? 'at most ' + MAX_COMPARE + ' runs can be compared; the compare link of a study plots all its trials' : '';
}

// Whether a param or metric column shows: the user's choice, else shown when a run without children
// has it (so a study's own settings such as algo.* stay out of the way of its trials' columns).
function columnVisible(kind, key, leafKeys) {
  const choice = runsState.columns.get(kind + ':' + key);
  return choice === undefined ? leafKeys.has(kind + ':' + key) : choice;
}

function runsTable(runs, expId, holder, errorLine, input) {
  const tree = treeMode();
  const children = new Map();
  let top = runs;
  if (tree) {
    for (const r of runs) {
      const k = runsState.kids.get(r.info.run_id);
      if (k && runsState.open.has(r.info.run_id)) children.set(r.info.run_id, k.runs);
    }
  } else {
    const ids = new Set(runs.map((r) => r.info.run_id));
    top = [];
    for (const r of runs) {
      const p = r.info.parent_run_id;
      if (p && ids.has(p)) {
        if (!children.has(p)) children.set(p, []);
        children.get(p).push(r);
      } else {
        top.push(r);
      }
    }
  }
  const shown = top.concat(...children.values());
  const allParams = [...new Set(shown.flatMap((r) => r.data.params.map((p) => p.key)))].sort();
  const allMetrics = [...new Set(shown.flatMap((r) => r.data.metrics.map((m) => m.key)))].sort();
  const leafKeys = new Set();
  for (const r of shown) {
    if (r.child_count > 0) continue;
    for (const p of r.data.params) leafKeys.add('param:' + p.key);
    for (const m of r.data.metrics) leafKeys.add('metric:' + m.key);
  }
  // Only studies on show (all collapsed): their own metrics (best value, trial count) are the useful columns.
  if (!leafKeys.size) for (const k of allMetrics) leafKeys.add('metric:' + k);
  const paramKeys = allParams.filter((k) => columnVisible('param', k, leafKeys));
  const metricKeys = allMetrics.filter((k) => columnVisible('metric', k, leafKeys));
  const redraw = () => renderRuns(expId, holder, errorLine, input);
  const box = (kind, key) => el('label', {class: 'choice ' + kind},
    el('input', {type: 'checkbox', checked: columnVisible(kind, key, leafKeys), onchange: (ev) => {
      runsState.columns.set(kind + ':' + key, ev.target.checked);
      redraw();
    }}), key);
  const chooser = el('details', {class: 'columns'}, el('summary', {}, 'Columns'),
    el('div', {}, el('strong', {}, 'Params: '), allParams.map((k) => box('param', k))),
    el('div', {}, el('strong', {}, 'Metrics: '), allMetrics.map((k) => box('metric', k))));
  const cols = [
    {kind: 'attr', key: 'run_name', label: 'Name'},
    {kind: 'attr', key: 'status', label: 'Status'},
    {kind: 'attr', key: 'start_time', label: 'Start'},
    {kind: 'none', key: 'duration', label: 'Duration'},
    ...paramKeys.map((k) => ({kind: 'param', key: k, label: k})),
    ...metricKeys.map((k) => ({kind: 'metric', key: k, label: k})),
  ];
  const reload = () => loadRuns(expId, holder, errorLine, input);
  // ticks (or clears) every run shown
  const pickAll = el('input', {type: 'checkbox', class: 'pick-all', title: 'select all runs shown', onchange: (ev) => {
    for (const box of holder.querySelectorAll('input.pick')) {
      box.checked = ev.target.checked;
      if (box.checked) runsState.picked.add(box.dataset.run); else runsState.picked.delete(box.dataset.run);
    }
    updatePicked();
  }});
  const header = [el('th', {}, pickAll), el('th', {}, '')].concat(cols.map((c) => {
    const active = runsState.order && runsState.order.kind === c.kind && runsState.order.key === c.key;
    const arrow = active ? (runsState.desc ? ' ▼' : ' ▲') : '';
    const cls = c.kind === 'param' ? 'param' : c.kind === 'metric' ? 'metric' : '';
    if (c.kind === 'none') return el('th', {class: cls}, c.label);
    return el('th', {class: cls + ' sortable', title: 'sort by ' + c.label, onclick: () => {
      if (active) runsState.desc = !runsState.desc;
      else { runsState.order = c; runsState.desc = false; }
      runsState.tokens = [null];
      runsState.page = 0;
      reload();
    }}, c.label + arrow);
  }));
  const body = el('tbody', {});
  const failed = (err) => { errorLine.replaceChildren(el('span', {}, err.message)); };
  const addRow = (r, depth) => {
    const rid = r.info.run_id;
    const kids = children.get(rid) || [];
    const count = tree ? r.child_count : kids.length;
    const open = runsState.open.has(rid);
    const toggle = count
      ? el('button', {class: 'toggle', title: open ? 'collapse' : 'expand', onclick: () => {
        if (open) { runsState.open.delete(rid); redraw(); return; }
        runsState.open.add(rid);
        if (tree && !runsState.kids.has(rid)) loadKids(expId, rid, false).then(redraw, failed);
        else redraw();
      }}, (open ? '▾ ' : '▸ ') + count)
      : '';
    const cells = cols.map((c) => {
      if (c.key === 'run_name' && c.kind === 'attr') {
        const compare = tag(r, 'hpo.runType') === 'study'
          ? [' ', el('a', {href: '#/compare/' + enc(rid), class: 'compare', title: 'plots of all its trials'}, 'compare')] : [];
        return el('td', {class: 'depth' + depth}, el('a', {href: '#/runs/' + enc(rid)}, r.info.run_name || rid), compare);
      }
      if (c.key === 'status' && c.kind === 'attr') return el('td', {class: 'status ' + r.info.status.toLowerCase()}, r.info.status);
      if (c.key === 'start_time') return el('td', {}, fmtTime(r.info.start_time));
      if (c.key === 'duration') return el('td', {class: 'num'}, fmtDuration(r.info));
      if (c.kind === 'param') {
        const p = r.data.params.find((x) => x.key === c.key);
        if (!p) return el('td', {class: 'param'}, '');
        const n = Number(p.value);
        const short = p.value.length > 10 && p.value.trim() !== '' && Number.isFinite(n) ? fmtNum(n) : p.value;
        return el('td', {class: 'param', title: p.value}, short);
      }
      const m = r.data.metrics.find((x) => x.key === c.key);
      if (!m) return el('td', {class: 'metric'}, '');
      return el('td', {class: 'metric num', title: 'min ' + fmtNum(m.min) + ', max ' + fmtNum(m.max) + ', ' + m.count + ' points'}, fmtNum(m.latest));
    });
    const pick = r.child_count ? '' : el('input', {type: 'checkbox', class: 'pick', 'data-run': rid, title: 'select to compare',
      checked: runsState.picked.has(rid), onchange: (ev) => {
        if (ev.target.checked) runsState.picked.add(rid); else runsState.picked.delete(rid);
        updatePicked();
      }});
    body.appendChild(el('tr', {class: depth ? 'child' : ''}, el('td', {}, pick), el('td', {}, toggle), cells));
    if (!open) return;
    for (const k of kids) addRow(k, depth + 1);
    const more = tree ? runsState.kids.get(rid) : null;
    if (more && more.next) {
      body.appendChild(el('tr', {class: 'child'}, el('td', {}, ''), el('td', {}, ''), el('td', {colspan: cols.length, class: 'depth1'},
        el('button', {onclick: () => loadKids(expId, rid, true).then(redraw, failed)},
          'Show more trials (' + more.runs.length + ' of ' + count + ')'))));
    }
  };
  for (const r of top) addRow(r, 0);
  if (!runs.length) body.appendChild(el('tr', {}, el('td', {colspan: cols.length + 2}, 'No runs match.')));
  return {table: el('table', {class: 'runs'}, el('thead', {}, el('tr', {}, header)), body), chooser};
}

async function runPage(id) {
  const data = await api('runs/' + enc(id));
  const run = data.run;
  const info = run.info;
  const kv = (k, v) => el('tr', {}, el('th', {}, k), el('td', {}, v));
  const link = (rid) => el('a', {href: '#/runs/' + enc(rid)}, rid);
  const infoTable = el('table', {class: 'kv'},
    kv('Run id', info.run_id),
    kv('Experiment', el('a', {href: '#/experiments/' + enc(info.experiment_id)}, info.experiment_id)),
    kv('Status', info.status),
    kv('Lifecycle', info.lifecycle_stage),
    kv('Start', fmtTime(info.start_time)),
    kv('End', fmtTime(info.end_time)),
    kv('Duration', fmtDuration(info)),
    kv('User', info.user_id),
    kv('Parent', info.parent_run_id ? link(info.parent_run_id) : '—'),
    kv('Children', childLinks(data.children, link, info.experiment_id)));
  const chart = run.data.metrics.length ? curvesChart(run, await defaultCurveKey(run)) : el('div', {id: 'chart'});
  const metricRows = run.data.metrics.map((m) => el('tr', {},
    el('td', {}, m.key),
    el('td', {class: 'num'}, fmtNum(m.latest)), el('td', {class: 'num'}, fmtNum(m.min)),
    el('td', {class: 'num'}, fmtNum(m.max)), el('td', {class: 'num'}, m.count)));
  const paramRows = run.data.params.map((p) => el('tr', {}, el('td', {}, p.key), el('td', {}, p.value)));
  const tagRows = run.data.tags.map((t) => el('tr', {}, el('td', {}, t.key), el('td', {class: 'pre'}, t.value)));
  const artifacts = el('ul', {class: 'artifacts'});
  const viewer = el('div', {class: 'viewer'});
  const isStudy = tag(run, 'hpo.runType') === 'study';
  const description = descriptionEditor('run-description', tag(run, 'mlflow.note.content'),
    (text) => post('runs/' + enc(id) + '/description', {description: text}));
  show(el('h1', {}, 'Run ', info.run_name || info.run_id),
    description,
    ...(isStudy ? [el('p', {}, el('a', {href: '#/compare/' + enc(info.run_id), class: 'compare'}, 'Compare all trials of this study'))] : []),
    actionsForRun(info),
    infoTable,
    el('h2', {}, 'Params'), table(['Key', 'Value'], paramRows),
    el('h2', {}, 'Metrics'), table(['Key', 'Latest', 'Min', 'Max', 'Points'], metricRows), chart,
    el('h2', {}, 'Tags'), table(['Key', 'Value'], tagRows),
    el('h2', {}, 'Artifacts'), artifacts, viewer);
  await listArtifacts(id, '', artifacts, viewer);
}

// The first children as links; a study of thousands of trials links to its experiment's table instead.
const CHILD_LINKS = 50;
function childLinks(children, link, expId) {
  if (!children.length) return '—';
  const shown = children.slice(0, CHILD_LINKS).flatMap((c, i) => (i ? [', ', link(c)] : [link(c)]));
  if (children.length > CHILD_LINKS) {
    shown.push(' … and ' + (children.length - CHILD_LINKS) + ' more (',
      el('a', {href: '#/experiments/' + enc(expId)}, 'see the runs table'), ')');
  }
  return shown;
}

// A description as text, with an Edit button (not in read-only mode) that swaps in a text box;
// `save(text)` posts it and returns a promise; the page is reloaded after saving.
function descriptionEditor(id, text, save) {
  const shown = el('div', {class: 'description pre', id}, text || '');
  if (READ_ONLY) return shown;
  const status = el('span', {class: 'error'});
  const holder = el('div', {class: 'description-box'});
  const view = () => holder.replaceChildren(shown, el('button', {class: 'edit-description', onclick: edit}, text ? 'Edit description' : 'Add description'));
  function edit() {
    const box = el('textarea', {rows: 4, cols: 60, class: 'description-input'});
    box.value = text || '';
    holder.replaceChildren(box, el('div', {class: 'toolbar'},
      el('button', {class: 'save-description', onclick: () => save(box.value).then(() => route(), (err) => { status.textContent = err.message; })}, 'Save'),
      el('button', {onclick: view}, 'Cancel'), status));
    box.focus();
  }
  view();
  return holder;
}

function actionsForRun(info) {
  if (READ_ONLY) return el('p', {class: 'muted'}, 'Read-only mode: actions are disabled.');
  const status = el('span', {class: 'error'});
  const done = () => route();
  const fail = (err) => { status.textContent = err.message; };
  const lifecycle = info.lifecycle_stage === 'deleted'
    ? el('button', {onclick: () => post('runs/' + enc(info.run_id) + '/restore').then(done, fail)}, 'Restore run')
    : el('button', {onclick: () => post('runs/' + enc(info.run_id) + '/delete').then(done, fail)}, 'Delete run');
  const name = el('input', {placeholder: 'model name', size: 20});
  // no default path: a run registers whole unless the user names one of its artifact paths
  const path = el('input', {placeholder: 'artifact path (optional)', size: 18});
  const register = el('button', {onclick: () => {
    post('models/' + enc(name.value) + '/versions', {run_id: info.run_id, artifact_path: path.value})
      .then((r) => { location.hash = '#/models/' + enc(r.model_version.name); }, fail);
  }}, 'Register model');
  return el('div', {class: 'toolbar'}, lifecycle, ' ', name, path, register, ' ', status);
}

async function listArtifacts(runId, path, ul, viewer) {
  let data;
  try {
    data = await api('runs/' + enc(runId) + '/artifacts?path=' + enc(path));
  } catch (err) {
    ul.replaceChildren(el('li', {class: 'error'}, err.message));
    return;
  }
  if (!data.files.length && !path) ul.replaceChildren(el('li', {class: 'muted'}, 'No artifacts.'));
  for (const f of data.files) {
    const name = f.path.split('/').pop();
    if (f.is_dir) {
      const sub = el('ul', {});
      let loaded = false;
      const toggle = el('button', {class: 'linklike', onclick: () => {
        if (loaded) { sub.hidden = !sub.hidden; return; }
        loaded = true;
        listArtifacts(runId, f.path, sub, viewer);
      }}, name + '/');
      ul.appendChild(el('li', {}, toggle, sub));
    } else {
      const url = '/api/runs/' + enc(runId) + '/artifact?path=' + enc(f.path);
      ul.appendChild(el('li', {},
        el('button', {class: 'linklike', onclick: () => viewArtifact(url, f, viewer)}, name),
        ' (' + f.file_size + ' bytes) ',
        el('a', {href: url, target: '_blank', rel: 'noopener noreferrer'}, 'open'), ' ',
        el('a', {href: url + '&download=1', download: name}, 'download')));
    }
  }
}

const IMAGE_EXT = ['png', 'jpg', 'jpeg', 'gif', 'svg'];
const VIEW_LIMIT = 2 * 1024 * 1024;
const CSV_ROWS = 200;

// Shows an artifact under the list: images as <img>, CSV as a table, JSON pretty-printed, other text as is.
async function viewArtifact(url, file, viewer) {
  const ext = (file.path.split('.').pop() || '').toLowerCase();
  const title = el('h3', {}, file.path);
  if (IMAGE_EXT.includes(ext)) {
    viewer.replaceChildren(title, el('img', {src: url, alt: file.path, class: 'artifact'}));
    return;
  }
  if (file.file_size > VIEW_LIMIT) {
    viewer.replaceChildren(title, el('p', {class: 'muted'}, 'Too large to show here: download it.'));
    return;
  }
  const resp = await fetch(url);
  if (!resp.ok) {
    viewer.replaceChildren(title, el('p', {class: 'error'}, 'HTTP ' + resp.status));
    return;
  }
  const text = await resp.text();
  if (ext === 'csv' || ext === 'tsv') {
    const rows = parseCsv(text, ext === 'tsv' ? '\t' : ',');
    const [head, ...rest] = rows;
    const more = rest.length > CSV_ROWS ? el('p', {class: 'muted'}, 'First ' + CSV_ROWS + ' of ' + rest.length + ' rows.') : null;
    const grid = table((head || []).map((h) => el('th', {}, h)),
      rest.slice(0, CSV_ROWS).map((r) => el('tr', {}, r.map((c) => el('td', {}, c)))));
    viewer.replaceChildren(...[title, grid, more].filter(Boolean));
    return;
  }
  let shown = text;
  if (ext === 'json') {
    try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { shown = text; }
  }
  viewer.replaceChildren(title, el('pre', {class: 'artifact'}, shown));
}

// CSV with double-quoted fields ("" inside quotes is a quote).
function parseCsv(text, sep) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === sep) { row.push(field); field = ''; }
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field); field = '';
      rows.push(row); row = [];
    } else field += c;
  }
  if (field !== '' || row.length) { row.push(field); rows.push(row); }
  return rows;
}

// ---- the metric chart of the run page is in curves.js ----

// ---- the model pages are in models.js ----

// ---- routing ----

async function route() {
  clearTimeout(refreshTimer);
  const full = location.hash.replace(/^#\/?/, '');
  const cut = full.indexOf('?');
  const hash = cut < 0 ? full : full.slice(0, cut);
  let query;
  try {
    query = new URLSearchParams(cut < 0 ? '' : full.slice(cut + 1));
  } catch (e) {
    query = new URLSearchParams();
  }
  const parts = hash.split('/').filter((p) => p.length).map((p) => {
    try { return decodeURIComponent(p); } catch (e) { return p; }
  });
  try {
    if (parts.length === 0 || (parts[0] === 'experiments' && parts.length === 1)) await experimentsPage();
    else if (parts[0] === 'experiments' && parts.length === 2) await experimentPage(parts[1], query);
    else if (parts[0] === 'runs' && parts.length === 2) await runPage(parts[1]);
    else if (parts[0] === 'compare' && parts.length === 2) await comparePage({study: parts[1]});
    else if (parts[0] === 'compare' && parts.length === 1 && query.get('runs')) {
      await comparePage({runs: query.get('runs').split(',').filter((r) => r), experiment: query.get('experiment')});
    }
    else if (parts[0] === 'models' && parts.length === 1) await modelsPage();
    else if (parts[0] === 'models' && parts.length === 2) await modelPage(parts[1]);
    else if (parts[0] === 'models' && parts.length === 3) await modelVersionPage(parts[1], parts[2]);
    else show(el('h1', {}, 'Not found'), el('p', {}, 'No page at this address.'));
  } catch (err) {
    show(el('h1', {}, 'Error'), errorBox(err));
  }
}

document.getElementById('mode').textContent = READ_ONLY ? 'read-only' : '';
window.addEventListener('hashchange', route);
route();
