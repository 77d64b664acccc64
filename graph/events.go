package graph

import (
	"context"
	"errors"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"sessionhub/graph/model"
	"sessionhub/internal/pubsub"
	"sessionhub/internal/telemetry"
	"sessionhub/models"
)

// followSession serves Subscription.sessionEvents: it admits the subscription
// (caps and rate limit) and follows the session's events. No goroutine of
// ours waits while the subscription is idle: over graphql-transport-ws each
// event is pushed to the socket by the bus's delivery goroutine (see
// pushSubscription); over other transports gqlgen's goroutine takes the
// events from a channel, and the client's departure is noticed by
// context.AfterFunc.
func (r *subscriptionResolver) followSession(ctx context.Context, sessionID, after string) (<-chan model.SessionEvent, error) {
	push := pushFrom(ctx)
	if push != nil && push.event != nil {
		return r.pushedEvent(ctx, push), nil
	}
	release, err := r.subscriptions.admit(ctx)
	if err != nil {
		return nil, err
	}
	if push != nil {
		return r.followByPush(ctx, push, release, sessionID, after)
	}
	out := make(chan model.SessionEvent)
	links := loadersFrom(ctx)
	deliver := func(e models.Event) bool {
		if e.Kind == models.EventCreated { // the agent feed's; nothing for a session's followers
			return true
		}
		if links != nil {
			links.forget(e.SessionID) // event.session is the session as it is now
		}
		select {
		case out <- toModelEvent(e):
			return true
		case <-ctx.Done():
			return false
		}
	}
	end := func(why error) {
		if err := streamError(why); err != nil {
			r.subscriberDropped(dropReason(err))
			failStream(ctx, err)
		}
		close(out)
	}
	sub, session, err := r.Chat.FollowSession(ctx, sessionID, after, deliver, end)
	if err != nil {
		release()
		return nil, err
	}
	if links != nil {
		links.remember(session) // for the deleted event
	}
	context.AfterFunc(ctx, func() {
		sub.Close()
		release()
	})
	return out, nil
}

// followByPush follows the session for the push transport: the bus's
// delivery goroutine runs the operation again for each event. Nothing of
// this run's context is kept, only the subscription's own.
func (r *subscriptionResolver) followByPush(ctx context.Context, push *pushTurn, release func(), sessionID, after string) (<-chan model.SessionEvent, error) {
	s := push.sub
	push.prepare(ctx) // before the first event can arrive
	end := func(why error) {
		appErr := streamError(why)
		if appErr != nil {
			r.subscriberDropped(dropReason(appErr))
		}
		s.end(appErr)
	}
	sub, session, err := r.Chat.FollowSession(ctx, sessionID, after, s.emit, end)
	if err != nil {
		release()
		return nil, err
	}
	push.follow(session, func() {
		sub.Close()
		release()
	})
	return make(chan model.SessionEvent), nil // never read: events are pushed
}

// pushedEvent answers one run of a pushed subscription with its event.
func (r *subscriptionResolver) pushedEvent(ctx context.Context, push *pushTurn) <-chan model.SessionEvent {
	if links := loadersFrom(ctx); links != nil {
		push.remember(links)
	}
	out := make(chan model.SessionEvent, 1)
	out <- toModelEvent(*push.event)
	close(out)
	return out
}

// streamError is what the client hears when its subscription ends for a
// reason of the server's: nothing after a deletion (the stream completes).
func streamError(why error) *models.Error {
	switch {
	case errors.Is(why, pubsub.ErrSessionDeleted), errors.Is(why, pubsub.ErrClosed):
		return nil
	case errors.Is(why, pubsub.ErrSlowSubscriber):
		return models.ErrSlowConsumer(pubsub.MaxQueuedEvents)
	default:
		return models.ErrEventsLost()
	}
}

// dropReason labels a subscription the server ended, for metrics.
func dropReason(err *models.Error) string {
	if err.Code == models.CodeSlowConsumer {
		return telemetry.DropSlowConsumer
	}
	return telemetry.DropEventsLost
}

// failStream ends a subscription with a final GraphQL error: on gqlgen's
// WebSocket transport the protocol's own error message for the operation;
// on the others a last result carrying the error, added by finalErrors (the
// push transport sends it as the protocol's error message).
func failStream(ctx context.Context, appErr *models.Error) {
	gqlErr := withCode(&gqlerror.Error{Path: ast.Path{ast.PathName(graphql.GetFieldContext(ctx).Field.Alias)}}, appErr)
	if wsConnectionFrom(ctx) != nil && pushFrom(ctx) == nil { // gqlgen's WebSocket transport
		transport.AddSubscriptionError(ctx, gqlErr)
		return
	}
	if st := streamStateFrom(ctx); st != nil {
		st.fail(gqlErr)
	}
}

func toModelEvent(e models.Event) model.SessionEvent {
	id := e.SessionID.String()
	switch e.Kind {
	case models.EventCreated:
		return model.SessionCreatedEvent{SessionID: id, OccurredAt: e.OccurredAt}
	case models.EventMessageAdded:
		return model.MessageAddedEvent{SessionID: id, OccurredAt: e.OccurredAt, Message: e.Message,
			Cursor: models.KeyOf(e.Message.CreatedAt, e.Message.ID).Cursor()}
	case models.EventRenewed:
		return model.SessionRenewedEvent{SessionID: id, OccurredAt: e.OccurredAt, SessionStatus: e.Status}
	case models.EventNearExpiration:
		return model.SessionNearExpirationEvent{SessionID: id, OccurredAt: e.OccurredAt, ExpiresAt: e.ExpiresAt}
	case models.EventExpired:
		return model.SessionExpiredEvent{SessionID: id, OccurredAt: e.OccurredAt, ExpiresAt: e.ExpiresAt}
	default:
		return model.SessionDeletedEvent{SessionID: id, OccurredAt: e.OccurredAt}
	}
}
