'use strict';
// FIFO messages of 3 message groups, sent interleaved (A0 B0 C0 A1 B1 C1 ...); a PushConsumer of
// a FIFO consumer group sees each message group's messages once, in send order, and never a
// message of a group while the previous one of that group is still being consumed.
const h = require('../lib/harness');

const GROUPS = [ 'A', 'B', 'C' ];
const PER_GROUP = 10;

h.run(async () => {
  const topic = h.name('fifo');
  const group = h.name('gfifo');
  await h.createTopic(topic);
  await h.createGroup(group, '--fifo');

  h.step(`send ${PER_GROUP} messages to each of the message groups ${GROUPS}, interleaved`);
  const producer = await h.startProducer({ topics: [ topic ] });
  const expected = new Map(GROUPS.map(g => [ `mg-${g}`, [] ]));
  for (let i = 0; i < PER_GROUP; i++) {
    for (const g of GROUPS) {
      const body = `${g}-${i}`;
      h.doing(`send ${body}`);
      await producer.send({ topic, body: Buffer.from(body), tag: 'fifo', keys: [ body ], messageGroup: `mg-${g}` });
      expected.get(`mg-${g}`).push(body);
    }
  }
  await h.shutdown(producer);

  h.step('consume them with a PushConsumer of the FIFO group');
  const seen = new Map(GROUPS.map(g => [ `mg-${g}`, [] ]));
  const busy = new Map(); // message group -> body being consumed
  const problems = [];
  let total = 0;
  await h.startPushConsumer({
    consumerGroup: group,
    subscriptions: new Map([[ topic, '*' ]]),
    messageListener: {
      async consume(view) {
        const body = view.body.toString();
        const mg = view.messageGroup;
        if (!seen.has(mg)) {
          problems.push(`${body}: unexpected message group ${JSON.stringify(mg)}`);
          return h.ConsumeResult.SUCCESS;
        }
        if (busy.has(mg)) problems.push(`${body} handed to the listener while ${busy.get(mg)} was still being consumed`);
        if (view.deliveryAttempt !== 1) problems.push(`${body}: deliveryAttempt ${view.deliveryAttempt}, expected 1`);
        busy.set(mg, body);
        seen.get(mg).push(body);
        total++;
        // Consumption takes a while, so messages handed over too early would overlap.
        await h.sleep(5 + Math.floor(Math.random() * 15));
        busy.delete(mg);
        return h.ConsumeResult.SUCCESS;
      },
    },
  });
  await h.eventually(`all ${GROUPS.length * PER_GROUP} messages consumed`, 30000,
    () => total >= GROUPS.length * PER_GROUP || problems.length > 0);
  await h.sleep(1500); // a duplicate or a late redelivery would show up now
  h.checkEqual(problems, [], 'FIFO problems');
  for (const [ mg, bodies ] of expected) h.checkEqual(seen.get(mg), bodies, `order of message group ${mg}`);
});
