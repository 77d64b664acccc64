package graph

import (
	"context"
	"slices"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"sessionhub/internal/chat"
	"sessionhub/models"
)

// Per-operation loading of Session.messages. When an operation lists
// sessions, the first Session.messages resolver fetches the latest messages
// of every listed session in one query and the others read the result: a
// page of sessions with their messages costs two queries however long the
// page. (A time-window data loader would batch only the resolvers that
// happen to start within its window.) The state is scoped to one operation,
// so it travels in its context; the services stay on the Resolver.

type loadersKey struct{}

// latestKey asks for the newest First messages of one session.
type latestKey struct {
	SessionID uuid.UUID
	First     int
}

type loaders struct {
	svc      *chat.Service
	mu       sync.Mutex
	siblings []uuid.UUID // sessions this operation listed
	pages    map[latestKey]*chat.MessagePage
}

// withLoaders gives each operation its own loaders over svc.
func withLoaders(svc *chat.Service) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		l := &loaders{svc: svc, pages: map[latestKey]*chat.MessagePage{}}
		return next(context.WithValue(ctx, loadersKey{}, l))
	}
}

func loadersFrom(ctx context.Context) *loaders {
	l, _ := ctx.Value(loadersKey{}).(*loaders)
	return l
}

// noteListed records sessions the operation listed, whose messages may be asked for.
func noteListed(ctx context.Context, sessions []*models.Session) {
	l := loadersFrom(ctx)
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range sessions {
		l.siblings = append(l.siblings, s.ID)
	}
}

// latestMessages returns a session's newest messages, fetching them for all
// listed sessions at once the first time a page size is asked for.
func (l *loaders) latestMessages(ctx context.Context, key latestKey) (*chat.MessagePage, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if page, ok := l.pages[key]; ok {
		return page, nil
	}
	ids := []uuid.UUID{key.SessionID}
	if slices.Contains(l.siblings, key.SessionID) {
		ids = l.siblings
	}
	pages, err := l.svc.LatestMessages(ctx, ids, key.First)
	if err != nil {
		return nil, err
	}
	for i, id := range ids {
		l.pages[latestKey{SessionID: id, First: key.First}] = pages[i]
	}
	return l.pages[key], nil
}
