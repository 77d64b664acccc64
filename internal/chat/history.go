package chat

import (
	"context"
	"time"

	"github.com/google/uuid"

	"sessionhub/models"
)

// MessagePage is one page of a session's history, newest first.
type MessagePage struct {
	Messages []*models.Message
	Info     models.PageInfo
}

// Messages pages through a session's history, newest first, with Relay
// arguments. History stays readable after expiry (reads never renew).
// Errors: SESSION_NOT_FOUND, VALIDATION_ERROR (page size, cursor).
func (s *Service) Messages(ctx context.Context, sessionID string, args models.PageArgs) (*MessagePage, error) {
	plan, err := args.Plan(true)
	if err != nil {
		return nil, err
	}
	_, rows, err := s.sessionHistory(ctx, sessionID, plan.Query)
	if err != nil {
		return nil, err
	}
	msgs, info := models.Finish(plan, rows, messageKey)
	return &MessagePage{Messages: msgs, Info: info}, nil
}

// LatestMessages returns the newest `first` messages of each session, in one
// store query, for clients listing many sessions with their recent history.
// Unknown ids get an empty page. Errors: VALIDATION_ERROR (page size).
func (s *Service) LatestMessages(ctx context.Context, sessionIDs []uuid.UUID, first int) ([]*MessagePage, error) {
	plan, err := models.PageArgs{First: &first}.Plan(true)
	if err != nil {
		return nil, err
	}
	bySession, err := s.store.LatestMessages(ctx, sessionIDs, plan.Query.Limit)
	if err != nil {
		return nil, err
	}
	pages := make([]*MessagePage, len(sessionIDs))
	for i, id := range sessionIDs {
		msgs, info := models.Finish(plan, bySession[id], messageKey)
		pages[i] = &MessagePage{Messages: msgs, Info: info}
	}
	return pages, nil
}

func messageKey(m *models.Message) models.Key { return models.KeyOf(m.CreatedAt, m.ID) }

// HistoryRequest is the REST shim's history query: the reference's limit and
// millisecond bounds, or exact keys from opaque cursors.
type HistoryRequest struct {
	Limit  int         // clamped into 1..100
	Before *models.Key // exclusive; newest messages before it
	After  *models.Key // exclusive; oldest messages after it when Before is nil
}

// History is one REST page, newest first; HasMore is exact.
type History struct {
	Messages []*models.Message
	HasMore  bool
}

// sessionHistory reads a session the caller may see and one page of its
// messages, in one round trip. Errors: SESSION_NOT_FOUND.
func (s *Service) sessionHistory(ctx context.Context, sessionID string, q models.ListQuery) (*models.Session, []*models.Message, error) {
	id, err := uuid.Parse(sessionID)
	if err != nil {
		return nil, nil, models.ErrSessionNotFound(sessionID)
	}
	session, rows, err := s.store.SessionHistory(ctx, id, q)
	if session, err = visible(ctx, sessionID, session, err); err != nil {
		return nil, nil, err
	}
	return session, rows, nil
}

// LiveHistory answers the REST history route: the reference's semantics
// (newest first; with only `after`, the messages right after it), for a live
// session. Errors: SESSION_NOT_FOUND, SESSION_EXPIRED.
func (s *Service) LiveHistory(ctx context.Context, sessionID string, req HistoryRequest) (*History, error) {
	limit := max(1, min(req.Limit, models.MaxPageSize))
	q := models.ListQuery{Older: req.Before, Newer: req.After, Limit: limit + 1}
	// With only a lower bound, walk up from it so nothing past a window is unreachable.
	q.Ascending = req.Before == nil && req.After != nil
	session, rows, err := s.sessionHistory(ctx, sessionID, q)
	if err != nil {
		return nil, err
	}
	if err := s.checkLive(session); err != nil {
		return nil, err
	}
	h := &History{HasMore: len(rows) > limit}
	if h.HasMore {
		rows = rows[:limit]
	}
	if q.Ascending {
		for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
			rows[i], rows[j] = rows[j], rows[i]
		}
	}
	h.Messages = rows
	return h, nil
}

// SessionPage is one page of sessions.
type SessionPage struct {
	Sessions []*models.Session
	Info     models.PageInfo
}

// SessionFilter narrows a listing of sessions; empty fields do not filter.
type SessionFilter struct {
	AgentID string
	UserID  string
	State   *models.SessionState
}

// criteria parses the filter and narrows it to what the principal may see.
func (f SessionFilter) criteria(p models.Principal) (models.SessionCriteria, error) {
	c := models.SessionCriteria{State: f.State}
	for _, id := range []struct {
		field, value string
		dst          **uuid.UUID
	}{{"agentId", f.AgentID, &c.AgentID}, {"userId", f.UserID, &c.UserID}} {
		if id.value == "" {
			continue
		}
		parsed, err := parseUUID(id.field, id.value)
		if err != nil {
			return c, err
		}
		*id.dst = &parsed
	}
	switch p.Role {
	case models.RoleUser:
		c.UserID = &p.ID
	case models.RoleAgent:
		c.AgentID = &p.ID
	}
	return c, nil
}

// Sessions pages through stored sessions matching the filter, newest first
// (or oldest first, as the REST shim lists them). Errors: VALIDATION_ERROR.
func (s *Service) Sessions(ctx context.Context, f SessionFilter, args models.PageArgs, newestFirst bool) (*SessionPage, error) {
	plan, err := args.Plan(newestFirst)
	if err != nil {
		return nil, err
	}
	criteria, err := f.criteria(models.PrincipalFrom(ctx))
	if err != nil {
		return nil, err
	}
	rows, err := s.store.ListSessions(ctx, criteria, s.Now(), plan.Query)
	if err != nil {
		return nil, err
	}
	sessions, info := models.Finish(plan, rows, func(x *models.Session) models.Key { return models.KeyOf(x.CreatedAt, x.ID) })
	return &SessionPage{Sessions: sessions, Info: info}, nil
}

// SessionStats counts stored sessions at now.
type SessionStats struct {
	Total, Active, Expired, ExpiringSoon int64
	Now                                  time.Time
}

// Stats counts the sessions the caller may see: all, live, expired, and live
// inside their warning window (the last one server-wide, for operators).
func (s *Service) Stats(ctx context.Context) (*SessionStats, error) {
	now := s.Now()
	all, err := SessionFilter{}.criteria(models.PrincipalFrom(ctx))
	if err != nil {
		return nil, err
	}
	total, err := s.store.CountSessions(ctx, all, now)
	if err != nil {
		return nil, err
	}
	live := all
	live.State = new(models.SessionStateActive)
	active, err := s.store.CountSessions(ctx, live, now)
	if err != nil {
		return nil, err
	}
	soon, err := s.store.CountExpiringSoon(ctx, now)
	if err != nil {
		return nil, err
	}
	return &SessionStats{Total: total, Active: active, Expired: total - active, ExpiringSoon: soon, Now: now}, nil
}
