// urql (@urql/core) against sessionhub: a query over HTTP, and a
// subscription over Server-Sent Events through urql's own fetch transport
// (fetchSubscriptions), printing each event as a JSON line until a message
// with content "done" arrives.
//
//   node urql.mjs http://localhost:8080/query <sessionId>
import { Client, fetchExchange, gql } from '@urql/core';

// Unsubscribing aborts the stream's fetch; Node reports the abort of the
// body being read as an unhandled rejection, which is no error here.
process.on('unhandledRejection', (err) => {
  if (err && err.name === 'AbortError') return;
  console.error(String(err));
  process.exit(1);
});

const [url, sessionId] = process.argv.slice(2);
const client = new Client({ url, exchanges: [fetchExchange], fetchSubscriptions: true, requestPolicy: 'network-only' });

const q = await client.query(gql`query ($id: ID!) { session(id: $id) { id state } }`, { id: sessionId }).toPromise();
if (q.error) {
  console.error(String(q.error));
  process.exit(1);
}
console.log(JSON.stringify({ query: q.data.session }));

await new Promise((resolve, reject) => {
  const { unsubscribe } = client
    .subscription(gql`subscription ($id: ID!) { sessionEvents(sessionId: $id) { __typename ... on MessageAddedEvent { message { content } } } }`, { id: sessionId })
    .subscribe((result) => {
      if (result.error) {
        reject(result.error);
        return;
      }
      const event = result.data.sessionEvents;
      console.log(JSON.stringify(event));
      if (event.__typename === 'MessageAddedEvent' && event.message.content === 'done') {
        unsubscribe();
        resolve();
      }
    });
}).catch((err) => {
  console.error(String(err));
  process.exitCode = 1;
});
