/*
 * durabletask-emulator dashboard: one page, hash routes, no framework, no build step.
 * It talks only to the JSON API in docs/dashboard-api.md (/api/v1/..., always with ?hub=).
 *
 * Routes
 *   #/instances?hub=H[&status=S...][&name=][&prefix=][&createdFrom=ISO][&createdTo=ISO]
 *   #/instances/<encodeURIComponent(id)>?hub=H
 *   #/entities?hub=H[&prefix=]
 *   #/workers?hub=H
 *
 * Stable selectors (data-testid unless noted) for tests
 *   Top bar     hub-select (a <select>), clock (time + badges), clock-time, clock-offset (hidden
 *               unless ahead), clock-skipping-badge (hidden unless skipping), clock-advance (opens
 *               the modal with the advance-duration input and advance-preview), clock-skipping
 *               (toggle button, aria-pressed="true|false"), live-status (data-mode="live|polling|
 *               offline"), nav-instances, nav-entities, nav-workers (the current one has class
 *               "active")
 *   Banner      error-banner (hidden when there is no error), error-banner-message,
 *               error-banner-close
 *   Modal       modal (<dialog>), modal-title, modal-error (inline validation, dialog stays open),
 *               confirm-ok, confirm-cancel (Enter = OK, Escape = cancel); its inputs:
 *               advance-duration, raise-event-name, raise-event-data, terminate-output,
 *               terminate-recursive (checked by default), restart-new-id, purge-recursive (checked
 *               by default), action-reason (suspend / resume / rewind)
 *   Instances   status-chips, status-chip-ALL, status-chip-<STATUS> (class "active" when it is the
 *               filter; data-count), filter-form, filter-status (<select multiple>), filter-name,
 *               filter-prefix, filter-created-from, filter-created-to (datetime-local, local time),
 *               filter-apply, filter-clear, instances-table (aria-busy="true" while a page turn
 *               loads), instance-row (data-instance-id, data-status), instance-link,
 *               instances-empty, first-page, prev-page, next-page, page-info
 *   Instance    instance-detail, instance-id, instance-status (data-status), instance-name,
 *               instance-version, instance-execution-id, instance-created, instance-updated,
 *               instance-completed, instance-duration, instance-scheduled-start (only when set),
 *               instance-parent (instance-parent-link inside), instance-children (links:
 *               instance-child), instance-tags, instance-input, instance-output,
 *               instance-custom-status (the <pre>s), failure (the outer failure block),
 *               failure-type, failure-message, failure-stack (outer stack <pre>), inner-failure,
 *               inner-failure-type, inner-failure-message, inner-failure-stack (the nested ones),
 *               timeline (the <svg>), timeline-row (<g>, data-kind="orchestration|activity|timer|
 *               suborchestration|event|entity|suspended|waiting", data-status="running|completed|
 *               failed|unfinished"), history-table, history-row (data-event-id, data-type),
 *               history-expand, history-details, history-hide-replay, history-empty,
 *               action-raise-event, action-suspend, action-resume, action-terminate,
 *               action-restart, action-rewind, action-purge, instance-not-found
 *   Entities    entities-filter-prefix, entities-apply, entities-clear, entities-table,
 *               entity-row (data-entity-id), entity-state-toggle, entity-state, entity-state-full,
 *               entities-empty, first-page, prev-page, next-page, page-info
 *   Workers     workers-table, worker-row (data-worker-id), workers-empty
 */
'use strict';

const STATUSES = ['RUNNING', 'PENDING', 'SUSPENDED', 'COMPLETED', 'FAILED', 'TERMINATED', 'CONTINUED_AS_NEW', 'CANCELED'];
const MAIN_STATUSES = ['RUNNING', 'PENDING', 'SUSPENDED', 'COMPLETED', 'FAILED', 'TERMINATED'];
const PAGE_SIZE = 50;
const MIN_REFRESH_MS = 250;        // live refresh at most 4 times a second
const POLL_MS = 2000;              // without an event stream
const CLOCK_POLL_MS = 5000;
const HUBS_POLL_MS = 10000;
const MAX_TIMELINE_ROWS = 400;
const MAX_CHILD_LINKS = 30;

const state = {
  hub: null,
  hubs: [],
  clock: null,            // GET /api/v1/time answer
  clockAt: 0,             // Date.now() when it came
  view: null,             // the mounted view
  routeKey: '',
  es: null,
  esHub: null,
  pollTimer: null,
  errors: { load: null, action: null },
};

// ------------------------------------------------------------------ DOM helpers

const $ = (id) => document.getElementById(id);

/** h('div', {class: 'x', 'data-testid': 'y', onclick: fn}, child, 'text', [more]) */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', v);
    else if (k === 'text') el.textContent = v;
    else if (k === 'value' || k === 'checked' || k === 'selected' || k === 'disabled' || k === 'multiple') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// ------------------------------------------------------------------ formatting

const pad = (n, w = 2) => String(n).padStart(w, '0');

function parseTime(iso) {
  if (!iso) return NaN;
  if (typeof iso === 'number') return iso;
  return Date.parse(String(iso).replace(/(\.\d{3})\d+/, '$1'));
}

/** Local time, "2026-12-02 13:45:12" (with ".123" when ms). */
function fmtTime(iso, ms = false) {
  const t = parseTime(iso);
  if (!isFinite(t)) return iso ? String(iso) : '';
  const d = new Date(t);
  let out = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (ms) out += '.' + pad(d.getMilliseconds(), 3);
  return out;
}

function tzName() {
  try {
    const part = new Intl.DateTimeFormat(undefined, { timeZoneName: 'short' }).formatToParts(new Date()).find((p) => p.type === 'timeZoneName');
    return part ? part.value : '';
  } catch (e) {
    return '';
  }
}

function timeCell(iso, ms = false) {
  if (!iso) return h('span', { class: 'muted' }, '–');
  return h('span', { class: 'time', title: String(iso) }, fmtTime(iso, ms));
}

/** 1234 -> "1.23s", 93000 -> "1m 33s", 266400000 -> "3d 2h". */
function fmtDur(ms) {
  if (ms === null || ms === undefined || !isFinite(ms)) return '';
  const neg = ms < 0;
  ms = Math.abs(ms);
  let out;
  if (ms < 1000) out = `${Math.round(ms)}ms`;
  else if (ms < 10000) out = `${(ms / 1000).toFixed(2)}s`;
  else if (ms < 60000) out = `${(ms / 1000).toFixed(1)}s`;
  else {
    const t = Math.round(ms / 1000);
    const d = Math.floor(t / 86400), hr = Math.floor((t % 86400) / 3600), m = Math.floor((t % 3600) / 60), sec = t % 60;
    if (d) out = `${d}d ${hr}h${m ? ` ${m}m` : ''}`;
    else if (hr) out = `${hr}h ${m}m`;
    else out = `${m}m ${sec}s`;
  }
  return (neg ? '-' : '') + out;
}

/** Compact axis label for a round duration: 1500 -> "1.5s", 5400000 -> "1h30m". */
function fmtTick(ms) {
  if (ms === 0) return '0';
  if (ms < 1000) return `${+ms.toFixed(1)}ms`;
  if (ms < 60000) return `${+(ms / 1000).toFixed(2)}s`;
  const units = [[86400000, 'd'], [3600000, 'h'], [60000, 'm'], [1000, 's']];
  let rest = Math.round(ms), out = '';
  for (const [size, name] of units) {
    const n = Math.floor(rest / size);
    if (n) { out += `${n}${name}`; rest -= n * size; }
  }
  return out;
}

/** Seconds as "2h 30m" for the clock's offset. */
function fmtOffset(seconds) {
  return fmtDur(seconds * 1000);
}

/**
 * "90s", "2h", "3d", "1h30m", "1.5h", "45" (seconds), "01:30:00" -> seconds; null when not a duration.
 */
function parseDuration(text) {
  const t = String(text || '').trim().toLowerCase().replace(/\s+/g, '');
  if (!t) return null;
  if (/^\d+(\.\d+)?$/.test(t)) return parseFloat(t);
  const clock = /^(\d+):(\d{1,2})(?::(\d{1,2}(?:\.\d+)?))?$/.exec(t);
  if (clock) return +clock[1] * 3600 + +clock[2] * 60 + (clock[3] ? parseFloat(clock[3]) : 0);
  const units = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  const re = /(\d+(?:\.\d+)?|\.\d+)(milliseconds?|msecs?|ms|seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w)/y;
  let total = 0, pos = 0, m;
  while (pos < t.length && (m = re.exec(t)) !== null) {
    const u = m[2];
    const key = u.startsWith('ms') || u.startsWith('msec') || u.startsWith('milli') ? 'ms' : u[0];
    total += parseFloat(m[1]) * units[key];
    pos = re.lastIndex;
  }
  if (pos !== t.length) return null;
  return total;
}

/** A serialized JSON payload as pretty text, or the raw text when it does not parse. */
function prettyPayload(text) {
  if (text === null || text === undefined) return null;
  if (typeof text !== 'string') return JSON.stringify(text, null, 2);
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch (e) {
    return text;
  }
}

function preview(text, n = 120) {
  if (text === null || text === undefined) return '';
  let t = typeof text === 'string' ? text : JSON.stringify(text);
  t = t.replace(/\s+/g, ' ');
  return t.length > n ? t.slice(0, n - 1) + '…' : t;
}

/** Text typed into a JSON field: '' -> undefined, valid JSON -> its value, else the text as a string. */
function jsonInput(text) {
  const t = String(text || '').trim();
  if (!t) return undefined;
  try {
    return JSON.parse(t);
  } catch (e) {
    return t;
  }
}

function statusBadge(status, testid) {
  return h('span', { class: `status status-${status || 'UNKNOWN'}`, 'data-testid': testid, 'data-status': status }, status || '?');
}

/** "durabletask.task.TaskFailedError" -> "TaskFailedError" */
function shortType(t) {
  return String(t || '').split('.').pop();
}

function shortStatus(s) {
  return String(s || '').replace(/^ORCHESTRATION_STATUS_/, '');
}

// ------------------------------------------------------------------ API

class ApiError extends Error {
  constructor(code, message, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

/** fetch() of the API with ?hub=; throws ApiError with the API's {"error": {code, message}}. */
async function api(method, path, { query, body, hub } = {}) {
  const url = new URL(path, location.origin);
  if (query) for (const [k, v] of query) url.searchParams.append(k, v);
  url.searchParams.set('hub', hub || state.hub || 'default');
  const init = { method, headers: { Accept: 'application/json' }, cache: 'no-store' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    setLiveMode('offline');
    throw new ApiError('UNAVAILABLE', `Cannot reach the emulator (${e.message || e}). Is it still running?`, 0);
  }
  if ($('live-status').dataset.mode === 'offline') setLiveMode(state.es && state.es.readyState === 1 ? 'live' : 'polling');
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (e) {
    data = null;
  }
  if (!res.ok) {
    const err = data && data.error;
    if (err) throw new ApiError(err.code || `HTTP_${res.status}`, err.message || res.statusText, res.status);
    const detail = data && data.detail ? (typeof data.detail === 'string' ? data.detail : JSON.stringify(data.detail)) : text.slice(0, 300);
    throw new ApiError(`HTTP_${res.status}`, detail || res.statusText, res.status);
  }
  return data;
}

function errorText(e) {
  if (e instanceof ApiError) return e.code && e.status ? `${e.code}: ${e.message}` : e.message;
  return String((e && e.message) || e);
}

// ------------------------------------------------------------------ error banner

function showError(slot, e) {
  state.errors[slot] = e ? errorText(e) : null;
  renderBanner();
}

function renderBanner() {
  const msg = state.errors.action || state.errors.load;
  const banner = $('error-banner');
  banner.hidden = !msg;
  $('error-banner-message').textContent = msg || '';
}

// ------------------------------------------------------------------ routing

function parseRoute() {
  let raw = location.hash.replace(/^#/, '');
  if (!raw.startsWith('/')) raw = '/instances';
  const q = raw.indexOf('?');
  const path = q >= 0 ? raw.slice(0, q) : raw;
  const params = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '');
  const m = /^\/instances\/(.+)$/.exec(path);
  if (m) {
    let id;
    try {
      id = decodeURIComponent(m[1]);
    } catch (e) {
      id = m[1];
    }
    return { name: 'instance', id, params };
  }
  const name = { '/instances': 'instances', '/entities': 'entities', '/workers': 'workers' }[path.replace(/\/$/, '')] || 'instances';
  return { name, params };
}

function hrefFor(name, params = {}, hub = state.hub) {
  const q = new URLSearchParams();
  if (hub) q.set('hub', hub);
  for (const [k, v] of Object.entries(params)) {
    if (Array.isArray(v)) v.forEach((x) => q.append(k, x));
    else if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const path = name === 'instance' ? `/instances/${encodeURIComponent(params.__id)}` : `/${name}`;
  q.delete('__id');
  return `#${path}?${q.toString()}`;
}

const instanceHref = (id, hub) => hrefFor('instance', { __id: id }, hub);

/** Go to a hash route; the same route again is mounted afresh (e.g. Apply back on page 1). */
function navigate(hash) {
  if (location.hash === hash) {
    state.routeKey = '';
    route();
  } else {
    location.hash = hash;
  }
}

async function route() {
  const r = parseRoute();
  let hub = r.params.get('hub');
  if (!hub) {
    hub = state.hub || (state.hubs.find((x) => x.name === 'default') ? 'default' : (state.hubs[0] && state.hubs[0].name)) || 'default';
    r.params.set('hub', hub);
    const base = location.hash.replace(/^#/, '').split('?')[0] || '/instances';
    history.replaceState(null, '', `#${base.startsWith('/') ? base : '/instances'}?${r.params.toString()}`);
  }
  const hubChanged = hub !== state.hub;
  state.hub = hub;
  if (hubChanged) {
    renderHubSelect();
    connectLive();
    refreshClock();
  }
  updateNav(r.name);
  const key = location.hash;
  if (state.view && state.routeKey === key && !hubChanged) return;
  state.routeKey = key;
  showError('action', null);
  if (state.view && state.view.unmount) state.view.unmount();
  const main = clear($('main'));
  const make = { instances: instancesView, instance: instanceView, entities: entitiesView, workers: workersView }[r.name];
  state.view = make(r);
  state.view.mount(main);
}

function updateNav(name) {
  const active = name === 'instance' ? 'instances' : name;
  for (const n of ['instances', 'entities', 'workers']) {
    const a = $(`nav-${n}`);
    a.href = hrefFor(n);
    a.classList.toggle('active', n === active);
  }
  document.querySelector('.brand').href = hrefFor('instances');
}

// ------------------------------------------------------------------ hubs and clock

async function refreshHubs() {
  try {
    const hubs = await api('GET', '/api/v1/hubs');
    state.hubs = Array.isArray(hubs) ? hubs : [];
    renderHubSelect();
  } catch (e) {
    showError('load', e);
  }
}

function renderHubSelect() {
  const sel = $('hub-select');
  const names = state.hubs.map((x) => x.name);
  if (state.hub && !names.includes(state.hub)) names.push(state.hub);
  const current = Array.from(sel.options).map((o) => o.value);
  if (current.join('\n') !== names.join('\n')) {
    clear(sel);
    for (const n of names) sel.appendChild(h('option', { value: n }, n));
  }
  for (const o of sel.options) {
    const info = state.hubs.find((x) => x.name === o.value);
    if (info) {
      const total = Object.values(info.instances || {}).reduce((a, b) => a + b, 0);
      o.title = `${total} instances, ${info.entities || 0} entities, ${info.workers || 0} workers`;
    }
  }
  sel.value = state.hub || '';
}

function onHubSelected() {
  const hub = $('hub-select').value;
  const r = parseRoute();
  // an instance ID belongs to one hub: switching goes back to that hub's list
  const name = r.name === 'instance' ? 'instances' : r.name;
  navigate(hrefFor(name, {}, hub));
}

async function refreshClock() {
  const hub = state.hub;
  try {
    const t = await api('GET', '/api/v1/time');
    if (hub !== state.hub) return;
    setClock(t);
  } catch (e) {
    showError('load', e);
  }
}

function setClock(t) {
  state.clock = t;
  state.clockAt = Date.now();
  renderClock();
}

/** The hub's "now" in ms since the epoch, moving on at wall-clock rate since it was read. */
function hubNow() {
  if (!state.clock) return Date.now();
  const t = parseTime(state.clock.now);
  return isFinite(t) ? t + (Date.now() - state.clockAt) : Date.now();
}

function renderClock() {
  const c = state.clock;
  if (!c) return;
  $('clock-time').textContent = `${fmtTime(hubNow())} ${tzName()}`.trim();
  $('clock').title = `Task hub '${c.taskHub}' clock: ${c.now}` + (c.offsetSeconds ? ` (ahead of wall time by ${fmtOffset(c.offsetSeconds)})` : '');
  const off = $('clock-offset');
  off.hidden = !(c.offsetSeconds > 0.0005);
  off.textContent = `+${fmtOffset(c.offsetSeconds || 0)}`;
  off.title = `${c.offsetSeconds} s ahead of wall-clock time`;
  $('clock-skipping-badge').hidden = !c.timeSkipping;
  const btn = $('clock-skipping');
  btn.setAttribute('aria-pressed', c.timeSkipping ? 'true' : 'false');
  btn.textContent = c.timeSkipping ? 'Skipping: on' : 'Skipping: off';
}

function onAdvance() {
  const input = h('input', { type: 'text', 'data-testid': 'advance-duration', id: 'advance-duration', class: 'mono', placeholder: '90s, 2h, 3d, 1h30m', autocomplete: 'off', required: true });
  const hint = h('div', { class: 'hint', 'data-testid': 'advance-preview' }, 'A duration: 90s, 2h, 3d, 1h30m, 1.5h or plain seconds.');
  input.addEventListener('input', () => {
    const sec = parseDuration(input.value);
    hint.textContent = input.value.trim() === '' ? 'A duration: 90s, 2h, 3d, 1h30m, 1.5h or plain seconds.'
      : sec === null ? 'Not a duration.' : `= ${sec} seconds (${fmtDur(sec * 1000)}); the clock will read ${fmtTime(hubNow() + sec * 1000)}`;
  });
  const presets = h('div', { class: 'presets' }, ['1m', '10m', '1h', '1d', '7d'].map((p) => h('button', {
    type: 'button', class: 'btn btn-small', onclick: () => { input.value = p; input.dispatchEvent(new Event('input')); input.focus(); },
  }, p)));
  openModal({
    title: `Advance the clock of task hub '${state.hub}'`,
    body: [h('label', { class: 'field' }, h('span', null, 'Duration'), input), presets, hint],
    okLabel: 'Advance',
    focus: input,
    onOk: async () => {
      const sec = parseDuration(input.value);
      if (sec === null) throw new ValidationError(`'${input.value}' is not a duration (try 90s, 2h, 3d or 1h30m)`);
      setClock(await api('POST', '/api/v1/time/advance', { body: { seconds: sec } }));
      liveChanged();
    },
  });
}

async function onToggleSkipping() {
  const on = !(state.clock && state.clock.timeSkipping);
  const btn = $('clock-skipping');
  btn.disabled = true;
  try {
    setClock(await api('POST', '/api/v1/time/skipping', { body: { enabled: on } }));
    showError('action', null);
  } catch (e) {
    showError('action', e);
  } finally {
    btn.disabled = false;
  }
}

// ------------------------------------------------------------------ modal

class ValidationError extends Error {}

let modalState = null;

/**
 * A confirmation dialog. onOk() runs on OK: a ValidationError keeps the dialog open with the
 * message; any other error closes it and goes to the error banner; success closes it.
 */
function openModal({ title, body, okLabel = 'OK', danger = false, focus, onOk }) {
  const dlg = $('modal');
  if (dlg.open) dlg.close();
  $('modal-title').textContent = title;
  append(clear($('modal-body')), [body || []]);
  const err = $('modal-error');
  err.hidden = true;
  err.textContent = '';
  const ok = $('confirm-ok');
  ok.textContent = okLabel;
  ok.className = danger ? 'btn btn-danger' : 'btn btn-primary';
  ok.disabled = false;
  modalState = { onOk };
  dlg.showModal();
  (focus || ok).focus();
}

function closeModal() {
  modalState = null;
  const dlg = $('modal');
  if (dlg.open) dlg.close();
}

async function onModalOk(ev) {
  ev.preventDefault();
  if (!modalState) return closeModal();
  const ok = $('confirm-ok');
  if (ok.disabled) return;
  ok.disabled = true;
  try {
    await modalState.onOk();
    closeModal();
    showError('action', null);
  } catch (e) {
    if (e instanceof ValidationError) {
      const err = $('modal-error');
      err.textContent = e.message;
      err.hidden = false;
      ok.disabled = false;
      return;
    }
    closeModal();
    showError('action', e);
  } finally {
    ok.disabled = false;
  }
}

// ------------------------------------------------------------------ live refresh

const live = { timer: null, last: 0, running: false, again: false, hubsAt: 0 };

/** Something changed: refresh the mounted view, the clock and (now and then) the hub list, ≤ 4/s. */
function liveChanged() {
  if (live.timer) return;
  const wait = Math.max(0, live.last + MIN_REFRESH_MS - Date.now());
  live.timer = setTimeout(runRefresh, wait);
}

async function runRefresh() {
  live.timer = null;
  if (live.running) {
    live.again = true;
    return;
  }
  live.running = true;
  live.last = Date.now();
  try {
    const jobs = [refreshClock()];
    if (state.view && state.view.refresh) jobs.push(state.view.refresh());
    if (Date.now() - live.hubsAt > 3000) {
      live.hubsAt = Date.now();
      jobs.push(refreshHubs());
    }
    await Promise.allSettled(jobs);
  } finally {
    live.running = false;
    if (live.again) {
      live.again = false;
      liveChanged();
    }
  }
}

function setLiveMode(mode) {
  const el = $('live-status');
  el.dataset.mode = mode;
  el.title = { live: 'Live: updates as the hub changes', polling: `Polling every ${POLL_MS / 1000} s (no event stream)`, offline: 'Not connected' }[mode] || mode;
}

function startPolling() {
  if (state.pollTimer) return;
  state.pollTimer = setInterval(liveChanged, POLL_MS);
  setLiveMode('polling');
}

function stopPolling() {
  if (state.pollTimer) clearInterval(state.pollTimer);
  state.pollTimer = null;
}

function connectLive() {
  if (state.es && state.esHub === state.hub) return;
  if (state.es) state.es.close();
  state.es = null;
  state.esHub = state.hub;
  if (typeof EventSource === 'undefined') {
    startPolling();
    return;
  }
  const url = `/api/v1/events?hub=${encodeURIComponent(state.hub)}`;
  const es = new EventSource(url);
  state.es = es;
  es.addEventListener('open', () => {
    if (state.es !== es) return;
    stopPolling();
    setLiveMode('live');
    liveChanged();
  });
  es.addEventListener('change', () => {
    if (state.es === es) liveChanged();
  });
  es.addEventListener('error', () => {
    if (state.es !== es) return;
    startPolling();
    if (es.readyState === EventSource.CLOSED) {
      // the server refused the stream: keep polling, try the stream again later
      setTimeout(() => {
        if (state.es === es) {
          state.es = null;
          state.esHub = null;
          connectLive();
        }
      }, 15000);
    }
  });
}

// ------------------------------------------------------------------ shared pieces

function pager({ onFirst, onPrev, onNext }) {
  const info = h('span', { class: 'page-info muted', 'data-testid': 'page-info' });
  const first = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'first-page', onclick: onFirst }, '« First page');
  const prev = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'prev-page', onclick: onPrev }, '‹ Prev');
  const next = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'next-page', onclick: onNext }, 'Next page ›');
  const el = h('div', { class: 'pager' }, first, prev, next, info);
  return {
    el,
    update(pageIndex, rows, hasNext) {
      first.disabled = pageIndex === 0;
      prev.disabled = pageIndex === 0;
      next.disabled = !hasNext;
      const from = pageIndex * PAGE_SIZE + 1;
      info.textContent = rows ? `page ${pageIndex + 1} · rows ${from}–${from + rows - 1}${hasNext ? '' : ' (last page)'}` : `page ${pageIndex + 1}`;
    },
  };
}

/** A stack of page tokens: [null, token2, token3...]; the last is the page shown. */
function pageStack() {
  const tokens = [null];
  return {
    get token() { return tokens[tokens.length - 1]; },
    get index() { return tokens.length - 1; },
    first() { tokens.length = 1; },
    prev() { if (tokens.length > 1) tokens.pop(); },
    next(token) { if (token) tokens.push(token); },
  };
}

function emptyRow(cols, text, testid) {
  return h('tr', { class: 'empty' }, h('td', { colspan: cols, 'data-testid': testid }, text));
}

function copyButton(getText) {
  return h('button', {
    type: 'button', class: 'btn-link copy', title: 'Copy',
    onclick: async (ev) => {
      ev.preventDefault();
      ev.stopPropagation();
      try {
        await navigator.clipboard.writeText(getText());
        ev.target.textContent = 'copied';
        setTimeout(() => { ev.target.textContent = 'copy'; }, 1000);
      } catch (e) { /* clipboard needs a secure context */ }
    },
  }, 'copy');
}

// ------------------------------------------------------------------ #/instances

function instancesView(r) {
  const p = r.params;
  const filters = {
    status: p.getAll('status').filter((x) => x),
    name: p.get('name') || '',
    prefix: p.get('prefix') || '',
    createdFrom: p.get('createdFrom') || '',
    createdTo: p.get('createdTo') || '',
  };
  const pages = pageStack();
  let alive = true, lastKey = null, nextToken = null, gen = 0;
  let chips, tbody, pg;

  function go(f) {
    navigate(hrefFor('instances', f));
  }

  function filterForm() {
    const statusSel = h('select', { multiple: true, size: 4, 'data-testid': 'filter-status', id: 'filter-status', title: 'Status (Ctrl/⌘-click for several; none = all)' },
      STATUSES.map((st) => h('option', { value: st, selected: filters.status.includes(st) }, st)));
    const name = h('input', { type: 'text', id: 'filter-name', 'data-testid': 'filter-name', value: filters.name, placeholder: 'exact name', autocomplete: 'off' });
    const prefix = h('input', { type: 'text', id: 'filter-prefix', class: 'mono', 'data-testid': 'filter-prefix', value: filters.prefix, placeholder: 'ID starts with', autocomplete: 'off' });
    const from = h('input', { type: 'datetime-local', step: 1, id: 'filter-created-from', 'data-testid': 'filter-created-from', value: toLocalInput(filters.createdFrom) });
    const to = h('input', { type: 'datetime-local', step: 1, id: 'filter-created-to', 'data-testid': 'filter-created-to', value: toLocalInput(filters.createdTo) });
    const form = h('form', {
      class: 'filters', 'data-testid': 'filter-form',
      onsubmit: (ev) => {
        ev.preventDefault();
        go({
          status: Array.from(statusSel.selectedOptions).map((o) => o.value),
          name: name.value.trim(),
          prefix: prefix.value,
          createdFrom: fromLocalInput(from.value),
          createdTo: fromLocalInput(to.value),
        });
      },
    },
    h('label', { class: 'field' }, h('span', null, 'Status'), statusSel),
    h('div', { class: 'field-col' },
      h('label', { class: 'field' }, h('span', null, 'Name'), name),
      h('label', { class: 'field' }, h('span', null, 'Instance ID prefix'), prefix)),
    h('div', { class: 'field-col' },
      h('label', { class: 'field' }, h('span', null, `Created from (${tzName() || 'local'})`), from),
      h('label', { class: 'field' }, h('span', null, 'Created to'), to)),
    h('div', { class: 'field-col buttons' },
      h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'filter-apply' }, 'Apply'),
      h('button', { type: 'button', class: 'btn', 'data-testid': 'filter-clear', onclick: () => go({}) }, 'Clear')));
    return form;
  }

  function renderChips(counts) {
    counts = counts || {};
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const sole = filters.status.length === 1 ? filters.status[0] : null;
    const list = STATUSES.filter((st) => MAIN_STATUSES.includes(st) || counts[st]);
    clear(chips).append(
      chip('ALL', 'All', total, filters.status.length === 0, () => go({ ...filters, status: [] })),
      ...list.map((st) => chip(st, st, counts[st] || 0, sole === st, () => go({ ...filters, status: sole === st ? [] : [st] }))),
    );
  }

  function chip(key, label, n, active, onclick) {
    return h('button', {
      type: 'button', class: `chip chip-${key}${active ? ' active' : ''}${n ? '' : ' zero'}`,
      'data-testid': `status-chip-${key}`, 'data-count': n, onclick, title: key === 'ALL' ? 'All statuses' : `Only ${key}`,
    }, h('span', { class: 'chip-label' }, label), h('span', { class: 'chip-count' }, String(n)));
  }

  function row(x) {
    const fail = x.failure ? `${x.failure.errorType}: ${x.failure.errorMessage}` : '';
    const failShort = x.failure ? `${shortType(x.failure.errorType)}: ${x.failure.errorMessage}` : '';
    return h('tr', { 'data-testid': 'instance-row', 'data-instance-id': x.instanceId, 'data-status': x.status },
      h('td', { class: 'mono id-cell' },
        h('a', { href: instanceHref(x.instanceId), 'data-testid': 'instance-link', title: x.instanceId }, x.instanceId),
        x.parentInstanceId ? h('span', { class: 'sub-mark', title: `sub-orchestration of ${x.parentInstanceId}` }, '↳') : null),
      h('td', { class: 'name-cell', title: x.name }, x.name),
      h('td', null, statusBadge(x.status)),
      h('td', { class: 'nowrap' }, timeCell(x.createdAt)),
      h('td', { class: 'nowrap' }, timeCell(x.lastUpdatedAt)),
      h('td', { class: 'error-cell', title: fail }, fail ? h('span', { class: 'error-text' }, failShort) : null));
  }

  async function load() {
    if (!alive) return;
    const my = ++gen;
    const q = [];
    filters.status.forEach((st) => q.push(['status', st]));
    if (filters.name) q.push(['name', filters.name]);
    if (filters.prefix) q.push(['prefix', filters.prefix]);
    if (filters.createdFrom) q.push(['createdFrom', filters.createdFrom]);
    if (filters.createdTo) q.push(['createdTo', filters.createdTo]);
    q.push(['pageSize', String(PAGE_SIZE)]);
    if (pages.token) q.push(['token', pages.token]);
    let data;
    try {
      data = await api('GET', '/api/v1/instances', { query: q });
    } catch (e) {
      if (!alive || my !== gen) return;
      showError('load', e);
      if (lastKey === null) {
        clear(tbody).append(emptyRow(6, `Could not load instances: ${errorText(e)}`, 'instances-empty'));
        pg.update(pages.index, 0, false);
      }
      return;
    }
    if (!alive || my !== gen) return;
    showError('load', null);
    const key = JSON.stringify(data);
    if (key === lastKey) return;
    lastKey = key;
    renderChips(data.counts);
    nextToken = data.nextToken || null;
    const rows = data.instances || [];
    clear(tbody);
    if (!rows.length) {
      tbody.append(emptyRow(6, pages.index ? 'No more instances.' : (filtersActive() ? 'No instances match these filters.' : 'No instances in this task hub yet.'), 'instances-empty'));
    } else {
      const frag = document.createDocumentFragment();
      rows.forEach((x) => frag.appendChild(row(x)));
      tbody.appendChild(frag);
    }
    pg.update(pages.index, rows.length, !!nextToken);
  }

  function filtersActive() {
    return filters.status.length || filters.name || filters.prefix || filters.createdFrom || filters.createdTo;
  }

  function turn(fn) {
    fn();
    lastKey = null;
    const table = tbody.parentElement;
    table.setAttribute('aria-busy', 'true');
    load().finally(() => table.removeAttribute('aria-busy'));
  }

  return {
    mount(main) {
      chips = h('div', { class: 'chips', 'data-testid': 'status-chips' });
      tbody = h('tbody', null, emptyRow(6, 'Loading…'));
      pg = pager({
        onFirst: () => turn(() => pages.first()),
        onPrev: () => turn(() => pages.prev()),
        onNext: () => turn(() => pages.next(nextToken)),
      });
      renderChips({});
      main.append(
        h('div', { class: 'page-head' }, h('h1', null, 'Instances'), chips),
        filterForm(),
        h('div', { class: 'table-wrap' },
          h('table', { class: 'grid instances', 'data-testid': 'instances-table', id: 'instances-table' },
            h('thead', null, h('tr', null,
              h('th', null, 'Instance ID'), h('th', null, 'Name'), h('th', null, 'Status'),
              h('th', null, 'Created'), h('th', null, 'Updated'), h('th', null, 'Error'))),
            tbody)),
        pg.el);
      pg.update(0, 0, false);
      load();
    },
    refresh: load,
    unmount() { alive = false; },
  };
}

/** ISO UTC -> the value of a datetime-local input (local time). */
function toLocalInput(iso) {
  const t = parseTime(iso);
  if (!isFinite(t)) return '';
  const d = new Date(t);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A datetime-local value (local time) -> ISO UTC, '' when empty. */
function fromLocalInput(value) {
  if (!value) return '';
  const d = new Date(value);
  return isNaN(d) ? value : d.toISOString();
}

// ------------------------------------------------------------------ #/instances/{id}

function instanceView(r) {
  const id = r.id;
  let alive = true, gen = 0, lastKey = null, inst = null, events = [], historyError = null;
  const expanded = new Set();      // history rows whose details are open
  let hideReplay = false;
  let root, body, timelineBox, tick, resizeTimer;

  async function load() {
    if (!alive) return;
    const my = ++gen;
    const enc = encodeURIComponent(id);
    const [a, b] = await Promise.allSettled([
      api('GET', `/api/v1/instances/${enc}`),
      api('GET', `/api/v1/instances/${enc}/history`),
    ]);
    if (!alive || my !== gen) return;
    if (a.status === 'rejected') {
      const e = a.reason;
      if (e instanceof ApiError && e.status === 404) {
        showError('load', null);
        inst = null;
        lastKey = 'missing';
        clear(body).append(h('div', { class: 'notice', 'data-testid': 'instance-not-found' },
          `No instance '${id}' in task hub '${state.hub}' (it may have been purged). `,
          h('a', { href: hrefFor('instances') }, 'Back to the list')));
        return;
      }
      showError('load', e);
      if (!inst) clear(body).append(h('div', { class: 'notice' }, `Could not load the instance: ${errorText(e)}`));
      return;
    }
    showError('load', null);
    const newEvents = b.status === 'fulfilled' ? (b.value && b.value.events) || [] : events;
    historyError = b.status === 'rejected' ? errorText(b.reason) : null;
    const key = JSON.stringify([a.value, newEvents, historyError]);
    if (key === lastKey) return;
    lastKey = key;
    inst = a.value;
    events = newEvents;
    render();
  }

  function render() {
    const x = inst;
    document.title = `${x.instanceId} · durabletask-emulator`;
    const openPres = new Set(Array.from(body.querySelectorAll('details[open]')).map((d) => d.dataset.key));
    const scroll = window.scrollY;
    clear(body);

    // summary
    const kv = (label, value, testid, cls) => [h('dt', null, label), h('dd', { 'data-testid': testid, class: cls }, value === null || value === undefined || value === '' ? h('span', { class: 'muted' }, '–') : value)];
    const children = x.children || [];
    const childLinks = children.slice(0, MAX_CHILD_LINKS).map((c) => h('a', { href: instanceHref(c), class: 'mono child', 'data-testid': 'instance-child' }, c));
    if (children.length > MAX_CHILD_LINKS) {
      childLinks.push(h('a', { href: hrefFor('instances', { prefix: '' }), class: 'muted', title: 'The list shows them all' }, `… and ${children.length - MAX_CHILD_LINKS} more`));
    }
    const tags = Object.entries(x.tags || {});
    const started = events.find((e) => e.type === 'executionStarted');
    const endAt = x.completedAt ? parseTime(x.completedAt) : null;
    const startAt = started ? parseTime(started.timestamp) : parseTime(x.createdAt);
    const ran = isFinite(startAt) ? ((endAt || hubNow()) - startAt) : NaN;

    body.append(h('dl', { class: 'summary' },
      kv('Status', statusBadge(x.status, 'instance-status')),
      kv('Name', x.name, 'instance-name', 'mono'),
      kv('Version', x.version, 'instance-version', 'mono'),
      kv('Execution ID', x.executionId, 'instance-execution-id', 'mono'),
      kv('Created', timeCell(x.createdAt, true), 'instance-created'),
      kv('Updated', timeCell(x.lastUpdatedAt, true), 'instance-updated'),
      kv('Completed', x.completedAt ? timeCell(x.completedAt, true) : null, 'instance-completed'),
      kv(x.completedAt ? 'Took' : 'Running for', isFinite(ran) ? fmtDur(ran) : null, 'instance-duration'),
      x.scheduledStartAt ? kv('Scheduled start', timeCell(x.scheduledStartAt, true), 'instance-scheduled-start') : null,
      kv('Parent', x.parentInstanceId ? h('a', { href: instanceHref(x.parentInstanceId), class: 'mono', 'data-testid': 'instance-parent-link' }, x.parentInstanceId) : null, 'instance-parent'),
      kv(`Children${children.length ? ` (${children.length})` : ''}`, childLinks.length ? h('span', { class: 'links' }, childLinks) : null, 'instance-children'),
      kv('Tags', tags.length ? h('span', { class: 'tags' }, tags.map(([k, v]) => h('span', { class: 'tag mono' }, `${k}=${v}`))) : null, 'instance-tags'),
    ));

    // failure
    if (x.failure) {
      body.append(section('Failure', renderFailure(x.failure, 0, true)));
    }

    // payloads
    body.append(h('div', { class: 'payloads' },
      payloadBox('Input', x.input, 'instance-input'),
      payloadBox('Output', x.output, 'instance-output'),
      payloadBox('Custom status', x.customStatus, 'instance-custom-status')));

    // timeline
    timelineBox = h('div', { class: 'timeline-box' });
    body.append(section('Timeline', timelineBox));
    drawTimeline();

    // history
    body.append(historySection());

    for (const d of body.querySelectorAll('details')) if (openPres.has(d.dataset.key)) d.open = true;
    window.scrollTo(0, scroll);
  }

  function section(title, ...content) {
    return h('section', { class: 'section' }, h('h2', null, title), content);
  }

  function payloadBox(label, text, testid) {
    const pretty = prettyPayload(text);
    return h('div', { class: 'payload' },
      h('div', { class: 'payload-head' }, h('span', { class: 'label' }, label), pretty !== null ? copyButton(() => pretty) : null),
      pretty === null
        ? h('pre', { class: 'pre empty', 'data-testid': testid }, '(none)')
        : h('pre', { class: 'pre', 'data-testid': testid }, pretty));
  }

  function drawTimeline() {
    if (!timelineBox || !inst) return;
    clear(timelineBox);
    if (historyError) {
      timelineBox.append(h('div', { class: 'notice' }, `History unavailable: ${historyError}`));
      return;
    }
    timelineBox.append(renderTimeline(inst, events, Math.max(hubNow(), lastEventTime(events)), timelineBox.clientWidth || 1000));
  }

  function historySection() {
    const scheduled = new Map();
    for (const e of events) {
      if (e.eventId >= 0) scheduled.set(e.eventId, e);
      const rid = e.details && e.details.requestId;
      if (rid && (e.type === 'entityOperationCalled' || e.type === 'entityOperationSignaled')) scheduled.set(`req:${rid}`, e);
    }
    let t0 = Infinity;
    for (const e of events) t0 = Math.min(t0, parseTime(e.timestamp) || Infinity);
    const tbodyEl = h('tbody');
    const rows = hideReplay ? events.filter((e) => e.type !== 'orchestratorStarted' && e.type !== 'orchestratorCompleted') : events;
    events.forEach((e, i) => { e.__index = i; });
    for (const e of rows) {
      const k = String(e.__index);
      const open = expanded.has(k);
      const toggle = h('button', { type: 'button', class: 'btn-link expand', 'data-testid': 'history-expand', 'aria-expanded': open ? 'true' : 'false', title: 'Details' }, open ? '▾' : '▸');
      const tr = h('tr', {
        'data-testid': 'history-row', 'data-event-id': e.eventId, 'data-type': e.type,
        class: `ev ev-${eventCategory(e.type)}${open ? ' open' : ''}`,
      },
      h('td', { class: 'num mono' }, e.eventId >= 0 ? String(e.eventId) : ''),
      h('td', { class: 'nowrap' }, timeCell(e.timestamp, true)),
      h('td', { class: 'num nowrap muted' }, isFinite(t0) ? `+${fmtDur(Math.max(0, parseTime(e.timestamp) - t0))}` : ''),
      h('td', { class: 'mono type nowrap' }, e.type || '?'),
      h('td', { class: 'summary-cell' }, eventSummary(e, scheduled)),
      h('td', { class: 'expand-cell' }, toggle));
      const flip = () => {
        if (expanded.has(k)) expanded.delete(k); else expanded.add(k);
        rerenderHistory();
      };
      tr.addEventListener('click', (ev) => {
        if (ev.target.closest('a') || window.getSelection().toString()) return;
        flip();
      });
      tbodyEl.append(tr);
      if (open) {
        tbodyEl.append(h('tr', { class: 'details-row' }, h('td', { colspan: 6, 'data-testid': 'history-details' }, eventDetails(e))));
      }
    }
    if (!events.length) tbodyEl.append(emptyRow(6, historyError ? `History unavailable: ${historyError}` : 'No history yet.', 'history-empty'));
    const controls = h('div', { class: 'history-controls' },
      h('label', { class: 'check' }, h('input', {
        type: 'checkbox', checked: hideReplay, 'data-testid': 'history-hide-replay',
        onchange: (ev) => { hideReplay = ev.target.checked; rerenderHistory(); },
      }), 'hide orchestratorStarted/Completed'),
      h('button', { type: 'button', class: 'btn btn-small', onclick: () => { events.forEach((e, i) => expanded.add(String(i))); rerenderHistory(); } }, 'Expand all'),
      h('button', { type: 'button', class: 'btn btn-small', onclick: () => { expanded.clear(); rerenderHistory(); } }, 'Collapse all'));
    const sec = section(`History (${events.length} events)`, controls, h('div', { class: 'table-wrap' },
      h('table', { class: 'grid history', 'data-testid': 'history-table', id: 'history-table' },
        h('thead', null, h('tr', null, h('th', { class: 'num' }, '#'), h('th', null, 'Timestamp'), h('th', { class: 'num' }, 'Elapsed'), h('th', null, 'Type'), h('th', { class: 'grow' }, 'Name / summary'), h('th', null, ''))),
        tbodyEl)));
    sec.id = 'history-section';
    return sec;
  }

  function rerenderHistory() {
    const old = body.querySelector('#history-section');
    if (old) old.replaceWith(historySection());
  }

  function act(label, testid, cls, handler) {
    return h('button', { type: 'button', class: `btn ${cls || ''}`, 'data-testid': testid, onclick: handler }, label);
  }

  function post(action, payload) {
    return api('POST', `/api/v1/instances/${encodeURIComponent(id)}/${action}`, { body: payload || {} });
  }

  function done() {
    lastKey = null;
    liveChanged();
  }

  function reasonField() {
    const input = h('input', { type: 'text', 'data-testid': 'action-reason', placeholder: 'optional', autocomplete: 'off' });
    return { input, el: h('label', { class: 'field' }, h('span', null, 'Reason'), input) };
  }

  function simple(action, label, danger) {
    return () => {
      const reason = reasonField();
      openModal({
        title: `${label} ${id}?`,
        body: [reason.el],
        okLabel: label,
        danger,
        onOk: async () => {
          const v = reason.input.value.trim();
          await post(action, v ? { reason: v } : {});
          done();
        },
      });
    };
  }

  function onRaise() {
    const name = h('input', { type: 'text', 'data-testid': 'raise-event-name', class: 'mono', placeholder: 'event name', autocomplete: 'off' });
    const data = h('textarea', { 'data-testid': 'raise-event-data', class: 'mono', rows: 5, placeholder: '{"approved": true}' });
    openModal({
      title: `Raise an event to ${id}`,
      body: [
        h('label', { class: 'field' }, h('span', null, 'Event name'), name),
        h('label', { class: 'field' }, h('span', null, 'Data (JSON; plain text is sent as a string; empty = none)'), data),
      ],
      okLabel: 'Raise event',
      focus: name,
      onOk: async () => {
        if (!name.value.trim()) throw new ValidationError('An event name is needed.');
        const payload = { name: name.value.trim() };
        const v = jsonInput(data.value);
        if (v !== undefined) payload.data = v;
        await post('raise-event', payload);
        done();
      },
    });
  }

  function onTerminate() {
    const output = h('textarea', { 'data-testid': 'terminate-output', class: 'mono', rows: 3, placeholder: '"stopped by hand"' });
    const recursive = h('input', { type: 'checkbox', 'data-testid': 'terminate-recursive', checked: true });
    openModal({
      title: `Terminate ${id}?`,
      body: [
        h('label', { class: 'field' }, h('span', null, 'Output (JSON; plain text is sent as a string; empty = none)'), output),
        h('label', { class: 'check' }, recursive, 'also terminate its sub-orchestrations (recursive)'),
      ],
      okLabel: 'Terminate',
      danger: true,
      onOk: async () => {
        const payload = { recursive: recursive.checked };
        const v = jsonInput(output.value);
        if (v !== undefined) payload.output = v;
        await post('terminate', payload);
        done();
      },
    });
  }

  function onRestart() {
    const fresh = h('input', { type: 'checkbox', 'data-testid': 'restart-new-id' });
    openModal({
      title: `Restart ${id}?`,
      body: [
        h('p', { class: 'muted' }, 'Starts the orchestration again with the same name and input.'),
        h('label', { class: 'check' }, fresh, 'with a new instance ID'),
      ],
      okLabel: 'Restart',
      onOk: async () => {
        const res = await post('restart', { newInstanceId: fresh.checked });
        const newId = res && res.instanceId;
        if (newId && newId !== id) {
          alive = false;
          navigate(instanceHref(newId));
        }
        else done();
      },
    });
  }

  function onPurge() {
    const recursive = h('input', { type: 'checkbox', 'data-testid': 'purge-recursive', checked: true });
    openModal({
      title: `Purge ${id}?`,
      body: [
        h('p', null, 'Deletes the instance and its history. This cannot be undone.'),
        h('label', { class: 'check' }, recursive, 'also purge its sub-orchestrations (recursive)'),
      ],
      okLabel: 'Purge',
      danger: true,
      onOk: async () => {
        await api('DELETE', `/api/v1/instances/${encodeURIComponent(id)}`, { query: [['recursive', recursive.checked ? 'true' : 'false']] });
        alive = false;  // no more refreshes of a purged instance
        navigate(hrefFor('instances'));
      },
    });
  }

  return {
    mount(main) {
      body = h('div', { class: 'detail-body' }, h('p', { class: 'muted' }, 'Loading…'));
      root = h('div', { class: 'instance', 'data-testid': 'instance-detail' },
        h('div', { class: 'page-head' },
          h('div', { class: 'crumbs' },
            h('a', { href: hrefFor('instances') }, 'Instances'), ' / ',
            h('span', { class: 'mono', 'data-testid': 'instance-id' }, id),
            h('span', { class: 'copy-wrap' }, copyButton(() => id)))),
        h('div', { class: 'actions' },
          act('Raise event…', 'action-raise-event', '', onRaise),
          act('Suspend', 'action-suspend', '', simple('suspend', 'Suspend')),
          act('Resume', 'action-resume', '', simple('resume', 'Resume')),
          act('Terminate…', 'action-terminate', 'btn-danger-outline', onTerminate),
          act('Restart…', 'action-restart', '', onRestart),
          act('Rewind', 'action-rewind', '', simple('rewind', 'Rewind')),
          act('Purge…', 'action-purge', 'btn-danger-outline', onPurge)),
        body);
      main.append(root);
      load();
      tick = setInterval(() => {
        if (inst && !inst.completedAt && ['RUNNING', 'PENDING', 'SUSPENDED'].includes(inst.status)) drawTimeline();
      }, 1000);
      window.addEventListener('resize', onResize);
    },
    refresh: load,
    unmount() {
      alive = false;
      clearInterval(tick);
      window.removeEventListener('resize', onResize);
      document.title = 'durabletask-emulator';
    },
  };

  function onResize() {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(drawTimeline, 150);
  }
}

function lastEventTime(events) {
  let t = -Infinity;
  for (const e of events) t = Math.max(t, parseTime(e.timestamp) || -Infinity);
  return t;
}

function eventCategory(type) {
  if (!type) return 'other';
  if (/Failed$|Terminated$/.test(type)) return 'bad';
  if (type.startsWith('task')) return 'task';
  if (type.startsWith('timer')) return 'timer';
  if (type.startsWith('subOrchestration')) return 'sub';
  if (type.startsWith('event')) return 'event';
  if (type.startsWith('execution')) return 'exec';
  if (type.startsWith('entity')) return 'entity';
  if (type.startsWith('orchestrator')) return 'replay';
  return 'other';
}

/** Name / summary cell of a history row. */
function eventSummary(e, scheduled) {
  const d = e.details || {};
  const ref = (sid) => {
    const src = scheduled.get(sid);
    const nm = src && src.details ? (src.details.name || src.details.instanceId || '') : '';
    return h('span', { class: 'ref mono', title: `answers event #${sid}` }, `→#${sid}${nm ? ' ' + nm : ''}`);
  };
  const name = (n) => h('span', { class: 'ev-name mono' }, n);
  const pv = (t) => (t === null || t === undefined || t === '' ? null : h('span', { class: 'pv mono' }, preview(t)));
  const fail = (f) => (f ? h('span', { class: 'error-text' }, `${f.errorType || ''}: ${preview(f.errorMessage || '', 160)}`) : null);
  switch (e.type) {
    case 'executionStarted':
      return [name(d.name || ''), d.version ? h('span', { class: 'muted' }, ` v${d.version}`) : null, ' ', pv(d.input)];
    case 'taskScheduled':
      return [name(d.name || ''), ' ', pv(d.input)];
    case 'taskCompleted':
      return [ref(d.taskScheduledId), ' ', pv(d.result)];
    case 'taskFailed':
      return [ref(d.taskScheduledId), ' ', fail(d.failureDetails)];
    case 'timerCreated': {
      const dt = parseTime(d.fireAt) - parseTime(e.timestamp);
      return [h('span', null, `fires at ${fmtTime(d.fireAt, true)}`), isFinite(dt) ? h('span', { class: 'muted' }, ` (in ${fmtDur(dt)})`) : null, d.name ? [' ', name(d.name)] : null];
    }
    case 'timerFired':
      return [ref(d.timerId), h('span', { class: 'muted' }, ` timer for ${fmtTime(d.fireAt, true)}`)];
    case 'subOrchestrationInstanceCreated':
      return [name(d.name || ''), ' ', d.instanceId ? h('a', { href: instanceHref(d.instanceId), class: 'mono' }, d.instanceId) : null, ' ', pv(d.input)];
    case 'subOrchestrationInstanceCompleted':
      return [ref(d.taskScheduledId), ' ', pv(d.result)];
    case 'subOrchestrationInstanceFailed':
      return [ref(d.taskScheduledId), ' ', fail(d.failureDetails)];
    case 'eventRaised':
      return [name(d.name || ''), ' ', pv(d.input)];
    case 'eventSent':
      return [name(d.name || ''), ' → ', d.instanceId ? h('a', { href: instanceHref(d.instanceId), class: 'mono' }, d.instanceId) : null, ' ', pv(d.input)];
    case 'executionCompleted':
      return [statusBadge(shortStatus(d.orchestrationStatus)), ' ', d.failureDetails ? fail(d.failureDetails) : pv(d.result)];
    case 'executionTerminated':
    case 'executionSuspended':
    case 'executionResumed':
      return [pv(d.input)];
    case 'continueAsNew':
      return [pv(d.input)];
    case 'entityOperationCalled':
    case 'entityOperationSignaled':
      return [h('span', { class: 'mono' }, d.targetInstanceId || ''), ' ', name(d.operation || ''), ' ', pv(d.input)];
    case 'entityOperationCompleted':
    case 'entityOperationFailed': {
      const src = scheduled.get(`req:${d.requestId}`);
      const what = src ? `→#${src.eventId} ${src.details.targetInstanceId || ''} ${src.details.operation || ''}` : `request ${d.requestId || ''}`;
      return [h('span', { class: 'ref mono', title: `request ${d.requestId}` }, what), ' ', d.failureDetails ? fail(d.failureDetails) : pv(d.output)];
    }
    default: {
      for (const f of ['name', 'operation', 'instanceId', 'targetInstanceId', 'requestId']) if (d[f]) return [name(String(d[f])), ' ', pv(d.input || d.output || d.result)];
      return [pv(Object.keys(d).length ? JSON.stringify(d) : '')];
    }
  }
}

/** The expanded details of a history event: each field on its own, payloads pretty, failures readable. */
function eventDetails(e) {
  const d = e.details || {};
  const box = h('div', { class: 'ev-details' });
  const keys = Object.keys(d);
  if (!keys.length) {
    box.append(h('span', { class: 'muted' }, 'No details.'));
    return box;
  }
  const dl = h('dl', { class: 'kv' });
  for (const k of keys) {
    const v = d[k];
    if (k === 'failureDetails' && v && typeof v === 'object') {
      dl.append(h('dt', null, k), h('dd', null, renderFailure(protoFailure(v), 0, false)));
      continue;
    }
    let text;
    if (typeof v === 'string') text = prettyPayload(v);
    else text = JSON.stringify(v, null, 2);
    dl.append(h('dt', null, k), h('dd', null, h('pre', { class: 'pre small' }, text)));
  }
  box.append(dl);
  return box;
}

/** A failure as protobuf JSON (stackTrace may be nested in a wrapper) -> the API's Failure shape. */
function protoFailure(f) {
  if (!f) return null;
  let stack = f.stackTrace;
  if (stack && typeof stack === 'object' && 'value' in stack) stack = stack.value;
  return {
    errorType: f.errorType,
    errorMessage: f.errorMessage,
    stackTrace: stack,
    isNonRetriable: f.isNonRetriable,
    innerFailure: f.innerFailure ? protoFailure(f.innerFailure) : null,
  };
}

/** errorType: message, the stack trace as real lines, then the inner failure, indented. */
function renderFailure(f, depth, withIds) {
  let stack = f.stackTrace || '';
  if (stack && !stack.includes('\n') && stack.includes('\\n')) stack = stack.replace(/\\r?\\n/g, '\n');
  const outer = depth === 0;
  const id = (name) => (withIds ? (outer ? name : `inner-${name}`) : null);
  const el = h('div', { class: `failure${outer ? '' : ' inner'}`, 'data-testid': withIds ? (outer ? 'failure' : 'inner-failure') : null },
    h('div', { class: 'failure-head' },
      outer ? null : h('span', { class: 'caused-by' }, 'Caused by '),
      h('span', { class: 'failure-type mono', 'data-testid': id('failure-type') }, f.errorType || 'Error'),
      ': ',
      h('span', { class: 'failure-message', 'data-testid': id('failure-message') }, f.errorMessage || ''),
      f.isNonRetriable ? h('span', { class: 'badge' }, 'non-retriable') : null),
    stack ? h('pre', { class: 'pre stack', 'data-testid': id('failure-stack') }, stack) : h('div', { class: 'muted small' }, 'No stack trace.'),
    f.innerFailure ? renderFailure(f.innerFailure, depth + 1, withIds) : null);
  return el;
}

// ------------------------------------------------------------------ timeline (SVG)

/**
 * Items of the timeline from the history: the orchestration itself, then one row per activity,
 * timer, sub-orchestration, entity call and raised event, in the order they began.
 */
function timelineItems(inst, events, now) {
  const items = [];
  const open = new Map();                // eventId -> item waiting for its answer
  const entityCalls = new Map();         // requestId -> item
  let start = NaN, end = null, endStatus = null, suspended = null;
  const running = !inst.completedAt && ['RUNNING', 'PENDING', 'SUSPENDED'].includes(inst.status);
  for (const e of events) {
    const t = parseTime(e.timestamp);
    const d = e.details || {};
    if (!isFinite(start) && isFinite(t)) start = t;
    switch (e.type) {
      case 'executionStarted':
        start = isFinite(start) ? Math.min(start, t) : t;
        break;
      case 'taskScheduled': {
        const it = { kind: 'activity', label: d.name || 'activity', id: e.eventId, start: t, end: null, status: 'running' };
        items.push(it); open.set(e.eventId, it);
        break;
      }
      case 'subOrchestrationInstanceCreated': {
        const it = { kind: 'suborchestration', label: d.name || 'sub-orchestration', id: e.eventId, start: t, end: null, status: 'running', instanceId: d.instanceId };
        items.push(it); open.set(e.eventId, it);
        break;
      }
      case 'timerCreated': {
        const it = { kind: 'timer', label: `${d.name ? `timer ${d.name}` : 'timer'} until ${fmtTime(d.fireAt).slice(11)}`, id: e.eventId, start: t, end: null, planned: parseTime(d.fireAt), status: 'running' };
        items.push(it); open.set(e.eventId, it);
        break;
      }
      case 'taskCompleted':
      case 'subOrchestrationInstanceCompleted':
      case 'taskFailed':
      case 'subOrchestrationInstanceFailed': {
        const it = open.get(d.taskScheduledId);
        if (it) {
          it.end = t;
          it.status = e.type.endsWith('Failed') ? 'failed' : 'completed';
          if (d.failureDetails) it.error = `${d.failureDetails.errorType}: ${d.failureDetails.errorMessage}`;
          open.delete(d.taskScheduledId);
        }
        break;
      }
      case 'timerFired': {
        const it = open.get(d.timerId);
        if (it) { it.end = t; it.status = 'completed'; open.delete(d.timerId); }
        break;
      }
      case 'eventRaised':
        items.push({ kind: 'event', label: `event ${d.name || ''}`.trim(), start: NaN, end: t, status: 'completed', fromStart: true });
        break;
      case 'entityOperationCalled':
      case 'entityOperationSignaled': {
        const target = d.targetInstanceId || '';
        const it = { kind: 'entity', label: `${target} ${d.operation || ''}`.trim(), id: e.eventId, start: t, end: e.type === 'entityOperationSignaled' ? t : null, status: e.type === 'entityOperationSignaled' ? 'completed' : 'running' };
        items.push(it);
        if (d.requestId && e.type === 'entityOperationCalled') entityCalls.set(d.requestId, it);
        break;
      }
      case 'entityOperationCompleted':
      case 'entityOperationFailed': {
        const it = entityCalls.get(d.requestId);
        if (it) { it.end = t; it.status = e.type.endsWith('Failed') ? 'failed' : 'completed'; entityCalls.delete(d.requestId); }
        break;
      }
      case 'executionSuspended':
        if (!suspended) {
          suspended = { kind: 'suspended', label: 'suspended', start: t, end: null, status: 'running', error: d.input ? `reason: ${d.input}` : '' };
          items.push(suspended);
        }
        break;
      case 'executionResumed':
        if (suspended) { suspended.end = t; suspended.status = 'completed'; suspended = null; }
        break;
      case 'executionCompleted':
      case 'executionTerminated':
        end = t;
        endStatus = e.type === 'executionTerminated' ? 'TERMINATED' : shortStatus(d.orchestrationStatus);
        break;
      default:
        break;
    }
  }
  if (!isFinite(start)) start = parseTime(inst.createdAt);
  if (end === null && inst.completedAt && !running) end = parseTime(inst.completedAt);
  const finish = end !== null ? end : running ? now : lastEventTime(events);
  for (const it of items) {
    if (it.fromStart) it.start = start;
    if (it.end === null) {
      if (running) { it.end = now; it.status = 'running'; } else { it.end = finish; it.status = 'unfinished'; }
    }
  }
  if (running && !items.some((it) => it.status === 'running' && it.kind !== 'suspended')) {
    // nothing scheduled is open: the orchestrator is waiting (an external event, most likely)
    let last = start;
    for (const e of events) if (e.type === 'orchestratorCompleted' || e.type === 'eventRaised') last = parseTime(e.timestamp) || last;
    items.push({ kind: 'waiting', label: 'waiting (event?)', start: last, end: now, status: 'running' });
  }
  const orch = { kind: 'orchestration', label: inst.name || 'orchestration', start, end: finish, status: running ? 'running' : 'completed', orchStatus: endStatus || inst.status };
  return [orch, ...items];
}

function niceStep(span, target) {
  const steps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5, 36e5, 72e5, 108e5, 216e5, 432e5, 864e5, 1728e5, 6048e5, 12096e5, 2592e6];
  for (const st of steps) if (span / st <= target) return st;
  return Math.ceil(span / target / 2592e6) * 2592e6;
}

function renderTimeline(inst, events, now, width) {
  let items = timelineItems(inst, events, now);
  let hidden = 0;
  if (items.length > MAX_TIMELINE_ROWS) {
    hidden = items.length - MAX_TIMELINE_ROWS;
    items = items.slice(0, MAX_TIMELINE_ROWS);
  }
  const W = Math.max(560, Math.floor(width));
  const labelW = Math.min(250, Math.max(150, Math.floor(W * 0.24)));
  const right = 12, top = 22, rowH = 20, barH = 12;
  const t0 = items[0].start;
  let t1 = t0;
  for (const it of items) t1 = Math.max(t1, it.end || t0, isFinite(it.planned) ? it.planned : t0);
  if (!isFinite(t0)) {
    return h('div', { class: 'muted' }, 'No timestamps to draw.');
  }
  const span = Math.max(t1 - t0, 1);
  const plotW = W - labelW - right;
  const x = (t) => labelW + ((t - t0) / span) * plotW;
  const H = top + items.length * rowH + 6;

  const svg = s('svg', { class: 'timeline', 'data-testid': 'timeline', width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Timeline of the orchestration' });
  // stripes for running bars
  svg.append(s('defs', null,
    s('pattern', { id: 'tl-stripes', width: 8, height: 8, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' },
      s('rect', { width: 3, height: 8, fill: '#fff', 'fill-opacity': 0.45 }))));
  // axis
  const step = niceStep(span, Math.max(2, Math.floor(plotW / 90)));
  const axis = s('g', { class: 'tl-axis' });
  for (let t = 0; t <= span + 0.5; t += step) {
    const xx = x(t0 + t);
    axis.append(s('line', { x1: xx, x2: xx, y1: top - 4, y2: H - 4, class: 'tl-grid' }));
    const anchor = t === 0 ? 'start' : xx > W - 30 ? 'end' : 'middle';
    axis.append(s('text', { x: anchor === 'end' ? W - 2 : xx, y: top - 8, class: 'tl-tick', 'text-anchor': anchor }, t === 0 ? '0' : `+${fmtTick(t)}`));
  }
  axis.append(s('text', { x: 4, y: top - 8, class: 'tl-tick' }, fmtTime(t0, true)));
  svg.append(axis);

  items.forEach((it, i) => {
    const y = top + i * rowH;
    const g = s('g', { class: `tl-row tl-${it.kind} tl-${it.status}${it.orchStatus ? ' tl-orch-' + it.orchStatus : ''}`, 'data-testid': 'timeline-row', 'data-kind': it.kind, 'data-status': it.status });
    if (i % 2 === 1) g.append(s('rect', { x: 0, y, width: W, height: rowH, class: 'tl-zebra' }));
    const dur = (it.end || t0) - it.start;
    const tip = `${it.kind} ${it.label}${it.id !== undefined ? ` (#${it.id})` : ''}\n${fmtTime(it.start, true)} → ${it.status === 'running' ? 'now' : fmtTime(it.end, true)}  ${fmtDur(dur)}  ${it.status}` +
      (isFinite(it.planned) ? `\nfires at ${fmtTime(it.planned, true)}` : '') + (it.error ? `\n${it.error}` : '') + (it.instanceId ? `\n${it.instanceId}` : '');
    g.append(s('title', null, tip));
    const maxChars = Math.floor((labelW - 14) / 6.6);
    const full = it.id !== undefined && it.id >= 0 ? `${it.label} #${it.id}` : it.label;
    const label = full.length > maxChars ? full.slice(0, maxChars - 1) + '…' : full;
    g.append(s('rect', { x: 4, y: y + 6, width: 8, height: 8, rx: 2, class: 'tl-key' }));
    g.append(s('text', { x: 16, y: y + 14, class: 'tl-label' }, label));
    const x1 = x(it.start), x2 = Math.max(x(it.end || it.start), x1 + 2);
    if (isFinite(it.planned) && it.planned > (it.end || 0)) {
      g.append(s('rect', { x: x1, y: y + (rowH - barH) / 2, width: Math.max(x(it.planned) - x1, 2), height: barH, rx: 2, class: 'tl-planned' }));
    }
    g.append(s('rect', { x: x1, y: y + (rowH - barH) / 2, width: x2 - x1, height: barH, rx: 2, class: 'tl-bar' }));
    if (isFinite(it.planned) && it.status !== 'running' && Math.abs(it.planned - it.end) > Math.max(1000, span * 0.02)) {
      // the timer fired later than planned (the clock was advanced past it, or the worker was late)
      const xp = x(it.planned);
      g.append(s('line', { x1: xp, x2: xp, y1: y + 2, y2: y + rowH - 2, class: 'tl-planned-mark' }));
    }
    if (it.status === 'running') g.append(s('rect', { x: x1, y: y + (rowH - barH) / 2, width: x2 - x1, height: barH, rx: 2, class: 'tl-stripes', fill: 'url(#tl-stripes)' }));
    const txt = fmtDur(dur) + (it.status === 'running' ? ' …' : it.status === 'failed' ? ' ✗' : it.status === 'unfinished' ? ' (unfinished)' : '');
    const tw = txt.length * 6.2 + 6;
    const inside = x2 - x1 > tw + 4;
    const afterFits = x2 + tw < W - 2;
    const tx = inside ? x1 + 4 : afterFits ? x2 + 4 : x1 - 4;
    g.append(s('text', { x: tx, y: y + 14, class: `tl-dur${inside ? ' inside' : ''}`, 'text-anchor': !inside && !afterFits ? 'end' : 'start' }, txt));
    if (it.instanceId) {
      const a = s('a', { href: instanceHref(it.instanceId) });
      a.append(g);
      svg.append(a);
    } else {
      svg.append(g);
    }
  });
  if (items[0].status === 'running') {
    const xn = x(now);
    svg.append(s('line', { x1: xn, x2: xn, y1: top - 4, y2: H - 4, class: 'tl-now' }));
  }
  const counts = {};
  for (const it of items.slice(1)) counts[it.kind] = (counts[it.kind] || 0) + 1;
  const names = { suspended: ['suspension', 'suspensions'], activity: ['activity', 'activities'], timer: ['timer', 'timers'], suborchestration: ['sub-orchestration', 'sub-orchestrations'], event: ['raised event', 'raised events'], entity: ['entity call', 'entity calls'] };
  const legend = h('div', { class: 'tl-legend muted' },
    `${fmtDur(items[0].end - items[0].start)} in all`,
    Object.entries(counts).map(([k, n]) => h('span', { class: `tl-legend-item tl-${k}` }, h('i'), k === 'waiting' ? 'waiting' : `${n} ${names[k] ? names[k][n === 1 ? 0 : 1] : k}`)),
    hidden ? h('span', null, ` · ${hidden} more rows not drawn`) : null);
  return h('div', { class: 'tl-wrap' }, legend, svg);
}

// ------------------------------------------------------------------ #/entities

function entitiesView(r) {
  const prefix = r.params.get('prefix') || '';
  const pages = pageStack();
  const expanded = new Set();
  let alive = true, gen = 0, lastKey = null, nextToken = null, rows = [];
  let tbody, pg;

  async function load() {
    if (!alive) return;
    const my = ++gen;
    const q = [['pageSize', String(PAGE_SIZE)]];
    if (prefix) q.push(['prefix', prefix]);
    if (pages.token) q.push(['token', pages.token]);
    let data;
    try {
      data = await api('GET', '/api/v1/entities', { query: q });
    } catch (e) {
      if (!alive || my !== gen) return;
      showError('load', e);
      if (lastKey === null) clear(tbody).append(emptyRow(7, `Could not load entities: ${errorText(e)}`, 'entities-empty'));
      return;
    }
    if (!alive || my !== gen) return;
    showError('load', null);
    const key = JSON.stringify(data);
    if (key === lastKey) return;
    lastKey = key;
    rows = data.entities || [];
    nextToken = data.nextToken || null;
    render();
    pg.update(pages.index, rows.length, !!nextToken);
  }

  function render() {
    clear(tbody);
    if (!rows.length) {
      tbody.append(emptyRow(7, prefix ? 'No entities match this prefix.' : 'No entities in this task hub.', 'entities-empty'));
      return;
    }
    for (const x of rows) {
      const open = expanded.has(x.instanceId);
      const st = x.state;
      const toggle = st !== null && st !== undefined
        ? h('button', {
          type: 'button', class: 'btn-link expand', 'data-testid': 'entity-state-toggle', 'aria-expanded': open ? 'true' : 'false',
          onclick: () => { if (open) expanded.delete(x.instanceId); else expanded.add(x.instanceId); render(); },
        }, open ? '▾' : '▸')
        : null;
      tbody.append(h('tr', { 'data-testid': 'entity-row', 'data-entity-id': x.instanceId },
        h('td', { class: 'mono id-cell', title: x.instanceId }, x.instanceId),
        h('td', { class: 'mono' }, x.name),
        h('td', { class: 'mono' }, x.key),
        h('td', { class: 'mono' }, x.lockedBy ? h('a', { href: instanceHref(x.lockedBy) }, x.lockedBy) : h('span', { class: 'muted' }, '–')),
        h('td', { class: 'num' }, String(x.backlog ?? 0)),
        h('td', { class: 'nowrap' }, timeCell(x.lastModified)),
        h('td', { class: 'state-cell' }, toggle, ' ',
          st === null || st === undefined ? h('span', { class: 'muted' }, '(no state)') : h('span', { class: 'mono pv', 'data-testid': 'entity-state', title: preview(st, 2000) }, preview(st, 100)))));
      if (open) {
        tbody.append(h('tr', { class: 'details-row' }, h('td', { colspan: 7 }, h('pre', { class: 'pre', 'data-testid': 'entity-state-full' }, prettyPayload(st)))));
      }
    }
  }

  function turn(fn) {
    fn();
    lastKey = null;
    const table = tbody.parentElement;
    table.setAttribute('aria-busy', 'true');
    load().finally(() => table.removeAttribute('aria-busy'));
  }

  return {
    mount(main) {
      const input = h('input', { type: 'text', class: 'mono', 'data-testid': 'entities-filter-prefix', id: 'entities-filter-prefix', value: prefix, placeholder: '@counter@', autocomplete: 'off' });
      tbody = h('tbody', null, emptyRow(7, 'Loading…'));
      pg = pager({
        onFirst: () => turn(() => pages.first()),
        onPrev: () => turn(() => pages.prev()),
        onNext: () => turn(() => pages.next(nextToken)),
      });
      main.append(
        h('div', { class: 'page-head' }, h('h1', null, 'Entities')),
        h('form', {
          class: 'filters', onsubmit: (ev) => { ev.preventDefault(); navigate(hrefFor('entities', { prefix: input.value })); },
        },
        h('label', { class: 'field' }, h('span', null, 'Entity ID prefix (@name@key)'), input),
        h('div', { class: 'field-col buttons' },
          h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'entities-apply' }, 'Apply'),
          h('button', { type: 'button', class: 'btn', 'data-testid': 'entities-clear', onclick: () => navigate(hrefFor('entities')) }, 'Clear'))),
        h('div', { class: 'table-wrap' },
          h('table', { class: 'grid entities', 'data-testid': 'entities-table', id: 'entities-table' },
            h('thead', null, h('tr', null,
              h('th', null, 'Entity ID'), h('th', null, 'Name'), h('th', null, 'Key'), h('th', null, 'Locked by'),
              h('th', { class: 'num' }, 'Backlog'), h('th', null, 'Last modified'), h('th', null, 'State'))),
            tbody)),
        pg.el);
      pg.update(0, 0, false);
      load();
    },
    refresh: load,
    unmount() { alive = false; },
  };
}

// ------------------------------------------------------------------ #/workers

/** A worker's announced work-item filters, e.g. "orchestrations: a, b · activities: x"; none: everything. */
function filtersText(filters) {
  if (!filters) return h('span', { class: 'muted' }, 'all work');
  const parts = Object.entries(filters).filter(([, names]) => names.length).map(([kind, names]) => `${kind}: ${names.join(', ')}`);
  return parts.length ? parts.join(' · ') : h('span', { class: 'muted' }, 'nothing');
}

function workersView() {
  let alive = true, gen = 0, lastKey = null, tbody, note;

  async function load() {
    if (!alive) return;
    const my = ++gen;
    let data;
    try {
      data = await api('GET', '/api/v1/workers');
    } catch (e) {
      if (!alive || my !== gen) return;
      showError('load', e);
      if (lastKey === null) clear(tbody).append(emptyRow(9, `Could not load workers: ${errorText(e)}`, 'workers-empty'));
      return;
    }
    if (!alive || my !== gen) return;
    showError('load', null);
    const key = JSON.stringify(data);
    if (key === lastKey) return;
    lastKey = key;
    const rows = Array.isArray(data) ? data : [];
    note.textContent = `${rows.length} connected`;
    clear(tbody);
    if (!rows.length) {
      tbody.append(emptyRow(9, `No workers connected to task hub '${state.hub}'.`, 'workers-empty'));
      return;
    }
    const now = hubNow();
    for (const w of rows) {
      const since = parseTime(w.connectedAt);
      tbody.append(h('tr', { 'data-testid': 'worker-row', 'data-worker-id': w.workerId || w.id },
        h('td', { class: 'mono' }, w.taskHub),
        h('td', { class: 'num mono' }, String(w.id ?? '')),
        h('td', { class: 'ua', title: w.userAgent || '' }, w.userAgent || h('span', { class: 'muted' }, '–')),
        h('td', { class: 'mono' }, w.workerId || h('span', { class: 'muted' }, '–')),
        h('td', { class: 'mono' }, w.peer || ''),
        h('td', { class: 'nowrap' }, timeCell(w.connectedAt), isFinite(since) ? h('span', { class: 'muted' }, ` (${fmtDur(Math.max(0, now - since))} ago)`) : null),
        h('td', { class: 'num' }, String(w.inFlight ?? 0)),
        h('td', { class: 'num' }, String(w.delivered ?? 0)),
        h('td', { 'data-testid': 'worker-filters' }, filtersText(w.filters))));
    }
  }

  return {
    mount(main) {
      tbody = h('tbody', null, emptyRow(9, 'Loading…'));
      note = h('span', { class: 'muted' });
      main.append(
        h('div', { class: 'page-head' }, h('h1', null, 'Workers'), note),
        h('div', { class: 'table-wrap' },
          h('table', { class: 'grid workers', 'data-testid': 'workers-table', id: 'workers-table' },
            h('thead', null, h('tr', null,
              h('th', null, 'Task hub'), h('th', { class: 'num' }, '#'), h('th', null, 'SDK (user agent)'), h('th', null, 'Worker ID'),
              h('th', null, 'Peer'), h('th', null, 'Connected'), h('th', { class: 'num' }, 'In flight'), h('th', { class: 'num' }, 'Delivered'),
              h('th', null, 'Work-item filters'))),
            tbody)));
      load();
    },
    refresh: load,
    unmount() { alive = false; },
  };
}

// ------------------------------------------------------------------ start

function start() {
  $('hub-select').addEventListener('change', onHubSelected);
  $('clock-advance').addEventListener('click', onAdvance);
  $('clock-skipping').addEventListener('click', onToggleSkipping);
  $('error-banner-close').addEventListener('click', () => { state.errors.action = null; state.errors.load = null; renderBanner(); });
  $('modal-form').addEventListener('submit', onModalOk);
  $('confirm-cancel').addEventListener('click', closeModal);
  $('modal').addEventListener('close', () => { modalState = null; });
  window.addEventListener('hashchange', route);
  setLiveMode('offline');
  setInterval(renderClock, 1000);
  setInterval(refreshClock, CLOCK_POLL_MS);
  setInterval(refreshHubs, HUBS_POLL_MS);
  window.addEventListener('unhandledrejection', (ev) => showError('load', ev.reason));
  window.addEventListener('error', (ev) => showError('load', ev.error || ev.message));
  refreshHubs().finally(route);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
