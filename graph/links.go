package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"sessionhub/models"
)

// linkedSession resolves Message.session through the operation's loaders:
// the sessions of all messages the operation handed out are read together.
func (r *Resolver) linkedSession(ctx context.Context, id uuid.UUID) (*models.Session, error) {
	if l := loadersFrom(ctx); l != nil {
		return l.session(ctx, id)
	}
	return r.Chat.Session(ctx, id.String())
}

// eventSession resolves SessionEvent.session: the session as it is when the
// event is delivered (followSession made the operation forget it before),
// read on the primary so that it holds the change the event announces.
func (r *Resolver) eventSession(ctx context.Context, sessionID string) (*models.Session, error) {
	id, err := uuid.Parse(sessionID)
	if err != nil {
		return nil, models.ErrSessionNotFound(sessionID)
	}
	return r.linkedSession(models.WithLatestReads(ctx), id)
}

// deletedSession resolves SessionDeletedEvent.session: the session as the
// subscription last saw it, since it no longer exists.
func (r *Resolver) deletedSession(ctx context.Context, sessionID string) (*models.Session, error) {
	id, err := uuid.Parse(sessionID)
	if err != nil {
		return nil, models.ErrSessionNotFound(sessionID)
	}
	if l := loadersFrom(ctx); l != nil {
		if s := l.lastKnown(id); s != nil {
			return s, nil
		}
	}
	return nil, models.ErrSessionNotFound(sessionID)
}

// lookUpNodes serves Query.node and Query.nodes; what it finds is noted, so
// that links below it are read in batches too.
func (r *Resolver) lookUpNodes(ctx context.Context, ids []string) ([]models.Node, error) {
	nodes, err := r.Chat.Nodes(ctx, ids)
	if err != nil {
		return nil, err
	}
	var sessions []*models.Session
	var messages []*models.Message
	for _, n := range nodes {
		switch v := n.(type) {
		case *models.Session:
			sessions = append(sessions, v)
		case *models.Message:
			messages = append(messages, v)
		}
	}
	noteSessions(ctx, sessions...)
	noteMessages(ctx, messages)
	return nodes, nil
}

// selects reports whether the current field's selection (on an object of
// type typeName) asks for field: what is costly is computed only then.
func selects(ctx context.Context, typeName, field string) bool {
	if graphql.GetFieldContext(ctx) == nil {
		return false
	}
	for _, f := range graphql.CollectFieldsCtx(ctx, []string{typeName}) {
		if f.Name == field {
			return true
		}
	}
	return false
}
