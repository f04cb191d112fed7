'use strict';
// Delay messages: one with deliveryTimestamp = now + 2 s, one with delay = 3000 ms. A
// SimpleConsumer long-polling meanwhile receives each, not before its delivery timestamp. The
// lateness is printed, not asserted: the test machines are shared and noisy (timing figures
// belong in bench/, not in tests).
const h = require('../lib/harness');

h.run(async () => {
  const topic = h.name('delay');
  const group = h.name('gdelay');
  await h.createTopic(topic);
  await h.createGroup(group);

  h.step('start a SimpleConsumer and a producer');
  // Started first, so the receives below are already long-polling when the messages fall due.
  const consumer = await h.startSimpleConsumer({
    consumerGroup: group, subscriptions: new Map([[ topic, '*' ]]), awaitDuration: 5000,
  });
  const producer = await h.startProducer({ topics: [ topic ] });

  h.step('send a message due in 2 s (deliveryTimestamp) and one due in 3 s (delay)');
  const dueAt = new Date(Date.now() + 2000);
  const a = { topic, body: Buffer.from('due at a timestamp'), tag: 'delay', keys: [ 'a' ], deliveryTimestamp: dueAt };
  const ra = await producer.send(a);
  const beforeB = Date.now();
  const b = { topic, body: Buffer.from('due after a delay'), tag: 'delay', keys: [ 'b' ], delay: 3000 };
  const rb = await producer.send(b);
  const afterB = Date.now();
  const sent = new Map([[ ra.messageId, a ], [ rb.messageId, b ]]);
  h.check(Date.now() < dueAt.getTime(), 'sending took so long the first message is already due');

  h.step('receive them');
  const lateness = new Map();
  await h.receiveFor(consumer, 10000, async (view, at) => {
    const what = `message ${view.messageId}`;
    h.check(sent.has(view.messageId), `${what}: not one of the messages sent`);
    h.check(!lateness.has(view.messageId), `${what}: received twice`);
    h.checkSameMessage(view, sent.get(view.messageId), what);
    h.check(view.deliveryTimestamp instanceof Date, `${what}: no deliveryTimestamp`);
    const due = view.deliveryTimestamp.getTime();
    if (view.messageId === ra.messageId) {
      h.checkEqual(due, dueAt.getTime(), `${what}: deliveryTimestamp`);
    } else {
      h.check(due >= beforeB + 3000 && due <= afterB + 3000,
        `${what}: deliveryTimestamp ${view.deliveryTimestamp.toISOString()} is not the send time + 3000 ms`);
    }
    const late = at - due;
    h.note(`${view.keys[0]}: received ${late} ms after its delivery timestamp`);
    lateness.set(view.messageId, late);
    await consumer.ack(view);
  }, { done: () => lateness.size === sent.size });
  h.checkEqual(lateness.size, sent.size, 'delay messages received');
  for (const [ id, late ] of lateness) {
    h.check(late >= 0, `message ${id} was delivered ${-late} ms before its delivery timestamp`);
  }
});
