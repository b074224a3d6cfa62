// glassbox dashboard: the page. Plain JavaScript, no build step, nothing
// loaded from another site.
//
// One rule above all: everything a container controls (ids, args, env,
// hostnames, annotations, paths, syscall strings, error messages) is DATA.
// It enters the DOM only as text nodes made by `text()` below (never
// innerHTML), with terminal escapes made visible rather than obeyed. The
// server's Content-Security-Policy backs this up: only /app.js may run.
'use strict';

// ---------------------------------------------------------------- helpers

// Control characters shown, not obeyed: ESC (the start of an ANSI colour
// or cursor sequence) and the others become the text \x1b, \x07, …
function clean(value) {
  const s = value === null || value === undefined ? '' : String(value);
  return s.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) =>
    '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0'));
}

function text(value) {
  return document.createTextNode(clean(value));
}

// el('div', {class: 'x'}, child…): children are nodes or strings (→ text).
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'style') Object.assign(node.style, v);
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : clean(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : text(c));
  }
  return node;
}

const svgNS = 'http://www.w3.org/2000/svg';
function svg(tag, attrs, ...children) {
  const node = document.createElementNS(svgNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, String(v));
  }
  for (const c of children) node.append(c instanceof Node ? c : text(c));
  return node;
}

function $(sel) { return document.querySelector(sel); }

// Replace a node's children, as el() takes them (nested lists, strings as text, nulls skipped).
function fill(node, ...children) {
  node.replaceChildren();
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : text(c));
  }
  return node;
}

function ms(ns) {
  if (ns === null || ns === undefined) return '…';
  if (ns === 0) return '0';
  const v = ns / 1e6;
  if (v >= 1000) return (v / 1000).toFixed(2) + ' s';
  if (v >= 10) return v.toFixed(1) + ' ms';
  if (v >= 0.1) return v.toFixed(2) + ' ms';
  return (ns / 1000).toFixed(1) + ' µs';
}

function bytes(n) {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0; let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return (i ? v.toFixed(1) : String(v)) + ' ' + units[i];
}

async function getJSON(url, options) {
  const r = await fetch(url, options);
  if (!r.ok) {
    let message = r.status + ' ' + r.statusText;
    try { const body = await r.json(); if (body.error) message = body.error; } catch (_) { /* not JSON */ }
    const e = new Error(message); e.status = r.status; throw e;
  }
  return r.json();
}

function containerUrl(id, rest) {
  return '/api/containers/' + encodeURIComponent(id) + (rest || '');
}

// A narration's chapter (book/src/making-a-container/mounts.md) as a link
// into the book the dashboard serves; anything else is not linked.
function chapterHref(chapter) {
  const m = /^book\/src\/([a-z0-9_\-/]+)\.md$/.exec(chapter || '');
  return m ? '/book/' + m[1] + '.html' : null;
}

// ------------------------------------------------------------------ state

const state = {
  containers: new Map(), // id → ContainerView (the API's)
  open: null,            // the container shown: {id, events, origin}
  listTimer: null,
  renderQueued: false,
  events: 0,
  refetchTimer: null,
  source: null,    // the EventSource
  streamFor: null, // the container it streams every event of
};

// ------------------------------------------------------------- the list

function scheduleListRefresh() {
  if (state.listTimer) return;
  state.listTimer = setTimeout(async () => {
    state.listTimer = null;
    try {
      const list = await getJSON('/api/containers');
      state.containers = new Map(list.map((c) => [c.id, c]));
      renderList();
      if (state.open) renderHeader();
    } catch (e) { /* the next event retries */ }
  }, 150);
}

function kube(c) {
  return c.kubernetes || {};
}

function renderList() {
  const tbody = $('#containers tbody');
  const rows = [...state.containers.values()].sort((a, b) =>
    String(b.created || b.first_seen || '').localeCompare(String(a.created || a.first_seen || '')));
  fill(tbody, rows.map((c) => {
    const failed = (c.stages || []).find((s) => s.outcome === 'failed');
    const href = '#/c/' + encodeURIComponent(c.id);
    return el('tr', { class: state.open && state.open.id === c.id ? 'selected' : '', 'data-id': c.id },
      el('td', { class: 'mono' }, el('a', { href, class: 'cid' }, c.id)),
      el('td', {}, el('span', { class: 'badge ' + statusClass(c.status, failed) }, failed ? c.status + ' · failed' : c.status)),
      el('td', { class: 'mono' }, c.pid ? String(c.pid) : '—'),
      el('td', { class: 'mono small' }, shortTime(c.created || c.first_seen)),
      el('td', { class: 'mono small path' }, c.bundle || '—'),
      el('td', { class: 'small' }, c.owner || '—'),
      el('td', { class: 'small' }, kube(c).pod || '—'),
      el('td', { class: 'small' }, kube(c).namespace || '—'),
      el('td', { class: 'small' }, kube(c).container || '—'),
      el('td', {}, stageStrip(c.stages || [])),
      el('td', { class: 'mono small' }, String(c.events || 0) + (c.dropped ? ' (' + c.dropped + ' dropped)' : '')));
  }));
  $('#count').textContent = rows.length ? '(' + rows.length + ')' : '';
  $('#no-containers').hidden = rows.length > 0;
}

function statusClass(status, failed) {
  if (failed) return 'failed';
  return ({ running: 'running', created: 'created', stopped: 'stopped', deleted: 'deleted' })[status] || 'other';
}

function shortTime(wall) {
  if (!wall) return '—';
  const m = /T(\d\d:\d\d:\d\d(\.\d{3})?)/.exec(String(wall));
  return m ? String(wall).slice(0, 10) + ' ' + m[1] : String(wall);
}

// A tiny strip of the stages: one block per stage, red where it failed.
function stageStrip(stages) {
  return el('span', { class: 'strip', title: stages.map((s) => s.stage + ' ' + s.outcome).join(', ') },
    stages.map((s) => el('i', { class: 'st-' + s.outcome })));
}

// ------------------------------------------------------- a record's model

// Stages (with their steps and errors), the kernel's events, and the time
// axis, from a list of events (narrated or not): the same code draws a
// live container, a replay and each side of a comparison.
function buildModel(events) {
  const model = { stages: [], kernel: [], statuses: [], t0: Infinity, t1: 0, runtimePid: 0 };
  const nextOfPid = new Map();
  const sorted = events.slice().sort((a, b) => a.ts_ns - b.ts_ns || a.seq - b.seq);
  for (const e of sorted) {
    if (!e.ts_ns) continue;
    const begin = e.type === 'stage_end' ? e.ts_ns - e.duration_ns : e.ts_ns;
    model.t0 = Math.min(model.t0, begin);
    model.t1 = Math.max(model.t1, e.ts_ns + (e.latency_ns || 0));
    if (!model.runtimePid && e.source === 'runtime') model.runtimePid = e.pid;
  }
  const findStage = (name, pid) => {
    for (let i = model.stages.length - 1; i >= 0; i--) {
      const s = model.stages[i];
      if (s.stage === name && s.pid === pid && s.open) return s;
    }
    for (let i = model.stages.length - 1; i >= 0; i--) {
      if (model.stages[i].stage === name) return model.stages[i];
    }
    return null;
  };
  const begun = (name, pid, ts) => {
    const s = { stage: name, pid, begin: ts, end: null, outcome: 'running', steps: [], errors: [], open: true };
    model.stages.push(s);
    return s;
  };
  for (const e of sorted) {
    if (e.source === 'runtime') {
      // A step lasts until the next thing its process recorded.
      const prev = nextOfPid.get(e.pid);
      if (prev) { prev.next = e.ts_ns; nextOfPid.delete(e.pid); }
    }
    switch (e.type) {
      case 'stage_begin': {
        const s = begun(e.stage, e.pid, e.ts_ns); s.event = e; break;
      }
      case 'stage_end': {
        const s = findStage(e.stage, e.pid) || begun(e.stage, e.pid, e.ts_ns - e.duration_ns);
        s.end = e.ts_ns; s.begin = Math.min(s.begin, e.ts_ns - e.duration_ns);
        s.duration = e.duration_ns; s.outcome = s.errors.length ? 'failed' : e.outcome; s.open = false;
        s.endEvent = e;
        break;
      }
      case 'step': {
        const s = findStage(e.stage, e.pid) || begun(e.stage, e.pid, e.ts_ns);
        const step = { event: e, ts: e.ts_ns, next: null };
        s.steps.push(step);
        nextOfPid.set(e.pid, step);
        break;
      }
      case 'error': {
        const s = findStage(e.stage, e.pid) || begun(e.stage, e.pid, e.ts_ns);
        s.errors.push(e); s.outcome = 'failed';
        break;
      }
      case 'status': model.statuses.push(e); break;
      case 'syscall': case 'process': model.kernel.push(e); break;
      default: break;
    }
  }
  if (model.t0 === Infinity) { model.t0 = 0; model.t1 = 1; }
  if (model.t1 <= model.t0) model.t1 = model.t0 + 1;
  model.axis = timeAxis(model);
  return model;
}

// The time axis: linear, except that a long stretch where nothing happens
// (a container that ran for minutes between its start and its delete) is
// drawn as a narrow break labelled with its length, so that milliseconds
// of work stay visible beside it.
function timeAxis(model) {
  const spans = [];
  for (const s of model.stages) {
    spans.push([s.begin, s.end || s.begin]);
    for (const step of s.steps) spans.push([step.ts, step.next || step.ts]);
  }
  for (const k of model.kernel) spans.push([k.ts_ns, k.ts_ns + (k.latency_ns || 0)]);
  for (const e of model.statuses) spans.push([e.ts_ns, e.ts_ns]);
  spans.sort((a, b) => a[0] - b[0]);
  const total = model.t1 - model.t0;
  const breaks = [];
  let end = model.t0;
  for (const [from, to] of spans) {
    const gap = from - end;
    if (gap > 50e6 && gap > 0.25 * total) breaks.push({ from: end, to: from });
    end = Math.max(end, to);
  }
  const broken = breaks.reduce((sum, b) => sum + (b.to - b.from), 0);
  const kept = Math.max(1, total - broken);
  const gapShare = breaks.length ? Math.min(0.05, 0.4 / breaks.length) : 0;
  const linear = 1 - gapShare * breaks.length;
  // 0…1 along the axis.
  const pos = (ts) => {
    let x = 0; let cursor = model.t0;
    for (const b of breaks) {
      if (ts <= b.from) return x + linear * (ts - cursor) / kept;
      x += linear * (b.from - cursor) / kept;
      if (ts < b.to) return x + gapShare * (ts - b.from) / (b.to - b.from);
      x += gapShare; cursor = b.to;
    }
    return Math.min(1, x + linear * (ts - cursor) / kept);
  };
  return { pos, breaks, kept };
}

// ------------------------------------------------------- the waterfall

function axis(model) {
  const { pos, breaks, kept } = model.axis;
  const step = niceStep(kept / 6);
  const marks = [];
  // Ticks on the linear stretches, at multiples of `step` since the first event.
  const stretches = [];
  let from = model.t0;
  for (const b of breaks) { stretches.push([from, b.from]); from = b.to; }
  stretches.push([from, model.t1]);
  for (const [a, b] of stretches) {
    for (let t = Math.ceil((a - model.t0) / step) * step; model.t0 + t <= b; t += step) {
      marks.push(el('span', { class: 'tick', style: { left: (100 * pos(model.t0 + t)) + '%' } }, ms(t)));
      if (marks.length > 60) break;
    }
  }
  for (const b of breaks) {
    marks.push(el('span', { class: 'gap', style: { left: (100 * pos(b.from)) + '%', width: (100 * (pos(b.to) - pos(b.from))) + '%' },
      title: 'nothing recorded for ' + ms(b.to - b.from) }, '⋯ ' + ms(b.to - b.from) + ' ⋯'));
  }
  return el('div', { class: 'row axis' }, el('div', { class: 'label' }, 'time since first event'),
    el('div', { class: 'track' }, marks),
    el('div', { class: 'dur' }, 'duration'));
}

function niceStep(raw) {
  const p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1))));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

function bar(model, begin, end, cls, label) {
  const left = 100 * model.axis.pos(begin);
  const width = Math.max(100 * model.axis.pos(end || model.t1) - left, 0.25);
  return el('div', { class: 'bar ' + cls, style: { left: left + '%', width: width + '%' }, title: label });
}

function narrationBox(e) {
  const n = e.explain;
  if (!n) return el('div', { class: 'narration' }, el('p', { class: 'hint' }, 'No narration for this event.'), argsList(e.args));
  const href = chapterHref(n.chapter);
  const line = (k, v, cls) => v ? el('div', { class: 'nline' }, el('span', { class: 'k' }, k), el('span', { class: 'v ' + (cls || '') }, v)) : null;
  return el('div', { class: 'narration' },
    el('p', { class: 'headline' }, n.headline),
    line('why', n.why),
    line('syscall', n.syscall, 'mono'),
    line('shell', n.shell, 'mono'),
    line('check', n.check, 'mono'),
    href ? el('div', { class: 'nline' }, el('span', { class: 'k' }, 'book'),
      el('a', { href, target: '_blank', rel: 'noopener', class: 'chapter', title: n.chapter },
        'the chapter on ' + ((e.stage || '').replace('_', ' ') || 'this stage'))) : null,
    argsList(e.args));
}

function argsList(args) {
  if (!args || typeof args !== 'object' || Array.isArray(args)) return null;
  const keys = Object.keys(args);
  if (!keys.length) return null;
  return el('details', { class: 'args' }, el('summary', {}, 'the event\'s args'),
    el('dl', {}, keys.map((k) => [el('dt', {}, k), el('dd', { class: 'mono' },
      typeof args[k] === 'string' ? args[k] : JSON.stringify(args[k]))])));
}

// The waterfall: every stage as a bar on one time axis, its steps under it
// (click a stage to show them, a step to read its narration), the failing
// stage red with its error, and the kernel's syscalls of each traced
// process as ticks on the same axis.
function waterfall(model, opts) {
  const expanded = opts.expanded || new Set();
  const openSteps = opts.openSteps || new Set();
  const rows = [axis(model)];
  model.stages.forEach((s, i) => {
    const key = 's' + i;
    const isOpen = expanded.has(key) || s.outcome === 'failed';
    const dur = s.duration !== undefined ? s.duration : (s.end ? s.end - s.begin : null);
    const who = s.pid === model.runtimePid ? 'runtime' : 'init';
    rows.push(el('div', {
      class: 'row stage ' + s.outcome + (isOpen ? ' open' : ''), 'data-stage': s.stage, 'data-key': key,
      onclick: () => { toggle(expanded, key); opts.rerender(); },
    },
    el('div', { class: 'label' }, el('span', { class: 'caret' }, s.steps.length ? (isOpen ? '▾' : '▸') : '·'),
      el('span', { class: 'sname' }, s.stage), el('span', { class: 'who ' + who }, who + ' ' + s.pid),
      s.steps.length ? el('span', { class: 'nsteps' }, s.steps.length + (s.steps.length === 1 ? ' step' : ' steps')) : null),
    el('div', { class: 'track' }, bar(model, s.begin, s.end, s.outcome, s.stage + ' ' + ms(dur))),
    el('div', { class: 'dur mono' }, ms(dur))));
    for (const err of s.errors) {
      rows.push(el('div', { class: 'row error-row' }, el('div', { class: 'label' }, 'error'),
        el('div', { class: 'errtext mono' }, err.message)));
    }
    if (!isOpen) return;
    s.steps.forEach((step, j) => {
      const skey = key + '.' + j;
      const e = step.event;
      const end = step.next || (s.end && s.end > step.ts ? s.end : step.ts);
      const headline = e.explain ? e.explain.headline : e.action;
      const stepOpen = openSteps.has(skey);
      rows.push(el('div', {
        class: 'row step' + (stepOpen ? ' open' : ''), 'data-action': e.action, 'data-key': skey,
        onclick: (ev) => { ev.stopPropagation(); toggle(openSteps, skey); opts.rerender(); },
      },
      el('div', { class: 'label' }, el('span', { class: 'caret' }, stepOpen ? '▾' : '▸'), el('span', { class: 'action mono' }, e.action)),
      el('div', { class: 'track' }, bar(model, step.ts, end, 'stepbar', e.action), el('span', { class: 'steptext' }, headline)),
      el('div', { class: 'dur mono' }, ms(end - step.ts))));
      if (stepOpen) rows.push(el('div', { class: 'row narration-row' }, narrationBox(e)));
    });
  });
  const kernelPids = [...new Set(model.kernel.map((k) => k.pid))];
  for (const pid of kernelPids) {
    const calls = model.kernel.filter((k) => k.pid === pid && opts.filter(k));
    if (!calls.length) continue;
    rows.push(el('div', { class: 'row kernel' }, el('div', { class: 'label' }, el('span', { class: 'sname' }, 'syscalls'),
      el('span', { class: 'who kernel' }, 'pid ' + pid)),
    el('div', { class: 'track' }, calls.slice(0, 4000).map((k) => el('span', {
      class: 'kt' + (k.ret < 0 ? ' err' : '') + (k.type === 'process' ? ' proc' : ''),
      style: { left: (100 * model.axis.pos(k.ts_ns)) + '%' },
      title: traceText(k),
      onclick: (ev) => { ev.stopPropagation(); jumpToTrace(k.ts_ns, null); },
    }))), el('div', { class: 'dur mono' }, calls.length + ' calls')));
  }
  return el('div', { class: 'waterfall' }, rows);
}

function toggle(set, key) {
  if (set.has(key)) set.delete(key); else set.add(key);
}

// --------------------------------------------------------- the trace

function traceText(k) {
  if (k.type === 'process') {
    const what = k.change === 'exec' ? 'exec ' + (k.filename || '') :
      // No exit code: the process never called exit, a signal killed it.
      k.change === 'exit' ? (k.exit_code === undefined || k.exit_code === null ? 'exit: killed by a signal' : 'exit ' + k.exit_code) :
        k.change === 'fork' ? 'fork (parent ' + (k.ppid || '?') + ')' : k.change;
    return '[' + what + ']';
  }
  const decoded = k.decoded ? Object.entries(k.decoded).map(([a, v]) => a + '=' + (typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v))).join(', ') : '';
  return k.name + '(' + (k.decoded ? decoded : '…') + ') = ' + k.ret + (k.ret === -11 ? ' EAGAIN' : k.ret === -12 ? ' ENOMEM' : '');
}

function traceFilter(view) {
  const name = (view.traceName || '').trim().toLowerCase();
  const pid = view.tracePid || '';
  return (k) => (!name || (k.type === 'syscall' ? k.name : '[' + k.change + ']').toLowerCase().includes(name)) &&
    (!pid || String(k.pid) === pid);
}

function tracePanel(model, view, rerender) {
  if (!model.kernel.length) {
    return el('p', { class: 'hint' }, 'No kernel events for this container: run it with ',
      el('code', {}, 'glassbox --trace run …'), ' (with the dashboard running, the probes it holds record its syscalls).');
  }
  const pids = [...new Set(model.kernel.map((k) => k.pid))].sort((a, b) => a - b);
  const nameInput = el('input', { type: 'search', placeholder: 'syscall (e.g. mount, clone)', value: view.traceName || '', id: 'trace-name' });
  nameInput.addEventListener('input', () => { view.traceName = nameInput.value; rerender(true); });
  const pidSelect = el('select', { id: 'trace-pid' }, el('option', { value: '' }, 'every process'),
    pids.map((p) => el('option', { value: String(p), selected: String(p) === view.tracePid }, 'pid ' + p)));
  pidSelect.addEventListener('change', () => { view.tracePid = pidSelect.value; rerender(true); });
  const filter = traceFilter(view);
  const shown = model.kernel.filter(filter);
  const lines = shown.slice(0, 2000).map((k) => el('div', {
    class: 'tline' + (k.ret < 0 ? ' err' : '') + (k.type === 'process' ? ' proc' : ''), 'data-ts': String(k.ts_ns), 'data-seq': String(k.seq),
  },
  el('span', { class: 't mono' }, '+' + ms(k.ts_ns - model.t0)),
  el('span', { class: 'p mono' }, String(k.pid)),
  el('span', { class: 'c mono' }, traceText(k)),
  el('span', { class: 'l mono' }, k.latency_ns ? ms(k.latency_ns) : '')));
  return el('div', {},
    el('div', { class: 'filters' }, nameInput, pidSelect, el('span', { class: 'hint' }, shown.length + ' of ' + model.kernel.length + ' shown' + (shown.length > 2000 ? ' (first 2000 listed)' : ''))),
    el('div', { class: 'trace', id: 'trace-lines' }, lines));
}

// The trace line nearest a moment that matches `want` (a marker's link).
function jumpToTrace(ts, want) {
  const lines = [...document.querySelectorAll('#trace-lines .tline')];
  let best = null; let bestDist = Infinity;
  for (const line of lines) {
    if (want && !want(line)) continue;
    const d = Math.abs(Number(line.dataset.ts) - ts);
    if (d < bestDist) { best = line; bestDist = d; }
  }
  if (!best) return false;
  for (const l of document.querySelectorAll('.tline.flash')) l.classList.remove('flash');
  best.classList.add('flash');
  best.scrollIntoView({ block: 'center', behavior: 'smooth' });
  return true;
}

// ----------------------------------------------------- namespaces, cgroup

async function namespacesPanel(id) {
  try {
    const list = await getJSON(containerUrl(id, '/namespaces'));
    if (!Array.isArray(list) || !list.length) return el('p', { class: 'hint' }, 'No namespaces known (the container has no process now).');
    return el('table', { class: 'ns' }, el('thead', {}, el('tr', {}, el('th', {}, 'type'), el('th', {}, 'inode'), el('th', {}, 'shared with'))),
      el('tbody', {}, list.map((n) => el('tr', {},
        el('td', { class: 'mono' }, n.type), el('td', { class: 'mono' }, String(n.inode)),
        el('td', {}, n.shared_with ? el('span', { class: 'badge ' + (n.shared_with === 'host' ? 'other' : 'created') }, n.shared_with) :
          el('span', { class: 'badge running' }, 'its own'))))));
  } catch (e) {
    return el('p', { class: 'hint' }, 'No namespaces: ' + e.message + '.');
  }
}

async function cgroupPanel(id) {
  let cg;
  try {
    cg = await getJSON(containerUrl(id, '/cgroup'));
  } catch (e) {
    return el('p', { class: 'hint' }, 'No cgroup samples: ' + e.message + '.');
  }
  const samples = Array.isArray(cg.samples) ? cg.samples : [];
  const markers = Array.isArray(cg.markers) ? cg.markers : [];
  const head = el('p', { class: 'hint' }, 'cgroup ' + (cg.version || '?') + ' ', el('code', {}, cg.path || ''),
    ' — sampled every second' + (samples.length ? ', ' + samples.length + ' samples' : ''));
  if (!samples.length) return el('div', {}, head, el('p', { class: 'hint' }, 'No cgroup samples yet.'));
  const pick = (f) => samples.map((s) => { try { return f(s); } catch (_) { return null; } });
  const last = samples[samples.length - 1];
  // Each marker on the chart of what it is about.
  const only = (kind) => markers.filter((m) => m.kind === kind);
  const cpuRate = samples.map((s, i) => i === 0 ? 0 : Math.max(0, (s.cpu.usage_ns - samples[i - 1].cpu.usage_ns) / Math.max(1, (s.ts_ns - samples[i - 1].ts_ns))));
  const charts = el('div', { class: 'charts' },
    chart('memory', samples, pick((s) => s.memory.usage), last.memory && last.memory.limit, bytes, only('oom_kill'),
      'failcnt ' + (last.memory.failcnt === null ? '—' : last.memory.failcnt) + ' · OOM kills ' + last.memory.oom_kills),
    chart('CPU (cores busy)', samples, cpuRate, last.cpu.quota_us ? last.cpu.quota_us / last.cpu.period_us : null, (v) => v.toFixed(2), [],
      'throttled ' + last.cpu.throttled_periods + ' of ' + last.cpu.periods + ' periods (' + ms(last.cpu.throttled_ns) + ')' +
      (last.cpu.quota_us ? ' · quota ' + last.cpu.quota_us + ' µs per ' + last.cpu.period_us + ' µs' : ' · no quota')),
    chart('pids', samples, pick((s) => s.pids.current), last.pids.max, (v) => String(Math.round(v)), only('fork_refused'), 'current ' + last.pids.current + ' of ' + (last.pids.max === null ? 'no limit' : last.pids.max)),
    chart('io (bytes, cumulative)', samples, pick((s) => s.io.read_bytes + s.io.write_bytes), null, bytes, [],
      'read ' + bytes(last.io.read_bytes) + ' · written ' + bytes(last.io.write_bytes)));
  const markerList = markers.length ? el('ul', { class: 'markers' }, markers.map((m) => el('li', {},
    el('button', { type: 'button', class: 'marker-link', onclick: () => markerJump(m) }, m.kind), ' ', m.detail))) : null;
  return el('div', {}, head, charts, markerList);
}

// An OOM kill is tied to the killed process's exit; a refused fork to the
// clone that returned EAGAIN (-11).
function markerJump(m) {
  const want = m.kind === 'oom_kill' ? (l) => /\[exit/.test(l.textContent) :
    m.kind === 'fork_refused' ? (l) => /clone|fork/.test(l.textContent) && /EAGAIN|= -11/.test(l.textContent) : null;
  if (!jumpToTrace(m.ts_ns, want)) jumpToTrace(m.ts_ns, null);
}

// A small line chart of one series against its limit (dashed), with the
// markers (OOM kill, refused fork) as red lines that lead to the trace.
function chart(title, samples, values, limit, fmt, markers, caption) {
  const W = 320; const H = 110; const P = 4;
  const t0 = samples[0].ts_ns; const t1 = Math.max(samples[samples.length - 1].ts_ns, t0 + 1);
  const vals = values.map((v) => (typeof v === 'number' && isFinite(v) ? v : 0));
  const top = Math.max(1e-9, ...vals, limit || 0) * 1.08;
  const x = (ts) => P + (W - 2 * P) * (ts - t0) / (t1 - t0);
  const y = (v) => H - P - (H - 2 * P) * v / top;
  const points = samples.map((s, i) => x(s.ts_ns).toFixed(1) + ',' + y(vals[i]).toFixed(1)).join(' ');
  const parts = [svg('rect', { x: 0, y: 0, width: W, height: H, class: 'bg' })];
  if (limit) parts.push(svg('line', { x1: P, x2: W - P, y1: y(limit), y2: y(limit), class: 'limit' }));
  parts.push(svg('polyline', { points, class: 'series' }));
  for (const m of markers) {
    if (m.ts_ns < t0 || m.ts_ns > t1) continue;
    const line = svg('line', { x1: x(m.ts_ns), x2: x(m.ts_ns), y1: 0, y2: H, class: 'marker', onclick: () => markerJump(m) },
      svg('title', {}, m.kind + ': ' + clean(m.detail)));
    parts.push(line);
  }
  return el('figure', { class: 'chart' }, el('figcaption', {}, el('b', {}, title), ' ',
    el('span', { class: 'mono' }, fmt(vals[vals.length - 1]) + (limit ? ' / ' + fmt(limit) : ''))),
  svg('svg', { viewBox: '0 0 ' + W + ' ' + H, preserveAspectRatio: 'none', class: 'spark' }, ...parts),
  el('div', { class: 'hint small' }, caption));
}

// ------------------------------------------------------ one container

function renderHeader() {
  const box = $('#cv-head');
  if (!box || !state.open) return;
  const c = state.containers.get(state.open.id) || { id: state.open.id, status: '?' };
  const ann = c.annotations && typeof c.annotations === 'object' ? Object.entries(c.annotations) : [];
  const k = kube(c);
  const meta = [
    ['status', c.status], ['pid', c.pid || '—'], ['created', c.created || c.first_seen || '—'],
    ['bundle', c.bundle || '—'], ['owner', c.owner || '—'],
  ];
  if (k.pod || k.namespace || k.container) meta.push(['kubernetes', [k.namespace, k.pod, k.container].filter(Boolean).join(' / ')]);
  fill(box, [
    el('h2', {}, 'Container ', el('span', { class: 'mono cid' }, c.id)),
    el('div', { class: 'actions' },
      el('a', { href: containerUrl(c.id, '/trace.json'), download: '', class: 'button', id: 'export-link' }, 'export Chrome trace (Perfetto)'),
      el('a', { href: '#/compare/' + encodeURIComponent(c.id), class: 'button ghost' }, 'compare…')),
    el('dl', { class: 'meta' }, meta.map(([key, v]) => [el('dt', {}, key), el('dd', { class: 'mono' }, String(v))])),
    ann.length ? el('details', { class: 'annotations', open: true }, el('summary', {}, ann.length + ' annotation' + (ann.length === 1 ? '' : 's')),
      el('dl', {}, ann.map(([key, v]) => [el('dt', { class: 'mono' }, key), el('dd', { class: 'mono' }, String(v))]))) : null,
    state.open.origin && state.open.origin !== 'memory' ? el('p', { class: 'hint' },
      state.open.origin === 'disk' ? 'Detail read back from the record on disk (memory keeps only the latest events).' :
        'Memory lost the oldest events and no record was found: the beginning is missing.') : null,
  ]);
}

function renderContainer(keepTrace) {
  const view = state.open;
  if (!view) return;
  const model = buildModel(view.events);
  const rerender = (traceOnly) => renderContainer(traceOnly);
  fill($('#cv-waterfall'), waterfall(model, {
    expanded: view.expanded, openSteps: view.openSteps, rerender: () => renderContainer(false), filter: traceFilter(view),
  }));
  const tracePanelNode = tracePanel(model, view, rerender);
  const old = $('#cv-trace');
  const focused = document.activeElement && document.activeElement.id;
  fill(old, tracePanelNode);
  if (keepTrace && focused) { const f = document.getElementById(focused); if (f) { f.focus(); if (f.setSelectionRange && f.value) f.setSelectionRange(f.value.length, f.value.length); } }
}

async function openContainer(id) {
  const panel = $('#container-view');
  state.open = { id, events: [], expanded: new Set(), openSteps: new Set(), traceName: '', tracePid: '' };
  fill(panel,
    el('div', { id: 'cv-head' }),
    el('h3', {}, 'Stages and steps ', el('small', { class: 'hint' }, 'click a stage for its steps, a step for what it means')),
    el('div', { id: 'cv-waterfall' }, el('p', { class: 'hint' }, 'loading…')),
    el('h3', {}, 'Syscall trace'),
    el('div', { id: 'cv-trace' }),
    el('div', { class: 'two' },
      el('div', {}, el('h3', {}, 'Namespaces'), el('div', { id: 'cv-ns' }, el('p', { class: 'hint' }, 'loading…'))),
      el('div', {}, el('h3', {}, 'cgroup'), el('div', { id: 'cv-cgroup' }, el('p', { class: 'hint' }, 'loading…')))));
  panel.hidden = false;
  renderHeader();
  renderList();
  connect(id); // before reading what is there, so nothing falls in between
  try {
    const detail = await getJSON(containerUrl(id, '/events'));
    if (!state.open || state.open.id !== id) return;
    // Events that arrived live while this was read are kept (by seq, per source).
    const seen = new Set(detail.events.map((e) => e.source + ':' + e.pid + ':' + e.seq + ':' + e.ts_ns));
    state.open.events = detail.events.concat(state.open.events.filter((e) => !seen.has(e.source + ':' + e.pid + ':' + e.seq + ':' + e.ts_ns)));
    state.open.origin = detail.origin;
  } catch (e) {
    fill($('#cv-waterfall'), el('p', { class: 'hint' }, 'No detail: ' + e.message));
  }
  renderHeader();
  renderContainer(false);
  refreshSide(id);
}

async function refreshSide(id) {
  const [ns, cg] = await Promise.all([namespacesPanel(id), cgroupPanel(id)]);
  if (!state.open || state.open.id !== id) return;
  fill($('#cv-ns'), ns);
  fill($('#cv-cgroup'), cg);
}

// The page fell behind the stream: re-read the open container's events
// (at most twice a second), keeping what the reader had expanded.
function scheduleRefetch() {
  if (!state.open || state.refetchTimer) return;
  state.refetchTimer = setTimeout(async () => {
    state.refetchTimer = null;
    const view = state.open;
    if (!view) return;
    try {
      const detail = await getJSON(containerUrl(view.id, '/events'));
      if (state.open !== view) return;
      view.events = detail.events;
      view.origin = detail.origin;
      scheduleRender();
    } catch (_) { /* the next lag retries */ }
  }, 500);
}

function scheduleRender() {
  if (state.renderQueued) return;
  state.renderQueued = true;
  requestAnimationFrame(() => { state.renderQueued = false; renderContainer(true); });
}

// --------------------------------------------------------------- live

// The live stream. The server sends every container's list-changing events
// (first event, stage begins and ends, statuses, errors), and all events of
// the container shown: so the stream is reopened when that changes.
function connect(open) {
  if (state.source && state.streamFor === open) return;
  if (state.source) state.source.close();
  const live = $('#live');
  const source = new EventSource('/api/stream' + (open ? '?container=' + encodeURIComponent(open) : ''));
  state.source = source;
  state.streamFor = open;
  source.addEventListener('open', () => { live.textContent = 'live'; live.className = 'live on'; document.body.dataset.live = 'on'; });
  source.addEventListener('error', () => { live.textContent = 'reconnecting…'; live.className = 'live off'; document.body.dataset.live = 'off'; });
  source.addEventListener('hello', () => scheduleListRefresh());
  source.addEventListener('lagged', () => { scheduleListRefresh(); scheduleRefetch(); });
  source.addEventListener('event', (message) => {
    let e;
    try { e = JSON.parse(message.data); } catch (_) { return; }
    state.events++;
    document.body.dataset.events = String(state.events);
    if (!state.containers.has(e.container)) {
      // Shown at once; the refresh fills in the rest.
      state.containers.set(e.container, { id: e.container, status: 'creating', pid: 0, first_seen: e.wall, stages: [], events: 1, dropped: 0 });
      renderList();
    }
    if (e.source === 'runtime') scheduleListRefresh();
    if (state.open && state.open.id === e.container) {
      state.open.events.push(e);
      scheduleRender();
    }
  });
}

// ------------------------------------------------------------ records

// A file the person chose, parsed and narrated by the dashboard.
async function readRecordFile(file) {
  const body = await file.text();
  return getJSON('/api/replay', { method: 'POST', body, headers: { 'Content-Type': 'text/plain' } });
}

// ------------------------------------------------------------- compare

function fillPickers(preset) {
  for (const sel of [$('#cmp-a'), $('#cmp-b')]) {
    const current = sel.value;
    fill(sel, el('option', { value: '' }, '— a container, or choose a file →'),
      [...state.containers.keys()].sort().map((id) => el('option', { value: id }, id)));
    sel.value = current;
  }
  if (preset) $('#cmp-a').value = preset;
}

async function loadSide(which) {
  const file = $('#cmp-' + which + '-file').files[0];
  const id = $('#cmp-' + which).value;
  if (file) return { name: file.name, events: (await readRecordFile(file)).events };
  if (id) return { name: id, events: (await getJSON(containerUrl(id, '/events'))).events };
  throw new Error('side ' + which.toUpperCase() + ': pick a container or a file');
}

const STAGE_ORDER = ['bundle', 'cgroup', 'namespaces', 'idmap', 'mounts', 'pivot_root', 'devices', 'masks', 'hostname',
  'sysctl', 'rlimits', 'capabilities', 'seccomp', 'hooks', 'exec', 'exit', 'cleanup'];

function stageTotals(model) {
  const totals = new Map();
  for (const s of model.stages) {
    const t = totals.get(s.stage) || { ns: 0, steps: 0, failed: false, actions: new Map() };
    t.ns += s.duration !== undefined ? s.duration : (s.end ? s.end - s.begin : 0);
    t.steps += s.steps.length;
    t.failed = t.failed || s.outcome === 'failed';
    for (const step of s.steps) t.actions.set(step.event.action, (t.actions.get(step.event.action) || 0) + 1);
    totals.set(s.stage, t);
  }
  return totals;
}

async function runCompare() {
  const out = $('#compare-out');
  fill(out, el('p', { class: 'hint' }, 'loading…'));
  let a; let b;
  try { [a, b] = await Promise.all([loadSide('a'), loadSide('b')]); } catch (e) {
    fill(out, el('p', { class: 'error' }, e.message)); return;
  }
  const ma = buildModel(a.events); const mb = buildModel(b.events);
  const ta = stageTotals(ma); const tb = stageTotals(mb);
  const names = STAGE_ORDER.filter((s) => ta.has(s) || tb.has(s));
  const max = Math.max(1, ...[...ta.values(), ...tb.values()].map((t) => t.ns));
  const cell = (t) => {
    if (!t) return el('td', { class: 'missing' }, 'not done');
    const acts = [...t.actions.entries()].map(([k, v]) => k + (v > 1 ? ' ×' + v : '')).join(', ');
    return el('td', { class: t.failed ? 'failed' : '' },
      el('div', { class: 'cmpbar' }, el('i', { style: { width: Math.max(0.5, 100 * t.ns / max) + '%' } })),
      el('span', { class: 'mono' }, ms(t.ns)), ' ', el('span', { class: 'hint small' }, t.steps + (t.steps === 1 ? ' step' : ' steps') + (acts ? ': ' + acts : '')));
  };
  const total = (m) => ms(m.t1 - m.t0);
  fill(out, el('table', { class: 'compare' },
    el('thead', {}, el('tr', {}, el('th', {}, 'stage'), el('th', {}, 'A: ', a.name), el('th', {}, 'B: ', b.name))),
    el('tbody', {}, names.map((s) => el('tr', { 'data-stage': s }, el('th', { class: 'mono' }, s), cell(ta.get(s)), cell(tb.get(s)))),
      el('tr', { class: 'total' }, el('th', {}, 'first to last event'), el('td', { class: 'mono' }, total(ma)), el('td', { class: 'mono' }, total(mb))))));
}

// -------------------------------------------------------------- replay

const replay = { events: [], at: 0, timer: null, playing: false, model: null, expanded: new Set(), openSteps: new Set() };

function replayShow() {
  const shown = replay.events.slice(0, replay.at);
  const model = buildModel(shown.length ? shown : []);
  const feed = shown.slice(-8).reverse().map((e) => el('li', { class: e.type },
    el('span', { class: 'mono small' }, e.type + (e.stage ? ' ' + e.stage : '')), ' ',
    e.explain ? e.explain.headline : e.type === 'syscall' ? traceText(e) : e.type));
  fill($('#replay-out'),
    el('div', { class: 'progress' }, el('i', { style: { width: (100 * replay.at / Math.max(1, replay.events.length)) + '%' } })),
    el('ul', { class: 'feed' }, feed),
    shown.length ? waterfall(model, { expanded: replay.expanded, openSteps: replay.openSteps, rerender: replayShow, filter: () => true }) : null);
  $('#replay-status').textContent = replay.at + ' / ' + replay.events.length + ' events' + (replay.playing ? ' — playing' : '');
  $('#replay-play').textContent = replay.playing ? 'pause' : (replay.at >= replay.events.length ? 'done' : 'play');
}

function replayTick() {
  replay.timer = null;
  if (!replay.playing || replay.at >= replay.events.length) { replay.playing = false; replayShow(); return; }
  replay.at++;
  const next = replay.events[replay.at];
  replayShow();
  if (!next) { replay.playing = false; replayShow(); return; }
  if ($('#replay-pause').checked && next.type === 'stage_begin') {
    replay.playing = false;
    $('#replay-status').textContent += ' — paused before stage ' + clean(next.stage) + ' (play to go on)';
    replayShow();
    $('#replay-status').textContent = replay.at + ' / ' + replay.events.length + ' events — paused before stage ' + clean(next.stage) + ' (play to go on)';
    return;
  }
  const speed = Number($('#replay-speed').value) || 1;
  const gap = Math.max(0, next.ts_ns - replay.events[replay.at - 1].ts_ns) / 1e6 / speed;
  replay.timer = setTimeout(replayTick, Math.min(gap, 2000)); // idle gaps are cut to 2 s
}

function replayPlay() {
  if (replay.playing) { replay.playing = false; clearTimeout(replay.timer); replayShow(); return; }
  if (replay.at >= replay.events.length) return;
  replay.playing = true;
  replayTick();
}

async function replayLoad(file) {
  $('#replay-status').textContent = 'reading ' + file.name + '…';
  try {
    const answer = await readRecordFile(file);
    replay.events = answer.events.slice().sort((x, y) => x.ts_ns - y.ts_ns || x.seq - y.seq);
    replay.at = 0; replay.playing = false; replay.expanded = new Set(); replay.openSteps = new Set();
    for (const b of ['#replay-play', '#replay-step', '#replay-reset']) $(b).disabled = false;
    replayShow();
    if (answer.invalid) $('#replay-status').textContent += ' (' + answer.invalid + ' lines were not events: ' + clean(answer.first_invalid) + ')';
  } catch (e) {
    $('#replay-status').textContent = e.message;
  }
}

// -------------------------------------------------------------- routing

function route() {
  const hash = location.hash || '#/';
  const show = (name) => {
    $('#container-view').hidden = name !== 'container';
    $('#compare-view').hidden = name !== 'compare';
    $('#replay-view').hidden = name !== 'replay';
    for (const a of document.querySelectorAll('nav a[data-view]')) a.classList.toggle('current', a.dataset.view === name || (name === 'container' && a.dataset.view === 'list'));
  };
  let m;
  if ((m = /^#\/c\/(.+)$/.exec(hash))) {
    show('container');
    const id = decodeURIComponent(m[1]);
    if (!state.open || state.open.id !== id) openContainer(id);
  } else if ((m = /^#\/compare(?:\/(.+))?$/.exec(hash))) {
    show('compare'); state.open = null; connect(null); renderList(); fillPickers(m[1] ? decodeURIComponent(m[1]) : null);
  } else if (hash === '#/replay') {
    show('replay'); state.open = null; connect(null); renderList();
  } else {
    show('list'); state.open = null; connect(null); renderList();
  }
}

function start() {
  window.addEventListener('hashchange', route);
  $('#cmp-go').addEventListener('click', runCompare);
  $('#replay-file').addEventListener('change', (ev) => { if (ev.target.files[0]) replayLoad(ev.target.files[0]); });
  $('#replay-play').addEventListener('click', replayPlay);
  $('#replay-step').addEventListener('click', () => { replay.playing = false; if (replay.at < replay.events.length) replay.at++; replayShow(); });
  $('#replay-reset').addEventListener('click', () => { replay.playing = false; clearTimeout(replay.timer); replay.at = 0; replayShow(); });
  getJSON('/api/containers').then((list) => {
    for (const c of list) state.containers.set(c.id, c);
    renderList();
  }).catch(() => { /* the stream's hello refreshes */ });
  route();
  if (!state.source) connect(null);
}

start();
