package graph

import (
	"context"
	"errors"

	"sessionhub/graph/model"
	"sessionhub/internal/pubsub"
	"sessionhub/models"
)

// forwardEvents copies a subscription's events to gqlgen until the client
// goes away or the subscription ends. A subscriber too slow to keep up has its
// whole connection closed (gqlgen has no per-operation close code), so it
// learns it missed events instead of silently skipping them.
func forwardEvents(ctx context.Context, sub *pubsub.Subscription, out chan<- model.SessionEvent) {
	defer close(out)
	defer sub.Close()
	send := func(e models.Event) bool {
		select {
		case out <- toModelEvent(e):
			return true
		case <-ctx.Done():
			return false
		case <-sub.Done():
			if errors.Is(sub.Err(), pubsub.ErrSlowSubscriber) {
				dropIfSlow(ctx, sub)
				return false
			}
		}
		select { // ended otherwise (a deletion): its last events still go out
		case out <- toModelEvent(e):
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-sub.Events():
			if !send(e) {
				return
			}
		case <-sub.Done():
			// Hand over what was queued before the end (a deletion ends after its event).
			for {
				select {
				case e := <-sub.Events():
					if !send(e) {
						return
					}
				default:
					dropIfSlow(ctx, sub)
					return
				}
			}
		}
	}
}

func dropIfSlow(ctx context.Context, sub *pubsub.Subscription) {
	if errors.Is(sub.Err(), pubsub.ErrSlowSubscriber) {
		if closeConnection := connectionCloser(ctx); closeConnection != nil {
			closeConnection()
		}
	}
}

func toModelEvent(e models.Event) model.SessionEvent {
	id := e.SessionID.String()
	switch e.Kind {
	case models.EventMessageAdded:
		return model.MessageAddedEvent{SessionID: id, OccurredAt: e.OccurredAt, Message: e.Message}
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

type connectionCloserKey struct{}

// connectionCloser returns the function that closes the WebSocket connection
// carrying ctx, set up when the connection was initialised.
func connectionCloser(ctx context.Context) context.CancelFunc {
	f, _ := ctx.Value(connectionCloserKey{}).(context.CancelFunc)
	return f
}
