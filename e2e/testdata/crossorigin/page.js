// A web app on another origin using sessionhub: GraphQL over fetch with the
// headers Apollo Client sends, a REST send, and subscriptions with the
// graphql-ws (WebSocket) and graphql-sse (Server-Sent Events) browser builds.
// TestCrossOriginInChromium calls start() and reads window.report.
'use strict';

window.report = { done: false, ws: [], sse: [] };

async function attempt(f) {
  try {
    return await f();
  } catch (err) {
    return { error: String(err) };
  }
}

async function graphql(api, key, requestId, operationName, query, variables) {
  const res = await fetch(api + '/query', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json,application/json;q=0.9',
      'apollo-require-preflight': 'true',
      'x-apollo-operation-name': operationName,
      'X-API-KEY': key,
      'X-Request-ID': requestId,
    },
    body: JSON.stringify({ operationName, query, variables }),
  });
  return { status: res.status, requestId: res.headers.get('X-Request-ID'), body: await res.json() };
}

const events = `subscription Events($id: ID!) {
  sessionEvents(sessionId: $id) { __typename ... on MessageAddedEvent { message { content } } }
}`;

function describe(err) {
  if (err && typeof err === 'object' && 'code' in err) return 'close ' + err.code;
  if (err instanceof Error) return String(err);
  return String(err && err.type ? err.type : err);
}

window.start = async function start(api, key, sessionId) {
  const r = window.report;
  r.query = await attempt(() =>
    graphql(api, key, 'browser-query-1', 'Session', 'query Session($id: ID!) { session(id: $id) { id state } }', { id: sessionId }));
  r.mutation = await attempt(() =>
    graphql(api, key, 'browser-mutation-1', 'Send',
      'mutation Send($id: ID!) { sendSessionMessage(sessionId: $id, input: { content: "from the browser (GraphQL)" }) { content sessionStatus { renewalCount } } }',
      { id: sessionId }));
  r.rest = await attempt(async () => {
    const res = await fetch(api + '/api/messaging/sessions/' + sessionId + '/messages', {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'X-API-KEY': key,
        'Idempotency-Key': 'browser-send-1',
        'X-Request-ID': 'browser-rest-1',
      },
      body: JSON.stringify({ content: 'from the browser (REST)' }),
    });
    return { status: res.status, requestId: res.headers.get('X-Request-ID'), body: await res.json() };
  });

  const ws = graphqlWs.createClient({
    url: api.replace(/^http/, 'ws') + '/query',
    connectionParams: { 'X-API-KEY': key },
    retryAttempts: 0,
  });
  ws.subscribe({ query: events, variables: { id: sessionId } }, {
    next: (v) => r.ws.push(v),
    error: (err) => { r.wsError = describe(err); },
    complete: () => { r.wsComplete = true; },
  });
  const sse = graphqlSse.createClient({ url: api + '/query', headers: { 'X-API-KEY': key }, retryAttempts: 0 });
  sse.subscribe({ query: events, variables: { id: sessionId } }, {
    next: (v) => r.sse.push(v),
    error: (err) => { r.sseError = describe(err); },
    complete: () => { r.sseComplete = true; },
  });
  r.done = true;
};
