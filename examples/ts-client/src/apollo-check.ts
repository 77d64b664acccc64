// Drives real Apollo Client 4, in development mode (node --conditions=development,
// so it prints its warnings), through src/apollo.ts against a running server:
//
//   node --conditions=development build/src/apollo-check.js http://localhost:8080/query
//
// The Go test TestApolloClientCache runs it against the real binary. It
// counts every console warning and error Apollo prints, and checks that
//   1. a send selecting `session { … }` updates the cached Session;
//   2. paging through 120 messages with relayStylePagination sees each once;
//   3. a history read keeps each message's cached sessionStatus;
//   4. all five event types arrive over graphql-ws and update the cache.
// Expiry needs the server's clock: the script prints `EXPIRE <sessionId>` and
// waits for a line on stdin, meanwhile the Go test moves the session's
// expiresAt two seconds ahead in the database. The last line printed is a
// JSON summary; any failed check exits non-zero.

import { createInterface } from 'node:readline';

import { gql, type ApolloClient } from '@apollo/client';
import { loadDevMessages, loadErrorMessages } from '@apollo/client/dev';
import { __DEV__ } from '@apollo/client/utilities/environment';
import { WebSocket } from 'ws';

import { createSessionHubApolloClient, sessionHubCache } from './apollo.js';

const warnings: string[] = [];
for (const level of ['warn', 'error'] as const) {
  console[level] = (...args: unknown[]) => {
    warnings.push(`${level}: ${args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ')}`);
  };
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) {
    throw new Error(message);
  }
}

type Status = { expiresAt: string; renewalCount: number; wasRenewed: boolean; isNearExpiration: boolean };
type CachedSession = { id: string; expiresAt: string; renewalCount: number; state: string };

const STATUS = 'sessionStatus { expiresAt renewalCount wasRenewed isNearExpiration }';
const SESSION = 'id state expiresAt renewalCount lastActivity';

const CREATE_AGENT = gql`mutation CreateAgent { createAgent(input: { name: "apollo" }) { id name } }`;
const CREATE_SESSION = gql`mutation CreateSession($agentId: ID!, $userId: ID!) {
  createSession(input: { agentId: $agentId, userId: $userId }) { ${SESSION} agent { id name } }
}`;
const SESSION_QUERY = gql`query Session($id: ID!) { session(id: $id) { ${SESSION} } }`;
const SEND = gql`mutation Send($id: ID!, $content: String!) {
  sendSessionMessage(sessionId: $id, input: { content: $content }) {
    id content createdAt ${STATUS}
    session { id renewalCount expiresAt lastActivity }
  }
}`;
const AGENT_SEND = gql`mutation AgentSend($id: ID!, $content: String!) {
  sendAgentMessage(sessionId: $id, input: { content: $content }) { id content ${STATUS} }
}`;
const HISTORY = gql`query History($id: ID!, $first: Int!, $after: String) {
  session(id: $id) {
    id
    messages(first: $first, after: $after) {
      edges { cursor node { id content createdAt ${STATUS} } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;
const HISTORY_WITHOUT_STATUS = gql`query HistoryLite($id: ID!) {
  session(id: $id) { id messages(first: 100) { edges { cursor node { id content } } pageInfo { hasNextPage endCursor } } }
}`;
const MESSAGE_STATUS = gql`fragment MessageStatus on Message { id ${STATUS} }`;
const LIVE_SEND = gql`mutation LiveSend($id: ID!) { sendSessionMessage(sessionId: $id, input: { content: "hello" }) { id ${STATUS} } }`;
const DELETE = gql`mutation Delete($id: ID!) { deleteSession(sessionId: $id) }`;
const EVENTS = gql`subscription Events($id: ID!) {
  sessionEvents(sessionId: $id) {
    __typename sessionId occurredAt
    session { id state expiresAt renewalCount }
    ... on MessageAddedEvent { cursor message { id content isAgent ${STATUS} } }
    ... on SessionRenewedEvent { ${STATUS} }
    ... on SessionNearExpirationEvent { expiresAt }
    ... on SessionExpiredEvent { expiresAt }
  }
}`;

type Event = {
  __typename: string;
  session: CachedSession;
  message?: { content: string };
  sessionStatus?: Status;
};

function cachedSession(client: ApolloClient, id: string): CachedSession {
  const data = client.readQuery<{ session: CachedSession }>({ query: SESSION_QUERY, variables: { id } });
  check(data?.session != null, `Session ${id} is not in the cache`);
  return data.session;
}

function cachedStatus(client: ApolloClient, id: string): Status | null | undefined {
  return client.readFragment<{ sessionStatus: Status | null }>({
    id: client.cache.identify({ __typename: 'Message', id }) ?? '',
    fragment: MESSAGE_STATUS,
  })?.sessionStatus;
}

const sameStatus = (a: Status | null | undefined, b: Status | null | undefined) => JSON.stringify(a) === JSON.stringify(b);

async function main(url: string): Promise<void> {
  check(__DEV__, 'Apollo Client is not in development mode (run node with --conditions=development)');
  loadDevMessages();
  loadErrorMessages();
  // --without-possible-types: the same cache without possibleTypes, to show
  // that the warnings counted here are real (Apollo guesses, and says so).
  const cache = withoutPossibleTypes ? sessionHubCache({ possibleTypes: {} }) : sessionHubCache();
  const client = createSessionHubApolloClient({ url, ws: { webSocketImpl: WebSocket }, cache });
  const stdin = createInterface({ input: process.stdin });
  const lines = stdin[Symbol.asyncIterator]();

  const agent = (await client.mutate<{ createAgent: { id: string } }>({ mutation: CREATE_AGENT })).data!.createAgent;
  const open = async () =>
    (await client.mutate<{ createSession: CachedSession }>({
      mutation: CREATE_SESSION,
      variables: { agentId: agent.id, userId: crypto.randomUUID() },
    })).data!.createSession;

  // 1. A send's result updates the cached Session.
  const session = await open();
  await client.query({ query: SESSION_QUERY, variables: { id: session.id } });
  const before = cachedSession(client, session.id);
  check(before.renewalCount === 0, `new session has renewalCount ${before.renewalCount}`);
  const statuses = new Map<string, Status>();
  const sent: string[] = [];
  const send = async (content: string) => {
    const m = (await client.mutate<{ sendSessionMessage: { id: string; sessionStatus: Status } }>({
      mutation: SEND,
      variables: { id: session.id, content },
    })).data!.sendSessionMessage;
    statuses.set(m.id, m.sessionStatus);
    sent.push(m.id);
    return m;
  };
  const first = await send('message 1');
  const after = cachedSession(client, session.id);
  const sendUpdatedSession =
    after.renewalCount === 1 && after.expiresAt === first.sessionStatus.expiresAt && after.expiresAt >= before.expiresAt;
  check(sendUpdatedSession, `cached Session after the send: ${JSON.stringify(after)}, send status ${JSON.stringify(first.sessionStatus)}`);

  // 2. 120 messages (the last an agent reply), paged 25 at a time.
  for (let i = 2; i < 120; i++) {
    await send(`message ${i}`);
  }
  const reply = (await client.mutate<{ sendAgentMessage: { id: string; sessionStatus: Status } }>({
    mutation: AGENT_SEND,
    variables: { id: session.id, content: 'agent reply' },
  })).data!.sendAgentMessage;
  check(reply.sessionStatus.wasRenewed === false, 'an agent reply renewed the session');
  statuses.set(reply.id, reply.sessionStatus);
  sent.push(reply.id);

  type History = { session: { messages: { edges: { node: { id: string; sessionStatus: Status | null } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } };
  const history = client.watchQuery<History>({ query: HISTORY, variables: { id: session.id, first: 25 } });
  let watching: { unsubscribe: () => void } | undefined;
  let current = await new Promise<History>((resolve, reject) => {
    watching = history.subscribe({
      next: (r) => {
        if (r.dataState === 'complete') resolve(r.data);
      },
      error: reject,
    });
  });
  let pages = 1;
  while (current.session.messages.pageInfo.hasNextPage) {
    const page = await history.fetchMore({ variables: { after: current.session.messages.pageInfo.endCursor } });
    const merged = client.readQuery<History>({ query: HISTORY, variables: { id: session.id, first: 25 } });
    check(merged !== null, `after page ${pages}, the merged history is not in the cache`);
    process.stderr.write(`page ${pages + 1}: ${page.data?.session.messages.edges.length} edges, ${merged.session.messages.edges.length} in the cache\n`);
    current = merged;
    pages++;
    check(pages <= 10, 'paging does not end');
  }
  const edges = current.session.messages.edges;
  const seen = edges.map((e) => e.node.id);
  const unique = new Set(seen);
  check(seen.length === 120 && unique.size === 120, `paged ${seen.length} messages, ${unique.size} distinct, want 120 each once`);
  check(JSON.stringify(seen) === JSON.stringify([...sent].reverse()), 'the paged messages are not the sent ones, newest first');

  // 3. History reads keep each message's sessionStatus in the cache.
  const statusesMatch = () => sent.filter((id) => sameStatus(cachedStatus(client, id), statuses.get(id))).length;
  const statusesAfterPaging = statusesMatch();
  await client.query({ query: HISTORY_WITHOUT_STATUS, variables: { id: session.id }, fetchPolicy: 'network-only' });
  const statusesAfterLiteRead = statusesMatch();
  await client.query({ query: HISTORY, variables: { id: session.id, first: 100 }, fetchPolicy: 'network-only' });
  const statusesAfterReread = statusesMatch();
  check(statusesAfterPaging === 120 && statusesAfterLiteRead === 120 && statusesAfterReread === 120,
    `messages whose cached sessionStatus is the send's: ${statusesAfterPaging} after paging, ${statusesAfterLiteRead} after a read without it, ${statusesAfterReread} after a re-read; want 120`);
  watching?.unsubscribe();

  // 4. Every event type, over graphql-ws, updating the cached Session.
  const live = await open();
  await client.query({ query: SESSION_QUERY, variables: { id: live.id } });
  const events: Event[] = [];
  let wake: (() => void) | undefined;
  let done = false;
  let failure: unknown;
  const subscription = client.subscribe<{ sessionEvents: Event }>({ query: EVENTS, variables: { id: live.id } }).subscribe({
    next: (r) => {
      if (r.data) events.push(r.data.sessionEvents);
      if (r.error) failure = r.error;
      wake?.();
    },
    error: (e) => { failure = e; wake?.(); },
    complete: () => { done = true; wake?.(); },
  });
  const waitFor = async (what: string, ok: () => boolean, seconds = 20) => {
    const deadline = Date.now() + seconds * 1000;
    while (!ok()) {
      check(failure === undefined, `subscription failed: ${String(failure)}`);
      check(Date.now() < deadline, `no ${what} within ${seconds}s; events: ${events.map((e) => e.__typename).join(', ')}`);
      await new Promise<void>((resolve) => { wake = resolve; setTimeout(resolve, 250); });
    }
  };
  const has = (type: string) => () => events.some((e) => e.__typename === type);
  // The server registers the subscription asynchronously: probe with agent
  // messages (they do not renew) until one is heard.
  for (let probe = 0; !has('MessageAddedEvent')(); probe++) {
    check(probe < 40, 'the subscription never started');
    await client.mutate({ mutation: AGENT_SEND, variables: { id: live.id, content: `probe ${probe}` } });
    await waitFor('probe', has('MessageAddedEvent'), 1).catch(() => {});
  }
  const liveSend = (await client.mutate<{ sendSessionMessage: { sessionStatus: Status } }>({
    mutation: LIVE_SEND,
    variables: { id: live.id },
  })).data!.sendSessionMessage;
  await waitFor('the renewal', has('SessionRenewedEvent'));
  const renewal = events.find((e) => e.__typename === 'SessionRenewedEvent')!;
  check(renewal.session.renewalCount === 1 && sameStatus(renewal.sessionStatus, liveSend.sessionStatus),
    `renewal event ${JSON.stringify(renewal)}, send status ${JSON.stringify(liveSend.sessionStatus)}`);
  check(cachedSession(client, live.id).renewalCount === 1, 'the cached Session did not follow the renewal event');

  console.log(`EXPIRE ${live.id}`);
  const go = await lines.next();
  check(!go.done, 'stdin closed before the session was set to expire');
  await waitFor('the near-expiration warning', has('SessionNearExpirationEvent'));
  await waitFor('the expiry', has('SessionExpiredEvent'));
  const expiredState = cachedSession(client, live.id).state;
  check(expiredState === 'EXPIRED', `cached Session state ${expiredState} after the expiry event`);
  await client.mutate({ mutation: DELETE, variables: { id: live.id } });
  await waitFor('the deletion', has('SessionDeletedEvent'));
  await waitFor('the end of the stream', () => done);
  subscription.unsubscribe();
  stdin.close();

  const types = [...new Set(events.map((e) => e.__typename))].sort();
  console.log(JSON.stringify({
    warnings,
    sendUpdatedSession,
    paged: seen.length,
    distinct: unique.size,
    pages,
    statusesKept: statusesAfterReread,
    eventTypes: types,
    events: events.length,
    expiredState,
  }));
}

const withoutPossibleTypes = process.argv.includes('--without-possible-types');
main(process.argv[2] ?? 'http://localhost:8080/query').then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`apollo-check: ${err instanceof Error ? err.stack ?? err.message : String(err)}\nwarnings: ${JSON.stringify(warnings)}\n`);
    process.exit(1);
  },
);
