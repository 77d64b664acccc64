// Calls every SessionsService method of the official elizaOS client
// (@elizaos/api-client, pinned in package-lock.json) against sessionhub's
// REST shim and prints, as one JSON object, what each call returned or threw:
//   node sessions.mjs <baseUrl> <agentId> <userId> <expiredSessionId>
// The Go test TestElizaOSClient runs it against the real binary in both
// REST_COMPAT modes and checks the output; it changes nothing by itself.

import { ApiError, SessionsService } from '@elizaos/api-client';

const [baseUrl, agentId, userId, expiredSessionId] = process.argv.slice(2);
if (!expiredSessionId) {
  console.error('usage: node sessions.mjs <baseUrl> <agentId> <userId> <expiredSessionId>');
  process.exit(2);
}

const sessions = new SessionsService({ baseUrl, timeout: 20000 });

// outcome runs one call: {returned: <value, or null for undefined>, undefined: bool}
// or {threw: {name, code, message, status, details}} for an ApiError.
async function outcome(call) {
  try {
    const value = await call();
    return { returned: value ?? null, undefined: value === undefined };
  } catch (error) {
    if (!(error instanceof ApiError)) {
      throw error;
    }
    const { name, code, message, status, details } = error;
    return { threw: { name, code, message, status, details: details ?? null } };
  }
}

const seen = {};
seen.checkHealth = await outcome(() => sessions.checkHealth());
seen.createSession = await outcome(() =>
  sessions.createSession({ agentId, userId, metadata: { platform: 'elizaos-client' } }),
);
const sessionId = seen.createSession.returned?.sessionId;
if (!sessionId) {
  console.log(JSON.stringify(seen));
  process.exit(0);
}
seen.getSession = await outcome(() => sessions.getSession(sessionId));
seen.sendMessage = await outcome(() => sessions.sendMessage(sessionId, { content: 'hello', metadata: { source: 'api-client' } }));
seen.sendMessageSync = await outcome(() => sessions.sendMessageSync(sessionId, { content: 'again' }));
seen.getMessages = await outcome(() => sessions.getMessages(sessionId, { limit: 10 }));
seen.listSessions = await outcome(() => sessions.listSessions());
seen.tooLong = await outcome(() => sessions.sendMessage(sessionId, { content: 'x'.repeat(4001) }));
seen.deleteSession = await outcome(() => sessions.deleteSession(sessionId));
seen.getDeletedSession = await outcome(() => sessions.getSession(sessionId));
seen.sendToDeletedSession = await outcome(() => sessions.sendMessage(sessionId, { content: 'anyone?' }));
seen.sendToExpiredSession = await outcome(() => sessions.sendMessage(expiredSessionId, { content: 'too late' }));
seen.getExpiredMessages = await outcome(() => sessions.getMessages(expiredSessionId));
console.log(JSON.stringify(seen));
