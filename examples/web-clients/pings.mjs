// Counts the keep-alive pings a graphql-ws client (graphql-transport-ws)
// receives while it holds one idle subscription, and prints {"pings": n}.
//
//   node pings.mjs ws://localhost:8080/query <sessionId> <seconds>
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, sessionId, seconds] = process.argv.slice(2);
let pings = 0;
let pongs = 0;
const client = createClient({
  url,
  webSocketImpl: WebSocket,
  on: {
    ping: (received) => { if (received) pings++; },
    pong: (received) => { if (!received) pongs++; },
  },
});
const query = 'subscription ($id: ID!) { sessionEvents(sessionId: $id) { __typename } }';
let failure = null;
const unsubscribe = client.subscribe(
  { query, variables: { id: sessionId } },
  { next: () => {}, error: (err) => { failure = err; }, complete: () => {} },
);
await new Promise((resolve) => setTimeout(resolve, Number(seconds) * 1000));
unsubscribe();
await client.dispose();
if (failure) {
  console.error(String(failure instanceof Error ? failure : JSON.stringify(failure)));
  process.exit(1);
}
console.log(JSON.stringify({ pings, pongs }));
