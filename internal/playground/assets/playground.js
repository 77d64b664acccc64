// sessionhub playground: starts GraphiQL with a fetcher that sends queries
// and mutations over HTTP POST and subscriptions over a WebSocket (graphql-ws,
// graphql-transport-ws protocol) to the same endpoint. The page's URL can
// carry a document to open: ?query=...&variables=...&operationName=...
// It stays in sync with the editors, so the address bar is a shareable link.
(function () {
  'use strict';

  var root = document.getElementById('graphiql');
  if (!window.React || !window.ReactDOM || !window.GraphiQL || !window.graphqlWs) {
    root.textContent = 'The playground could not load its scripts.';
    return;
  }

  var endpoint = new URL(root.dataset.endpoint, window.location.href);
  var wsURL = (endpoint.protocol === 'https:' ? 'wss:' : 'ws:') + '//' +
    endpoint.host + endpoint.pathname + endpoint.search;

  // The headers of the headers editor, as GraphiQL passed them with the
  // latest operation; a WebSocket sends them as its connection_init payload,
  // where sessionhub reads credentials (X-API-KEY, Authorization).
  var headers = {};
  var wsClient = window.graphqlWs.createClient({
    url: wsURL,
    lazy: true,
    retryAttempts: 3,
    connectionParams: function () { return headers; },
  });
  var graphiqlFetcher = window.GraphiQL.createFetcher({
    url: endpoint.href,
    subscriptionUrl: wsURL,
    wsClient: wsClient,
  });
  function fetcher(graphQLParams, opts) {
    var h = opts && opts.headers;
    headers = h && typeof h === 'object' && !Array.isArray(h) ? h : {};
    return graphiqlFetcher(graphQLParams, opts);
  }

  var params = new URLSearchParams(window.location.search);
  function remember(key) {
    return function (value) {
      if (value) {
        params.set(key, value);
      } else {
        params.delete(key);
      }
      var search = params.toString();
      window.history.replaceState(null, '',
        window.location.pathname + (search ? '?' + search : '') + window.location.hash);
    };
  }

  function hasSavedTabs() {
    try {
      return Boolean(window.localStorage.getItem('graphiql:tabState'));
    } catch (e) {
      return false;
    }
  }

  var props = {
    fetcher: fetcher,
    onEditQuery: remember('query'),
    onEditVariables: remember('variables'),
    onEditOperationName: remember('operationName'),
  };
  if (params.has('query')) {
    props.query = params.get('query');
    props.variables = params.get('variables') || undefined;
    props.operationName = params.get('operationName') || undefined;
  } else {
    // The example operations on a first visit; later visits restore the
    // tabs GraphiQL saved. (GraphiQL shows the variables of a new tab only
    // when they come as a prop.)
    props.defaultQuery = root.dataset.defaultQuery;
    if (!hasSavedTabs()) {
      props.variables = root.dataset.defaultVariables;
    }
  }

  root.textContent = '';
  window.ReactDOM.createRoot(root).render(window.React.createElement(window.GraphiQL, props));
})();
