'use strict';
// A FIFO group (3 attempts) and a PushConsumer whose listener always fails one message: the client
// retries it locally (deliveryAttempt 1, 2, 3, the maximum it learns from the server's settings),
// then forwards it to the dead-letter queue (ForwardMessageToDeadLetterQueue); the messages after
// it in its message group are consumed next, in order; another message group is unaffected; the
// DLQ holds the failed message (`tidemq dlq list`). The group's back-off is exponential: the only
// kind the Node client reads from the server's settings (with another it keeps no retry policy and
// forwards a failed FIFO message at once).
const h = require('../lib/harness');

h.run(async () => {
  const topic = h.name('fifodlq');
  const group = h.name('gfifodlq');
  await h.createTopic(topic);
  await h.createGroup(group, '--fifo', '--max-attempts', '3', '--retry-backoff', 'exponential:1s,1,1s');

  h.step('send a message group with a poison message in it, and another message group');
  const producer = await h.startProducer({ topics: [ topic ] });
  const sends = [[ 'mg', 'm0' ], [ 'other', 'o0' ], [ 'mg', 'poison' ], [ 'mg', 'm2' ], [ 'other', 'o1' ], [ 'mg', 'm3' ]];
  const ids = new Map();
  for (const [ mg, body ] of sends) {
    const r = await producer.send({ topic, body: Buffer.from(body), tag: 'fifo', keys: [ body ], messageGroup: mg });
    ids.set(body, r.messageId);
  }
  await h.shutdown(producer);

  h.step('consume with a listener that fails the poison message');
  const seen = new Map([[ 'mg', [] ], [ 'other', [] ]]); // message group -> ["body@attempt", ...]
  const strangers = [];
  await h.startPushConsumer({
    consumerGroup: group,
    subscriptions: new Map([[ topic, '*' ]]),
    messageListener: {
      consume(view) {
        const body = view.body.toString();
        if (!seen.has(view.messageGroup) || ids.get(body) !== view.messageId) {
          strangers.push(`${body} (${view.messageGroup}, ${view.messageId})`);
          return h.ConsumeResult.SUCCESS;
        }
        seen.get(view.messageGroup).push(`${body}@${view.deliveryAttempt}`);
        return body === 'poison' ? h.ConsumeResult.FAILURE : h.ConsumeResult.SUCCESS;
      },
    },
  });

  h.step('wait for the message group to get past the poison message, and for the DLQ');
  await h.eventually('m3 consumed and the poison message in the DLQ', 30000, async () => {
    if (!seen.get('mg').some(s => s.startsWith('m3@')) || seen.get('other').length < 2) return false;
    return (await h.deadLetters(group)).some(l => l.message_id === ids.get('poison'));
  }, 500);
  await h.sleep(2000); // a redelivery or a duplicate would show up now

  h.checkEqual(strangers, [], 'messages not sent by this scenario');
  h.checkEqual(seen.get('mg'), [ 'm0@1', 'poison@1', 'poison@2', 'poison@3', 'm2@1', 'm3@1' ],
    'deliveries of message group mg (body@deliveryAttempt)');
  h.checkEqual(seen.get('other'), [ 'o0@1', 'o1@1' ], 'deliveries of message group other');
  const dead = await h.deadLetters(group);
  h.checkEqual(dead.map(l => l.message_id), [ ids.get('poison') ], 'message ids in the DLQ');
  h.checkEqual(dead[0].original_topic, topic, 'original topic of the dead letter');
  h.checkEqual(dead[0].message_group, 'mg', 'message group of the dead letter');
});
