package graph

import (
	"context"
	"errors"

	"sessionhub/graph/model"
	"sessionhub/models"
)

// followAgent serves Subscription.agentEvents: it admits the subscription
// (caps and rate limit) and hands the agent's feed to gqlgen. The feed is
// read from the database at the reader's pace, so nobody is dropped for
// reading slowly; a goroutine of the feed's own waits while it is idle.
func (r *subscriptionResolver) followAgent(ctx context.Context, agentID, after string) (<-chan *model.AgentEvent, error) {
	release, err := r.subscriptions.admit(ctx)
	if err != nil {
		return nil, err
	}
	out := make(chan *model.AgentEvent)
	links := loadersFrom(ctx)
	deliver := func(e models.FeedEvent) bool {
		if links != nil {
			links.forget(e.Event.SessionID) // event.session is the session as it is now
			if e.Event.Kind == models.EventDeleted && e.Session != nil {
				links.remember(e.Session) // as it was when deleted
			}
		}
		select {
		case out <- &model.AgentEvent{Cursor: e.Position.Cursor(), Event: toModelEvent(e.Event)}:
			return true
		case <-ctx.Done():
			return false
		}
	}
	end := func(why error) {
		if why != nil && ctx.Err() == nil {
			appErr := models.ErrEventsLost()
			if coded, ok := errors.AsType[*models.Error](why); ok {
				appErr = coded // FEED_CURSOR_EXPIRED: the retention sweep passed the follower
			}
			r.subscriberDropped(dropReason(appErr))
			failStream(ctx, appErr)
		}
		close(out)
		release()
	}
	if err := r.Chat.FollowAgent(ctx, agentID, after, deliver, end); err != nil {
		release()
		return nil, err
	}
	return out, nil
}
