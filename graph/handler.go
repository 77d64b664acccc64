package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"

	"sessionhub/graph/model"
	"sessionhub/internal/auth"
	"sessionhub/internal/chat"
	"sessionhub/models"
)

// Options tune the GraphQL endpoint.
type Options struct {
	Introspection bool
	Logger        *slog.Logger
	// Auth authenticates WebSocket connections in their connection_init
	// message; nil accepts every connection as models.Anonymous.
	Auth *auth.Authenticator
	// OriginPatterns allow cross-origin WebSocket clients (host patterns as
	// in coder/websocket); by default only same-origin browsers may connect.
	OriginPatterns []string
	// MaxBodyBytes bounds a POST body (413 beyond).
	MaxBodyBytes int64
	// Shutdown closes every WebSocket connection when it closes.
	Shutdown <-chan struct{}
	// InitTimeout is how long a WebSocket may wait before connection_init
	// (0: 10 s); past it the connection is closed with 4408.
	InitTimeout time.Duration
	// Extensions observe operations (metrics, tracing).
	Extensions []graphql.HandlerExtension
	// SubscriptionsPerConnection and SubscriptionsPerCaller cap open
	// subscriptions on this replica (0: the defaults).
	SubscriptionsPerConnection int
	SubscriptionsPerCaller     int
	// RateLimiter is charged one request per subscription started over a
	// WebSocket (nil: no limit).
	RateLimiter RateLimiter
	// SubscriberDropped is told why the server ended a subscription on its
	// own ("slow_consumer", "events_lost"); nil: nobody is told.
	SubscriberDropped func(reason string)
	// KeepAlive is the ping interval of WebSocket (both protocols) and
	// Server-Sent Events subscriptions (0: DefaultKeepAlive).
	KeepAlive time.Duration
	// PersistedQueries shares APQ registrations between replicas (nil:
	// this process only); TrustedDocuments serves (and with Only, limits
	// requests to) a manifest of documents.
	PersistedQueries PersistedQueries
	TrustedDocuments *TrustedDocuments
}

// DefaultKeepAlive is the ping interval of open subscriptions.
const DefaultKeepAlive = 10 * time.Second

// Limits on one operation (graphql-armor's defaults, with depth raised to
// fit sessions → edges → node → messages → edges → node → field).
const (
	maxDepth   = 10
	maxAliases = 15
	// maxIntrospectionDepth fits GraphiQL's introspection query (14).
	maxIntrospectionDepth = 16
	maxTokens             = 2000
	maxComplexity         = 5000
)

// NewHandler builds the /query handler, configured once: transports, caches,
// limits, error presenter and recover function.
func NewHandler(svc *chat.Service, opts Options) http.Handler {
	resolver := &Resolver{Chat: svc, subscriptions: newSubscriptionLimits(opts), subscriberDropped: opts.SubscriberDropped}
	if resolver.subscriberDropped == nil {
		resolver.subscriberDropped = func(string) {}
	}
	srv := handler.New(NewExecutableSchema(Config{Resolvers: resolver, Complexity: complexity()}))
	if opts.KeepAlive <= 0 {
		opts.KeepAlive = DefaultKeepAlive
	}
	if opts.InitTimeout <= 0 {
		opts.InitTimeout = 10 * time.Second
	}
	srv.AddTransport(sseTransport{keepAlive: opts.KeepAlive, shutdown: opts.Shutdown})
	srv.AddTransport(pushWebsocket{
		accept:       websocket.AcceptOptions{OriginPatterns: opts.OriginPatterns},
		init:         websocketInit(opts.Auth, opts.Shutdown),
		initTimeout:  opts.InitTimeout,
		pingInterval: opts.KeepAlive,
		readLimit:    opts.MaxBodyBytes,
	})
	srv.AddTransport(&transport.Websocket{ // the legacy graphql-ws subprotocol
		// A connection without connection_init in time is closed with 4408,
		// by initDeadline rather than gqlgen's 1002.
		Implementation: initDeadline{next: transport.CoderWebsocketImplementation{
			AcceptOptions: websocket.AcceptOptions{OriginPatterns: opts.OriginPatterns},
		}, timeout: opts.InitTimeout},
		InitFunc: websocketInit(opts.Auth, opts.Shutdown),
		// "ka" messages (graphql-transport-ws pings come from pushWebsocket,
		// which never drops a client for a missing "pong": one too busy to
		// read is dropped as a slow consumer, with its reason).
		KeepAlivePingInterval: opts.KeepAlive,
	})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(getTransport{})
	// @defer: a POST that accepts multipart/mixed (Apollo Client, urql) gets
	// the initial result and each deferred fragment as parts.
	srv.AddTransport(deferTransport{})
	srv.AddTransport(postTransport{})

	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	for _, ext := range opts.Extensions {
		srv.Use(ext)
	}
	if td := opts.TrustedDocuments; td != nil && td.Only {
		srv.Use(newTrustedOnly(td.ByHash))
	}
	srv.Use(extension.AutomaticPersistedQuery{Cache: newPersistedQueryCache(opts)})
	srv.Use(deferNeedsMultipart{})
	srv.Use(extension.FixedComplexityLimit(maxComplexity))
	srv.Use(shapeLimit{maxDepth: maxDepth, maxIntrospectionDepth: maxIntrospectionDepth, maxAliases: maxAliases})
	srv.SetParserTokenLimit(maxTokens)
	if opts.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.Use(introspectionOff{})
		srv.SetDisableSuggestion(true)
	}

	srv.AroundOperations(withLoaders(svc))
	srv.AroundOperations(withStreamState)
	srv.AroundOperations(omitDeferred)
	srv.AroundResponses(finalErrors)
	srv.AroundFields(markFaults)
	srv.SetErrorPresenter(errorPresenter(opts.Logger))
	srv.SetRecoverFunc(recoverFunc(opts.Logger))
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = defaultMaxBodyBytes
	}
	return limitBody(srv, opts.MaxBodyBytes)
}

// defaultMaxBodyBytes bounds a POST body when Options.MaxBodyBytes is unset.
const defaultMaxBodyBytes = 128 << 10

// complexity counts list fields by the page size they ask for, so one
// request cannot fan out to 100 sessions × 100 messages unnoticed.
func complexity() ComplexityRoot {
	var c ComplexityRoot
	page := func(first, last *int) int {
		switch {
		case first != nil:
			return max(1, *first)
		case last != nil:
			return max(1, *last)
		}
		return models.DefaultPageSize
	}
	c.Query.Sessions = func(child int, first *int, _ *string, last *int, _ *string, _ *model.SessionFilter) int {
		return 1 + page(first, last)*child
	}
	c.Session.Messages = func(child int, first *int, _ *string, last *int, _ *string) int {
		return 1 + page(first, last)*child
	}
	c.Query.Nodes = func(child int, ids []string) int {
		return 1 + max(1, len(ids))*child
	}
	return c
}

// websocketInit authenticates a WebSocket connection from its
// connection_init payload (a bad one is closed with 4403, one from an
// address locked out for failing too often with 4429), and gives the
// connection a context that ends, closing it, on server shutdown.
func websocketInit(a *auth.Authenticator, shutdown <-chan struct{}) transport.WebsocketInitFunc {
	return func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		principal := models.Anonymous
		if a != nil {
			p, err := a.AuthenticateFrom(auth.ClientAddressFrom(ctx), auth.FromInitPayload(payload))
			if wait, locked := auth.RetryAfter(err); locked {
				// The address failed too often (as over HTTP, 429 there).
				reason := fmt.Sprintf("Too many failed authentications, retry in %d s", auth.RetryAfterSeconds(wait))
				ctx = transport.WithWebsocketCloseCode(ctx, closeTooManyInitRequest)
				return transport.AppendCloseReason(ctx, reason), nil, &initRefusal{closeTooManyInitRequest, reason, err}
			}
			if err != nil {
				ctx = transport.WithWebsocketCloseCode(ctx, closeForbidden)
				return transport.AppendCloseReason(ctx, "Forbidden"), nil, &initRefusal{closeForbidden, "Forbidden", err}
			}
			principal = p
		}
		// Quotas count per caller: the credentials' scope, or (anonymous)
		// the address the upgrade request came from.
		principal.Caller = principal.Scope
		if principal.Scope == models.Anonymous.Scope {
			principal.Caller = models.PrincipalFrom(ctx).Caller
		}
		conn := &wsConnection{}
		ctx, conn.close = context.WithCancel(ctx)
		if shutdown != nil {
			go func() {
				select {
				case <-shutdown:
					conn.close()
				case <-ctx.Done():
				}
			}()
		}
		ctx = context.WithValue(ctx, wsConnectionKey{}, conn)
		return models.WithPrincipal(ctx, principal), nil, nil
	}
}

// limitBody answers 413 to a POST body over limit, and 400 to one whose
// text is not valid Unicode, before gqlgen reads it.
func limitBody(next http.Handler, limit int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff") // every answer is JSON
		if r.Method == http.MethodPost {
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
			if err != nil {
				status, message := http.StatusBadRequest, "Request body exceeds 131072 bytes or could not be read"
				if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
					status = http.StatusRequestEntityTooLarge
				}
				if errors.Is(err, os.ErrDeadlineExceeded) { // the server's body read deadline
					status, message = http.StatusRequestTimeout, "Request body did not arrive in time"
					w.Header().Set("Connection", "close")
				}
				WriteHTTPError(w, r, status, models.ErrValidation(message))
				return
			}
			// JSON decoding would turn a lone surrogate into U+FFFD silently;
			// refuse it (and NUL) in the raw text, the same on every database.
			if !models.ValidJSONText(body) {
				WriteHTTPError(w, r, http.StatusBadRequest, models.ErrInvalidText("the request body"))
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		next.ServeHTTP(w, r)
	})
}

// WriteHTTPError answers a request refused before GraphQL execution
// (authentication, rate limit, body size) with a GraphQL-shaped error body.
func WriteHTTPError(w http.ResponseWriter, _ *http.Request, status int, err error) {
	appErr := models.AsError(err)
	body := map[string]any{
		"errors": []map[string]any{{
			"message":    appErr.Message,
			"extensions": map[string]any{"code": string(appErr.Code)},
		}},
		"data": nil,
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
