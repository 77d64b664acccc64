// Runs one query with a deferred fragment through Apollo Client 4 (HttpLink
// over fetch, multipart/mixed, the 2022-08-24 defer format that gqlgen
// speaks) and prints, as one JSON object, every result the query observable
// emitted:
//   node defer.mjs <http://host:port/query> <sessionId>
// The Go test TestApolloDefer runs it against the real binary.

import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { Defer20220824Handler } from '@apollo/client/incremental';

const [uri, sessionId] = process.argv.slice(2);
if (!sessionId) {
  console.error('usage: node defer.mjs <http://host:port/query> <sessionId>');
  process.exit(2);
}

const client = new ApolloClient({
  link: new HttpLink({ uri }),
  cache: new InMemoryCache(),
  incrementalHandler: new Defer20220824Handler(),
});

const query = gql`
  query DeferredMessages($id: ID!) {
    session(id: $id) {
      id
      state
      ... @defer(label: "messages") {
        messages(first: 10) {
          edges {
            node {
              id
              content
            }
          }
        }
      }
    }
  }
`;

const emitted = [];
const timer = setTimeout(() => {
  console.log(JSON.stringify({ emitted, timedOut: true }));
  process.exit(1);
}, 20000);

const subscription = client.watchQuery({ query, variables: { id: sessionId }, fetchPolicy: 'network-only' }).subscribe({
  next(result) {
    emitted.push({
      loading: result.loading,
      dataState: result.dataState,
      networkStatus: result.networkStatus,
      data: result.data ?? null,
      error: result.error ? String(result.error) : null,
    });
    if (!result.loading || result.error) {
      clearTimeout(timer);
      subscription.unsubscribe();
      console.log(JSON.stringify({ emitted }));
      client.stop();
    }
  },
  error(error) {
    clearTimeout(timer);
    console.log(JSON.stringify({ emitted, error: String(error) }));
    process.exit(1);
  },
});
