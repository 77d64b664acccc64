package graph

import (
	"log/slog"
	"net/http"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"sessionhub/internal/chat"
)

// Options tune the GraphQL endpoint.
type Options struct {
	Introspection bool
	Logger        *slog.Logger
}

// NewHandler builds the /query handler, configured once: transports, caches,
// limits, error presenter and recover function.
func NewHandler(svc *chat.Service, opts Options) http.Handler {
	srv := handler.New(NewExecutableSchema(Config{Resolvers: &Resolver{Chat: svc}}))
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})

	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](100)})
	srv.Use(extension.FixedComplexityLimit(500))
	srv.SetParserTokenLimit(15000)
	if opts.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.SetDisableSuggestion(true)
	}

	srv.AroundOperations(withLoaders(svc))
	srv.AroundFields(markFaults)
	srv.SetErrorPresenter(errorPresenter(opts.Logger))
	srv.SetRecoverFunc(recoverFunc(opts.Logger))
	return srv
}
