'use strict';
// Transactions ended by the producer: one committed, one rolled back. The committed message is
// received (once, unchanged); the rolled-back one never, watched for 4 s after the first was
// received; the broker never asks the checker about either.
const h = require('../lib/harness');

h.run(async () => {
  const topic = h.name('txn');
  const group = h.name('gtxn');
  await h.createTopic(topic);
  await h.createGroup(group);

  h.step('start a transactional producer and a SimpleConsumer');
  const checks = [];
  const producer = await h.startProducer({
    topics: [ topic ],
    checker: {
      async check(view) {
        checks.push(view.messageId);
        return h.TransactionResolution.ROLLBACK;
      },
    },
  });
  const consumer = await h.startSimpleConsumer({
    consumerGroup: group, subscriptions: new Map([[ topic, '*' ]]), awaitDuration: 2000,
  });

  h.step('commit a transaction');
  const committed = { topic, body: Buffer.from('committed'), tag: 'txn', keys: [ 'commit' ], properties: h.mapOf({ outcome: 'commit' }) };
  const tx1 = producer.beginTransaction();
  const r1 = await producer.send(committed, tx1);
  h.check(r1.transactionId, 'the send receipt of a transactional message carries no transaction id');
  await tx1.commit();

  h.step('roll back another');
  const rolledBack = { topic, body: Buffer.from('rolled back'), tag: 'txn', keys: [ 'rollback' ], properties: h.mapOf({ outcome: 'rollback' }) };
  const tx2 = producer.beginTransaction();
  const r2 = await producer.send(rolledBack, tx2);
  h.check(r2.transactionId, 'the send receipt of a transactional message carries no transaction id');
  h.check(r1.messageId !== r2.messageId, 'both transactional messages have id %s', r1.messageId);
  await tx2.rollback();

  h.step('receive: the committed message only');
  const got = new Map();
  let firstAt = 0;
  await h.receiveFor(consumer, 15000, async (view, at) => {
    h.check(view.messageId !== r2.messageId, 'the rolled-back message was delivered');
    h.check(view.messageId === r1.messageId, `message ${view.messageId}: not one of the messages sent`);
    h.check(!got.has(view.messageId), 'the committed message was delivered twice');
    h.checkSameMessage(view, committed, 'the committed message');
    h.checkEqual(view.deliveryAttempt, 1, 'deliveryAttempt of the committed message');
    got.set(view.messageId, view);
    firstAt = firstAt || at;
    await consumer.ack(view);
  }, { done: () => firstAt > 0 && Date.now() - firstAt >= 4000, max: 4 });
  h.check(got.has(r1.messageId), 'the committed message was not received within 15 s');
  h.checkEqual(checks, [], 'transaction check-backs for transactions the producer ended');
});
