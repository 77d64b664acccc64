// Drives urql + Graphcache through src/urql.ts against a running server
// (development build: NODE_ENV unset, so Graphcache prints its warnings):
//
//   node build/src/urql-check.js http://localhost:8080/query
//
// The Go test TestUrqlGraphcache runs it against the real binary and reads
// the JSON summary it prints last; any failed check exits non-zero. It checks
// that the keys need no guessing (no warning), that relayPagination merges
// the pages of Session.messages, that a send selecting `session { … }`
// updates the cached Session, and that events update it too.

import { gql } from '@urql/core';
import { WebSocket } from 'ws';

import { createSessionHubUrqlClient } from './urql.js';

const warnings: string[] = [];
for (const level of ['warn', 'error'] as const) {
  console[level] = (...args: unknown[]) => {
    warnings.push(`${level}: ${args.map(String).join(' ')}`);
  };
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) {
    throw new Error(message);
  }
}

const CREATE = gql`mutation UrqlCreate { createAgent(input: { name: "urql" }) { id } }`;
const OPEN = gql`mutation UrqlOpen($agentId: ID!, $userId: ID!) {
  createSession(input: { agentId: $agentId, userId: $userId }) { id renewalCount expiresAt timeoutConfig { timeoutMinutes } }
}`;
const SESSION = gql`query UrqlSession($id: ID!) { session(id: $id) { id renewalCount expiresAt } }`;
const SEND = gql`mutation UrqlSend($id: ID!, $content: String!) {
  sendSessionMessage(sessionId: $id, input: { content: $content }) {
    id content sessionStatus { expiresAt renewalCount wasRenewed isNearExpiration }
    session { id renewalCount expiresAt }
  }
}`;
const HISTORY = gql`query UrqlHistory($id: ID!, $after: String) {
  session(id: $id) {
    id
    messages(first: 4, after: $after) {
      edges { cursor node { id content sessionStatus { renewalCount wasRenewed } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;
const EVENTS = gql`subscription UrqlEvents($id: ID!) {
  sessionEvents(sessionId: $id) {
    __typename
    session { id renewalCount expiresAt }
    ... on MessageAddedEvent { message { id content } }
    ... on SessionRenewedEvent { sessionStatus { renewalCount } }
  }
}`;

type History = {
  session: {
    messages: { edges: { node: { id: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
  };
};

async function main(url: string): Promise<void> {
  const client = createSessionHubUrqlClient({ url, ws: { webSocketImpl: WebSocket } });
  const created = await client.mutation(CREATE, {}).toPromise();
  check(!created.error, `createAgent: ${created.error?.message}`);
  const agentId: string = created.data.createAgent.id;
  const opened = await client.mutation(OPEN, { agentId, userId: crypto.randomUUID() }).toPromise();
  check(!opened.error, `createSession: ${opened.error?.message}`);
  const id: string = opened.data.createSession.id;

  // A send's session { … } updates the cached Session.
  await client.query(SESSION, { id }).toPromise();
  const sent: string[] = [];
  for (let i = 1; i <= 10; i++) {
    const r = await client.mutation(SEND, { id, content: `message ${i}` }).toPromise();
    check(!r.error, `send: ${r.error?.message}`);
    sent.push(r.data.sendSessionMessage.id);
  }
  const cached = await client.query(SESSION, { id }, { requestPolicy: 'cache-only' }).toPromise();
  const sendUpdatedSession = cached.data?.session?.renewalCount === 10;
  check(sendUpdatedSession, `cached Session after 10 sends: ${JSON.stringify(cached.data)}`);

  // relayPagination: three pages of 4 merge into one list of 10.
  let after: string | null = null;
  let pages = 0;
  let merged: History | undefined;
  do {
    const r = await client.query<History>(HISTORY, { id, after }, { requestPolicy: 'network-only' }).toPromise();
    check(!r.error && r.data !== undefined, `history: ${r.error?.message}`);
    merged = r.data;
    after = r.data.session.messages.pageInfo.endCursor;
    pages++;
    check(pages <= 5, 'paging does not end');
  } while (merged.session.messages.pageInfo.hasNextPage);
  const ids = merged.session.messages.edges.map((e) => e.node.id);
  check(JSON.stringify(ids) === JSON.stringify([...sent].reverse()), `merged history ${ids.length} messages, want the 10 sent, newest first`);

  // Events carry the session: the cached Session follows a renewal.
  const events: string[] = [];
  let wake: () => void = () => {};
  const { unsubscribe } = client.subscription(EVENTS, { id }).subscribe((r) => {
    if (r.data) events.push(r.data.sessionEvents.__typename);
    wake();
  });
  const waitFor = async (ok: () => boolean, seconds: number) => {
    const deadline = Date.now() + seconds * 1000;
    while (!ok() && Date.now() < deadline) {
      await new Promise<void>((resolve) => { wake = resolve; setTimeout(resolve, 250); });
    }
    return ok();
  };
  // The server registers the subscription asynchronously: renew by
  // heartbeat until a renewal is heard.
  const HEARTBEAT = gql`mutation UrqlHeartbeat($id: ID!) { sessionHeartbeat(sessionId: $id) { id } }`;
  for (let probe = 0; !events.includes('SessionRenewedEvent'); probe++) {
    check(probe < 40, `no renewal event heard; events: ${events.join(', ')}`);
    await client.mutation(HEARTBEAT, { id }).toPromise();
    await waitFor(() => events.includes('SessionRenewedEvent'), 1);
  }
  const after1 = await client.query(SESSION, { id }, { requestPolicy: 'cache-only' }).toPromise();
  const renewals = after1.data?.session?.renewalCount as number;
  check(renewals > 10, `cached renewalCount ${renewals} after the renewal event, want more than 10`);
  unsubscribe();

  console.log(JSON.stringify({ warnings, sendUpdatedSession, paged: ids.length, pages, events }));
}

main(process.argv[2] ?? 'http://localhost:8080/query').then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`urql-check: ${err instanceof Error ? err.stack ?? err.message : String(err)}\nwarnings: ${JSON.stringify(warnings)}\n`);
    process.exit(1);
  },
);
