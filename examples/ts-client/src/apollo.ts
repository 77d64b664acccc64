// Apollo Client 4 set-up for sessionhub: a normalized cache that stays
// current on its own.
//
//   - possibleTypes (generated, src/possible-types.ts) lets the cache match
//     fragments on the interfaces Node and SessionEvent exactly; without it
//     Apollo guesses and, in development, warns once per guess.
//   - Session.messages and Query.sessions are Relay connections:
//     relayStylePagination merges the pages fetchMore brings into one list
//     (messages newest first; `first`/`after` pages toward older ones).
//   - Subscription.sessionEvents is not merged: each event replaces the last.
//     Events carry `session` (and MessageAddedEvent its `message`), which the
//     cache normalizes by id, so a renewal or expiry updates every query that
//     shows the session.
//   - Objects without an id (TimeoutConfig, SessionDefaults, SessionStatus,
//     Attachment, PageInfo) belong to their parent: merge: true tells the
//     cache that a new copy completes the old one, so selecting different
//     fields of them in different queries loses nothing and warns about nothing.
//
// A send can then select `session { expiresAt renewalCount }` and the cached
// Session shows the renewal without any hand-written cache update.

import { ApolloClient, HttpLink, InMemoryCache, split, type InMemoryCacheConfig } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { relayStylePagination } from '@apollo/client/utilities';
import { OperationTypeNode } from 'graphql';
import { createClient, type ClientOptions } from 'graphql-ws';

import introspection from './possible-types.js';

/**
 * The InMemoryCache configuration for sessionhub's schema; overrides replace
 * top-level options (e.g. possibleTypes: {} to see what Apollo does without them).
 */
export function sessionHubCache(overrides: Partial<InMemoryCacheConfig> = {}): InMemoryCache {
  return new InMemoryCache({
    possibleTypes: introspection.possibleTypes,
    typePolicies: {
      Query: {
        fields: {
          // One list per filter; first/after and last/before pages merge into it.
          sessions: relayStylePagination(['filter']),
        },
      },
      Session: {
        fields: {
          messages: relayStylePagination(),
        },
      },
      Subscription: {
        fields: {
          sessionEvents: { merge: false },
        },
      },
      TimeoutConfig: { merge: true },
      SessionDefaults: { merge: true },
      SessionStatus: { merge: true },
      Attachment: { merge: true },
      PageInfo: { merge: true },
    },
    ...overrides,
  });
}

export type SessionHubApolloOptions = {
  /** The server's GraphQL endpoint, e.g. http://localhost:8080/query. */
  url: string;
  /** Headers for every HTTP request (e.g. Authorization). */
  headers?: Record<string, string>;
  /**
   * graphql-ws client options for subscriptions (graphql-transport-ws on the
   * same /query endpoint, ws:// or wss://). On Node 20 pass
   * `webSocketImpl` from the `ws` package; browsers and Node 22+ have a
   * global WebSocket. connectionParams carry credentials
   * ({ Authorization: 'Bearer …' } or { 'X-API-KEY': … }).
   */
  ws?: Partial<ClientOptions>;
  /** The cache; sessionHubCache() when omitted. */
  cache?: InMemoryCache;
};

/** An Apollo Client for sessionhub: HTTP for queries and mutations, WebSocket for subscriptions. */
export function createSessionHubApolloClient(options: SessionHubApolloOptions): ApolloClient {
  const http = new HttpLink({ uri: options.url, headers: options.headers ?? {} });
  const ws = new GraphQLWsLink(
    createClient({ url: options.url.replace(/^http/, 'ws'), ...options.ws }),
  );
  const link = split(
    ({ operationType }) => operationType === OperationTypeNode.SUBSCRIPTION,
    ws,
    http,
  );
  return new ApolloClient({ link, cache: options.cache ?? sessionHubCache() });
}
