// Follows one session's events with the graphql-ws client (graphql-transport-ws),
// printing each event as a JSON line, until a message with content "done" arrives.
//
//   node subscribe.mjs ws://localhost:8080/query <sessionId> [bearer-token]
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, sessionId, token] = process.argv.slice(2);
if (!url || !sessionId) {
  console.error('usage: node subscribe.mjs <ws-url> <sessionId> [bearer-token]');
  process.exit(2);
}

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: token ? { Authorization: `Bearer ${token}` } : {},
});

const query = `subscription ($id: ID!) {
  sessionEvents(sessionId: $id) {
    __typename
    sessionId
    occurredAt
    ... on MessageAddedEvent { message { id content isAgent } }
    ... on SessionRenewedEvent { sessionStatus { expiresAt renewalCount wasRenewed } }
    ... on SessionNearExpirationEvent { expiresAt }
    ... on SessionExpiredEvent { expiresAt }
  }
}`;

try {
  await new Promise((resolve, reject) => {
    const unsubscribe = client.subscribe(
      { query, variables: { id: sessionId } },
      {
        next: ({ data, errors }) => {
          if (errors) {
            reject(new Error(JSON.stringify(errors)));
            return;
          }
          const event = data.sessionEvents;
          console.log(JSON.stringify(event));
          if (event.__typename === 'MessageAddedEvent' && event.message.content === 'done') {
            unsubscribe();
            resolve();
          }
        },
        error: reject,
        complete: resolve,
      },
    );
  });
} catch (err) {
  console.error(String(err));
  process.exitCode = 1;
} finally {
  await client.dispose();
}
