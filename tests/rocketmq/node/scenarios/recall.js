'use strict';
// Producer.recallMessage: two delay messages due in 5 s; the first is recalled with the recall
// handle of its send receipt. A SimpleConsumer receives the second when due (so it would have seen
// the first) and never the first, up to 7 s after the send.
const h = require('../lib/harness');

h.run(async () => {
  const topic = h.name('recall');
  const group = h.name('grecall');
  await h.createTopic(topic);
  await h.createGroup(group);

  h.step('start a SimpleConsumer and a producer');
  const consumer = await h.startSimpleConsumer({
    consumerGroup: group, subscriptions: new Map([[ topic, '*' ]]), awaitDuration: 2000,
  });
  const producer = await h.startProducer({ topics: [ topic ] });

  h.step('send two messages due in 5 s');
  const sentAt = Date.now();
  const dueAt = new Date(sentAt + 5000);
  const recalled = await producer.send({ topic, body: Buffer.from('recalled'), tag: 'r', keys: [ 'recalled' ], deliveryTimestamp: dueAt });
  const kept = await producer.send({ topic, body: Buffer.from('kept'), tag: 'r', keys: [ 'kept' ], deliveryTimestamp: dueAt });
  h.check(recalled.recallHandle, 'the send receipt of a delay message carries no recall handle');

  h.step('recall the first');
  const receipt = await producer.recallMessage(topic, recalled.recallHandle);
  h.checkEqual(receipt.messageId, recalled.messageId, 'message id of the recall receipt');

  h.step('receive until 7 s after the send');
  const got = [];
  await h.receiveFor(consumer, sentAt + 7000 - Date.now(), async view => {
    got.push(view.messageId);
    h.check(view.messageId !== recalled.messageId,
      `the recalled message was delivered ${Date.now() - dueAt.getTime()} ms after its delivery time`);
    await consumer.ack(view);
  }, { max: 4 });
  h.checkEqual(got, [ kept.messageId ], 'messages received (only the one not recalled)');
});
