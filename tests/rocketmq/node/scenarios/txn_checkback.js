'use strict';
// broker-flags: --txn-check-timeout-ms 1000 --txn-check-backoff-ms 1000
// A transaction left open (the half message sent, never committed): the broker asks the
// producer's TransactionChecker over the Telemetry stream (first check 1 s after the half message,
// per the flags above), the checker answers COMMIT, and the message then reaches a consumer
// exactly once, not before the check.
const h = require('../lib/harness');

h.run(async () => {
  const topic = h.name('txncheck');
  const group = h.name('gtxncheck');
  await h.createTopic(topic);
  await h.createGroup(group);

  h.step('start a transactional producer and a SimpleConsumer');
  const checks = []; // { id, at, view }
  const producer = await h.startProducer({
    topics: [ topic ],
    checker: {
      async check(view) {
        checks.push({ id: view.messageId, at: Date.now(), view });
        h.note(`checker asked about ${view.messageId}: COMMIT`);
        return h.TransactionResolution.COMMIT;
      },
    },
  });
  const consumer = await h.startSimpleConsumer({
    consumerGroup: group, subscriptions: new Map([[ topic, '*' ]]), awaitDuration: 2000,
  });

  h.step('send a transactional message and leave its transaction open');
  const message = { topic, body: Buffer.from('decided by the checker'), tag: 'txn', keys: [ 'open' ], properties: h.mapOf({ k: 'v' }) };
  const tx = producer.beginTransaction();
  const sent = await producer.send(message, tx);
  const sentAt = Date.now();

  h.step('wait for the check-back and the message');
  const got = [];
  await h.receiveFor(consumer, 25000, async (view, at) => {
    h.check(view.messageId === sent.messageId, `message ${view.messageId}: not the one sent`);
    got.push({ view, at });
    await consumer.ack(view);
  }, { done: () => got.length > 0 && Date.now() - got[0].at >= 3000, max: 4 });
  h.check(checks.length > 0, 'the broker never asked the transaction checker (25 s)');
  h.check(got.length > 0, 'the message committed by the checker was not received');
  h.checkEqual(got.length, 1, 'deliveries of the committed message');

  const first = checks[0];
  h.checkEqual(first.id, sent.messageId, 'message id the checker was asked about');
  h.checkSameMessage(first.view, message, 'the message shown to the checker');
  h.checkSameMessage(got[0].view, message, 'the received message');
  h.checkEqual(got[0].view.deliveryAttempt, 1, 'deliveryAttempt');
  h.note(`first check ${first.at - sentAt} ms after the send; received ${got[0].at - first.at} ms after it`);
  h.check(got[0].at >= first.at, 'the message was delivered before the checker committed it');
  h.check(checks.every(c => c.id === sent.messageId), 'the checker was asked about other messages');
});
