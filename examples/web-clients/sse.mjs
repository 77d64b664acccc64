// Follows one session's events with the graphql-sse client (Server-Sent
// Events, distinct-connections mode), printing each event as a JSON line,
// until a message with content "done" arrives or the server completes.
//
//   node sse.mjs http://localhost:8080/query <sessionId> [bearer-token]
import { createClient } from 'graphql-sse';

const [url, sessionId, token] = process.argv.slice(2);
if (!url || !sessionId) {
  console.error('usage: node sse.mjs <url> <sessionId> [bearer-token]');
  process.exit(2);
}
const client = createClient({
  url,
  headers: token ? { Authorization: `Bearer ${token}` } : {},
});
const query = `subscription ($id: ID!) {
  sessionEvents(sessionId: $id) {
    __typename
    sessionId
    ... on MessageAddedEvent { message { id content isAgent } }
  }
}`;
try {
  await new Promise((resolve, reject) => {
    const unsubscribe = client.subscribe(
      { query, variables: { id: sessionId } },
      {
        next: ({ data, errors }) => {
          if (errors) {
            console.log(JSON.stringify({ errors }));
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
        complete: () => { console.log(JSON.stringify({ complete: true })); resolve(); },
      },
    );
  });
} catch (err) {
  console.error(String(err instanceof Error ? err : JSON.stringify(err)));
  process.exitCode = 1;
} finally {
  client.dispose();
}
