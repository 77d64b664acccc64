// Apollo Client 4 against sessionhub: a document error over HttpLink (Apollo
// asks for application/graphql-response+json, so it gets a 400 it reads as
// GraphQL errors), and two queries over BatchHttpLink (batches are refused).
// Prints one JSON object describing what Apollo reported.
//
//   node apollo.mjs http://localhost:8080/query
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { BatchHttpLink } from '@apollo/client/link/batch-http';
import { CombinedGraphQLErrors, ServerError } from '@apollo/client/errors';

const [url] = process.argv.slice(2);
const describe = (err) => {
  if (CombinedGraphQLErrors.is(err)) {
    return { kind: 'CombinedGraphQLErrors', errors: err.errors };
  }
  if (ServerError.is(err)) {
    return { kind: 'ServerError', statusCode: err.statusCode, bodyText: err.bodyText };
  }
  return { kind: 'other', message: String(err) };
};

const http = new ApolloClient({ link: new HttpLink({ uri: url }), cache: new InMemoryCache() });
const result = {};
try {
  await http.query({ query: gql`query Broken { __typename nope }` });
  result.documentError = { kind: 'none' };
} catch (err) {
  result.documentError = describe(err);
}
const ok = await http.query({ query: gql`query Fine { __typename }` });
result.query = ok.data;

const batched = new ApolloClient({
  link: ApolloLink.from([new BatchHttpLink({ uri: url, batchMax: 5, batchInterval: 20 })]),
  cache: new InMemoryCache(),
});
const runs = await Promise.allSettled([
  batched.query({ query: gql`query A($id: ID!) { session(id: $id) { id } }`, variables: { id: 'secret-variable-value' } }),
  batched.query({ query: gql`query B($id: ID!) { session(id: $id) { id } }`, variables: { id: "another-secret-value" } }),
]);
result.batch = runs.map((r) => (r.status === 'fulfilled' ? { kind: 'data', data: r.value.data } : describe(r.reason)));
console.log(JSON.stringify(result));
