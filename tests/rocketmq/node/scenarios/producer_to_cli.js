'use strict';
// The send path alone (no gRPC receive): the Node producer sends a normal, a FIFO and a delay
// message (due in 1.5 s); `tidemq consume` (native protocol) sees the first two at once, with
// their ids, bodies, tags, keys, properties and message group, and the delay message only once due
// (with its due time in DELIVER_AT_MS).
const h = require('../lib/harness');

h.run(async () => {
  const topic = h.name('tocli');
  const group = h.name('gtocli');
  await h.createTopic(topic);
  await h.createGroup(group);
  const consume = async (count, waitMs) => {
    const out = await h.cli('consume', topic, '--group', group, '--json', '--count', String(count), '--wait', String(waitMs));
    return out.split('\n').filter(Boolean).map(line => JSON.parse(line));
  };
  const checkSeen = (m, sent, id, what) => {
    h.checkEqual(m.id, id, `${what}: message id`);
    h.checkEqual(m.body, sent.body.toString(), `${what}: body`);
    h.checkEqual(m.tag, sent.tag, `${what}: tag`);
    h.checkEqual([ ...m.keys ].sort(), [ ...sent.keys ].sort(), `${what}: keys`);
    h.checkEqual(Object.entries(m.properties).sort(), [ ...(sent.properties || []) ].sort(), `${what}: properties`);
    h.checkEqual(m.message_group, sent.messageGroup, `${what}: message group`);
    h.checkEqual(m.attempt, 1, `${what}: attempt`);
  };

  h.step('start the producer');
  const producer = await h.startProducer({ topics: [ topic ] });
  h.step('send a normal, a FIFO and a delay message');
  const normal = { topic, body: Buffer.from('normal, ü'), tag: 'n', keys: [ 'n1', 'n2' ], properties: h.mapOf({ a: '1', b: 'two words' }) };
  const fifo = { topic, body: Buffer.from('fifo'), tag: 'f', keys: [ 'f1' ], messageGroup: 'mg-1' };
  const dueAt = new Date(Date.now() + 1500);
  const delayed = { topic, body: Buffer.from('delayed'), tag: 'd', keys: [ 'd1' ], deliveryTimestamp: dueAt };
  const ids = new Map();
  for (const [ what, m ] of [[ 'normal', normal ], [ 'fifo', fifo ], [ 'delay', delayed ]]) {
    const r = await producer.send(m);
    h.check(r.messageId, `${what}: no message id in the send receipt`);
    ids.set(what, r.messageId);
  }

  h.step('tidemq consume: the normal and the FIFO message');
  const now = await consume(10, 1000);
  h.check(Date.now() < dueAt.getTime(), 'the consume took so long the delay message is due');
  h.checkEqual(now.map(m => m.id).sort(), [ ids.get('normal'), ids.get('fifo') ].sort(), 'ids seen before the delay message is due');
  for (const m of now) {
    if (m.id === ids.get('normal')) checkSeen(m, normal, m.id, 'normal');
    else checkSeen(m, fifo, m.id, 'fifo');
  }

  h.step('tidemq consume: the delay message once due');
  const later = await consume(1, 5000);
  const late = Date.now() - dueAt.getTime();
  h.checkEqual(later.map(m => m.id), [ ids.get('delay') ], 'ids seen once the delay message is due');
  // A delivered scheduled message carries its due time as the property DELIVER_AT_MS (README).
  const delayedAsStored = { ...delayed, properties: h.mapOf({ DELIVER_AT_MS: String(dueAt.getTime()) }) };
  checkSeen(later[0], delayedAsStored, ids.get('delay'), 'delay');
  h.check(late >= 0, `the delay message was consumed ${-late} ms before its delivery time`);
  h.note(`the delay message was consumed ${late} ms after its delivery time`);
});
