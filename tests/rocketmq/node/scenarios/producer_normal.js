'use strict';
// 20 normal messages with tags, keys and user properties; a SimpleConsumer ('*') receives each
// once, unchanged (body, tag, keys, properties, message id), first delivery, born time set; after
// the acks a further receive finds nothing.
const h = require('../lib/harness');

const COUNT = 20;

h.run(async () => {
  const topic = h.name('normal');
  const group = h.name('g');
  await h.createTopic(topic);
  await h.createGroup(group);

  h.step('start the producer');
  const producer = await h.startProducer({ topics: [ topic ] });
  const sent = new Map(); // message id -> what was sent
  const before = Date.now();
  for (let i = 0; i < COUNT; i++) {
    const message = {
      topic,
      body: Buffer.from(`normal message ${i} ${'x'.repeat(i * 7)}`),
      tag: i % 2 ? 'odd' : 'even',
      keys: [ `key-${i}`, `order-${i % 3}` ],
      properties: h.mapOf({ index: String(i), origin: 'node', note: `value ${i} with spaces and ü` }),
    };
    h.doing(`send message ${i}`);
    const receipt = await producer.send(message);
    h.check(receipt.messageId, `send ${i}: no message id in the receipt`);
    h.check(!sent.has(receipt.messageId), `send ${i}: message id ${receipt.messageId} given twice`);
    sent.set(receipt.messageId, message);
  }
  h.note(`sent ${COUNT} messages`);

  h.step('receive them with a SimpleConsumer');
  const consumer = await h.startSimpleConsumer({
    consumerGroup: group, subscriptions: new Map([[ topic, '*' ]]), awaitDuration: 2000,
  });
  const received = new Map();
  await h.receiveFor(consumer, 20000, async view => {
    const what = `message ${view.messageId}`;
    h.check(sent.has(view.messageId), `${what}: not one of the messages sent`);
    h.check(!received.has(view.messageId), `${what}: received twice`);
    received.set(view.messageId, view);
    h.checkSameMessage(view, sent.get(view.messageId), what);
    h.checkEqual(view.topic, topic, `${what}: topic`);
    h.checkEqual(view.deliveryAttempt, 1, `${what}: deliveryAttempt`);
    h.check(view.bornTimestamp instanceof Date && view.bornTimestamp.getTime() >= before - 1000 &&
      view.bornTimestamp.getTime() <= Date.now() + 1000, `${what}: bornTimestamp ${view.bornTimestamp} not the send time`);
    h.check(view.receiptHandle, `${what}: no receipt handle`);
    await consumer.ack(view);
  }, { done: () => received.size === COUNT, max: 8, invisibleMs: 20000 });
  h.checkEqual(received.size, COUNT, 'messages received');

  h.step('a further receive finds nothing');
  const again = await consumer.receive(16, 20000);
  h.checkEqual(again.map(v => v.messageId), [], 'messages received after every one was acked');
});
