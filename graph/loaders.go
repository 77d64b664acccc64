package graph

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/vikstrous/dataloadgen"

	"sessionhub/internal/chat"
)

// Per-operation data loaders. They are caches scoped to one GraphQL
// operation, so they travel in its context; the services stay on the Resolver.

type loadersKey struct{}

// latestKey asks for the newest First messages of one session.
type latestKey struct {
	SessionID uuid.UUID
	First     int
}

type loaders struct {
	latestMessages *dataloadgen.Loader[latestKey, *chat.MessagePage]
}

// withLoaders gives each operation fresh loaders over svc.
func withLoaders(svc *chat.Service) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		l := &loaders{latestMessages: dataloadgen.NewLoader(latestMessagesFetcher(svc), dataloadgen.WithWait(time.Millisecond))}
		return next(context.WithValue(ctx, loadersKey{}, l))
	}
}

func loadersFrom(ctx context.Context) *loaders {
	l, _ := ctx.Value(loadersKey{}).(*loaders)
	return l
}

// latestMessagesFetcher answers a batch of keys with one store query per
// distinct page size (in practice one), results in key order.
func latestMessagesFetcher(svc *chat.Service) func(context.Context, []latestKey) ([]*chat.MessagePage, []error) {
	return func(ctx context.Context, keys []latestKey) ([]*chat.MessagePage, []error) {
		pages := make([]*chat.MessagePage, len(keys))
		errs := make([]error, len(keys))
		bySize := map[int][]int{} // page size -> positions in keys
		for i, k := range keys {
			bySize[k.First] = append(bySize[k.First], i)
		}
		for size, positions := range bySize {
			ids := make([]uuid.UUID, len(positions))
			for j, pos := range positions {
				ids[j] = keys[pos].SessionID
			}
			got, err := svc.LatestMessages(ctx, ids, size)
			for j, pos := range positions {
				if err != nil {
					errs[pos] = err
					continue
				}
				pages[pos] = got[j]
			}
		}
		return pages, errs
	}
}
