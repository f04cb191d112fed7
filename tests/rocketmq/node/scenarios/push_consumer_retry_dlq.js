'use strict';
// A PushConsumer whose listener always fails one message (the group allows 3 attempts and retries
// after 1 s; exponential back-off, the only kind the Node client reads from the settings): the
// other messages are consumed once each; the failing one is delivered 3 times (deliveryAttempt 1,
// 2, 3) and then lands in the group's dead-letter queue (`tidemq dlq list`).
const h = require('../lib/harness');

h.run(async () => {
  const topic = h.name('pushretry');
  const group = h.name('gpushretry');
  await h.createTopic(topic);
  await h.createGroup(group, '--max-attempts', '3', '--retry-backoff', 'exponential:1s,1,1s');

  h.step('send 4 good messages and a poison one');
  const producer = await h.startProducer({ topics: [ topic ] });
  const ids = new Map(); // body -> message id
  for (const body of [ 'good-0', 'good-1', 'poison', 'good-2', 'good-3' ]) {
    const r = await producer.send({ topic, body: Buffer.from(body), tag: body === 'poison' ? 'bad' : 'good', keys: [ body ] });
    ids.set(body, r.messageId);
  }
  await h.shutdown(producer);

  h.step('consume with a listener that fails the poison message');
  const deliveries = new Map([ ...ids.keys() ].map(body => [ body, [] ])); // body -> attempts
  const strangers = [];
  await h.startPushConsumer({
    consumerGroup: group,
    subscriptions: new Map([[ topic, '*' ]]),
    messageListener: {
      consume(view) {
        const body = view.body.toString();
        if (!deliveries.has(body) || ids.get(body) !== view.messageId) {
          strangers.push(`${body} (${view.messageId})`);
          return h.ConsumeResult.SUCCESS;
        }
        deliveries.get(body).push(view.deliveryAttempt);
        return body === 'poison' ? h.ConsumeResult.FAILURE : h.ConsumeResult.SUCCESS;
      },
    },
  });

  h.step('wait for the good messages and for the poison one in the DLQ');
  const dead = await h.eventually('the poison message in the DLQ, the good ones consumed', 30000, async () => {
    const goodDone = [ ...deliveries ].every(([ body, attempts ]) => body === 'poison' || attempts.length > 0);
    if (!goodDone) return null;
    const letters = await h.deadLetters(group);
    return letters.some(l => l.message_id === ids.get('poison')) ? letters : null;
  }, 500);
  await h.sleep(2000); // a 4th delivery or a duplicate would show up now

  h.checkEqual(strangers, [], 'messages not sent by this scenario');
  for (const [ body, attempts ] of deliveries) {
    if (body === 'poison') {
      h.checkEqual(attempts, [ 1, 2, 3 ], 'deliveryAttempt of each delivery of the poison message');
    } else {
      h.checkEqual(attempts, [ 1 ], `deliveryAttempt of each delivery of ${body}`);
    }
  }
  h.checkEqual(dead.map(l => l.message_id), [ ids.get('poison') ], 'message ids in the DLQ');
  h.checkEqual(dead[0].original_topic, topic, 'original topic of the dead letter');
  h.checkEqual(dead[0].attempts, 3, 'attempts of the dead letter');
});
