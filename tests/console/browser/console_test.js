// The web console (console/web/) in a real browser: Debian's Chromium driven by puppeteer-core,
// against a real broker that run_console_test.sh started. Each step acts the way an operator
// would (log in, read the pages, fill the forms) while the CLI produces and consumes, and checks
// what the page shows against what happened. Prints `PASS console` and exits 0, or
// `FAIL console (while: <step>)` with the mismatch and exits 1. Saves a PNG of every page.
//
// Environment (set by run_console_test.sh): TIDEMQ_CONSOLE_URL, TIDEMQ_ADDR, TIDEMQ_CLI,
// TIDEMQ_TOKEN_FILE, TIDEMQ_SCREENSHOT_DIR, TIDEMQ_BROWSER_PROFILE, TIDEMQ_BROWSER_PID_FILE,
// CHROMIUM; UPDATE_DOCS_SCREENSHOTS=1 also writes the PNGs to docs/console/.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { execFile } = require('node:child_process');
const puppeteer = require('puppeteer-core');

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run this through run_console_test.sh`);
  return v;
}

const URL_ = env('TIDEMQ_CONSOLE_URL');
const ADDR = env('TIDEMQ_ADDR');
const CLI = env('TIDEMQ_CLI');
const SHOTS = env('TIDEMQ_SCREENSHOT_DIR');
const DOCS = process.env.UPDATE_DOCS_SCREENSHOTS === '1'
  ? path.resolve(__dirname, '../../../docs/console') : null;
const TOKENS = Object.fromEntries(fs.readFileSync(env('TIDEMQ_TOKEN_FILE'), 'utf8').trim().split('\n')
  .map(line => line.trim().split(/\s+/)));
const WAIT_MS = 15000;

let page = null;
let stepName = 'start';
const shots = [];
const consoleErrors = [];

// ---- helpers ----

function check(cond, message) {
  if (!cond) throw new Error(message);
}

function cli(...args) {
  return new Promise((resolve, reject) => {
    execFile(CLI, ['--addr', ADDR, ...args], { timeout: 20000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`tidemq ${args.join(' ')} failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

// Receives with the CLI as group `group`; the messages received.
async function consume(topic, group, ...args) {
  const out = await cli('consume', topic, '--group', group, '--json', ...args);
  return out.split('\n').filter(Boolean).map(line => JSON.parse(line));
}

// The JSON API with the admin token (to check what the pages say against the broker).
async function api(pathAndQuery) {
  const res = await fetch(URL_ + 'api/v1/' + pathAndQuery, { headers: { Authorization: `Bearer ${TOKENS.admin}` } });
  return { status: res.status, body: await res.json() };
}

const sleep = ms => new Promise(r => setTimeout(r, ms));
const testStart = Date.now();

async function poll(what, fn, timeoutMs = WAIT_MS) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function step(name, fn) {
  stepName = name;
  const t0 = Date.now();
  await fn();
  console.log(`ok   ${name} (${Date.now() - t0} ms)`);
}

async function shot(name) {
  if (!name.startsWith('failed-')) {
    // What a rendering slip prints; no page of this test has it as data.
    const slip = await page.evaluate(() => (document.body.innerText.match(/\b(null|undefined|NaN)\b|\[object Object\]/) || [])[0]);
    check(!slip, `the ${name} page shows "${slip}"`);
  }
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  if (DOCS && !name.startsWith('failed-')) {
    fs.mkdirSync(DOCS, { recursive: true });
    fs.copyFileSync(file, path.join(DOCS, `${name}.png`));
  }
  shots.push(file);
}

async function go(hash, pageName) {
  await page.evaluate(h => { location.hash = h; }, hash);
  await page.waitForSelector(`main#page[data-page="${pageName}"]`, { timeout: WAIT_MS });
}

async function textOf(selector) {
  return page.$eval(selector, e => e.textContent).catch(() => null);
}

// Waits until `selector`'s text matches `re`.
async function waitText(selector, re, timeoutMs = WAIT_MS) {
  try {
    await page.waitForFunction((sel, source, flags) => {
      const e = document.querySelector(sel);
      return e && !e.closest('[hidden]') && new RegExp(source, flags).test(e.textContent);
    }, { timeout: timeoutMs, polling: 100 }, selector, re.source, re.flags);
  } catch (e) {
    throw new Error(`${selector} never showed ${re} (it shows: ${JSON.stringify(await textOf(selector))})`);
  }
  return textOf(selector);
}

async function waitGone(selector, timeoutMs = WAIT_MS) {
  await page.waitForFunction(sel => !document.querySelector(sel), { timeout: timeoutMs, polling: 100 }, selector);
}

async function setField(selector, value) {
  // Cleared as a user would, so the page hears it even when nothing is typed after.
  await page.$eval(selector, e => { e.value = ''; e.dispatchEvent(new Event('input', { bubbles: true })); });
  if (value) await page.type(selector, value);
}

async function count(selector) {
  return page.$$eval(selector, els => els.length);
}

async function login(token) {
  await page.waitForSelector('#login-token', { timeout: WAIT_MS });
  await setField('#login-token', token);
  await page.click('#login-submit');
}

// ---- the test ----

async function run(browser) {
  page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 860 });
  page.on('pageerror', err => consoleErrors.push(`page error: ${err.message}`));
  page.on('console', msg => {
    // Refused requests (the login's 401, a 404 the page shows) are logged by the browser too;
    // what must never appear is a policy violation or a script error.
    if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) consoleErrors.push(msg.text());
  });
  const dialogs = [];
  page.on('dialog', async d => { dialogs.push(d.message()); await d.accept(); });

  await step('a wrong token is refused', async () => {
    await page.goto(URL_, { waitUntil: 'load' });
    await login('not-the-token');
    await waitText('#login-error', /wrong token/i);
    check(await count('#whoami') === 0, 'the console opened with a wrong token');
    await shot('login');
  });

  await step('the admin token logs in', async () => {
    await login(TOKENS.admin);
    await waitText('#whoami', /^admin$/);
    await page.waitForSelector('main#page[data-page="overview"]');
    // A change without the CSRF token is refused, even with the session cookie.
    const status = await page.evaluate(async () => (await fetch('/api/v1/topics', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"name":"csrf-less"}',
    })).status);
    check(status === 403, `a POST without X-CSRF-Token answered ${status}, not 403`);
  });

  // Bodies a careless page would run as HTML.
  const hostile = 'hello <b>console</b> <img src=x onerror="window.__xss=1">';
  const sent = [];
  await step('messages sent with the CLI appear on the topics page', async () => {
    sent.push(JSON.parse(await cli('send', 'orders', hostile, '--key', 'order-1', '--tag', 'created', '--json')));
    for (let i = 2; i <= 3; i++) {
      sent.push(JSON.parse(await cli('send', 'orders', `order ${i}`, '--key', `order-${i}`, '--tag', 'created', '--json')));
    }
    await go('#/topics', 'topics');
    await waitText('[data-test="topic-row"][data-name="orders"] td:nth-child(3)', /^3$/);
    await waitText('[data-test="topics-summary"]', /^1 topic\./);
  });

  await step('a topic is created and deleted on the topics page', async () => {
    await setField('#topic-create-name', 'scratch');
    await setField('#topic-create-queues', '2');
    await page.click('#topic-create-submit');
    await waitText('[data-test="topic-create-result"]', /Created topic scratch with 2 queues/);
    await page.waitForSelector('[data-test="topic-row"][data-name="scratch"]');
    await setField('#topic-filter', 'scr');
    await waitText('[data-test="topics-summary"]', /^1 topic starting with/);
    check(await count('[data-test="topic-row"][data-name="orders"]') === 0, 'the prefix filter kept "orders"');
    await setField('#topic-filter', '');
    await waitText('[data-test="topics-summary"]', /^2 topics\./);
    await shot('topics');
    await page.click('[data-test="topic-row"][data-name="scratch"] [data-test="topic-delete"]');
    await waitGone('[data-test="topic-row"][data-name="scratch"]');
    check(dialogs.some(d => /Delete topic "scratch"/.test(d)), 'no confirmation was asked before deleting');
    check((await api('topics/scratch')).status === 404, 'the topic is still there after the page deleted it');
  });

  let scheduledId = '';
  await step('the topic page lists queues and sends a scheduled test message', async () => {
    await page.click('[data-test="topic-row"][data-name="orders"] a');
    await page.waitForSelector('[data-test="queue-row"]');
    const queues = (await api('topics/orders')).body.queues.length;
    check(await count('[data-test="queue-row"]') === queues, `the page lists ${await count('[data-test="queue-row"]')} queues, the topic has ${queues}`);
    // Due in ten minutes: long after the scheduled page's step, whatever the machine's speed.
    await setField('#send-body', 'sent from the console, due in ten minutes');
    await setField('#send-tag', 'later');
    await setField('#send-keys', 'order-later, audit');
    await setField('#send-delay', '600000');
    await page.click('#send-submit');
    scheduledId = (await waitText('[data-test="sent-id"]', /^[0-9A-Fa-f]{16,}$/)).trim();
    await shot('topic');
  });

  await step('a group created on the groups page shows its lag', async () => {
    await go('#/groups', 'groups');
    await setField('#group-create-name', 'billing');
    await setField('#group-create-max-attempts', '5');
    await setField('#group-create-retry', '1s,5s,30s');
    await page.click('#group-create-submit');
    await waitText('[data-test="group-create-result"]', /Created group billing \(max attempts 5/);
    await waitText('[data-test="group-row"][data-name="billing"] [data-test="group-lag"]', /^0$/);
    // The first receive subscribes the group (from the start of the topic): it takes 1 of 3.
    check((await consume('orders', 'billing', '--count', '1', '--wait', '1000')).length === 1,
          'the CLI did not receive a message');
    await waitText('[data-test="group-row"][data-name="billing"] [data-test="group-lag"]', /^2$/);
    await shot('groups');
  });

  await step('the group page shows the lag falling to 0 as the CLI consumes', async () => {
    await page.click('[data-test="group-row"][data-name="billing"] a');
    await waitText('[data-test="group-total-lag"]', /^2$/);
    await waitText('[data-test="group-retry-policy"]', /1s/);
    await page.waitForSelector('[data-test="group-queue-row"][data-topic="orders"]');
    check((await consume('orders', 'billing', '--count', '2', '--wait', '1000')).length === 2,
          'the CLI did not receive the other 2 messages');
    await waitText('[data-test="group-total-lag"]', /^0$/);  // the page polls: no reload
  });

  await step('the reset-offset form moves the group back and shows each queue moved', async () => {
    await setField('#reset-topic', 'orders');
    await page.$eval('#reset-time', e => { e.value = '2020-01-01T00:00:00'; });
    await page.click('#reset-submit');
    check(/Move group "billing" on topic "orders" to 2020-01-01 00:00:00/.test(dialogs[dialogs.length - 1]),
          `the confirmation did not say what moves where: ${dialogs[dialogs.length - 1]}`);
    await waitText('[data-test="reset-result"]', /^Reset billing on orders to 2020-01-01 00:00:00\.000: \d+ queue positions? moved\.$/);
    check(/\bok\b/.test(await page.$eval('[data-test="reset-result"]', e => e.className)), 'the reset is not shown as done');
    // Every message of "orders" is after 2020: each queue goes back to its first offset, and
    // the 3 messages the group had read are its lag again.
    const queues = (await api('topics/orders')).body.queues;
    await poll('a row per queue moved', async () => await count('[data-test="reset-move-row"]') === queues.length);
    const moves = await page.$$eval('[data-test="reset-move-row"]', rows => rows.map(r =>
      [...r.cells].map(c => c.textContent)));
    for (const [queue, , , , toOffset] of moves) {
      const q = queues.find(x => String(x.queue_id) === queue);
      check(q && toOffset === String(q.min_offset), `queue ${queue} was moved to ${toOffset}, not to its first offset`);
    }
    const back = moves.reduce((n, m) => n + Number(m[2]) - Number(m[4]), 0);
    check(back === 3, `the moves shown take the group back ${back} messages, not 3: ${JSON.stringify(moves)}`);
    await waitText('[data-test="group-total-lag"]', /^3$/);
    await shot('group');
  });

  await step('a message is found by key, shown as text, and its trace opens', async () => {
    await go('#/messages', 'messages');
    await page.select('#msg-mode', 'key');
    await setField('#msg-key', 'order-1');
    await setField('#msg-topic', 'orders');
    await page.click('#msg-search');
    await page.waitForSelector(`[data-test="msg-row"][data-id="${sent[0].message_id}"]`);
    await waitText('[data-test="msg-body"]', /hello/);  // one result: opened by itself
    check(await textOf('[data-test="msg-body"]') === hostile, 'the body is not shown as the text it is');
    check(await count('[data-test="msg-body"] img, [data-test="msg-body"] b') === 0, 'the body was parsed as HTML');
    check(await page.evaluate(() => window.__xss) === undefined, 'a body ran script');
    check(await count('[data-test="msg-truncated"]') === 0, 'a search by key that found everything says it is truncated');
    await shot('messages');
    // The group received and acked it: those events reach the trace within about 100 ms.
    const id = sent[0].message_id;
    await poll('the delivery and the ack in the trace', async () => {
      const kinds = (await api(`trace?id=${id}`)).body.events?.map(e => e.kind) || [];
      return kinds.includes('delivered') && kinds.includes('acked');
    });
    await page.click('[data-test="trace-link"]');
    await page.waitForSelector('main#page[data-page="trace"]');
    await waitText('[data-test="trace-id"]', new RegExp(`^${id}$`));
    let trace;
    let shown = [];
    await poll('the trace rows the API lists', async () => {
      trace = await api(`trace?id=${id}`);
      check(trace.status === 200, `GET /api/v1/trace?id=${id} answered ${trace.status}: ${JSON.stringify(trace.body)}`);
      shown = await page.$$eval('[data-test="trace-row"]', rows => rows.map(r => r.dataset.kind));
      if (JSON.stringify(shown) === JSON.stringify(trace.body.events.map(e => e.kind))) return true;
      await page.click('#trace-refresh');  // an event recorded since the page asked
      await page.waitForSelector('[data-test="trace-summary"], [data-test="error"]');
      return false;
    });
    check(shown[0] === 'sent' && shown.includes('delivered') && shown.includes('acked') &&
          shown.indexOf('delivered') < shown.indexOf('acked'),
          `the trace of a consumed message reads ${shown}`);
    await waitText('[data-test="trace-summary"]', new RegExp(`^${shown.length} events\\.$`));
    check(await count('[data-test="trace-no-consumption"]') === (trace.body.consumption_traced ? 0 : 1),
          `the consumption note does not follow consumption_traced=${trace.body.consumption_traced}`);
    check(await count('[data-test="trace-dropped"]') === (trace.body.events_dropped > 0 ? 1 : 0),
          `the dropped-events note does not follow events_dropped=${trace.body.events_dropped}`);
    await shot('trace');
  });

  await step('messages are found by time range, and a cut answer says so', async () => {
    await go('#/messages', 'messages');
    await page.select('#msg-mode', 'time');
    await setField('#msg-topic', 'orders');
    // From a minute before the test's first send (the datetime field counts local time),
    // to now (the field left empty).
    await page.$eval('#msg-from', (e, ms) => {
      const d = new Date(ms);
      const p = n => String(n).padStart(2, '0');
      e.value = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
    }, testStart - 60000);
    await page.$eval('#msg-to', e => { e.value = ''; });
    await setField('#msg-limit', '2');
    await page.click('#msg-search');
    await waitText('[data-test="msg-summary"]', /^2 messages found in orders stored from /);
    await waitText('[data-test="msg-truncated"]', /^Truncated: more messages matched than the limit of 2/);
    const from = new URLSearchParams(await page.evaluate(() => location.hash.split('?')[1])).get('from');
    check(/^\d{13}$/.test(from || ''), `the address does not keep the search's start: ${await page.evaluate(() => location.hash)}`);
    const cut = await api(`messages?topic=orders&from=${from}&limit=2`);
    check(cut.status === 200 && cut.body.truncated === true && cut.body.messages.length === 2,
          `GET /api/v1/messages by time with limit 2 answered ${cut.status} ${JSON.stringify(cut.body).slice(0, 300)}`);
    await setField('#msg-limit', '32');
    await page.click('#msg-search');
    await waitText('[data-test="msg-summary"]', /^3 messages found in orders stored from /);
    check(await count('[data-test="msg-truncated"]') === 0, 'a time range that found everything says it is truncated');
    const ids = await page.$$eval('[data-test="msg-row"]', rows => rows.map(r => r.dataset.id));
    check(JSON.stringify(ids) === JSON.stringify(sent.map(m => m.message_id)),
          `the time range lists ${ids}, the test sent ${sent.map(m => m.message_id)} (oldest first)`);
    // A range that ends before the first send finds nothing.
    await page.$eval('#msg-to', (e, v) => { e.value = v; }, await page.$eval('#msg-from', e => e.value));
    await page.$eval('#msg-from', e => { e.value = '2020-01-01T00:00:00'; });
    await page.click('#msg-search');
    await waitText('[data-test="msg-summary"]', /^0 messages found in orders stored from 2020-01-01 00:00:00\.000 to /);
  });

  await step('a trace by key lists the trace of each message stored under the key', async () => {
    // Two messages under one key, received by a group of their own (with the 3 others).
    const pair = [];
    for (const body of ['order 7 created', 'order 7 paid']) {
      pair.push(JSON.parse(await cli('send', 'orders', body, '--key', 'order-7', '--tag', 'audit', '--json')).message_id);
    }
    const got = await consume('orders', 'auditors', '--count', '5', '--wait', '2000');
    check(got.length === 5, `the CLI received ${got.length} messages of orders, not 5`);
    let traces;
    await poll('the deliveries and acks of both in the trace by key', async () => {
      const r = await api('trace?topic=orders&key=order-7');
      traces = r.body.traces || [];
      return traces.length === 2 && traces.every(t => t.events.some(e => e.kind === 'acked'));
    });
    check(JSON.stringify(traces.map(t => t.message_id)) === JSON.stringify([...pair].reverse()),
          `the trace by key lists ${traces.map(t => t.message_id)}, not the two sent (newest first)`);
    await go('#/trace', 'trace');
    await page.select('#trace-mode', 'key');
    await setField('#trace-topic', 'orders');
    await setField('#trace-key', 'order-7');
    await page.click('#trace-submit');
    await waitText('[data-test="trace-key-summary"]', /^2 messages stored under this key \(newest first\)\.$/);
    check(await page.evaluate(() => location.hash) === '#/trace?topic=orders&key=order-7',
          `the trace by key is not in the address: ${await page.evaluate(() => location.hash)}`);
    const shown = await page.$$eval('[data-test="trace-message"]', els => els.map(e =>
      [e.dataset.id, [...e.querySelectorAll('[data-test="trace-row"]')].map(r => r.dataset.kind)]));
    const want = traces.map(t => [t.message_id, t.events.map(e => e.kind)]);
    check(JSON.stringify(shown) === JSON.stringify(want), `the page shows ${JSON.stringify(shown)}, the API ${JSON.stringify(want)}`);
    for (const [mid, kinds] of shown) {
      check(kinds[0] === 'sent' && kinds.includes('delivered') && kinds.includes('acked'), `the trace of ${mid} reads ${kinds}`);
    }
    check(await count('[data-test="trace-key-truncated"]') === 0, 'a trace by key of 2 messages says it is truncated');
    await shot('trace-key');
    // Each message's id opens its own trace.
    await page.click(`[data-test="trace-message"][data-id="${pair[0]}"] [data-test="trace-message-id"]`);
    await waitText('[data-test="trace-id"]', new RegExp(`^${pair[0]}$`));
    await page.waitForSelector('[data-test="trace-row"][data-kind="acked"]');
  });

  await step('a binary body larger than the API shows is base64 and marked cut', async () => {
    const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'tidemq-console-body-'));
    const file = path.join(dir, 'body.bin');
    const body = Buffer.alloc(70 << 10);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7 + 3) & 0xff;
    fs.writeFileSync(file, body);
    let id;
    try {
      id = JSON.parse(await cli('send', 'orders', '--file', file, '--key', 'blob-1', '--json')).message_id;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    await go(`#/messages?id=${id}`, 'messages');
    await page.waitForSelector('[data-test="msg-body-truncated"]');
    const shown = await textOf('[data-test="msg-body"]');
    const api64 = (await api(`messages?id=${id}`)).body.messages[0];
    check(api64.body_encoding === 'base64' && shown === api64.body, 'the page does not show the base64 the API gave');
    check(Buffer.from(shown, 'base64').equals(body.subarray(0, 64 << 10)), 'the base64 shown is not the body\'s first 64 KiB');
  });

  await step('the scheduled page lists the pending messages and cancels one from the list', async () => {
    // A second scheduled message, from the CLI: due before the topic page's.
    const later = JSON.parse(await cli('send', 'orders', 'remind me', '--key', 'remind-1', '--delay', '300000', '--json'));
    await go(`#/scheduled?id=${scheduledId}`, 'scheduled');
    await waitText('[data-test="sched-pending"]', /^2$/);
    await waitText('[data-test="sched-due"]', /\(in (\d+m )?\d+s\)$/);
    await waitText('[data-test="sched-list-summary"]', /^1–2 of the pending messages\.$/);
    const listed = await page.$$eval('[data-test="sched-row"]', rows => rows.map(r => r.dataset.id));
    const pending = (await api('scheduled/pending')).body;
    check(JSON.stringify(listed) === JSON.stringify(pending.scheduled.map(e => e.message_id)) &&
          JSON.stringify(listed) === JSON.stringify([later.message_id, scheduledId]),
          `the page lists ${listed}, the API ${pending.scheduled.map(e => e.message_id)} (soonest first: ${later.message_id}, ${scheduledId})`);
    check(pending.truncated === false && await count('#sched-next-page') === 0, 'a list of 2 offers a next page');
    check(await page.$eval(`[data-test="sched-row"][data-id="${later.message_id}"] [data-test="sched-trace-link"]`,
                           a => a.getAttribute('href')) === `#/trace/${later.message_id}`, 'the row does not link to its trace');
    await shot('scheduled');
    await page.click(`[data-test="sched-row"][data-id="${later.message_id}"] [data-test="sched-row-cancel"]`);
    check(dialogs[dialogs.length - 1].includes(later.message_id), 'no confirmation named the message before cancelling');
    await waitText('[data-test="sched-list-result"]', new RegExp(`^${later.message_id}: Cancelled \\(it was due `));
    await waitGone(`[data-test="sched-row"][data-id="${later.message_id}"]`);
    await waitText('[data-test="sched-pending"]', /^1$/);
    check((await api(`scheduled/${later.message_id}`)).status === 404, 'the API still has the cancelled message scheduled');
  });

  await step('a scheduled message is cancelled by id, and its trace shows it never fired', async () => {
    await page.click('#sched-cancel');
    await waitText('[data-test="sched-cancel-result"]', /^Cancelled/);
    await waitText('[data-test="sched-pending"]', /^0$/);
    await waitGone('[data-test="sched-row"]');
    await waitText('[data-test="sched-list-summary"]', /^No message is scheduled\.$/);
    await go(`#/trace/${scheduledId}`, 'trace');
    await page.waitForSelector('[data-test="trace-row"]');
    const kinds = await page.$$eval('[data-test="trace-row"]', rows => rows.map(r => r.dataset.kind));
    const want = (await api(`trace?id=${scheduledId}`)).body.events.map(e => e.kind);
    check(JSON.stringify(kinds) === JSON.stringify(want), `the page shows ${kinds}, the API ${want}`);
    check(JSON.stringify(kinds) === '["scheduled","cancelled"]',
          `the trace of a cancelled scheduled message reads ${kinds}`);
  });

  // A dead letter: the group allows one delivery; its lease is left to lapse, and the next
  // receive finds it lapsed and moves the message to the group's DLQ.
  async function leaseLapses(expectBody) {
    const got = await consume('payments', 'dunning', '--no-ack', '--lease', '1000', '--count', '1', '--wait', '1000');
    check(got.length === 1 && got[0].body === expectBody, `the CLI received ${JSON.stringify(got)}`);
    await sleep(1500);
    await consume('payments', 'dunning', '--count', '1', '--wait', '500');
    return got[0];
  }

  await step('a dead letter is listed and redriven from the DLQ page', async () => {
    await cli('group', 'create', 'dunning', '--max-attempts', '1');
    await cli('send', 'payments', 'card declined', '--key', 'pay-1', '--tag', 'card');
    await leaseLapses('card declined');
    await poll('the dead letter in the API', async () => (await api('dlq/dunning')).body.total === 1);
    await go('#/dlq?group=dunning', 'dlq');
    await page.waitForSelector('[data-test="dlq-row"]');
    await waitText('[data-test="dlq-summary"]', /^1 of 1 dead letters of dunning/);
    await page.click('[data-test="dlq-select"]');
    await waitText('[data-test="dlq-selected"]', /^1 selected$/);
    await shot('dlq');
    await page.click('#dlq-redrive-selected');
    await waitText('[data-test="dlq-result"]', /^Redriven: 1 message\./);
    await page.waitForSelector('[data-test="dlq-empty"]');
    check((await api('dlq/dunning')).body.total === 0, 'the API still lists the dead letter');
  });

  await step('"purge all matching" empties what the filter selects', async () => {
    // The redriven message is back in "payments": the group receives it and fails it again.
    const again = await leaseLapses('card declined');
    check(again.properties.REDRIVEN_FROM_DLQ === 'dunning', `the redriven message reads ${JSON.stringify(again)}`);
    await poll('the second dead letter', async () => (await api('dlq/dunning')).body.total >= 1, 20000);
    await setField('#dlq-tag', 'card');
    await page.click('#dlq-browse');
    await page.waitForSelector('[data-test="dlq-row"]');
    await page.click('#dlq-purge-all');
    check(/matching tag=card/.test(dialogs[dialogs.length - 1]), `the confirmation did not name the filter: ${dialogs[dialogs.length - 1]}`);
    await waitText('[data-test="dlq-result"]', /^Purged: [1-9]/);
    await page.waitForSelector('[data-test="dlq-empty"]');
    check((await api('dlq/dunning')).body.total === 0, 'the API still lists dead letters');
  });

  await step('transactions, cluster and overview pages', async () => {
    await go('#/transactions', 'transactions');
    await page.waitForSelector('[data-test="txn-empty"], [data-test="txn-row"]');
    await waitText('[data-test="txn-pending"]', /^0$/);
    await shot('transactions');
    await go('#/cluster', 'cluster');
    await waitText('[data-test="cluster-summary"]', /standalone/);
    const cluster = (await api('cluster')).body;
    check(Array.isArray(cluster.epochs), `GET /api/v1/cluster has no epochs list: ${JSON.stringify(cluster)}`);
    if (cluster.epochs.length) {
      await poll('a row per epoch', async () => await count('[data-test="cluster-epoch-row"]') === cluster.epochs.length);
      const starts = await page.$$eval('[data-test="cluster-epoch-row"] td:nth-child(2)', tds => tds.map(t => t.textContent));
      const want = [...cluster.epochs].sort((a, b) => a.epoch - b.epoch).map(e => e.start_offset.toLocaleString('en-US'));
      check(JSON.stringify(starts) === JSON.stringify(want), `the failover history shows ${starts}, the API ${want}`);
    } else {
      await page.waitForSelector('[data-test="cluster-epochs-empty"]');
    }
    await shot('cluster');
    await go('#/overview', 'overview');
    await waitText('[data-test="rate-in"]', /^\d+\.\d$/, 10000);  // two samples, 2 s apart
    await waitText('[data-test="counter"][data-name="messages_in"] .value', /^([5-9]|\d\d+)$/);
    await waitText('[data-test="connections"]', /^\d+$/);
    await waitText('[data-test="disk-free"]', /iB$/);
    await waitText('[data-test="read-only"]', /^no$/);
    await shot('overview');
  });

  await step('a read-only login shows no controls that change anything', async () => {
    const pending = JSON.parse(await cli('send', 'orders', 'not for the read-only login', '--delay', '600000', '--json'));
    await page.click('#logout');
    await login(TOKENS.read);
    await waitText('#whoami', /^read-only$/);
    await go('#/topics', 'topics');
    await page.waitForSelector('[data-test="topic-row"][data-name="orders"]');
    await page.waitForSelector('[data-test="read-only-note"]');
    check(await count('#topic-create, [data-test="topic-delete"]') === 0, 'a read-only login can create or delete topics');
    await go('#/dlq?group=dunning', 'dlq');
    await page.waitForSelector('[data-test="dlq-empty"]');
    check(await count('#dlq-redrive-all, #dlq-purge-all, #dlq-redrive-selected') === 0, 'a read-only login can redrive');
    await go('#/groups/billing', 'groups');
    await waitText('[data-test="group-total-lag"]', /^\d+$/);
    check(await count('#reset-form, #group-delete') === 0, 'a read-only login can reset offsets');
    await go(`#/scheduled?id=${pending.message_id}`, 'scheduled');
    await page.waitForSelector(`[data-test="sched-row"][data-id="${pending.message_id}"]`);
    await page.waitForSelector('[data-test="sched-entry"]');
    check(await count('[data-test="sched-row-cancel"], #sched-cancel') === 0, 'a read-only login can cancel scheduled messages');
  });

  check(consoleErrors.length === 0, `the page logged errors:\n  ${consoleErrors.join('\n  ')}`);
}

async function main() {
  const profile = process.env.TIDEMQ_BROWSER_PROFILE;
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    userDataDir: profile,
    // --no-sandbox: the test runs as root in CI, where Chromium's sandbox refuses to start.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run',
           '--no-default-browser-check', '--disable-extensions', '--lang=en-US'],
  });
  if (process.env.TIDEMQ_BROWSER_PID_FILE && browser.process()) {
    fs.writeFileSync(process.env.TIDEMQ_BROWSER_PID_FILE, String(browser.process().pid));
  }
  let failed = null;
  try {
    await run(browser);
  } catch (err) {
    failed = err;
    if (page) await shot(`failed-${stepName.replace(/[^a-z0-9]+/gi, '-')}`).catch(() => {});
  } finally {
    await browser.close().catch(() => {});
  }
  console.log(`screenshots: ${shots.length} in ${SHOTS}${DOCS ? ` (and ${DOCS})` : ''}`);
  for (const f of shots) console.log(`  ${path.basename(f)}`);
  if (failed) {
    console.log(`FAIL console (while: ${stepName})\n${failed.stack || failed}`);
    if (consoleErrors.length) console.log(`page errors:\n  ${consoleErrors.join('\n  ')}`);
    process.exit(1);
  }
  console.log('PASS console');
}

main().catch(err => {
  console.log(`FAIL console (while: ${stepName})\n${err.stack || err}`);
  process.exit(1);
});
