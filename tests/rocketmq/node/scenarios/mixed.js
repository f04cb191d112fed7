'use strict';
// Both protocols on one broker: a message sent by the Node producer (gRPC) is received by
// `tidemq consume` (native protocol) unchanged, and a message sent by `tidemq send` is received by
// the Node SimpleConsumer unchanged, with the same message id and a body digest the client accepts.
const h = require('../lib/harness');

h.run(async () => {
  const toCli = h.name('node2cli');
  const toNode = h.name('cli2node');
  const group = h.name('gmixed');
  await h.createTopic(toCli);
  await h.createTopic(toNode);
  await h.createGroup(group);

  h.step('Node producer -> tidemq consume');
  const producer = await h.startProducer({ topics: [ toCli ] });
  const fromNode = {
    topic: toCli, body: Buffer.from('sent by node, ü'), tag: 'from-node', keys: [ 'n1', 'n2' ],
    properties: h.mapOf({ side: 'node', n: '1' }),
  };
  const receipt = await producer.send(fromNode);
  const out = await h.cli('consume', toCli, '--group', group, '--json', '--count', '1', '--wait', '5000');
  const lines = out.split('\n').filter(Boolean);
  h.checkEqual(lines.length, 1, 'messages printed by tidemq consume');
  const m = JSON.parse(lines[0]);
  h.checkEqual(m.id, receipt.messageId, 'message id seen by tidemq consume');
  h.checkEqual(m.body, fromNode.body.toString(), 'body seen by tidemq consume');
  h.checkEqual(m.tag, fromNode.tag, 'tag seen by tidemq consume');
  h.checkEqual([ ...m.keys ].sort(), [ ...fromNode.keys ].sort(), 'keys seen by tidemq consume');
  h.checkEqual(Object.entries(m.properties).sort(), [ ...fromNode.properties ].sort(), 'properties seen by tidemq consume');
  h.checkEqual(m.attempt, 1, 'attempt seen by tidemq consume');

  h.step('tidemq send -> Node SimpleConsumer');
  const fromCli = { body: Buffer.from('sent by the tidemq CLI, ü'), tag: 'from-cli', keys: [ 'c1' ], properties: h.mapOf({ side: 'cli' }) };
  const sentLine = await h.cli('send', toNode, fromCli.body.toString(), '--tag', fromCli.tag,
    '--key', 'c1', '--property', 'side=cli');
  const id = /id=(\S+)/.exec(sentLine);
  h.check(id, `no message id in the output of tidemq send: ${sentLine}`);
  const consumer = await h.startSimpleConsumer({
    consumerGroup: group, subscriptions: new Map([[ toNode, '*' ]]), awaitDuration: 2000,
  });
  const got = [];
  await h.receiveFor(consumer, 10000, async view => {
    got.push(view.messageId);
    h.checkEqual(view.messageId, id[1], 'message id seen by the Node consumer');
    h.checkSameMessage(view, fromCli, 'the message sent by tidemq send');
    h.checkEqual(view.topic, toNode, 'topic seen by the Node consumer');
    h.checkEqual(view.deliveryAttempt, 1, 'deliveryAttempt seen by the Node consumer');
    await consumer.ack(view);
  }, { done: () => got.length > 0 });
  h.checkEqual(got.length, 1, 'messages received by the Node consumer');
});
