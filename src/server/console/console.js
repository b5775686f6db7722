// The ota console page. Plain browser JavaScript, no build step. Everything a device sent is put
// on the page as text nodes (never as HTML), and the server's Content Security Policy allows no
// inline script. The admin token is kept in sessionStorage and sent as a header on every call.
'use strict';

const TOKEN_KEY = 'ota-admin-token';
const CODE_MEANING = { 200: 'received', 201: 'updating', 202: 'up to date', 203: 'no firmware or error' };

const state = { devices: Object.create(null), releases: [], rollouts: Object.create(null), flash: false, limits: { upload: 0, devices: 0 } };
/** Rollout percentages being typed, by group: a live redraw must not wipe them. */
const drafts = Object.create(null);
const $ = (id) => document.getElementById(id);

/** An element with attributes and children; strings become text nodes, so nothing is parsed as HTML. */
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== '') e.append(c instanceof Node ? c : String(c));
  return e;
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

async function api(method, path, body, headers) {
  const res = await fetch('api/' + path, {
    method,
    headers: Object.assign({ Authorization: 'Bearer ' + token() }, headers || {}, body !== undefined && !(body instanceof Blob) ? { 'Content-Type': 'application/json' } : {}),
    body: body === undefined ? undefined : body instanceof Blob ? body : JSON.stringify(body),
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const e = new Error(data.error || 'HTTP ' + res.status);
    e.status = res.status;
    throw e;
  }
  return data;
}

function announce(text) {
  $('announce').textContent = text;
}

function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return isNaN(d) ? '' : d.toLocaleString();
}

function bytes(n) {
  return n >= 1048576 ? (n / 1048576).toFixed(1) + ' MiB' : n >= 1024 ? (n / 1024).toFixed(1) + ' KiB' : n + ' B';
}

// ---- devices ----

function codesText(codes) {
  return codes.map((c) => c.code + ' ' + (CODE_MEANING[c.code] || '')).join(' · ');
}

async function flash(target, button) {
  button.disabled = true;
  const what = target.device ? 'device ' + target.device : 'group ' + target.group;
  try {
    await api('POST', 'flash', target);
    announce('Flash sent to ' + what);
  } catch (e) {
    announce('Flash to ' + what + ' failed: ' + e.message);
    alert('Flash to ' + what + ' failed: ' + e.message);
  } finally {
    button.disabled = false;
  }
}

function deviceRow(d) {
  const progress = d.progress ? el('progress', { value: d.progress.received, max: d.progress.total, 'aria-label': 'download of ' + d.target }, Math.round((100 * d.progress.received) / d.progress.total) + ' %') : '';
  const error = d.lastError ? el('span', { class: 'error' }, d.lastError.code) : '';
  const button = el('button', { type: 'button', class: 'flash', 'aria-label': 'Flash ' + d.id, disabled: !state.flash, title: state.flash ? '' : 'start ota serve with --mqtt' }, 'Flash');
  button.addEventListener('click', () => flash({ device: d.id }, button));
  // data-label: the column's name, shown beside each value when a phone stacks a row into a card.
  return el(
    'tr',
    { 'data-device': d.id },
    el('th', { scope: 'row', 'data-label': 'Device' }, el('a', { href: '#device=' + encodeURIComponent(d.id) }, d.id)),
    el('td', { class: 'group', 'data-label': 'Group' }, d.group),
    el('td', { class: 'version', 'data-label': 'Version' }, d.version),
    el('td', { class: 'state state-' + d.state, 'data-label': 'State' }, d.state === 'unknown' ? '—' : d.state),
    el('td', { class: 'progress', 'data-label': 'Download' }, progress),
    el('td', { class: 'seen', 'data-label': 'Last seen' }, when(d.lastSeen)),
    el('td', { class: 'last-error', 'data-label': 'Last error' }, d.lastError ? el('div', {}, error, el('span', { class: 'codes' }, d.lastError.reason)) : ''),
    el('td', { class: 'flash-cell', 'data-label': 'Flash' }, el('div', {}, button, el('span', { class: 'codes' }, codesText(d.codes)))),
  );
}

/** Redraws `container`'s children and puts the keyboard focus back where it was (same id, label or link). */
function redraw(container, children) {
  const a = document.activeElement;
  const key = a && container.contains(a) ? ['id', 'aria-label', 'href'].map((k) => [k, a.getAttribute(k)]).find(([, v]) => v) : null;
  container.replaceChildren(...children);
  if (key) for (const e of container.querySelectorAll('[' + key[0] + ']')) if (e.getAttribute(key[0]) === key[1]) return e.focus();
}

function renderDevices() {
  const ids = Object.keys(state.devices).sort();
  redraw($('device-table').tBodies[0], ids.map((id) => deviceRow(state.devices[id])));
  $('no-devices').hidden = ids.length > 0;
  renderVersions(ids.map((id) => state.devices[id]));
}

function renderVersions(devices) {
  const counts = Object.create(null); // keys are device-supplied: no prototype to collide with
  for (const d of devices) counts[d.version || '?'] = (counts[d.version || '?'] || 0) + 1;
  const total = devices.length;
  $('versions').replaceChildren(
    ...Object.keys(counts)
      .sort()
      .map((v) => el('li', {}, el('span', {}, v), el('meter', { min: 0, max: total, value: counts[v], 'aria-label': 'devices on ' + v }), el('span', {}, counts[v] + ' of ' + total))),
  );
}

async function showDevice(id) {
  let d;
  try {
    d = await api('GET', 'devices/' + encodeURIComponent(id));
  } catch (e) {
    announce('Device ' + id + ': ' + e.message);
    return;
  }
  $('device-h').textContent = 'Device ' + d.id;
  const facts = [['Group', d.group], ['Version', d.version], ['State', d.state], ['Last seen', when(d.lastSeen)], ['Last error', d.lastError ? d.lastError.code + ': ' + d.lastError.reason : ''], ['Answers to Flash', codesText(d.codes)]];
  $('device-facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  $('history').tBodies[0].replaceChildren(
    ...d.history
      .slice()
      .reverse()
      .map((h) => el('tr', {}, el('td', {}, when(h.at)), el('td', {}, h.stage), el('td', {}, h.version), el('td', {}, h.from || ''), el('td', {}, h.code || ''), el('td', {}, h.reason || ''))),
  );
}

// ---- releases ----

function target(r) {
  return r.device !== undefined ? 'device ' + r.device : 'group ' + r.group;
}

function holders(r) {
  return Object.values(state.devices).filter((d) => d.version === r.ver && (r.device !== undefined ? d.id === r.device : d.group === r.group));
}

function renderReleases() {
  const byTarget = Object.create(null);
  for (const r of state.releases) (byTarget[target(r)] = byTarget[target(r)] || []).push(r);
  $('release-list').replaceChildren(
    ...Object.keys(byTarget)
      .sort()
      .map((t) =>
        el(
          'div',
          { class: 'table-wrap' },
          el('h3', {}, 'Releases for ' + t),
          el(
            'table',
            { 'data-target': t },
            el('thead', {}, el('tr', {}, ...['Version', 'Size', 'SHA-256', 'Published', 'Rollout', 'Notes', 'Who has it'].map((h) => el('th', { scope: 'col' }, h)))),
            el(
              'tbody',
              {},
              ...byTarget[t].map((r) => {
                const who = holders(r).map((d) => d.id);
                return el(
                  'tr',
                  { 'data-version': r.ver },
                  el('th', { scope: 'row' }, r.ver + (r.current ? ' (latest)' : '')),
                  el('td', {}, bytes(r.size)),
                  el('td', { class: 'hash' }, r.sha256),
                  el('td', {}, when(r.published)),
                  el('td', {}, r.rollout === undefined ? 'all' : r.rollout + ' %'),
                  el('td', {}, r.notes),
                  el('td', { class: 'holders' }, who.length + (who.length ? ': ' + who.slice(0, 10).join(', ') + (who.length > 10 ? ', …' : '') : '')),
                );
              }),
            ),
          ),
        ),
      ),
  );
}

async function upload(event) {
  event.preventDefault();
  const file = $('up-file').files[0];
  const status = $('upload-status');
  if (!file) return;
  if (file.size > state.limits.upload) {
    status.textContent = file.name + ' is ' + bytes(file.size) + '; the server takes at most ' + bytes(state.limits.upload);
    return;
  }
  const q = new URLSearchParams({ [$('up-kind').value]: $('up-target').value.trim(), version: $('up-version').value.trim(), notes: $('up-notes').value });
  if ($('up-rollout').value !== '') q.set('rollout', $('up-rollout').value);
  if ($('up-threshold').value !== '') q.set('threshold', $('up-threshold').value);
  status.textContent = 'Uploading ' + file.name + ' (' + bytes(file.size) + ')…';
  try {
    const r = await api('POST', 'releases?' + q, file, { 'Content-Type': 'application/octet-stream' });
    status.textContent = 'Published ' + r.ver + ' for ' + target(r) + ' (SHA-256 ' + r.sha256.slice(0, 12) + '…)';
  } catch (e) {
    status.textContent = 'Not published: ' + e.message;
  }
}

// ---- groups and rollouts ----

function renderGroups() {
  const groups = Object.create(null);
  for (const d of Object.values(state.devices)) if (d.group) groups[d.group] = true;
  for (const r of state.releases) if (r.group !== undefined) groups[r.group] = true;
  for (const g of Object.keys(state.rollouts)) groups[g] = true;
  const names = Object.keys(groups).sort();
  redraw($('group-list'), names.length ? names.map(groupCard) : [el('p', {}, 'No group yet: devices with a group_id appear here, with their rollouts.')]);
}

function groupCard(g) {
  const r = state.rollouts[g];
  const members = Object.values(state.devices).filter((d) => d.group === g).length;
  const button = el('button', { type: 'button', class: 'flash', 'aria-label': 'Flash group ' + g, disabled: !state.flash }, 'Flash group');
  button.addEventListener('click', () => flash({ group: g }, button));
  const card = el('div', { class: 'card' + (r && r.halted ? ' halted' : ''), 'data-group': g }, el('h3', {}, 'Group ' + g), el('p', {}, members + ' known devices'), button);
  if (r) {
    const p = r.progress;
    const input = el('input', { id: 'pct-' + g, type: 'number', min: 0, max: 100, step: 1, value: drafts[g] !== undefined ? drafts[g] : r.percent, inputmode: 'numeric' });
    input.addEventListener('input', () => (drafts[g] = input.value));
    const set = el('form', { class: 'rollout-form' }, el('label', { for: 'pct-' + g }, 'Rollout of ' + r.version + ', % of the group'), input, el('button', { type: 'submit', 'aria-label': 'Set rollout of group ' + g }, 'Set rollout'));
    set.addEventListener('submit', async (event) => {
      event.preventDefault();
      try {
        await api('POST', 'rollout', { group: g, percent: Number(input.value) });
        delete drafts[g];
        announce('Rollout of group ' + g + ' set to ' + input.value + ' %');
      } catch (e) {
        announce('Rollout not changed: ' + e.message);
        alert('Rollout not changed: ' + e.message);
      }
    });
    card.append(
      el('p', { class: 'rollout-status' + (r.halted ? ' error' : '') }, r.halted ? 'Halted: ' + r.halted.reason : 'Rolling out ' + r.version + ' to ' + r.percent + ' % (halts above ' + r.threshold + ' % failed)'),
      el('p', {}, 'Updated ' + p.updated + ' of ' + p.known + ' known devices; in the wave ' + p.wave + ', failed ' + p.failed),
      el('meter', { min: 0, max: Math.max(1, p.known), value: p.updated, 'aria-label': 'devices of group ' + g + ' on ' + r.version }),
      set,
    );
  }
  return card;
}

// ---- wiring ----

function renderAll() {
  renderDevices();
  renderReleases();
  renderGroups();
}

async function refresh() {
  const s = await api('GET', 'state');
  state.devices = Object.create(null);
  for (const d of s.devices) state.devices[d.id] = d;
  state.releases = s.releases;
  state.rollouts = Object.create(null);
  for (const r of s.rollouts) state.rollouts[r.group] = r;
  state.flash = s.flash;
  state.limits = s.limits;
  renderAll();
}

function onEvent(name, data) {
  if (name === 'device') {
    const before = state.devices[data.id];
    state.devices[data.id] = data;
    if (before && data.codes.length && (!before.codes.length || before.codes[before.codes.length - 1].at !== data.codes[data.codes.length - 1].at)) {
      const c = data.codes[data.codes.length - 1].code;
      announce(data.id + ' answered ' + c + ' (' + (CODE_MEANING[c] || 'unknown') + ')');
    }
    renderDevices();
    renderGroups();
    renderReleases();
    if (location.hash === '#device=' + encodeURIComponent(data.id)) showDevice(data.id);
  } else if (name === 'rollout') {
    const was = state.rollouts[data.group];
    state.rollouts[data.group] = data;
    if (data.halted && !(was && was.halted)) announce('Rollout to group ' + data.group + ' halted: ' + data.halted.reason);
    renderGroups();
  } else if (name === 'rollouts') {
    state.rollouts = Object.create(null);
    for (const r of data) state.rollouts[r.group] = r;
    renderGroups();
  } else if (name === 'releases') {
    state.releases = data;
    renderReleases();
    renderGroups();
  }
}

/** Server-Sent Events read through fetch, so the token goes in a header (EventSource cannot send one). */
async function listen() {
  for (;;) {
    try {
      const res = await fetch('api/events', { headers: { Authorization: 'Bearer ' + token() } });
      if (!res.ok) throw new Error('HTTP ' + res.status);
      $('conn').textContent = 'live';
      $('conn').className = 'live';
      await refresh(); // nothing missed between the snapshot and the stream
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let name = 'message';
          let data = '';
          for (const line of frame.split('\n')) {
            if (line.startsWith('event: ')) name = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (data) onEvent(name, JSON.parse(data));
        }
      }
    } catch (e) {
      // retried below
    }
    $('conn').textContent = 'reconnecting…';
    $('conn').className = '';
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function route() {
  const m = /^#device=(.+)$/.exec(location.hash);
  $('device-page').hidden = !m;
  for (const id of ['devices', 'releases', 'groups']) $(id).hidden = !!m;
  if (m) {
    showDevice(decodeURIComponent(m[1]));
    $('device-page').focus();
  }
}

async function open() {
  try {
    await refresh();
  } catch (e) {
    $('login').hidden = false;
    $('app').hidden = true;
    $('login-error').textContent = e.status === 401 || e.status === 403 ? 'That token was refused.' : 'Cannot reach the server: ' + e.message;
    return;
  }
  $('login').hidden = true;
  $('app').hidden = false;
  route();
  listen();
}

window.addEventListener('DOMContentLoaded', () => {
  // `ota serve` prints the console URL with #token=…; the fragment never reaches the server.
  const m = /^#token=(.+)$/.exec(location.hash);
  if (m) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname);
  }
  window.addEventListener('hashchange', route);
  $('upload').addEventListener('submit', upload);
  $('login').addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
    open();
  });
  if (token()) open();
  else $('login').hidden = false;
});
