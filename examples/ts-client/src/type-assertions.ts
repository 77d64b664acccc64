// Compile-time checks that the generated types are precise rather than `any`:
// each @ts-expect-error below must report an error, or `tsc --noEmit` fails
// with "Unused '@ts-expect-error' directive". Nothing here runs.

import type { SessionHubClient, Agent, SessionEvent, Session } from './client.js';
import type { SessionState } from './gql/graphql.js';

export async function typeAssertions(client: SessionHubClient, agent: Agent, session: Session): Promise<void> {
  // A field that is in no operation and not in the schema.
  // @ts-expect-error noSuchField is not a field of Agent
  void agent.noSuchField;

  // Scalars map to their wire formats: Time is an RFC 3339 string, not a Date.
  // @ts-expect-error createdAt is a string
  void agent.createdAt.getTime();
  // JSON is an object, never an array.
  // @ts-expect-error metadata is a Record<string, unknown>
  const list: unknown[] = session.metadata;
  void list;

  // Enums are closed unions of the schema's values.
  // @ts-expect-error PAUSED is not a SessionState
  const paused: SessionState = 'PAUSED';
  void paused;

  // Variables are checked against the operation's variable definitions.
  // @ts-expect-error timeoutMinutes is an Int
  await client.updateSessionTimeout(session.id, { timeoutMinutes: '30' });

  // sessionStatus is nullable in the schema, so it must be checked before use.
  const reply = await client.sendAgentMessage(session.id, 'hi');
  // @ts-expect-error reply.sessionStatus may be null
  void reply.sessionStatus.renewalCount;
}

// Subscription events are a discriminated union on __typename.
export function messageOf(event: SessionEvent): string | undefined {
  // @ts-expect-error only MessageAddedEvent carries a message
  void event.message;
  return event.__typename === 'MessageAddedEvent' ? event.message.content : undefined;
}
