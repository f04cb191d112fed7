'use strict';
// What every scenario shares: the broker's addresses (from run_scenario.sh), clients built the
// same way, the `tidemq` CLI, bounded receive loops, checks that fail with a clear message, and
// a run() that always closes the clients and exits (0: PASS, 1: FAIL).
//
// Environment: TIDEMQ_GRPC (gRPC endpoint HOST:PORT), TIDEMQ_ADDR (native HOST:PORT, for the
// CLI), TIDEMQ_CLI (path of `tidemq`), TIDEMQ_NODE_LOG=info (also show the client's info log).

const path = require('node:path');
const util = require('node:util');
const { execFile } = require('node:child_process');
const rmq = require('rocketmq-client-nodejs');
// The client exports no protocol enums; TransactionChecker answers with this one.
const { TransactionResolution } = require('rocketmq-client-nodejs/proto/apache/rocketmq/v2/definition_pb');

const scenario = path.basename(require.main.filename, '.js');
const GRPC = process.env.TIDEMQ_GRPC;
const ADDR = process.env.TIDEMQ_ADDR;
const CLI = process.env.TIDEMQ_CLI || 'tidemq';
// run_scenario.sh kills the scenario after 60 s; the watchdog fails it first, with what it was
// doing, and still closes the clients.
const WATCHDOG_MS = Number(process.env.TIDEMQ_NODE_WATCHDOG_MS || 45000);

if (!GRPC || !ADDR) {
  console.error(`${scenario}: set TIDEMQ_GRPC and TIDEMQ_ADDR (tests/rocketmq/node/README.md)`);
  process.exit(2);
}

const t0 = Date.now();
function note(...args) {
  const s = ((Date.now() - t0) / 1000).toFixed(3).padStart(7);
  console.log(`[${s}s] ${util.format(...args)}`);
}

// The client's default logger is an egg-logger writing to $HOME/logs/rocketmq/ (its consume
// services always log there); the clients built here print warnings and errors instead.
const verbose = process.env.TIDEMQ_NODE_LOG === 'info';
const logger = {
  info: (...a) => { if (verbose) note('client info:', util.format(...a)); },
  debug: () => {},
  warn: (...a) => note('client warn:', util.format(...a)),
  error: (...a) => note('client error:', util.format(...a)),
};

// Names unique per run, so a scenario may also run against a broker that has seen it before.
const runId = Date.now().toString(36);
const name = base => `${base}-${runId}`;

class CheckFailed extends Error {}
function check(cond, ...msg) {
  if (!cond) throw new CheckFailed(util.format(...msg));
}
function checkEqual(actual, expected, what) {
  const a = util.inspect(actual, { depth: 4 });
  const e = util.inspect(expected, { depth: 4 });
  if (a !== e) throw new CheckFailed(`${what}: got ${a}, expected ${e}`);
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

// `tidemq --addr $TIDEMQ_ADDR ARGS...`: its standard output, or an error with its output.
function cli(...args) {
  return new Promise((resolve, reject) => {
    execFile(CLI, [ '--addr', ADDR, ...args ], { timeout: 20000 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`tidemq ${args.join(' ')} failed (${err.code ?? err.signal}): ${stderr}${stdout}`));
      } else {
        resolve(stdout);
      }
    });
  });
}
async function createTopic(topic, ...flags) {
  await cli('topic', 'create', topic, ...flags);
}
async function createGroup(group, ...flags) {
  await cli('group', 'create', group, ...flags);
}
// The group's dead letters (`tidemq dlq list GROUP --json`): [{ message_id, attempts, ... }].
async function deadLetters(group) {
  return JSON.parse(await cli('dlq', 'list', group, '--json')).messages;
}

// Every client built here is shut down by run(), whatever happens.
const clients = new Set();
function track(client) {
  clients.add(client);
  return client;
}
const base = () => ({ endpoints: GRPC, namespace: '', sslEnabled: false, logger });
async function startProducer(options = {}) {
  const p = track(new rmq.Producer({ ...base(), ...options }));
  await p.startup();
  return p;
}
// options: consumerGroup, subscriptions (Map topic -> tag expression), awaitDuration (ms).
async function startSimpleConsumer(options) {
  const c = track(new rmq.SimpleConsumer({ ...base(), ...options }));
  await c.startup();
  return c;
}
// options: consumerGroup, subscriptions, messageListener ({ consume(view) -> ConsumeResult }).
async function startPushConsumer(options) {
  const c = track(new rmq.PushConsumer({ ...base(), ...options }));
  await c.startup();
  return c;
}
async function shutdown(client, boundMs = 5000) {
  clients.delete(client);
  // A PushConsumer waits for its long polls (up to the server's long-polling timeout); the
  // bound keeps a scenario's end short, the exit in run() ends what is left.
  let timer;
  const bound = new Promise(resolve => { timer = setTimeout(() => resolve('timeout'), boundMs); });
  try {
    const r = await Promise.race([ client.shutdown().then(() => 'ok'), bound ]);
    if (r === 'timeout') note(`${client.constructor.name}.shutdown() still running after ${boundMs} ms; leaving it`);
  } catch (e) {
    note(`${client.constructor.name}.shutdown() failed: ${e.message}`);
  } finally {
    clearTimeout(timer);
  }
}

// Receives with `consumer` until done() is true or `ms` pass (one receive may overrun by the
// consumer's awaitDuration); onMessage(view, receivedAtMs) sees every message.
async function receiveFor(consumer, ms, onMessage, { done = () => false, max = 16, invisibleMs = 15000 } = {}) {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) {
    const views = await consumer.receive(max, invisibleMs);
    const at = Date.now();
    for (const v of views) await onMessage(v, at);
  }
}

// Polls `probe` (async, returns a truthy value when satisfied) every `everyMs` for `ms`.
async function eventually(what, ms, probe, everyMs = 250) {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await probe();
    if (r) return r;
    if (Date.now() >= deadline) throw new CheckFailed(`${what}: not within ${ms} ms`);
    await sleep(everyMs);
  }
}

const mapOf = obj => new Map(Object.entries(obj));
const sortedEntries = m => [ ...m.entries() ].sort(([ a ], [ b ]) => (a < b ? -1 : a > b ? 1 : 0));

// What a sent message must look like when received: body, tag, keys, properties.
function checkSameMessage(view, sent, what) {
  checkEqual(view.body.toString('utf8'), sent.body.toString('utf8'), `${what}: body`);
  checkEqual(view.tag, sent.tag, `${what}: tag`);
  checkEqual([ ...view.keys ].sort(), [ ...(sent.keys || []) ].sort(), `${what}: keys`);
  checkEqual(sortedEntries(view.properties), sortedEntries(sent.properties || new Map()), `${what}: properties`);
  check(view.corrupted !== true, `${what}: the client found the body digest wrong (corrupted)`);
}

// What the scenario is doing, named in its FAIL line: step() also prints it, doing() does not.
let phase = 'starting';
function doing(what) {
  phase = what;
}
function step(what) {
  doing(what);
  note(what);
}

async function closeAll() {
  await Promise.all([ ...clients ].map(c => shutdown(c)));
}

// Runs the scenario body, closes every client, prints PASS / FAIL and exits.
function run(body) {
  const watchdog = setTimeout(async () => {
    console.error(`FAIL ${scenario}: still running after ${WATCHDOG_MS} ms, while: ${phase}`);
    await closeAll();
    process.exit(1);
  }, WATCHDOG_MS);
  // An error thrown inside the client (e.g. by its handling of the server's settings) ends the
  // scenario at once rather than leaving it waiting for the watchdog.
  const fatal = kind => err => {
    console.error(`FAIL ${scenario}: ${kind} (in the client?) while: ${phase}\n${err && err.stack || err}`);
    process.exit(1);
  };
  process.on('uncaughtException', fatal('uncaught exception'));
  process.on('unhandledRejection', fatal('unhandled rejection'));
  (async () => {
    let failure;
    try {
      await body();
    } catch (e) {
      failure = e;
    }
    clearTimeout(watchdog);
    await closeAll();
    if (failure) {
      const detail = failure instanceof CheckFailed ? failure.message : failure.stack || String(failure);
      console.error(`FAIL ${scenario} (while: ${phase}): ${detail}`);
      process.exit(1);
    }
    console.log(`PASS ${scenario} (${Date.now() - t0} ms)`);
    process.exit(0);
  })();
}

module.exports = {
  rmq, TransactionResolution, ConsumeResult: rmq.ConsumeResult,
  GRPC, ADDR, CLI, scenario, name, note, step, doing, check, checkEqual, checkSameMessage, sleep, cli,
  createTopic, createGroup, deadLetters, startProducer, startSimpleConsumer, startPushConsumer,
  shutdown, receiveFor, eventually, mapOf, run,
};
