// A small typed sessionhub client: fetch (Node 20's global) plus the
// TypedDocumentNodes that graphql-codegen generates into ./gql/ from
// ../../schema.graphqls and ../operations/*.graphql (`npm run codegen`).
//
// Every result and variables type below comes from the generated code, so
// `tsc --noEmit` fails when an operation, the schema and this file disagree:
// reading a field an operation does not select, passing a variable it does
// not declare, or mistyping a scalar are all type errors.

import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import type { Client as WsClient } from 'graphql-ws';

import {
  CreateAgentDocument,
  CreateSessionDocument,
  DeleteSessionDocument,
  GetAgentDocument,
  GetSessionDocument,
  ListSessionsDocument,
  RenewSessionDocument,
  SendAgentMessageDocument,
  SendSessionMessageDocument,
  SessionEventsDocument,
  SessionHeartbeatDocument,
  UpdateSessionTimeoutDocument,
} from './gql/graphql.js';
import type {
  CreateAgentMutation,
  CreateSessionMutation,
  GetAgentQuery,
  GetSessionQuery,
  GetSessionQueryVariables,
  ListSessionsQuery,
  ListSessionsQueryVariables,
  RenewSessionMutation,
  SendAgentMessageMutation,
  SendSessionMessageInput,
  SendSessionMessageMutation,
  SessionEventsSubscription,
  TimeoutConfigInput,
} from './gql/graphql.js';

export type Agent = CreateAgentMutation['createAgent'];
export type Session = CreateSessionMutation['createSession'];
export type SessionLifetime = RenewSessionMutation['renewSession'];
export type SentMessage = SendSessionMessageMutation['sendSessionMessage'];
export type AgentReply = SendAgentMessageMutation['sendAgentMessage'];
export type SessionEvent = SessionEventsSubscription['sessionEvents'];
/** The metadata scalar: a JSON object (see codegen.ts for the scalar mappings). */
export type JSONObject = Session['metadata'];

/** One entry of a GraphQL response's `errors`; sessionhub sets extensions.code. */
export interface GraphQLErrorEntry {
  message: string;
  path?: ReadonlyArray<string | number>;
  extensions?: { code?: string; [key: string]: unknown };
}

/** A response that carried errors (SESSION_EXPIRED, VALIDATION_ERROR, ...). */
export class GraphQLRequestError extends Error {
  readonly errors: readonly GraphQLErrorEntry[];
  /** extensions.code of the first error, when the server gave one. */
  readonly code: string | undefined;

  constructor(operation: string, errors: readonly GraphQLErrorEntry[]) {
    super(`${operation}: ${errors.map((e) => e.message).join('; ')}`);
    this.name = 'GraphQLRequestError';
    this.errors = errors;
    this.code = errors[0]?.extensions?.code;
  }
}

export interface ClientOptions {
  /** The GraphQL endpoint, e.g. http://localhost:8080/query. */
  url: string;
  /** Extra request headers, e.g. an Authorization or X-API-KEY header. */
  headers?: Record<string, string>;
  /**
   * Send each operation as its trusted-document hash alone
   * (extensions.persistedQuery.sha256Hash, the hash codegen put in
   * __meta__.hash) instead of its text: what a server started with
   * GRAPHQL_TRUSTED_DOCUMENTS_ONLY=true requires.
   */
  persistedDocuments?: boolean;
}

interface GraphQLResponse<TResult> {
  data?: TResult | null;
  errors?: GraphQLErrorEntry[];
}

/** The outcome of a user message: the message and what it did to the session. */
export interface SendResult {
  message: SentMessage;
  /** Whether this message moved expiresAt. */
  wasRenewed: boolean;
  /** The session's renewal count after the send. */
  renewalCount: number;
  expiresAt: string;
  isNearExpiration: boolean;
}

export interface SendOptions {
  metadata?: JSONObject;
  attachments?: SendSessionMessageInput['attachments'];
  /** Makes a retry return the first result instead of sending twice. */
  idempotencyKey?: string;
}

/** The name of an operation document, for error messages. */
function operationName(document: TypedDocumentNode<unknown, never>): string {
  for (const definition of document.definitions) {
    if (definition.kind === 'OperationDefinition' && definition.name) {
      return definition.name.value;
    }
  }
  return 'anonymous operation';
}

/** The trusted-document hash codegen embedded in a document (persistedDocuments). */
function documentHash(document: TypedDocumentNode<unknown, never>): string {
  const hash = (document as { __meta__?: { hash?: unknown } }).__meta__?.hash;
  if (typeof hash !== 'string') {
    throw new Error(`${operationName(document)} has no __meta__.hash: run codegen with persistedDocuments`);
  }
  return hash;
}

export class SessionHubClient {
  readonly #url: string;
  readonly #headers: Record<string, string>;
  readonly #persisted: boolean;

  constructor(options: ClientOptions) {
    this.#url = options.url;
    this.#headers = options.headers ?? {};
    this.#persisted = options.persistedDocuments ?? false;
  }

  /**
   * Runs one query or mutation over HTTP POST. TResult and TVariables come
   * from the document, so `variables` is checked against the operation's
   * variable definitions and the result needs no cast.
   */
  async request<TResult, TVariables extends Record<string, unknown>>(
    document: TypedDocumentNode<TResult, TVariables>,
    variables: TVariables,
  ): Promise<TResult> {
    const name = operationName(document);
    const response = await fetch(this.#url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/graphql-response+json, application/json',
        ...this.#headers,
      },
      body: JSON.stringify(
        this.#persisted
          ? {
              operationName: name,
              variables,
              extensions: { persistedQuery: { version: 1, sha256Hash: documentHash(document) } },
            }
          : { query: print(document), operationName: name, variables },
      ),
    });
    const text = await response.text();
    let body: GraphQLResponse<TResult>;
    try {
      body = JSON.parse(text) as GraphQLResponse<TResult>;
    } catch {
      throw new Error(`${name}: HTTP ${response.status}: ${text.slice(0, 200)}`);
    }
    if (body.errors && body.errors.length > 0) {
      throw new GraphQLRequestError(name, body.errors);
    }
    if (!response.ok || body.data == null) {
      throw new Error(`${name}: HTTP ${response.status} without data`);
    }
    return body.data;
  }

  async createAgent(name: string, sessionDefaults?: TimeoutConfigInput): Promise<Agent> {
    const data = await this.request(CreateAgentDocument, {
      input: sessionDefaults ? { name, sessionDefaults } : { name },
    });
    return data.createAgent;
  }

  /** The agent, or null when no agent has this id. */
  async getAgent(id: string): Promise<GetAgentQuery['agent']> {
    return (await this.request(GetAgentDocument, { id })).agent;
  }

  async createSession(
    agentId: string,
    userId: string,
    options: { metadata?: JSONObject; timeoutConfig?: TimeoutConfigInput } = {},
  ): Promise<Session> {
    const data = await this.request(CreateSessionDocument, {
      input: { agentId, userId, ...options },
    });
    return data.createSession;
  }

  /** The session with one page of its messages, or null when it is not stored. */
  async getSession(
    id: string,
    page: Omit<GetSessionQueryVariables, 'id'> = {},
  ): Promise<GetSessionQuery['session']> {
    return (await this.request(GetSessionDocument, { ...page, id })).session;
  }

  async listSessions(variables: ListSessionsQueryVariables = {}): Promise<ListSessionsQuery['sessions']> {
    return (await this.request(ListSessionsDocument, variables)).sessions;
  }

  /**
   * Sends a message as the session's user. The send renews the session when
   * autoRenew is on and reports the new lifetime in sessionStatus.
   */
  async sendMessage(sessionId: string, content: string, options: SendOptions = {}): Promise<SendResult> {
    const data = await this.request(SendSessionMessageDocument, {
      sessionId,
      input: { content, ...options },
    });
    const message = data.sendSessionMessage;
    const status = message.sessionStatus;
    if (!status) {
      // The schema makes sessionStatus nullable (it is only set on the result
      // of a send), so the type system forces this check.
      throw new Error('sendSessionMessage: the result carries no sessionStatus');
    }
    return {
      message,
      wasRenewed: status.wasRenewed,
      renewalCount: status.renewalCount,
      expiresAt: status.expiresAt,
      isNearExpiration: status.isNearExpiration,
    };
  }

  /** Sends a reply as the session's agent; it does not renew the session. */
  async sendAgentMessage(sessionId: string, content: string, options: SendOptions = {}): Promise<AgentReply> {
    const data = await this.request(SendAgentMessageDocument, {
      sessionId,
      input: { content, ...options },
    });
    return data.sendAgentMessage;
  }

  async renewSession(sessionId: string): Promise<SessionLifetime> {
    return (await this.request(RenewSessionDocument, { sessionId })).renewSession;
  }

  async heartbeat(sessionId: string): Promise<SessionLifetime> {
    return (await this.request(SessionHeartbeatDocument, { sessionId })).sessionHeartbeat;
  }

  async updateSessionTimeout(sessionId: string, input: TimeoutConfigInput): Promise<SessionLifetime> {
    return (await this.request(UpdateSessionTimeoutDocument, { sessionId, input })).updateSessionTimeout;
  }

  async deleteSession(sessionId: string): Promise<boolean> {
    return (await this.request(DeleteSessionDocument, { sessionId })).deleteSession;
  }
}

/** A one-line description of an event; the switch is exhaustive over the union. */
export function describeEvent(event: SessionEvent): string {
  switch (event.__typename) {
    case 'MessageAddedEvent':
      return `${event.occurredAt} ${event.message.isAgent ? 'agent' : 'user'}: ${event.message.content}`;
    case 'SessionRenewedEvent':
      return `${event.occurredAt} renewed (#${event.sessionStatus.renewalCount}) until ${event.sessionStatus.expiresAt}`;
    case 'SessionNearExpirationEvent':
      return `${event.occurredAt} expires soon, at ${event.expiresAt}`;
    case 'SessionExpiredEvent':
      return `${event.occurredAt} expired at ${event.expiresAt}`;
    case 'SessionDeletedEvent':
      return `${event.occurredAt} deleted`;
    case 'SessionCreatedEvent': // only agentEvents delivers it
      return `${event.occurredAt} opened`;
    default: {
      const unreachable: never = event;
      return unreachable;
    }
  }
}

/**
 * Follows a session's events over a graphql-ws client (graphql-transport-ws).
 * On Node 20, create the client with `webSocketImpl` from the `ws` package;
 * browsers and Node 22+ have a global WebSocket. Returns the unsubscribe
 * function; the server completes the stream after SessionDeletedEvent.
 */
export function subscribeSessionEvents(
  ws: WsClient,
  sessionId: string,
  handlers: {
    next: (event: SessionEvent) => void;
    error?: (error: unknown) => void;
    complete?: () => void;
  },
): () => void {
  return ws.subscribe<SessionEventsSubscription>(
    { query: print(SessionEventsDocument), variables: { sessionId } },
    {
      next: (result) => {
        if (result.data) {
          handlers.next(result.data.sessionEvents);
        } else if (result.errors) {
          handlers.error?.(new GraphQLRequestError('SessionEvents', result.errors));
        }
      },
      error: (error) => handlers.error?.(error),
      complete: () => handlers.complete?.(),
    },
  );
}
