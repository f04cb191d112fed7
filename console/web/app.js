// The TideMQ web console: one page in plain JavaScript, no framework and no build step
// (docs/console.md, "The pages"). It talks only to its own server's /api/v1/ (console/api.cc
// has every route and JSON shape) and routes on the URL's hash (#/topics/<name>, ...).
//
// Everything shown is put in the page with DOM calls and textContent, never parsed as HTML:
// topic names, keys and bodies come from producers. Styles come from /style.css only (the
// page's Content-Security-Policy allows no inline script or style). A read-only login gets no
// controls that change anything; every change sends the session's CSRF token.
'use strict';

(() => {
  const POLL_MS = 2000;
  const TOPIC_PAGE = 500;  // topics listed at first (the API pages them; a broker may hold thousands)
  const TOPIC_PAGE_MAX = 10000;
  const DLQ_PAGE = 100;
  const TXN_PAGE = 100;

  const PAGES = [
    ['overview', 'Overview'],
    ['topics', 'Topics'],
    ['groups', 'Consumer groups'],
    ['messages', 'Messages'],
    ['dlq', 'Dead letters'],
    ['scheduled', 'Scheduled'],
    ['transactions', 'Transactions'],
    ['cluster', 'Cluster'],
  ];

  // Trace event kinds with a colour of their own; any other kind is shown as it comes.
  const TRACE_KINDS = {
    sent: 'info', half_sent: 'info', scheduled: 'info', fired: 'info', delivered: 'info', checked: 'info',
    lease_changed: 'info',
    acked: 'good', committed: 'good', redriven: 'good',
    nacked: 'warn', lease_lapsed: 'warn', released: 'warn', retry_scheduled: 'warn', retry_copy: 'warn',
    retry_due: 'warn', parked: 'warn', cancelled: 'warn',
    dead_lettered: 'bad', rolled_back: 'bad', given_up: 'bad',
  };
  const TRACE_KEY_PAGE = 8;       // traces asked for at first by a trace by key (the API's default)
  const TRACE_KEY_PAGE_MAX = 64;  // and at most (the API's bound)
  const SCHED_PAGE = 100;         // pending scheduled messages per page
  const MSG_LIMIT_MAX = 1000;     // the messages search's bound

  const session = { role: null, csrf: '' };
  let generation = 0;  // bumped on every navigation: what an older page started stops
  let timers = [];

  // ---- DOM ----

  // h('a', {href: '#/x', test: 'nav-x', onclick: fn}, 'text', child, [more]): an element.
  // Strings become text nodes; `test` is data-test; `dataset` sets data-* attributes.
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'test') el.dataset.test = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'value') el.value = String(v);
      else if (k === 'checked') el.checked = true;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const c of [children].flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  // Like el.append, but skipping null, undefined and false (for parts shown on a condition).
  function add(el, ...children) { return append(el, children); }

  function fill(el, ...children) {
    el.replaceChildren();
    return append(el, children);
  }

  function link(hash, text, attrs) { return h('a', { href: hash, ...attrs }, text); }
  function pageLink(page, arg, text, attrs) {
    return link(`#/${page}/${encodeURIComponent(arg)}`, text, attrs);
  }

  function button(label, attrs, onclick) {
    return h('button', { type: 'button', ...attrs, onclick }, label);
  }

  function section(title, ...children) {
    return h('section', { class: 'card' }, title ? h('h2', null, title) : null, children);
  }

  function field(label, input) {
    return h('label', { class: 'field' }, h('span', null, label), input);
  }

  function hint(...text) { return h('p', { class: 'hint' }, text); }

  function input(id, attrs) { return h('input', { id, name: id, ...attrs }); }

  function select(id, options, value, attrs) {
    const el = h('select', { id, name: id, ...attrs });
    for (const [v, text] of options) el.append(h('option', { value: v }, text));
    if (value !== undefined) el.value = value;
    return el;
  }

  // A key/value table; rows are [label, value (text or node), test?].
  function kvTable(rows, test) {
    const body = h('tbody');
    for (const [k, v, t] of rows) {
      body.append(h('tr', null, h('th', null, k), h('td', { test: t }, v)));
    }
    return h('table', { class: 'kv', test }, body);
  }

  // A table: columns are [title, class?]; rows are <tr> elements or arrays of cells.
  function table(columns, rows, test) {
    const head = h('tr', null, columns.map(([t, cls]) => h('th', { class: cls }, t)));
    const body = h('tbody');
    const frag = document.createDocumentFragment();
    for (const r of rows) {
      frag.append(r instanceof Node ? r : h('tr', null, r.map(c => h('td', null, c))));
    }
    body.append(frag);
    return h('table', { class: 'grid', test }, h('thead', null, head), body);
  }

  function td(value, cls) { return h('td', { class: cls }, value); }
  function num(value) { return td(fmtNum(value), 'num'); }
  // A time cell: the date and the time of day may go on two lines, neither is broken.
  function when(ms) {
    const [date, time] = fmtTime(ms).split(' ');
    return h('td', { class: 'time' }, h('span', null, date), time ? [' ', h('span', null, time)] : null);
  }
  function mono(value) { return td(value, 'mono'); }

  function tile(label, test) {
    const value = h('div', { class: 'tile-value', test }, '…');
    return { el: h('div', { class: 'tile' }, h('div', { class: 'tile-label' }, label), value), value };
  }

  // A line under a form for its outcome.
  function statusLine(test) {
    const el = h('p', { class: 'status', test, role: 'status' });
    el.hidden = true;
    const show = (cls, text) => { el.className = 'status ' + cls; fill(el, text); el.hidden = false; };
    return {
      el,
      busy: text => show('busy', text),
      ok: text => show('ok', text),
      fail: err => show('error', errText(err)),
      clear: () => { el.hidden = true; },
    };
  }

  function errorBox(err) { return h('div', { class: 'error', test: 'error', role: 'alert' }, errText(err)); }
  function empty(text, test) { return h('p', { class: 'empty', test }, text); }
  function readOnlyNote() {
    return h('p', { class: 'note', test: 'read-only-note' },
             'Logged in with the read-only token: changes need the admin token.');
  }

  // ---- formatting ----

  function pad(n, w = 2) { return String(n).padStart(w, '0'); }
  function fmtTime(ms) {
    if (!ms) return '—';
    const d = new Date(ms);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
           `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  }
  function fmtDuration(ms) {
    if (ms === undefined || ms === null) return '—';
    if (Math.abs(ms) < 1000) return `${Math.round(ms)} ms`;
    let s = Math.floor(Math.abs(ms) / 1000);
    const parts = [];
    for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]]) {
      if (s >= size || parts.length) { parts.push(Math.floor(s / size) + unit); s %= size; }
    }
    parts.push(s + 's');
    return (ms < 0 ? '-' : '') + parts.slice(0, 3).join(' ');
  }
  function fmtRelative(ms, now) {
    if (!ms) return '';
    const d = ms - now;
    return d >= 0 ? `in ${fmtDuration(d)}` : `${fmtDuration(-d)} ago`;
  }
  function fmtNum(n) {
    return typeof n === 'number' ? n.toLocaleString('en-US') : (n === undefined ? '—' : String(n));
  }
  function fmtBytes(n) {
    if (typeof n !== 'number') return '—';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    let v = n;
    while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
  }
  function yesNo(b) { return b ? 'yes' : 'no'; }
  function errText(err) {
    if (err instanceof ApiError) {
      return `${err.message} (${err.status ? 'HTTP ' + err.status + ', ' : ''}${err.code})`;
    }
    return String((err && err.message) || err);
  }
  // A value of JSON we do not know the shape of (cluster status, trace details).
  function fmtValue(key, v) {
    if (typeof v === 'boolean') return yesNo(v);
    if (typeof v === 'number') {
      if (/_bytes$/.test(key)) return fmtBytes(v);
      if (/_ms$/.test(key) && v > 1e12) return fmtTime(v);
      if (/_ms$/.test(key)) return fmtDuration(v);
      return fmtNum(v);
    }
    if (Array.isArray(v)) return v.map(x => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(', ') || '—';
    if (v && typeof v === 'object') return JSON.stringify(v);
    return v === '' || v === null || v === undefined ? '—' : String(v);
  }
  function humanize(key) { return key.replace(/_/g, ' '); }
  // "2024-05-01T10:00[:00]" from a datetime-local field, as ms since the epoch (local time).
  function timeFieldMs(el) {
    if (!el.value) return 0;
    const ms = new Date(el.value).getTime();
    return Number.isFinite(ms) ? ms : 0;
  }
  // The other way: ms since the epoch as a datetime-local field's value (local time, seconds).
  function timeFieldValue(ms) {
    if (!ms) return '';
    const d = new Date(ms);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T` +
           `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }
  function plural(n, word, words) { return `${fmtNum(n)} ${n === 1 ? word : (words || word + 's')}`; }

  // ---- the API ----

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET') headers['X-CSRF-Token'] = session.csrf;
    let res;
    try {
      res = await fetch('/api/v1/' + path, {
        method, headers, credentials: 'same-origin', cache: 'no-store',
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(0, 'Unreachable', 'the broker did not answer: ' + e.message);
    }
    let data = null;
    try { data = await res.json(); } catch (e) { /* not JSON: an error page */ }
    if (!res.ok) {
      const e = (data && data.error) || {};
      if (res.status === 401 && path !== 'login' && path !== 'session' && session.role) {
        session.role = null;
        showLogin('Your session has ended: log in again.');
      }
      throw new ApiError(res.status, e.code || res.statusText || 'Error', e.message || `HTTP ${res.status}`);
    }
    return data;
  }

  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v !== undefined && v !== null && v !== '' && v !== false) q.set(k, String(v));
    }
    const s = q.toString();
    return s ? '?' + s : '';
  }
  const enc = encodeURIComponent;
  const writable = () => session.role === 'admin';

  // ---- routing and polling ----

  function parseRoute() {
    const hash = location.hash.replace(/^#\/?/, '');
    const q = hash.indexOf('?');
    const decode = s => { try { return decodeURIComponent(s); } catch (e) { return s; } };
    const path = (q >= 0 ? hash.slice(0, q) : hash).split('/').filter(Boolean).map(decode);
    return { page: path[0] || 'overview', arg: path.slice(1).join('/'),
             params: new URLSearchParams(q >= 0 ? hash.slice(q + 1) : '') };
  }

  // Puts a page's search in the address (for reloads and links) without a navigation.
  function setParams(page, params) {
    history.replaceState(null, '', `#/${page}${query(params)}`);
  }

  function stopTimers() {
    for (const t of timers) clearInterval(t);
    timers = [];
  }

  // Runs fn now and every `ms` while the page is shown; a slow answer is not overlapped.
  function every(ms, fn) {
    const gen = generation;
    let busy = false;
    const run = async () => {
      if (busy || gen !== generation) return;
      busy = true;
      try { await fn(); } finally { busy = false; }
    };
    timers.push(setInterval(run, ms));
    return run();
  }

  const alive = gen => gen === generation;

  // ---- login and the frame ----

  function showLogin(message) {
    generation++;
    stopTimers();
    const token = input('login-token', {
      type: 'password', autocomplete: 'current-password', required: true,
      placeholder: 'admin or read token', spellcheck: 'false',
    });
    const error = h('p', { id: 'login-error', class: 'error', role: 'alert' }, message || '');
    error.hidden = !message;
    const submit = h('button', { id: 'login-submit', type: 'submit' }, 'Log in');
    const form = h('form', { id: 'login-form', class: 'login card' },
      h('h1', null, 'TideMQ console'),
      field('Console token', token),
      submit, error,
      h('p', { class: 'hint' }, 'The broker writes its tokens to console.token in its data directory: ',
        'the admin line can change things, the read line can only look.'));
    form.addEventListener('submit', async e => {
      e.preventDefault();
      submit.disabled = true;
      error.hidden = true;
      try {
        const r = await api('POST', 'login', { token: token.value.trim() });
        session.role = r.role;
        session.csrf = r.csrf;
        showFrame();
      } catch (err) {
        fill(error, err.status === 401 ? `Login refused: ${err.message}.` : errText(err));
        error.hidden = false;
        token.select();
      } finally {
        submit.disabled = false;
      }
    });
    fill(document.getElementById('app'), h('div', { class: 'login-page' }, form));
    token.focus();
  }

  let main = null;
  let nav = null;

  function showFrame() {
    const broker = h('span', { id: 'broker', class: 'broker' });
    const logout = button('Log out', { id: 'logout', class: 'secondary' }, async () => {
      try { await api('POST', 'logout', {}); } catch (e) { /* the session is gone either way */ }
      session.role = null;
      session.csrf = '';
      history.replaceState(null, '', '#/overview');
      showLogin('');
    });
    nav = h('nav', { class: 'side' },
      PAGES.map(([page, title]) => link(`#/${page}`, title, { test: `nav-${page}`, dataset: { page } })));
    main = h('main', { id: 'page' });
    fill(document.getElementById('app'),
      h('header', { class: 'top' },
        h('span', { class: 'brand' }, 'TideMQ'), broker,
        h('span', { class: 'spacer' }),
        h('span', { id: 'whoami', class: `role role-${session.role}`, test: 'role' },
          session.role === 'admin' ? 'admin' : 'read-only'),
        logout),
      h('div', { class: 'frame' }, nav, main));
    api('GET', 'overview').then(o => fill(broker, `${o.broker_id} · ${o.role}`), () => {});
    if (!location.hash || location.hash === '#' || location.hash === '#/') {
      history.replaceState(null, '', '#/overview');
    }
    navigate();
  }

  const ROUTES = {};

  async function navigate() {
    if (!session.role || !main) return;
    generation++;
    stopTimers();
    const route = parseRoute();
    const render = ROUTES[route.page];
    const active = route.page === 'trace' ? 'messages' : route.page;
    for (const a of nav.querySelectorAll('a')) a.classList.toggle('active', a.dataset.page === active);
    main.dataset.page = route.page;
    main.replaceChildren();
    window.scrollTo(0, 0);
    if (!render) {
      main.append(h('h1', null, 'Not found'), errorBox(new Error(`no page #/${route.page}`)));
      return;
    }
    const gen = generation;
    try {
      await render(main, route, gen);
    } catch (err) {
      if (alive(gen)) main.append(errorBox(err));
    }
  }

  // ---- overview ----

  ROUTES.overview = async (root, route, gen) => {
    const tiles = {
      in: tile('Messages in / s', 'rate-in'),
      out: tile('Messages out / s', 'rate-out'),
      connections: tile('Connections', 'connections'),
      uptime: tile('Uptime', 'uptime'),
      role: tile('Role', 'role-value'),
      serving: tile('Serving', 'serving'),
      disk: tile('Disk free', 'disk-free'),
      storage: tile('Storage', 'storage-bytes'),
      readOnly: tile('Read-only', 'read-only'),
    };
    const error = h('div');
    const counters = h('div', { class: 'counters', test: 'counters' });
    const info = h('div');
    const busiest = h('div');
    const backlogs = h('div');
    add(root, 
      h('h1', null, 'Overview'), error,
      h('div', { class: 'tiles' }, Object.values(tiles).map(t => t.el)),
      h('div', { class: 'columns' },
        section('Busiest topics (messages in since start)', busiest),
        section('Largest backlogs', backlogs)),
      section('Counters', counters),
      section('Broker', info));

    let last = null;  // the previous sample, for rates
    let tick = 0;
    const rate = (now, before, key) => {
      const dt = (now.now_ms - before.now_ms) / 1000;
      const d = now.counters[key] - before.counters[key];
      return dt > 0 && d >= 0 ? (d / dt).toFixed(1) : '—';
    };
    await every(POLL_MS, async () => {
      try {
        const o = await api('GET', 'overview');
        if (!alive(gen)) return;
        fill(error);
        const c = o.counters;
        fill(tiles.in.value, last ? rate(o, last, 'messages_in') : '…');
        fill(tiles.out.value, last ? rate(o, last, 'messages_delivered') : '…');
        last = o;
        fill(tiles.connections.value, fmtNum(c.connections));
        fill(tiles.uptime.value, fmtDuration(c.uptime_ms));
        fill(tiles.role.value, o.group ? `${o.role} of ${o.group} (epoch ${o.epoch})` : o.role);
        fill(tiles.serving.value, yesNo(o.serving));
        tiles.serving.el.classList.toggle('warn', !o.serving);
        fill(counters, Object.keys(c).sort().map(k =>
          h('div', { class: 'counter', test: 'counter', dataset: { name: k } },
            h('span', { class: 'name' }, k), h('span', { class: 'value' }, fmtNum(c[k])))));
        fill(info, kvTable([
          ['Broker id', o.broker_id], ['Address', o.address],
          ...Object.keys(o.info).sort().map(k => [humanize(k), o.info[k]]),
          ['Broker time', fmtTime(o.now_ms)],
        ], 'broker-info'));
        if (tick++ % 5 === 0) {  // the metrics list every topic: fetched less often
          const m = await api('GET', 'metrics');
          if (!alive(gen)) return;
          fill(tiles.disk.value, fmtBytes(m.disk_free_bytes));
          fill(tiles.storage.value, fmtBytes(m.storage_bytes));
          const ro = m.read_only || m.refusing_reason;
          fill(tiles.readOnly.value, ro ? `yes${m.refusing_reason ? ': ' + m.refusing_reason : ''}` : 'no');
          tiles.readOnly.el.classList.toggle('warn', !!ro);
          const top = m.topics.filter(t => t.messages_in > 0)
            .sort((a, b) => b.messages_in - a.messages_in).slice(0, 8);
          fill(busiest, top.length ? table([['Topic'], ['Messages in', 'num'], ['Bytes in', 'num'], ['Stored', 'num']],
            top.map(t => h('tr', null, td(pageLink('topics', t.topic, t.topic)), num(t.messages_in),
                           td(fmtBytes(t.bytes_in), 'num'), num(t.stored_messages)))) : empty('No messages in yet.'));
          const lag = m.consumption.filter(x => x.lag > 0 || x.inflight > 0)
            .sort((a, b) => b.lag - a.lag).slice(0, 8);
          fill(backlogs, lag.length ? table([['Group'], ['Topic'], ['Lag', 'num'], ['In flight', 'num'], ['Oldest unacked', 'num']],
            lag.map(x => h('tr', null, td(pageLink('groups', x.group, x.group)), td(x.topic), num(x.lag),
                           num(x.inflight), td(x.oldest_unacked_age_ms ? fmtDuration(x.oldest_unacked_age_ms) : '—', 'num'))))
            : empty('Every group is caught up.'));
        }
      } catch (err) {
        if (alive(gen)) fill(error, errorBox(err));
      }
    });
  };

  // ---- topics ----

  ROUTES.topics = async (root, route, gen) => {
    if (route.arg) return topicPage(root, route.arg, gen);
    let limit = TOPIC_PAGE;
    const filter = input('topic-filter', { type: 'search', placeholder: 'name prefix',
                                           value: route.params.get('prefix') || '' });
    const system = input('topic-system', { type: 'checkbox', checked: route.params.get('system') === '1' });
    const summary = h('p', { class: 'summary', test: 'topics-summary' });
    const list = h('div');
    const refresh = async () => {
      const params = { prefix: filter.value, system: system.checked ? 1 : undefined };
      setParams('topics', params);
      try {
        const r = await api('GET', 'topics' + query({ ...params, limit }));
        if (!alive(gen)) return;
        fill(summary, r.truncated
          ? [`Showing ${fmtNum(r.topics.length)} of ${fmtNum(r.total)} topics (truncated): narrow the prefix`,
             limit < TOPIC_PAGE_MAX ? [' or ', button(`show up to ${fmtNum(TOPIC_PAGE_MAX)}`, { class: 'linkish', id: 'topic-more' },
               () => { limit = TOPIC_PAGE_MAX; refresh(); })] : null, '.']
          : `${fmtNum(r.total)} topic${r.total === 1 ? '' : 's'}${params.prefix ? ` starting with “${params.prefix}”` : ''}.`);
        fill(list, r.topics.length ? table(
          [['Name'], ['Queues', 'num'], ['Messages', 'num'], ['Kind'], writable() ? [''] : null].filter(Boolean),
          r.topics.map(t => h('tr', { test: 'topic-row', dataset: { name: t.name } },
            td(pageLink('topics', t.name, t.name)), num(t.queue_count), num(t.messages),
            td(t.system ? 'system' : 'user'),
            writable() ? td(t.system ? '' : button('Delete', { class: 'danger small', test: 'topic-delete' },
                                                  () => deleteTopic(t.name, refresh))) : null)),
          'topics') : empty('No topics match.', 'topics-empty'));
      } catch (err) {
        if (alive(gen)) fill(list, errorBox(err));
      }
    };
    let debounce = 0;
    filter.addEventListener('input', () => { clearTimeout(debounce); debounce = setTimeout(refresh, 250); });
    system.addEventListener('change', refresh);
    add(root, h('h1', null, 'Topics'),
      h('div', { class: 'toolbar' }, field('Filter', filter),
        h('label', { class: 'check' }, system, 'system topics'),
        button('Refresh', { id: 'topic-refresh', class: 'secondary' }, refresh)),
      section(null, summary, list));
    if (writable()) {
      const name = input('topic-create-name', { required: true, placeholder: 'orders', autocomplete: 'off' });
      const queues = input('topic-create-queues', { type: 'number', min: 1, max: 1024, value: 4 });
      const status = statusLine('topic-create-result');
      const form = h('form', { class: 'inline', id: 'topic-create' },
        field('Name', name), field('Queues', queues),
        h('button', { type: 'submit', id: 'topic-create-submit' }, 'Create topic'), status.el);
      form.addEventListener('submit', async e => {
        e.preventDefault();
        status.busy('Creating…');
        try {
          const t = await api('POST', 'topics', { name: name.value.trim(), queues: Number(queues.value) || 0 });
          status.ok(`Created topic ${t.name} with ${t.queue_count} queues.`);
          name.value = '';
          refresh();
        } catch (err) { status.fail(err); }
      });
      add(root, section('Create a topic', form));
    } else {
      add(root, readOnlyNote());
    }
    await refresh();
  };

  async function deleteTopic(name, then) {
    if (!confirm(`Delete topic "${name}" and every message in it?`)) return;
    try {
      await api('DELETE', `topics/${enc(name)}`);
      then();
    } catch (err) {
      alert(`Could not delete ${name}: ${errText(err)}`);
    }
  }

  async function topicPage(root, name, gen) {
    const tiles = {
      queues: tile('Queues', 'topic-queues'),
      messages: tile('Messages stored', 'topic-messages'),
      kind: tile('Kind', 'topic-kind'),
    };
    const queues = h('div');
    add(root, h('h1', null, 'Topic ', h('span', { class: 'mono', test: 'topic-name' }, name)),
      h('p', null, link('#/topics', '← all topics')),
      h('div', { class: 'tiles' }, Object.values(tiles).map(t => t.el)), section('Queues', queues));
    const refresh = async () => {
      const t = await api('GET', `topics/${enc(name)}`);
      if (!alive(gen)) return;
      fill(tiles.queues.value, fmtNum(t.queue_count));
      fill(tiles.messages.value, fmtNum(t.messages));
      fill(tiles.kind.value, t.system ? 'system' : 'user');
      fill(queues, table([['Queue', 'num'], ['Min offset', 'num'], ['Max offset', 'num'], ['Messages', 'num']],
        t.queues.map(q => h('tr', { test: 'queue-row', dataset: { queue: q.queue_id } },
          num(q.queue_id), num(q.min_offset), num(q.max_offset), num(Math.max(0, q.max_offset - q.min_offset)))),
        'queues'));
    };
    await refresh();
    if (!writable()) return add(root, readOnlyNote());

    const body = h('textarea', { id: 'send-body', rows: 4, placeholder: 'message body (text)' });
    const tag = input('send-tag', { placeholder: 'optional' });
    const keys = input('send-keys', { placeholder: 'comma-separated' });
    const delay = input('send-delay', { type: 'number', min: 0, placeholder: '0' });
    const status = statusLine('send-result');
    const form = h('form', { id: 'send-form', class: 'stack' },
      field('Body', body), h('div', { class: 'row' }, field('Tag', tag), field('Keys', keys),
        field('Delay (ms)', delay)),
      hint('A delay makes it a scheduled message, delivered that many milliseconds from now.'),
      h('button', { type: 'submit', id: 'send-submit' }, 'Send'), status.el);
    form.addEventListener('submit', async e => {
      e.preventDefault();
      status.busy('Sending…');
      try {
        const r = await api('POST', `topics/${enc(name)}/messages`, {
          body: body.value, tag: tag.value.trim(),
          keys: keys.value.split(',').map(k => k.trim()).filter(Boolean),
          delay_ms: Number(delay.value) || 0,
        });
        status.ok('');
        fill(status.el, `Sent `, h('span', { class: 'mono', test: 'sent-id' }, r.message_id),
          r.queue_offset >= 0 ? ` to queue ${r.queue_id} at offset ${r.queue_offset} (log offset ${r.log_offset}). `
                              : ` as a scheduled message for queue ${r.queue_id} (log offset ${r.log_offset}). `,
          link(`#/messages${query({ id: r.message_id })}`, 'Find it'), ' · ',
          pageLink('trace', r.message_id, 'trace'),
          Number(delay.value) > 0 ? [' · ', link(`#/scheduled${query({ id: r.message_id })}`, 'scheduled')] : null);
        refresh().catch(() => {});
      } catch (err) { status.fail(err); }
    });
    const remove = button('Delete this topic', { class: 'danger', id: 'topic-delete' },
                          () => deleteTopic(name, () => { location.hash = '#/topics'; }));
    add(root, section('Send a test message', form), section('Danger zone', remove));
  }

  // ---- consumer groups ----

  ROUTES.groups = async (root, route, gen) => {
    if (route.arg) return groupPage(root, route.arg, gen);
    const list = h('div');
    add(root, h('h1', null, 'Consumer groups'), section(null, list));
    const refresh = async () => {
      try {
        const r = await api('GET', 'groups');
        if (!alive(gen)) return;
        fill(list, r.groups.length ? table(
          [['Name'], ['Mode'], ['Total lag', 'num'], ['DLQ', 'num'], ['Clients', 'num'], ['Max attempts', 'num'],
           ['Retry policy'], ['Retried', 'num'], ['Dead-lettered', 'num']],
          r.groups.map(g => h('tr', { test: 'group-row', dataset: { name: g.name } },
            td(pageLink('groups', g.name, g.name)),
            td(g.mode + (g.fifo ? ', FIFO' : '')),
            h('td', { class: 'num', test: 'group-lag' }, fmtNum(g.total_lag)),
            h('td', { class: 'num', test: 'group-dlq' },
              g.dlq_messages ? link(`#/dlq${query({ group: g.name })}`, fmtNum(g.dlq_messages)) : '0'),
            h('td', { class: 'num', title: g.clients.join('\n') }, fmtNum(g.clients.length)),
            num(g.max_attempts), td(g.retry_policy), num(g.retried), num(g.dead_lettered))),
          'groups') : empty('No consumer groups yet.', 'groups-empty'));
      } catch (err) {
        if (alive(gen)) fill(list, errorBox(err));
      }
    };
    if (writable()) {
      const name = input('group-create-name', { required: true, placeholder: 'billing', autocomplete: 'off' });
      const mode = select('group-create-mode', [['clustering', 'clustering'], ['broadcast', 'broadcast']]);
      const attempts = input('group-create-max-attempts', { type: 'number', min: 1, max: 1000, placeholder: 'broker default' });
      const retry = input('group-create-retry', { placeholder: 'ladder · 1s,5s,30s · exponential:1s,2,10m' });
      const fifo = input('group-create-fifo', { type: 'checkbox' });
      const status = statusLine('group-create-result');
      const form = h('form', { class: 'inline', id: 'group-create' },
        field('Name', name), field('Mode', mode), field('Max attempts', attempts), field('Retry back-off', retry),
        h('label', { class: 'check' }, fifo, 'FIFO'),
        h('button', { type: 'submit', id: 'group-create-submit' }, 'Create group'), status.el);
      form.addEventListener('submit', async e => {
        e.preventDefault();
        status.busy('Creating…');
        try {
          const g = await api('POST', 'groups', {
            name: name.value.trim(), mode: mode.value, fifo: fifo.checked,
            max_attempts: Number(attempts.value) || 0, retry_policy: retry.value.trim(),
          });
          status.ok(`Created group ${g.name} (max attempts ${g.max_attempts}, retry ${g.retry_policy}).`);
          name.value = '';
          refresh();
        } catch (err) { status.fail(err); }
      });
      add(root, section('Create a group', form));
    } else {
      add(root, readOnlyNote());
    }
    await every(POLL_MS, refresh);
  };

  async function groupPage(root, name, gen) {
    const tiles = {
      lag: tile('Total lag', 'group-total-lag'),
      inflight: tile('In flight', 'group-inflight'),
      dlq: tile('Dead letters', 'group-dlq'),
      clients: tile('Clients', 'group-clients'),
    };
    const error = h('div');
    const settings = h('div');
    const clients = h('div');
    const queues = h('div');
    const topics = h('datalist', { id: 'group-topics' });
    add(root, h('h1', null, 'Group ', h('span', { class: 'mono', test: 'group-name' }, name)),
      h('p', null, link('#/groups', '← all groups')), error,
      h('div', { class: 'tiles' }, Object.values(tiles).map(t => t.el)),
      h('div', { class: 'columns' }, section('Settings', settings), section('Clients', clients)),
      section('Lag per queue', queues), topics);
    const refresh = async () => {
      try {
        const g = await api('GET', `groups/${enc(name)}`);
        if (!alive(gen)) return;
        fill(error);
        fill(tiles.lag.value, fmtNum(g.total_lag));
        fill(tiles.inflight.value, fmtNum(g.queues.reduce((s, q) => s + q.inflight, 0)));
        fill(tiles.dlq.value, g.dlq_messages ? link(`#/dlq${query({ group: name })}`, fmtNum(g.dlq_messages)) : '0');
        fill(tiles.clients.value, fmtNum(g.clients.length));
        fill(settings, kvTable([
          ['Mode', g.mode], ['FIFO', g.fifo ? (g.fifo_block ? 'yes, blocking' : 'yes') : 'no'],
          ['Max attempts', fmtNum(g.max_attempts), 'group-max-attempts'],
          ['Retry policy', g.retry_policy, 'group-retry-policy'],
          ['Retried', fmtNum(g.retried)], ['Dead-lettered', fmtNum(g.dead_lettered)],
          ['Lost to retention', fmtNum(g.lost_to_retention)], ['Created', fmtTime(g.created_ms)],
        ]));
        fill(clients, g.clients.length
          ? h('ul', { class: 'plain mono', test: 'client-list' }, g.clients.map(c => h('li', null, c)))
          : empty('No client is connected.'));
        fill(queues, g.queues.length ? table(
          [['Topic'], ['Queue', 'num'], ['Committed', 'num'], ['Max offset', 'num'], ['Lag', 'num'],
           ['In flight', 'num'], ['Delivered', 'num'], ['Lost to retention', 'num'], ['Client']],
          g.queues.map(q => h('tr', { test: 'group-queue-row', dataset: { topic: q.topic, queue: q.queue_id } },
            td(pageLink('topics', q.topic, q.topic)), num(q.queue_id), num(q.committed), num(q.max_offset),
            num(q.lag), num(q.inflight), num(q.delivered), num(q.lost_to_retention), mono(q.client_id || '—'))),
          'group-queues') : empty('The group has not read any topic yet.'));
        const names = [...new Set(g.queues.map(q => q.topic))];
        if (topics.children.length !== names.length) fill(topics, names.map(t => h('option', { value: t })));
      } catch (err) {
        if (alive(gen)) fill(error, errorBox(err));
      }
    };
    if (writable()) {
      const topic = input('reset-topic', { list: 'group-topics', required: true, placeholder: 'topic' });
      const time = input('reset-time', { type: 'datetime-local', step: 1, required: true });
      const queue = input('reset-queue', { type: 'number', min: 0, placeholder: 'all' });
      const status = statusLine('reset-result');
      const moves = h('div', { test: 'reset-moves' });
      const form = h('form', { class: 'inline', id: 'reset-form' },
        field('Topic', topic), field('Time (local)', time), field('Queue (optional)', queue),
        h('button', { type: 'submit', id: 'reset-submit' }, 'Reset offset'));
      form.addEventListener('submit', async e => {
        e.preventDefault();
        const timeMs = timeFieldMs(time);
        const t = topic.value.trim();
        const q = queue.value.trim() === '' ? undefined : Number(queue.value);
        if (!confirm(`Move group "${name}" on topic "${t}"${q === undefined ? '' : ` (queue ${q})`} to ${fmtTime(timeMs)}?`)) return;
        status.busy('Resetting…');
        fill(moves);
        try {
          const r = await api('POST', `groups/${enc(name)}/reset-offset`, { topic: t, time_ms: timeMs, queue_id: q });
          status.ok(`Reset ${r.group} on ${r.topic} to ${fmtTime(r.time_ms)}: ${plural(r.queues.length, 'queue position')} moved.`);
          fill(moves, r.queues.length ? table([['Queue', 'num'], ['Client'], ['From offset', 'num'], ['', 'num'], ['To offset', 'num'], ['Change', 'num']],
            r.queues.map(m => h('tr', { test: 'reset-move-row', dataset: { queue: m.queue_id } },
              num(m.queue_id), mono(m.client_id || '—'), num(m.from_offset), td('→', 'num'), num(m.to_offset),
              td(m.to_offset === m.from_offset ? '—' : (m.to_offset > m.from_offset ? '+' : '−') + fmtNum(Math.abs(m.to_offset - m.from_offset)), 'num'))),
            'reset-moves-table') : null);
          refresh();
        } catch (err) { status.fail(err); }
      });
      const remove = button('Delete this group', { class: 'danger', id: 'group-delete' }, async () => {
        if (!confirm(`Delete consumer group "${name}" with its offsets?`)) return;
        try {
          await api('DELETE', `groups/${enc(name)}`);
          location.hash = '#/groups';
        } catch (err) { alert(errText(err)); }
      });
      add(root, section('Reset offset to a time', form,
        hint('The group reads the topic again from the first message stored at or after that time ',
             '(every queue, or the one named); its in-flight deliveries end.'), status.el, moves),
        section('Danger zone', remove));
    } else {
      add(root, readOnlyNote());
    }
    await every(POLL_MS, refresh);
  }

  // ---- messages ----

  ROUTES.messages = async (root, route, gen) => {
    const p = route.params;
    const initial = p.get('id') ? 'id' : p.get('key') ? 'key' : p.get('from') ? 'time' : p.get('offset') ? 'offset' : 'id';
    const mode = select('msg-mode', [['id', 'by message id'], ['key', 'by key'], ['time', 'by time range'],
                                     ['offset', 'by log offset']], initial);
    const id = input('msg-id', { placeholder: 'message id', value: p.get('id') || '', class: 'wide mono' });
    const key = input('msg-key', { placeholder: 'key', value: p.get('key') || '' });
    const topic = input('msg-topic', { placeholder: 'topic', value: p.get('topic') || '' });
    const from = input('msg-from', { type: 'datetime-local', step: 1, value: timeFieldValue(Number(p.get('from')) || 0) });
    const to = input('msg-to', { type: 'datetime-local', step: 1, value: timeFieldValue(Number(p.get('to')) || 0) });
    const offset = input('msg-offset', { type: 'number', min: 0, placeholder: 'log offset', value: p.get('offset') || '' });
    const limit = input('msg-limit', { type: 'number', min: 1, max: MSG_LIMIT_MAX, value: p.get('limit') || 32 });
    // Each field with the modes it is shown in (the topic serves the key and the time range).
    const fields = [
      [field('Message id', id), ['id']],
      [field('Key', key), ['key']],
      [field('Topic', topic), ['key', 'time']],
      [field('From (local)', from), ['time']],
      [field('To (local, empty: now)', to), ['time']],
      [field('Log offset', offset), ['offset']],
    ];
    const showFields = () => {
      for (const [el, modes] of fields) el.hidden = !modes.includes(mode.value);
      // A time range starts an hour ago unless one is given.
      if (mode.value === 'time' && !from.value) from.value = timeFieldValue(Date.now() - 3600e3);
    };
    mode.addEventListener('change', showFields);
    showFields();
    const results = h('div');
    const detail = h('div');
    const form = h('form', { class: 'inline', id: 'msg-form' }, field('Search', mode),
      fields.map(([el]) => el), field('At most', limit),
      h('button', { type: 'submit', id: 'msg-search' }, 'Search'));
    add(root, h('h1', null, 'Messages'), section(null, form,
      hint('A time range lists the topic\'s messages stored from “From” up to (not including) “To”, oldest first.')),
      results, detail);

    const paramsOf = m => {
      if (m === 'id') return { id: id.value.trim() };
      if (m === 'key') return { key: key.value.trim(), topic: topic.value.trim() };
      if (m === 'offset') return { offset: offset.value.trim() };
      return { topic: topic.value.trim(), from: timeFieldMs(from) || undefined, to: timeFieldMs(to) || undefined };
    };
    const search = async () => {
      const m = mode.value;
      const params = paramsOf(m);
      if (Number(limit.value) !== 32) params.limit = limit.value;
      setParams('messages', params);
      fill(detail);
      if (m === 'time' && (!params.topic || !params.from)) {
        return fill(results, errorBox(new Error('A search by time range needs a topic and a start time.')));
      }
      fill(results, h('p', { class: 'busy' }, 'Searching…'));
      try {
        const r = await api('GET', 'messages' + query(params));
        if (!alive(gen)) return;
        const rows = r.messages.map(msg => {
          const row = h('tr', { test: 'msg-row', class: 'clickable', dataset: { id: msg.message_id } },
            mono(msg.message_id), td(msg.topic), num(msg.queue_id), num(msg.queue_offset), num(msg.log_offset),
            td(msg.kind), td(msg.tag || '—', 'nowrap'), td(msg.keys.join(', ') || '—', 'nowrap'), when(msg.store_ms),
            td(fmtBytes(msg.body_size), 'num'));
          row.addEventListener('click', () => {
            for (const other of results.querySelectorAll('tr.selected')) other.classList.remove('selected');
            row.classList.add('selected');
            showMessage(detail, msg);
          });
          return row;
        });
        const where = m === 'time'
          ? ` in ${params.topic} stored from ${fmtTime(params.from)} to ${params.to ? fmtTime(params.to) : 'now'}` : '';
        const shown = Math.min(Number(limit.value) || 32, MSG_LIMIT_MAX);
        fill(results, section(null,
          h('p', { class: 'summary', test: 'msg-summary' },
            `${plural(r.messages.length, 'message')} found${where}`,
            r.damaged.length ? `; ${r.damaged.length} damaged record(s) at log offsets ${r.damaged.join(', ')}` : '',
            r.messages.length ? '. Click one to see its body.' : '.'),
          r.truncated ? h('p', { class: 'note warn', test: 'msg-truncated' },
            `Truncated: more messages matched than the limit of ${fmtNum(shown)}`,
            m === 'time' ? ' (the oldest are shown)' : '',
            shown < MSG_LIMIT_MAX ? ': raise “At most” to see more.' : ': narrow the search to see the rest.') : null,
          r.messages.length ? table([['Message id'], ['Topic'], ['Queue', 'num'], ['Queue offset', 'num'],
            ['Log offset', 'num'], ['Kind'], ['Tag'], ['Keys'], ['Stored'], ['Body', 'num']], rows, 'messages') : null));
        if (r.messages.length === 1) rows[0].click();
      } catch (err) {
        if (alive(gen)) fill(results, errorBox(err));
      }
    };
    form.addEventListener('submit', e => { e.preventDefault(); search(); });
    if (p.get('id') || p.get('key') || p.get('from') || p.get('offset')) await search();
  };

  function showMessage(root, m) {
    const rows = [
      ['Message id', m.message_id, 'msg-detail-id'], ['Topic', m.topic], ['Queue', fmtNum(m.queue_id)],
      ['Queue offset', fmtNum(m.queue_offset)], ['Log offset', fmtNum(m.log_offset)], ['Kind', m.kind],
      ['Tag', m.tag || '—'], ['Keys', m.keys.join(', ') || '—'], ['Message group', m.message_group || '—'],
      ['Born', fmtTime(m.born_ms)], ['Stored', fmtTime(m.store_ms)],
      ['Deliver at', m.deliver_at_ms ? fmtTime(m.deliver_at_ms) : '—'],
    ];
    if (m.original_topic !== undefined) {
      rows.push(['Original topic', m.original_topic], ['Attempts', fmtNum(m.attempts)],
                ['First failure', fmtTime(m.first_failure_ms)]);
    }
    if (m.dead_letter_reason) rows.push(['Dead-letter reason', m.dead_letter_reason]);
    const props = Object.keys(m.properties || {});
    const encoding = m.body_encoding === 'base64' ? 'base64 (the body is not UTF-8 text)' : 'text';
    fill(root, section('Message', h('div', { test: 'msg-detail' },
      h('p', null, pageLink('trace', m.message_id, 'Trace this message →', { test: 'trace-link' })),
      h('div', { class: 'columns' },
        kvTable(rows),
        h('div', null, h('h3', null, 'Properties'),
          props.length ? kvTable(props.sort().map(k => [k, m.properties[k]]), 'msg-properties') : empty('None.'))),
      h('h3', null, 'Body'),
      h('p', { class: 'summary' }, `${fmtBytes(m.body_size)}, shown as ${encoding}`,
        m.body_truncated ? h('strong', { class: 'warn-text', test: 'msg-body-truncated' },
                             ` — truncated: only the first ${fmtBytes(m.body.length)} are shown`) : ''),
      m.body !== undefined ? h('pre', { class: 'body', test: 'msg-body' }, m.body) : empty('Body not fetched.'))));
  }

  // ---- trace ----

  // #/trace/<message id>: one message's trace. #/trace?topic=<topic>&key=<key>: the trace of
  // each message stored under the key (newest first, TRACE_KEY_PAGE of them unless ?limit=).
  ROUTES.trace = async (root, route, gen) => {
    const p = route.params;
    const id = route.arg;
    const byKey = !id && (p.get('topic') || p.get('key'));
    const limit = Math.min(Math.max(Number(p.get('limit')) || TRACE_KEY_PAGE, 1), TRACE_KEY_PAGE_MAX);

    const mode = select('trace-mode', [['id', 'by message id'], ['key', 'by key']], byKey ? 'key' : 'id');
    const idIn = input('trace-id-input', { placeholder: 'message id', class: 'wide mono', value: id });
    const topic = input('trace-topic', { placeholder: 'topic', value: p.get('topic') || '' });
    const key = input('trace-key', { placeholder: 'key', value: p.get('key') || '' });
    const fields = [[field('Message id', idIn), 'id'], [field('Topic', topic), 'key'], [field('Key', key), 'key']];
    const showFields = () => { for (const [el, m] of fields) el.hidden = m !== mode.value; };
    mode.addEventListener('change', showFields);
    showFields();
    const form = h('form', { class: 'inline', id: 'trace-form' }, field('Trace', mode), fields.map(([el]) => el),
      h('button', { type: 'submit', id: 'trace-submit' }, 'Trace'),
      button('Refresh', { id: 'trace-refresh', class: 'secondary' }, () => navigate()));
    form.addEventListener('submit', e => {
      e.preventDefault();
      const target = mode.value === 'id'
        ? `#/trace/${enc(idIn.value.trim())}`
        : `#/trace${query({ topic: topic.value.trim(), key: key.value.trim() })}`;
      if (location.hash === target) navigate(); else location.hash = target;
    });

    if (byKey) {
      add(root, h('h1', null, 'Trace of key ', h('span', { class: 'mono', test: 'trace-key-name' }, p.get('key') || '?'),
        ' in ', h('span', { class: 'mono' }, p.get('topic') || '?')), section(null, form));
      if (!p.get('topic') || !p.get('key')) return add(root, errorBox(new Error('a trace by key needs a topic and a key')));
      let r;
      try {
        r = await api('GET', 'trace' + query({ topic: p.get('topic'), key: p.get('key'), limit }));
      } catch (err) {
        if (alive(gen)) add(root, errorBox(err));
        return;
      }
      if (!alive(gen)) return;
      const more = r.truncated && limit < TRACE_KEY_PAGE_MAX
        ? [' ', button(`show up to ${TRACE_KEY_PAGE_MAX}`, { class: 'linkish', id: 'trace-key-more' }, () => {
            location.hash = `#/trace${query({ topic: p.get('topic'), key: p.get('key'), limit: TRACE_KEY_PAGE_MAX })}`;
          })] : null;
      add(root, h('p', { class: 'summary', test: 'trace-key-summary' },
        `${plural(r.traces.length, 'message')} stored under this key`,
        r.traces.length > 1 ? ' (newest first)' : '', '.'),
        r.truncated ? h('p', { class: 'note warn', test: 'trace-key-truncated' },
          `Truncated: more messages carry this key than the ${fmtNum(r.traces.length)} shown.`, more) : null,
        r.traces.map(t => section(null, h('div', { test: 'trace-message', dataset: { id: t.message_id } },
          h('h2', null, 'Message ', pageLink('trace', t.message_id, t.message_id, { class: 'mono', test: 'trace-message-id' }),
            ' · ', link(`#/messages${query({ id: t.message_id })}`, 'the message')),
          traceBody(t)))));
      return;
    }

    add(root, h('h1', null, 'Trace of ', h('span', { class: 'mono', test: 'trace-id' }, id || '?')),
      h('p', null, id ? link(`#/messages${query({ id })}`, '← the message') : null), section(null, form));
    if (!id) return add(root, hint('Name a message (#/trace/<message id>), or a topic and a key.'));
    let r;
    try {
      r = await api('GET', 'trace' + query({ id }));
    } catch (err) {
      if (alive(gen)) add(root, errorBox(err));
      return;
    }
    if (!alive(gen)) return;
    add(root, section(null, traceBody(r)));
  };

  // One message's trace (GET /api/v1/trace?id=): notes on what it may lack, then its events.
  function traceBody(r) {
    const events = r.events || [];
    const first = events.length ? events[0].time_ms : 0;
    const damaged = r.damaged || [];
    return [
      h('p', { class: 'summary', test: 'trace-summary' }, plural(events.length, 'event'),
        r.truncated ? ' (truncated: the message has more events than shown)' : '', '.'),
      r.consumption_traced === false ? h('p', { class: 'note', test: 'trace-no-consumption' },
        'Deliveries, acks, nacks and lapsed leases are not recorded: the broker runs with ',
        h('code', null, '--trace-consumption=false'), '.') : null,
      r.events_dropped > 0 ? h('p', { class: 'note warn', test: 'trace-dropped' },
        `The broker has dropped ${plural(r.events_dropped, 'consumption event')} (its trace journal was full): `,
        'some steps of this message may be missing.') : null,
      damaged.length ? h('p', { class: 'note warn', test: 'trace-damaged' },
        `${plural(damaged.length, 'damaged record')} left out, at log offset${damaged.length === 1 ? '' : 's'} ${damaged.join(', ')}.`) : null,
      events.length ? table([['#', 'num'], ['Time'], ['+', 'num'], ['Event'], ['Log offset', 'num'], ['Details']],
        events.map((e, i) => {
          const kind = String(e.kind);
          const tone = TRACE_KINDS[kind] || 'other';
          const detail = Object.entries(e.detail || {}).map(([k, v]) =>
            h('span', { class: 'kv-pair' }, h('span', { class: 'k' }, k), '=', detailValue(k, v)));
          return h('tr', { test: 'trace-row', dataset: { kind } },
            num(i + 1), when(e.time_ms), td(i ? '+' + fmtDuration(e.time_ms - first) : '', 'num'),
            h('td', null, h('span', { class: `badge tone-${tone}` }, kind)),
            num(e.log_offset), h('td', { class: 'details' }, detail));
        }), 'trace') : empty('No events recorded for this message.', 'trace-empty'),
    ];
  }

  // A trace detail: epoch milliseconds read as a time (the number in the tooltip).
  function detailValue(k, v) {
    // The API gives details as strings: "due_ms=1714550400000" is a time all the same.
    const n = typeof v === 'string' && /^\d{13,}$/.test(v) ? Number(v) : v;
    if (typeof n === 'number' && /_ms$/.test(k) && n > 1e12) {
      return h('span', { class: 'v', title: String(v) }, fmtTime(n));
    }
    return h('span', { class: 'v' }, typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v));
  }

  // ---- dead letters ----

  ROUTES.dlq = async (root, route, gen) => {
    const p = route.params;
    const groups = (await api('GET', 'groups')).groups;
    if (!alive(gen)) return;
    add(root, h('h1', null, 'Dead letters'));
    if (!groups.length) return add(root, empty('No consumer groups yet: dead letters belong to a group.', 'dlq-no-groups'));
    const wanted = p.get('group') || (groups.find(g => g.dlq_messages > 0) || groups[0]).name;
    const group = select('dlq-group', groups.map(g => [g.name, `${g.name} (${fmtNum(g.dlq_messages)})`]), wanted);
    const tag = input('dlq-tag', { value: p.get('tag') || '' });
    const key = input('dlq-key', { value: p.get('key') || '' });
    const topic = input('dlq-topic', { placeholder: 'original topic', value: p.get('topic') || '' });
    const since = input('dlq-since', { type: 'datetime-local', step: 1 });
    const until = input('dlq-until', { type: 'datetime-local', step: 1 });
    const form = h('form', { class: 'inline', id: 'dlq-form' }, field('Group', group), field('Tag', tag),
      field('Key', key), field('Topic', topic), field('Dead-lettered since', since), field('until', until),
      h('button', { type: 'submit', id: 'dlq-browse' }, 'Browse'));
    const summary = h('p', { class: 'summary', test: 'dlq-summary' });
    const list = h('div');
    const more = h('div');
    const status = statusLine('dlq-result');
    let applied = {};   // the filter of the list shown: "all matching" acts on it
    let shown = [];     // messages listed
    const selected = new Set();  // their ids

    const actions = h('div', { class: 'toolbar' });
    const countSelected = h('span', { class: 'summary', test: 'dlq-selected' });
    const to = select('dlq-to', [['original', 'to the original topic'], ['retry', "to the group's retry queue"]]);
    const redriveSel = button('Redrive selected', { id: 'dlq-redrive-selected' }, () => actOnSelected('redrive'));
    const purgeSel = button('Purge selected', { id: 'dlq-purge-selected', class: 'danger' }, () => actOnSelected('purge'));
    const redriveAll = button('Redrive all matching', { id: 'dlq-redrive-all' }, () => actOnMatching('redrive'));
    const purgeAll = button('Purge all matching', { id: 'dlq-purge-all', class: 'danger' }, () => actOnMatching('purge'));
    const updateSelection = () => {
      fill(countSelected, `${selected.size} selected`);
      redriveSel.disabled = purgeSel.disabled = selected.size === 0;
      redriveAll.disabled = purgeAll.disabled = shown.length === 0;
    };
    if (writable()) append(actions, [countSelected, to, redriveSel, purgeSel, redriveAll, purgeAll]);
    add(root, section(null, form), writable() ? null : readOnlyNote(),
      section(null, summary, writable() ? actions : null, status.el, list, more));

    const filterOf = () => {
      const f = { tag: tag.value.trim(), key: key.value.trim(), topic: topic.value.trim() };
      const s = timeFieldMs(since);
      const u = timeFieldMs(until);
      if (s) f.since = s;
      if (u) f.until = u;
      for (const k of Object.keys(f)) if (!f[k]) delete f[k];
      return f;
    };
    const describe = f => Object.entries(f).map(([k, v]) => `${k}=${k === 'since' || k === 'until' ? fmtTime(v) : v}`).join(', ');

    const browse = async (after) => {
      const g = group.value;
      if (after === undefined) {
        applied = filterOf();
        shown = [];
        selected.clear();
        setParams('dlq', { group: g, tag: applied.tag, key: applied.key, topic: applied.topic });
      }
      try {
        const r = await api('GET', `dlq/${enc(g)}` + query({ ...applied, after, limit: DLQ_PAGE }));
        if (!alive(gen)) return;
        shown = shown.concat(r.messages);
        const f = describe(applied);
        fill(summary, shown.length
          ? `${fmtNum(shown.length)} of ${fmtNum(r.total)} dead letters of ${g} shown${f ? ` (matching ${f})` : ''}.`
          : `No dead letters${f ? ` matching ${f}` : ''} in ${g}.`);
        fill(more, r.truncated && r.messages.length
          ? button('Load more', { id: 'dlq-more', class: 'secondary' },
                   () => browse(r.messages[r.messages.length - 1].queue_offset)) : null);
        renderList();
      } catch (err) {
        if (alive(gen)) fill(list, errorBox(err));
      }
    };

    const renderList = () => {
      updateSelection();
      if (!shown.length) return fill(list, empty('The dead-letter queue has nothing to show.', 'dlq-empty'));
      const all = input('dlq-select-all', { type: 'checkbox', title: 'select all shown' });
      all.checked = shown.every(m => selected.has(m.message_id));
      const boxes = [];
      all.addEventListener('change', () => {
        for (const [box, id] of boxes) { box.checked = all.checked; if (all.checked) selected.add(id); else selected.delete(id); }
        updateSelection();
      });
      fill(list, table([[writable() ? all : ''], ['Message id'], ['Original topic'], ['Tag'], ['Keys'],
          ['Attempts', 'num'], ['Reason'], ['Dead-lettered'], ['First failure'], ['Body', 'num']],
        shown.map(m => {
          const box = h('input', { type: 'checkbox', test: 'dlq-select', dataset: { id: m.message_id } });
          box.checked = selected.has(m.message_id);
          box.addEventListener('change', () => {
            if (box.checked) selected.add(m.message_id); else selected.delete(m.message_id);
            all.checked = shown.every(x => selected.has(x.message_id));
            updateSelection();
          });
          boxes.push([box, m.message_id]);
          return h('tr', { test: 'dlq-row', dataset: { id: m.message_id } },
            td(writable() ? box : ''), td(pageLink('trace', m.message_id, m.message_id), 'mono'),
            td(m.original_topic || '—'), td(m.tag || '—', 'nowrap'), td(m.keys.join(', ') || '—', 'nowrap'), num(m.attempts),
            td(m.dead_letter_reason || '—'), when(m.store_ms), when(m.first_failure_ms),
            td(fmtBytes(m.body_size), 'num'));
        }), 'dlq'));
    };

    const done = (action, n) => `${action === 'redrive' ? 'Redriven' : 'Purged'}: ${fmtNum(n)} message${n === 1 ? '' : 's'}.`;
    const actOnSelected = async (action) => {
      const g = group.value;
      const ids = [...selected];
      const what = action === 'redrive' ? `Redrive ${ids.length} message(s) of ${g} ${to.options[to.selectedIndex].text}?`
                                        : `Purge ${ids.length} message(s) of ${g}? They are deleted for good.`;
      if (!ids.length || !confirm(what)) return;
      status.busy(`${action === 'redrive' ? 'Redriving' : 'Purging'}…`);
      let n = 0;
      try {
        for (const id of ids) {
          const r = await api('POST', `dlq/${enc(g)}/${action}`, action === 'redrive' ? { id, to: to.value } : { id });
          n += r.redriven ?? r.purged ?? 0;
        }
        status.ok(done(action, n));
      } catch (err) {
        status.fail(err);
      }
      await browse();
    };
    const actOnMatching = async (action) => {
      const g = group.value;
      const f = describe(applied);
      const body = Object.keys(applied).length ? { ...applied } : { all: true };
      const what = `${action === 'redrive' ? 'Redrive' : 'Purge'} ${f ? `every dead letter of ${g} matching ${f}` : `ALL dead letters of ${g}`}` +
                   (action === 'redrive' ? ` ${to.options[to.selectedIndex].text}?` : '? They are deleted for good.');
      if (!confirm(what)) return;
      if (action === 'redrive') body.to = to.value;
      status.busy(`${action === 'redrive' ? 'Redriving' : 'Purging'}…`);
      try {
        const r = await api('POST', `dlq/${enc(g)}/${action}`, body);
        status.ok(done(action, r.redriven ?? r.purged ?? 0));
      } catch (err) {
        status.fail(err);
      }
      await browse();
    };

    form.addEventListener('submit', e => { e.preventDefault(); status.clear(); browse(); });
    group.addEventListener('change', () => { status.clear(); browse(); });
    await browse();
  };

  // ---- scheduled messages ----

  ROUTES.scheduled = async (root, route, gen) => {
    const tiles = {
      pending: tile('Pending', 'sched-pending'),
      next: tile('Next due', 'sched-next'),
      fired: tile('Fired', 'sched-fired'),
      cancelled: tile('Cancelled', 'sched-cancelled'),
    };
    const error = h('div');
    const lateness = h('div');
    const id = input('sched-id', { placeholder: 'message id', class: 'wide mono', value: route.params.get('id') || '' });
    const form = h('form', { class: 'inline', id: 'sched-form' }, field('Message id', id),
      h('button', { type: 'submit', id: 'sched-lookup' }, 'Look up'));
    const entry = h('div');
    const pendingSummary = h('p', { class: 'summary', test: 'sched-list-summary' });
    const pendingList = h('div');
    const pager = h('div', { class: 'toolbar pager' });
    const listStatus = statusLine('sched-list-result');
    add(root, h('h1', null, 'Scheduled messages'), error,
      h('div', { class: 'tiles' }, Object.values(tiles).map(t => t.el)),
      section('Pending (soonest first)', pendingSummary, listStatus.el, pendingList, pager),
      section('Look up a scheduled message', form, entry),
      section('Lateness of fired messages', lateness));

    const cancel = async (mid, then) => {
      if (!confirm(`Cancel scheduled message ${mid}? It will not be delivered.`)) return null;
      const r = await api('DELETE', `scheduled/${enc(mid)}`);
      refresh();
      if (then) then();
      return r;
    };
    const cancelText = r => (r.cancelled ? `Cancelled (it was due ${fmtTime(r.due_ms)}).`
                                         : 'Not cancelled: it has fired or was cancelled already.');

    // The pending list: pages of SCHED_PAGE, soonest first; `pages` holds where each page shown
    // so far starts (the last one is shown), so "previous" goes back without a search.
    const pages = [{}];
    let shownKey = '';
    let rows = [];  // [entry, the cell of its relative due time]
    let loads = 0;  // a page asked for by a button and the poll's may cross: the last asked wins
    const loadPending = async () => {
      const at = pages[pages.length - 1];
      const mine = ++loads;
      const r = await api('GET', 'scheduled/pending' + query({ ...at, limit: SCHED_PAGE }));
      if (!alive(gen) || mine !== loads) return;
      const now = Date.now();
      const first = (pages.length - 1) * SCHED_PAGE;
      fill(pendingSummary, r.scheduled.length
        ? `${fmtNum(first + 1)}–${fmtNum(first + r.scheduled.length)} of the pending messages` +
          (r.truncated ? ' (more on the next page).' : '.')
        : pages.length > 1 ? 'No more pending messages.' : 'No message is scheduled.');
      // Rebuilt only when the list changed (the page polls): a button is not swapped under a click.
      const listKey = JSON.stringify(r.scheduled.map(e => [e.message_id, e.firing, e.due_ms])) + writable();
      if (listKey !== shownKey) {
        shownKey = listKey;
        rows = [];
        fill(pendingList, r.scheduled.length ? table(
          [['Message id'], ['Topic'], ['Queue', 'num'], ['Due'], ['Due in', 'num'], ['Log offset', 'num'], ['Firing'], [''],
           writable() ? [''] : null].filter(Boolean),
          r.scheduled.map(e => {
            const rel = td(fmtRelative(e.due_ms, now), 'num');
            rows.push([e, rel]);
            return h('tr', { test: 'sched-row', dataset: { id: e.message_id } },
              mono(e.message_id), td(pageLink('topics', e.topic, e.topic)), num(e.queue_id), when(e.due_ms), rel,
              num(e.log_offset), td(e.firing ? 'firing now' : 'no'),
              td(pageLink('trace', e.message_id, 'trace', { test: 'sched-trace-link' })),
              writable() ? td(e.firing ? '' : button('Cancel', { class: 'small danger', test: 'sched-row-cancel' }, async () => {
                try {
                  const c = await cancel(e.message_id);
                  if (c) listStatus.ok(`${e.message_id}: ${cancelText(c)}`);
                } catch (err) { listStatus.fail(err); }
              })) : null);
          }), 'sched-list') : null);
      } else {
        for (const [e, cell] of rows) fill(cell, fmtRelative(e.due_ms, now));
      }
      const last = r.scheduled[r.scheduled.length - 1];
      fill(pager,
        pages.length > 1 ? button('First page', { class: 'secondary', id: 'sched-first-page' }, () => {
          pages.length = 1; loadPending().catch(showError);
        }) : null,
        r.truncated && last ? button('Next page', { class: 'secondary', id: 'sched-next-page' }, () => {
          pages.push({ after_due: last.due_ms, after_offset: last.log_offset }); loadPending().catch(showError);
        }) : null);
    };
    const showError = err => { if (alive(gen)) fill(error, errorBox(err)); };

    const refresh = async () => {
      try {
        const s = await api('GET', 'scheduled');
        if (!alive(gen)) return;
        fill(error);
        fill(tiles.pending.value, fmtNum(s.pending));
        fill(tiles.next.value, s.next_due_ms ? [fmtRelative(s.next_due_ms, s.broker_time_ms), h('small', null, fmtTime(s.next_due_ms))] : '—');
        fill(tiles.fired.value, fmtNum(s.fired));
        fill(tiles.cancelled.value, fmtNum(s.cancelled));
        const total = s.lateness.reduce((a, b) => a + b.count, 0);
        let lower = 0;
        fill(lateness, table([['Late by'], ['Messages', 'num'], ['Share']], s.lateness.map(b => {
          const label = b.below_ms < 0 ? `${fmtNum(lower)} ms or more` : `${fmtNum(lower)} – ${fmtNum(b.below_ms)} ms`;
          lower = b.below_ms;
          const bar = h('div', { class: 'bar' });
          bar.style.width = total ? `${(100 * b.count / total).toFixed(1)}%` : '0';  // CSSOM: allowed by the CSP
          return h('tr', null, td(label), num(b.count), h('td', { class: 'bar-cell' }, bar));
        }), 'lateness'));
        await loadPending();
      } catch (err) {
        showError(err);
      }
    };

    const lookup = async () => {
      const mid = id.value.trim();
      if (!mid) return;
      setParams('scheduled', { id: mid });
      try {
        const s = await api('GET', `scheduled/${enc(mid)}`);
        if (!alive(gen)) return;
        const status = statusLine('sched-cancel-result');
        const cancelButton = writable() && !s.firing ? button('Cancel delivery', { id: 'sched-cancel', class: 'danger' }, async () => {
          try {
            const r = await cancel(mid, () => { cancelButton.disabled = true; });
            if (r) status.ok(cancelText(r));
          } catch (err) { status.fail(err); }
        }) : null;
        fill(entry, kvTable([
          ['Message id', pageLink('trace', s.message_id, s.message_id, { class: 'mono', title: 'its trace' })],
          ['Topic', pageLink('topics', s.topic, s.topic)], ['Queue', fmtNum(s.queue_id)],
          ['Due', `${fmtTime(s.due_ms)} (${fmtRelative(s.due_ms, Date.now())})`, 'sched-due'],
          ['Log offset', fmtNum(s.log_offset)], ['Firing now', yesNo(s.firing)],
        ], 'sched-entry'), cancelButton, status.el);
      } catch (err) {
        if (alive(gen)) fill(entry, errorBox(err));
      }
    };
    form.addEventListener('submit', e => { e.preventDefault(); lookup(); });
    if (id.value) lookup();
    await every(POLL_MS, refresh);
  };

  // ---- transactions ----

  ROUTES.transactions = async (root, route, gen) => {
    const state = select('txn-state', [['pending', 'pending'], ['committed', 'committed'], ['rolled_back', 'rolled back'], ['all', 'all']],
                         route.params.get('state') || 'pending');
    const parked = input('txn-parked', { type: 'checkbox', checked: route.params.get('parked') === '1' });
    const tiles = {
      pending: tile('Pending', 'txn-pending'), committed: tile('Committed', 'txn-committed'),
      rolled: tile('Rolled back', 'txn-rolled-back'), parked: tile('Parked', 'txn-parked-count'),
      checks: tile('Checks sent', 'txn-checks'),
    };
    const list = h('div');
    const more = h('div');
    const status = statusLine('txn-result');
    add(root, h('h1', null, 'Transactions'),
      h('div', { class: 'tiles' }, Object.values(tiles).map(t => t.el)),
      h('div', { class: 'toolbar' }, field('State', state), h('label', { class: 'check' }, parked, 'parked only'),
        button('Refresh', { id: 'txn-refresh', class: 'secondary' }, () => load())),
      writable() ? null : readOnlyNote(), section(null, status.el, list, more));
    let shown = [];

    const resolve = async (t, action) => {
      if (!confirm(`${action === 'commit' ? 'Commit' : 'Roll back'} transaction ${t.message_id} on ${t.topic}?`)) return;
      try {
        const r = await api('POST', `transactions/${enc(t.message_id)}/${action}`, {});
        status.ok(r.already_done ? `${t.message_id} was already resolved.` : `${t.message_id}: ${action === 'commit' ? 'committed' : 'rolled back'}.`);
      } catch (err) { status.fail(err); }
      load();
    };

    const load = async (after) => {
      const params = { state: state.value, parked: parked.checked ? 1 : undefined };
      setParams('transactions', params);
      if (after === undefined) shown = [];
      try {
        const r = await api('GET', 'transactions' + query({ ...params, after, limit: TXN_PAGE }));
        if (!alive(gen)) return;
        fill(tiles.pending.value, fmtNum(r.pending));
        fill(tiles.committed.value, fmtNum(r.committed));
        fill(tiles.rolled.value, fmtNum(r.rolled_back));
        fill(tiles.parked.value, fmtNum(r.parked));
        fill(tiles.checks.value, fmtNum(r.checks_sent));
        shown = shown.concat(r.transactions);
        const now = Date.now();
        fill(list, shown.length ? table(
          [['Message id'], ['Topic'], ['Producer group'], ['State'], ['Queue', 'num'], ['Half offset', 'num'],
           ['Half stored'], ['Checks', 'num'], ['Next check'], ['Ended'], ['Reason'], ['Parked'], writable() ? [''] : null].filter(Boolean),
          shown.map(t => h('tr', { test: 'txn-row', dataset: { id: t.message_id, state: t.state } },
            mono(t.message_id), td(t.topic), td(t.producer_group || '—'), td(t.state), num(t.queue_id),
            num(t.half_offset), when(t.half_store_ms), num(t.checks),
            td(t.state === 'pending' && t.next_check_ms ? fmtRelative(t.next_check_ms, now) : '—'),
            when(t.end_ms), td(t.state === 'pending' ? '—' : t.end_reason), td(yesNo(t.parked)),
            writable() ? td(t.state === 'pending' ? [
              button('Commit', { class: 'small', test: 'txn-commit' }, () => resolve(t, 'commit')), ' ',
              button('Roll back', { class: 'small danger', test: 'txn-rollback' }, () => resolve(t, 'rollback'))] : '') : null)),
          'transactions') : empty(`No ${state.value === 'all' ? '' : state.options[state.selectedIndex].text + ' '}transactions.`, 'txn-empty'));
        fill(more, r.truncated && r.transactions.length
          ? button('Load more', { id: 'txn-more', class: 'secondary' },
                   () => load(r.transactions[r.transactions.length - 1].half_offset)) : null);
      } catch (err) {
        if (alive(gen)) fill(list, errorBox(err));
      }
    };
    state.addEventListener('change', () => load());
    parked.addEventListener('change', () => load());
    await load();
  };

  // ---- cluster ----

  ROUTES.cluster = async (root, route, gen) => {
    const view = h('div', { test: 'cluster' });
    add(root, h('h1', null, 'Cluster'), view);
    await every(POLL_MS, async () => {
      try {
        const c = await api('GET', 'cluster');
        if (!alive(gen)) return;
        fill(view, renderCluster(c));
      } catch (err) {
        if (alive(gen)) fill(view, errorBox(err));
      }
    });
  };

  // The order fields are shown in (any others follow, as they come).
  const CLUSTER_FIELDS = ['role', 'group', 'self', 'master', 'master_address', 'epoch', 'in_sync', 'min_in_sync',
                          'min_copies', 'following', 'connected', 'master_log_end', 'note', 'last_failover_ms',
                          'previous_master'];
  const MEMBER_FIELDS = ['broker_id', 'role', 'address', 'grpc_address', 'in_sync', 'connected', 'log_end', 'flushed',
                         'lag_bytes', 'lag_ms', 'epoch', 'updated_ms'];
  function ordered(obj, first) {
    const keys = Object.keys(obj);
    return [...first.filter(k => keys.includes(k)), ...keys.filter(k => !first.includes(k))].map(k => [k, obj[k]]);
  }
  function capitalize(s) { return s.charAt(0).toUpperCase() + s.slice(1); }

  // The cluster status's shape differs between etcd groups, static groups and a broker alone:
  // scalars go in a key/value table, lists of objects (members) in tables of their own.
  function renderCluster(c) {
    const out = [];
    if (c.role === 'standalone') {
      out.push(h('p', { class: 'note', test: 'cluster-standalone' },
        'This broker runs alone: it belongs to no broker group and replicates to no one.'));
    }
    if (c.cluster && Array.isArray(c.cluster.groups)) out.push(clusterGroups(c.cluster));
    const scalars = [];
    const lists = [];
    for (const [k, v] of ordered(c, CLUSTER_FIELDS)) {
      if (k === 'epochs' && Array.isArray(v)) continue;  // the failover history, below
      if (k === 'cluster') continue;  // the groups, above
      if (Array.isArray(v) && v.length && v.every(x => x && typeof x === 'object')) lists.push([k, v]);
      else scalars.push([humanize(k), fmtValue(k, v)]);
    }
    out.push(section('Status', kvTable(scalars, 'cluster-summary')));
    for (const [k, rows] of lists) {
      const cols = ordered(Object.fromEntries(rows.flatMap(r => Object.keys(r)).map(col => [col, 1])), MEMBER_FIELDS)
        .map(([col]) => col);
      const inSync = new Set(Array.isArray(c.in_sync) ? c.in_sync : []);
      out.push(section(capitalize(humanize(k)), table(cols.map(col => [humanize(col)]), rows.map(r => {
        const tr = h('tr', { test: `cluster-${k}-row` }, cols.map(col => td(fmtValue(col, r[col]))));
        if (r.broker_id !== undefined && r.broker_id === c.master) tr.classList.add('master');
        if (r.broker_id !== undefined && c.in_sync && !inSync.has(r.broker_id)) tr.classList.add('behind');
        return tr;
      }), `cluster-${k}`)));
    }
    if (Array.isArray(c.epochs)) out.push(failoverHistory(c));
    return out;
  }

  // Every broker group of the cluster (from this broker's routes, fed by etcd).
  function clusterGroups(cl) {
    return section('Broker groups',
      table([['Group'], ['State'], ['Master'], ['Master address'], ['Members', 'num'], ['Queues', 'num'],
             ['Epoch', 'num']],
        cl.groups.map(g => {
          const tr = h('tr', { test: 'cluster-group-row', dataset: { group: g.group } },
            td(g.group), td(g.state), td(g.master || 'none'), td(g.master_address || '-'),
            num(g.members), num(g.queues), num(g.epoch));
          if (!g.master) tr.classList.add('behind');
          return tr;
        }), 'cluster-groups'),
      hint(`${cl.topics} topic(s) over ${cl.groups.length} group(s); routes at etcd revision ${cl.revision}. ` +
           'Each group\'s own console shows its members and failovers.'));
  }

  // Where each epoch began in this broker's log: a new epoch starts at each failover.
  function failoverHistory(c) {
    const epochs = [...c.epochs].sort((a, b) => a.epoch - b.epoch);
    const current = typeof c.epoch === 'number' ? c.epoch : epochs.length ? epochs[epochs.length - 1].epoch : undefined;
    const self = Array.isArray(c.members) ? c.members.find(m => m && m.broker_id === c.self) : null;
    const logEnd = self && typeof self.log_end === 'number' ? self.log_end : undefined;
    return section('Failover history',
      epochs.length ? table([['Epoch', 'num'], ['Starts at log offset', 'num'], ['Log written in it', 'num'], ['']],
        epochs.map((e, i) => {
          const next = epochs[i + 1];
          const tr = h('tr', { test: 'cluster-epoch-row', dataset: { epoch: e.epoch } },
            num(e.epoch), num(e.start_offset),
            td(next ? fmtBytes(next.start_offset - e.start_offset)
              : logEnd >= e.start_offset ? `${fmtBytes(logEnd - e.start_offset)} so far` : 'up to the log end', 'num'),
            td(e.epoch === current ? 'current' : ''));
          if (e.epoch === current) tr.classList.add('master');
          return tr;
        }), 'cluster-epochs')
        : empty('No epoch is recorded: this broker has not been part of a broker group.', 'cluster-epochs-empty'),
      hint('Each failover starts a new epoch; this is where each began in this broker\'s log.'));
  }

  // ---- start ----

  window.addEventListener('hashchange', navigate);
  (async () => {
    try {
      const s = await api('GET', 'session');
      session.role = s.role;
      session.csrf = s.csrf;
      showFrame();
    } catch (err) {
      showLogin(err.status === 401 ? '' : errText(err));
    }
  })();
})();
