'use strict';
// SimpleConsumer leases (the group retries after 1 s):
// - A received with invisibleDuration 2 s and not acked comes back once the lease lapsed, as the
//   same message with deliveryAttempt 2; acked then, it stays away.
// - B received with a 2 s lease, extended to 5 s by changeInvisibleDuration (a new receipt
//   handle): it does not come back when the 2 s lease would have lapsed; acked with the new
//   handle, it does not come back after the 5 s either.
const h = require('../lib/harness');

h.run(async () => {
  const topic = h.name('simple');
  const group = h.name('gsimple');
  await h.createTopic(topic);
  await h.createGroup(group, '--retry-backoff', '1s');

  h.step('start a producer and a SimpleConsumer');
  const producer = await h.startProducer({ topics: [ topic ] });
  const consumer = await h.startSimpleConsumer({
    consumerGroup: group, subscriptions: new Map([[ topic, '*' ]]), awaitDuration: 1000,
  });
  const nothingFor = async (ms, what) => {
    await h.receiveFor(consumer, ms, view => {
      h.check(false, `${what}: received ${view.body} (deliveryAttempt ${view.deliveryAttempt})`);
    });
  };
  const receiveOne = async (body, ms) => {
    let got;
    let at;
    await h.receiveFor(consumer, ms, (view, t) => {
      h.check(!got, `a second message in the same receive: ${view.body}`);
      h.checkEqual(view.body.toString(), body, 'body of the message received');
      got = view;
      at = t;
    }, { done: () => got, max: 1, invisibleMs: 2000 });
    h.check(got, `${body} was not received within ${ms} ms`);
    return { view: got, at };
  };

  h.step('A: receive with a 2 s lease, do not ack');
  const a = { topic, body: Buffer.from('A'), tag: 'lease', keys: [ 'A' ] };
  const ra = await producer.send(a);
  const a1 = await receiveOne('A', 10000);
  h.checkEqual(a1.view.messageId, ra.messageId, 'A: message id');
  h.checkEqual(a1.view.deliveryAttempt, 1, 'A: first deliveryAttempt');

  h.step('A: comes back after the lease');
  const a2 = await receiveOne('A', 15000);
  const after = a2.at - a1.at;
  h.note(`A came back ${after} ms after its first delivery`);
  h.check(after >= 1900, `A came back ${after} ms after its first delivery, inside its 2 s lease`);
  h.checkEqual(a2.view.messageId, ra.messageId, 'A: message id of the redelivery');
  h.checkEqual(a2.view.deliveryAttempt, 2, 'A: deliveryAttempt of the redelivery');
  h.checkSameMessage(a2.view, a, 'A redelivered');
  await consumer.ack(a2.view);

  h.step('B: receive with a 2 s lease, extend it to 5 s');
  const b = { topic, body: Buffer.from('B'), tag: 'lease', keys: [ 'B' ] };
  const rb = await producer.send(b);
  const b1 = await receiveOne('B', 10000);
  h.checkEqual(b1.view.messageId, rb.messageId, 'B: message id');
  const oldHandle = b1.view.receiptHandle;
  await consumer.changeInvisibleDuration(b1.view, 5000);
  const changedAt = Date.now();
  const newHandle = b1.view.receiptHandle; // the client swaps the handle in place
  h.check(newHandle, 'changeInvisibleDuration gave no receipt handle');
  h.check(newHandle !== oldHandle, 'changeInvisibleDuration gave the old receipt handle back');

  h.step('B: stays away past its first lease (and A past its ack)');
  await nothingFor(3500 - (Date.now() - changedAt), 'while B is leased for 5 s');

  h.step('B: ack with the new receipt handle; nothing comes back');
  await consumer.ack(b1.view);
  await nothingFor(7000 - (Date.now() - changedAt), 'after the acks');
});
