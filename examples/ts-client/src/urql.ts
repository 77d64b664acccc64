// urql + Graphcache set-up for sessionhub: the same normalized cache as
// src/apollo.ts, in Graphcache's terms.
//
//   - keys: objects without an id are embedded in their parent (key null):
//     connections, edges, page info, timeout configs, statuses, attachments,
//     and the events themselves (their `session` and `message` are
//     normalized by id).
//   - schema (generated, src/graphcache-schema.ts: the minified
//     introspection) makes fragment matching on Node and SessionEvent exact,
//     when writing results too. (possibleTypes alone is not enough: without a
//     schema Graphcache writes every fragment of a SessionEvent selection and
//     warns about the fields the other event types lack.)
//   - relayPagination merges the pages of Session.messages and
//     Query.sessions into one list (mergeMode 'after' is the default:
//     `first`/`after` pages, toward older messages, are appended).

import { Client, fetchExchange, subscriptionExchange, type ExecutionResult } from '@urql/core';
import { cacheExchange } from '@urql/exchange-graphcache';
import { relayPagination } from '@urql/exchange-graphcache/extras';
import { createClient, type ClientOptions } from 'graphql-ws';

import schema from './graphcache-schema.js';

const embedded = () => null;

/** The Graphcache exchange configured for sessionhub's schema. */
export function sessionHubGraphcache() {
  return cacheExchange({
    schema,
    keys: {
      SessionConnection: embedded,
      SessionEdge: embedded,
      MessageConnection: embedded,
      MessageEdge: embedded,
      PageInfo: embedded,
      TimeoutConfig: embedded,
      SessionDefaults: embedded,
      SessionStatus: embedded,
      Attachment: embedded,
      MessageAddedEvent: embedded,
      SessionRenewedEvent: embedded,
      SessionNearExpirationEvent: embedded,
      SessionExpiredEvent: embedded,
      SessionDeletedEvent: embedded,
    },
    resolvers: {
      Query: { sessions: relayPagination() },
      Session: { messages: relayPagination() },
    },
  });
}

export type SessionHubUrqlOptions = {
  /** The server's GraphQL endpoint, e.g. http://localhost:8080/query. */
  url: string;
  /** Headers for every HTTP request (e.g. Authorization). */
  headers?: Record<string, string>;
  /** graphql-ws client options (see src/apollo.ts); Node 20 needs webSocketImpl. */
  ws?: Partial<ClientOptions>;
};

/** An urql client for sessionhub: HTTP for queries and mutations, WebSocket for subscriptions. */
export function createSessionHubUrqlClient(options: SessionHubUrqlOptions): Client {
  const ws = createClient({ url: options.url.replace(/^http/, 'ws'), ...options.ws });
  return new Client({
    url: options.url,
    fetchOptions: { headers: options.headers ?? {} },
    exchanges: [
      sessionHubGraphcache(),
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({
            unsubscribe: ws.subscribe(
              { ...request, query: request.query ?? '' },
              {
                next: (result) => sink.next(result as ExecutionResult),
                error: (error) => sink.error(error),
                complete: () => sink.complete(),
              },
            ),
          }),
        }),
      }),
      fetchExchange,
    ],
  });
}
