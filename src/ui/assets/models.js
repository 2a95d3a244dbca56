// hpo ui: the registered models, a model's versions and one version's page (loaded before app.js;
// uses its helpers at call time). User data reaches the page through textContent only.
'use strict';

// A table of tags; unless read-only, each with a remove button and a row to add or change one.
// `path` is the API path taking {key, value} or {key, delete: true}.
function tagEditor(id, tags, path) {
  const status = el('span', {class: 'error'});
  const fail = (err) => { status.textContent = err.message; };
  const rows = tags.map((t) => el('tr', {}, el('td', {}, t.key), el('td', {class: 'pre'}, t.value),
    READ_ONLY ? null : el('td', {}, el('button', {class: 'remove-tag', 'data-key': t.key,
      onclick: () => post(path, {key: t.key, delete: true}).then(() => route(), fail)}, 'Remove'))));
  const parts = [tags.length ? table(READ_ONLY ? ['Tag', 'Value'] : ['Tag', 'Value', ''], rows) : el('p', {class: 'muted'}, 'No tags.')];
  if (!READ_ONLY) {
    const key = el('input', {class: 'tag-key', placeholder: 'key', size: 14});
    const value = el('input', {class: 'tag-value', placeholder: 'value', size: 24});
    parts.push(el('div', {class: 'toolbar'}, 'Set tag ', key, ' = ', value,
      el('button', {class: 'set-tag', onclick: () => post(path, {key: key.value, value: value.value}).then(() => route(), fail)}, 'Set'),
      ' ', status));
  }
  return el('div', {id}, parts);
}

async function modelsPage() {
  const data = await api('models');
  const rows = data.models.map((m) => el('tr', {},
    el('td', {}, el('a', {href: '#/models/' + enc(m.name)}, m.name)),
    el('td', {class: 'num'}, m.latest_version === null ? '' : m.latest_version),
    el('td', {}, m.aliases.map((a) => a.alias + '→v' + a.version).join(', ')),
    el('td', {}, fmtTime(m.last_updated_time)),
    el('td', {}, m.description)));
  show(el('h1', {}, 'Registered models'),
    rows.length ? table(['Name', 'Latest', 'Aliases', 'Updated', 'Description'], rows)
      : el('p', {class: 'muted'}, 'No registered models yet: register one from a run page.'));
}

async function modelPage(name) {
  const data = await api('models/' + enc(name));
  const status = el('span', {class: 'error'});
  const fail = (err) => { status.textContent = err.message; };
  const stages = ['None', 'Staging', 'Production', 'Archived'];
  const rows = data.versions.map((v) => {
    const stageCell = READ_ONLY ? el('td', {}, v.current_stage) : el('td', {},
      el('select', {onchange: (ev) => post('models/' + enc(name) + '/versions/' + v.version + '/stage', {stage: ev.target.value}).then(() => route(), fail)},
        stages.map((s) => el('option', {value: s, selected: s === v.current_stage}, s))));
    return el('tr', {},
      el('td', {class: 'num'}, el('a', {href: '#/models/' + enc(name) + '/' + v.version}, 'v' + v.version)),
      stageCell,
      el('td', {}, v.aliases.join(', ')),
      el('td', {}, el('a', {href: '#/runs/' + enc(v.run_id)}, v.run_id)),
      el('td', {}, v.source),
      el('td', {}, fmtTime(v.creation_time)),
      el('td', {}, descriptionEditor('version-description-' + v.version, v.description,
        (text) => post('models/' + enc(name) + '/versions/' + v.version + '/description', {description: text}))));
  });
  const parts = [el('h1', {}, 'Model ', data.model.name)];
  parts.push(descriptionEditor('model-description', data.model.description,
    (text) => post('models/' + enc(name) + '/description', {description: text})));
  parts.push(tagEditor('model-tags', data.model.tags, 'models/' + enc(name) + '/tags'));
  parts.push(table(['Version', 'Stage', 'Aliases', 'Source run', 'Source', 'Created', 'Description'], rows));
  if (!READ_ONLY) {
    const alias = el('input', {placeholder: 'alias, e.g. champion', size: 16});
    const version = el('input', {type: 'number', min: 1, size: 5, value: data.model.latest_version || 1});
    parts.push(el('div', {class: 'toolbar'}, 'Set alias ', alias, ' to version ', version,
      el('button', {onclick: () => post('models/' + enc(name) + '/aliases/' + enc(alias.value), {version: Number(version.value)}).then(() => route(), fail)}, 'Set'),
      ' ', status));
    // two clicks: the first arms the button, the second deletes
    let armed = false;
    const del = el('button', {id: 'delete-model', onclick: () => {
      if (!armed) {
        armed = true;
        del.textContent = 'Really delete ' + name + ' and its ' + data.versions.length + ' versions? (runs and artifacts stay)';
        return;
      }
      post('models/' + enc(name) + '/delete').then(() => { location.hash = '#/models'; }, fail);
    }}, 'Delete model');
    parts.push(el('div', {class: 'toolbar'}, del));
  }
  show(...parts);
}

// One version: its source run, the params and metrics the run had at registration, stage, aliases,
// tags (editable unless read-only) and description.
async function modelVersionPage(name, version) {
  const data = await api('models/' + enc(name) + '/versions/' + enc(version));
  const v = data.model_version;
  const base = 'models/' + enc(name) + '/versions/' + v.version;
  const run = data.run
    ? [el('a', {href: '#/runs/' + enc(v.run_id), id: 'version-run'}, data.run.run_name || v.run_id),
      data.run.lifecycle_stage === 'deleted' ? ' (deleted)' : '', ' in ',
      el('a', {href: '#/experiments/' + enc(data.run.experiment_id)}, 'experiment ' + data.run.experiment_id)]
    : [v.run_id, ' (the run no longer exists)'];
  const facts = [
    ['Source run', run],
    ['Source', v.source],
    ['Stage', v.current_stage],
    ['Aliases', v.aliases.join(', ') || '—'],
    ['Registered', fmtTime(v.creation_time) + (v.user_id ? ' by ' + v.user_id : '')],
    ['Updated', fmtTime(v.last_updated_time)],
  ];
  show(
    el('h1', {}, el('a', {href: '#/models/' + enc(name)}, name), ' version ' + v.version),
    el('table', {class: 'facts', id: 'version-facts'}, el('tbody', {}, facts.map(([k, val]) => el('tr', {}, el('th', {}, k), el('td', {}, val))))),
    descriptionEditor('version-description', v.description, (text) => post(base + '/description', {description: text})),
    el('h2', {}, 'Tags'), tagEditor('version-tags', v.tags, base + '/tags'),
    el('h2', {}, 'Params at registration'),
    v.run_params.length ? table(['Param', 'Value'], v.run_params.map((p) => el('tr', {}, el('td', {}, p.key), el('td', {class: 'pre'}, p.value))))
      : el('p', {class: 'muted'}, 'No params.'),
    el('h2', {}, 'Metrics at registration'),
    v.run_metrics.length ? el('table', {id: 'version-metrics'}, el('thead', {}, el('tr', {}, el('th', {}, 'Metric'), el('th', {}, 'Value'))),
      el('tbody', {}, v.run_metrics.map((m) => el('tr', {}, el('td', {}, m.key), el('td', {class: 'num'}, fmtNum(m.value))))))
      : el('p', {class: 'muted'}, 'No metrics.'));
}
