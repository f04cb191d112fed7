'use strict';
// A consumer dies holding messages: a child Node process (SimpleConsumer, 3 s leases) receives 5
// messages and is killed with SIGKILL before acking; a second consumer of the same group (which
// retries after 1 s) then receives each of them again, with deliveryAttempt 2, not before the
// child's lease lapsed, and within 15 s.
//
// The same file is the child: consumer_killed.js --child GROUP TOPIC COUNT.
const { spawn } = require('node:child_process');
const readline = require('node:readline');
const h = require('../lib/harness');

const COUNT = 5;
const LEASE_MS = 3000;

function child(group, topic, count) {
  h.run(async () => {
    const consumer = await h.startSimpleConsumer({
      consumerGroup: group, subscriptions: new Map([[ topic, '*' ]]), awaitDuration: 2000,
    });
    const got = [];
    await h.receiveFor(consumer, 20000, (view, at) => { got.push({ id: view.messageId, at }); },
      { done: () => got.length >= count, invisibleMs: LEASE_MS });
    console.log(`RECEIVED ${JSON.stringify(got)}`);
    await h.sleep(30000); // holding the messages, never acking, until killed
  });
}

function parent() {
  h.run(async () => {
    const topic = h.name('killed');
    const group = h.name('gkilled');
    await h.createTopic(topic);
    await h.createGroup(group, '--retry-backoff', '1s');

    h.step(`send ${COUNT} messages`);
    const producer = await h.startProducer({ topics: [ topic ] });
    const sent = new Set();
    for (let i = 0; i < COUNT; i++) {
      sent.add((await producer.send({ topic, body: Buffer.from(`held ${i}`), tag: 'k', keys: [ `k${i}` ] })).messageId);
    }

    h.step('a child process receives them and does not ack');
    const proc = spawn(process.execPath, [ __filename, '--child', group, topic, String(COUNT) ],
      { stdio: [ 'ignore', 'pipe', 'inherit' ] });
    const exited = new Promise(resolve => proc.once('exit', (code, signal) => resolve({ code, signal })));
    const held = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the child did not report its messages within 25 s')), 25000);
      readline.createInterface({ input: proc.stdout }).on('line', line => {
        console.log(`  child: ${line}`);
        if (line.startsWith('RECEIVED ')) {
          clearTimeout(timer);
          resolve(JSON.parse(line.slice('RECEIVED '.length)));
        }
      });
      exited.then(({ code, signal }) => reject(new Error(`the child exited (${code ?? signal}) before reporting`)));
    });
    h.checkEqual(held.map(m => m.id).sort(), [ ...sent ].sort(), 'message ids the child received');

    h.step(`kill the child (pid ${proc.pid}) with SIGKILL`);
    proc.kill('SIGKILL');
    const { signal } = await exited;
    h.checkEqual(signal, 'SIGKILL', 'how the child ended');

    h.step('a second consumer gets them again');
    const heldAt = new Map(held.map(m => [ m.id, m.at ]));
    const consumer = await h.startSimpleConsumer({
      consumerGroup: group, subscriptions: new Map([[ topic, '*' ]]), awaitDuration: 2000,
    });
    const again = new Map();
    await h.receiveFor(consumer, 15000, async (view, at) => {
      const what = `message ${view.messageId}`;
      h.check(sent.has(view.messageId), `${what}: not one of the messages sent`);
      h.check(!again.has(view.messageId), `${what}: received twice by the second consumer`);
      h.checkEqual(view.deliveryAttempt, 2, `${what}: deliveryAttempt`);
      const after = at - heldAt.get(view.messageId);
      h.check(after >= LEASE_MS - 100, `${what}: redelivered ${after} ms after the child got it, inside its ${LEASE_MS} ms lease`);
      again.set(view.messageId, after);
      await consumer.ack(view);
    }, { done: () => again.size === COUNT });
    h.checkEqual(again.size, COUNT, 'messages received again by the second consumer');
    h.note(`redelivered ${Math.min(...again.values())}..${Math.max(...again.values())} ms after the child got them`);
  });
}

if (process.argv[2] === '--child') {
  child(process.argv[3], process.argv[4], Number(process.argv[5]));
} else {
  parent();
}
