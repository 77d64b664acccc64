package chat

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"

	"sessionhub/internal/pubsub"
	"sessionhub/models"
)

// How an agent feed is tailed. The feed is durable (written with every
// change); bus events only wake its readers early.
const (
	feedPage = 100
	// feedRecheck: a reader re-reads this often even when nothing woke it
	// (a change made by a path that announces nothing, such as the
	// retention sweep or an operator's SQL, or a wake lost on the bus).
	feedRecheck = 2 * time.Second
	// feedPendingRetry: rows of transactions still running wait behind the
	// cursor; read again soon (doubling up to feedRecheck).
	feedPendingRetry = 10 * time.Millisecond
	// feedReadAttempts bounds the failed reads in a row before a follower is
	// ended with UNAVAILABLE (about half a minute).
	feedReadAttempts = 8
)

// canFollowAgent says whether the caller may follow an agent's feed: the
// agent itself or an admin. Errors: FORBIDDEN.
func canFollowAgent(p models.Principal, agentID string) error {
	if p.Role == models.RoleAdmin || p.Role == models.RoleAgent && strings.EqualFold(p.ID.String(), agentID) {
		return nil
	}
	return models.ErrForbidden("Only the agent itself or an admin can follow an agent's events")
}

// FollowAgent follows every event of every session of an agent (SPEC §8):
// sessions opened, messages (user and agent), renewals, lifetime notices,
// deletions, each handed to deliver in feed order (in order per session)
// with its position. With after (a position's cursor) the feed continues
// right after it, so a worker that restarts with its last cursor misses
// nothing; without it, the feed starts with what happens next. deliver may
// block (the feed waits; nobody is dropped); false stops the feed. end is
// called once, when the feed stops: nil when ctx ended or deliver refused,
// pubsub.ErrMissedEvents when the database stayed unreachable,
// FEED_CURSOR_EXPIRED when the retention sweep removed rows the follower had
// not read yet (it fell a whole retention period behind).
// Errors: FORBIDDEN, AGENT_NOT_FOUND, VALIDATION_ERROR (a bad cursor),
// FEED_CURSOR_EXPIRED (after points before the feed's retention horizon).
func (s *Service) FollowAgent(ctx context.Context, agentID, after string, deliver func(models.FeedEvent) bool, end func(error)) error {
	if err := canFollowAgent(models.PrincipalFrom(ctx), agentID); err != nil {
		return err
	}
	var from models.FeedPosition
	if after != "" {
		var err error
		if from, err = models.ParseFeedCursor(after); err != nil {
			return err
		}
	}
	agent, err := s.Agent(ctx, agentID)
	if err != nil {
		return err
	}
	if after == "" {
		if from, err = s.store.AgentFeedHead(ctx, agent.ID); err != nil {
			return err
		}
	} else {
		// Refused up front when it is plain; each read checks again (a sweep
		// may pass the cursor before the first one).
		horizon, err := s.store.AgentFeedHorizon(ctx, agent.ID)
		if err != nil {
			return err
		}
		if err := feedExpired(from, horizon); err != nil {
			return err
		}
	}
	// Watched after the head was read: a change committed in between is
	// after the head, and the first read below finds it.
	wake := make(chan struct{}, 1)
	stop := s.bus.WatchAgent(agent.ID, func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	go s.tailFeed(ctx, agent.ID, from, wake, deliver, func(why error) {
		stop()
		end(why)
	})
	return nil
}

// tailFeed hands over the feed's rows after pos, then waits to be woken (or
// for the periodic re-read) and reads again, until ctx ends.
func (s *Service) tailFeed(ctx context.Context, agentID uuid.UUID, pos models.FeedPosition, wake <-chan struct{}, deliver func(models.FeedEvent) bool, end func(error)) {
	failures, retry := 0, feedPendingRetry
	for {
		page, err := s.store.ReadAgentFeed(ctx, agentID, pos, feedPage)
		if ctx.Err() != nil {
			end(nil)
			return
		}
		delay := feedRecheck
		switch {
		case err != nil:
			if failures++; failures >= feedReadAttempts {
				s.log.WarnContext(ctx, "agent feed unreadable; follower ended", "agent", agentID, "err", err)
				end(pubsub.ErrMissedEvents)
				return
			}
			delay = time.Duration(1<<min(failures, 5)) * 100 * time.Millisecond
		default:
			failures = 0
			if gone := feedExpired(pos, page.Horizon); gone != nil {
				s.log.WarnContext(ctx, "agent feed follower fell behind the retention horizon; follower ended", "agent", agentID,
					"cursor", pos.Cursor(), "horizon", page.Horizon.Cursor())
				end(gone)
				return
			}
			for _, row := range page.Rows {
				for _, e := range row.Events() {
					if !pos.Before(row.Tx, row.Seq) && e.Position.Done <= pos.Done {
						continue // handed out before the cursor
					}
					if !deliver(e) {
						end(nil)
						return
					}
				}
				pos = models.FeedPosition{Tx: row.Tx, Seq: row.Seq, Done: 2}
			}
			if len(page.Rows) == feedPage {
				continue
			}
			if page.Pending {
				delay, retry = retry, min(retry*2, feedRecheck)
			} else {
				retry = feedPendingRetry
			}
		}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			end(nil)
			return
		case <-wake:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// AgentFollowers counts this process's agent feed followers: each holds
// one watch on the bus from its start to its end.
func (s *Service) AgentFollowers() int { return s.bus.AgentFollowers() }

// feedExpired refuses a feed position the retention sweep has passed: the
// events between it and the horizon were removed. Errors: FEED_CURSOR_EXPIRED.
func feedExpired(pos, horizon models.FeedPosition) error {
	if !pos.Less(horizon) {
		return nil
	}
	return models.ErrFeedCursorExpired(pos.Cursor(), horizon.Cursor())
}
