// A short tour of the typed client against a running server:
//   npm run codegen && npx tsc --noEmit false --outDir build && node build/src/run.js http://localhost:8080/query
// It prints one JSON line summarising what it saw (the Go test
// TestTSClientTypecheck reads it) and exits non-zero on any surprise.

import { randomUUID } from 'node:crypto';

import { GraphQLRequestError, SessionHubClient } from './client.js';

function check(condition: boolean, message: string): asserts condition {
  if (!condition) {
    throw new Error(message);
  }
}

async function main(url: string, persistedDocuments: boolean): Promise<void> {
  const client = new SessionHubClient({ url, persistedDocuments });

  const agent = await client.createAgent('ts-client', { autoRenew: true });
  check((await client.getAgent(agent.id))?.name === 'ts-client', 'getAgent did not find the new agent');

  const session = await client.createSession(agent.id, randomUUID(), { metadata: { source: 'ts-client' } });
  check(session.state === 'ACTIVE', `new session is ${session.state}`);
  check(session.timeoutConfig.autoRenew, 'the agent default autoRenew was not applied');

  const first = await client.sendMessage(session.id, 'hello');
  const second = await client.sendMessage(session.id, 'again', { idempotencyKey: 'ts-client-again' });
  const retry = await client.sendMessage(session.id, 'again', { idempotencyKey: 'ts-client-again' });
  check(second.renewalCount === first.renewalCount + 1, `renewalCount ${first.renewalCount} then ${second.renewalCount}`);
  check(retry.message.id === second.message.id && retry.renewalCount === second.renewalCount, 'an idempotent retry sent twice');

  const reply = await client.sendAgentMessage(session.id, 'hi there');
  check(reply.isAgent && reply.authorId === agent.id, 'the agent reply is not authored by the agent');

  const read = await client.getSession(session.id, { first: 10 });
  check(read !== null, 'getSession returned null');
  const contents = read.messages.edges.map((edge) => edge.node.content);

  const listed = await client.listSessions({ filter: { agentId: agent.id }, first: 5 });
  const renewed = await client.renewSession(session.id);
  const beat = await client.heartbeat(session.id);
  const updated = await client.updateSessionTimeout(session.id, { timeoutMinutes: 45 });
  check(updated.timeoutConfig.timeoutMinutes === 45, 'updateSessionTimeout did not apply');

  check(await client.deleteSession(session.id), 'deleteSession returned false');
  let afterDelete: string | undefined;
  try {
    await client.sendMessage(session.id, 'too late');
  } catch (error) {
    if (!(error instanceof GraphQLRequestError)) {
      throw error;
    }
    afterDelete = error.code;
  }

  console.log(
    JSON.stringify({
      agentId: agent.id,
      sessionId: session.id,
      renewalCounts: [first.renewalCount, second.renewalCount, renewed.renewalCount, beat.renewalCount],
      wasRenewed: second.wasRenewed,
      messages: contents,
      listed: listed.edges.length,
      afterDelete,
    }),
  );
}

// --persisted sends trusted-document hashes instead of document texts.
const url = process.argv[2];
if (!url) {
  console.error('usage: node build/src/run.js http://host:port/query [--persisted]');
  process.exit(2);
}
main(url, process.argv[3] === '--persisted').catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
