package chat

import (
	"context"

	"github.com/google/uuid"

	"sessionhub/models"
)

// MaxNodes bounds one Query.nodes lookup.
const MaxNodes = 100

// Nodes looks up agents, sessions and messages by their UUIDs, all ids
// together: one query per table (and one for the sessions of the messages
// found, to check the caller may reach them) however many ids. The answer
// has one entry per id, in order: nil for an id that is malformed, unknown,
// or names something the caller may not reach (a session of another user, or
// a message of such a session); agents are readable by every caller, as
// Query.agent is. Should an agent share its UUID with a session or a message
// (agent ids can be chosen), the session, then the message, wins.
// Errors: VALIDATION_ERROR (more than MaxNodes ids).
func (s *Service) Nodes(ctx context.Context, ids []string) ([]models.Node, error) {
	if len(ids) > MaxNodes {
		return nil, models.ErrValidation("At most 100 ids can be looked up at once", models.Detail{Key: "limit", Value: MaxNodes})
	}
	parsed := make([]uuid.UUID, 0, len(ids))
	for _, id := range ids {
		if u, err := uuid.Parse(id); err == nil {
			parsed = append(parsed, u)
		}
	}
	out := make([]models.Node, len(ids))
	if len(parsed) == 0 {
		return out, nil
	}
	sessions, err := s.SessionsByID(ctx, parsed)
	if err != nil {
		return nil, err
	}
	msgs, err := s.store.FindMessages(ctx, parsed)
	if err != nil {
		return nil, err
	}
	messages, err := s.reachableMessages(ctx, msgs, sessions)
	if err != nil {
		return nil, err
	}
	agents, err := s.AgentsByID(ctx, parsed)
	if err != nil {
		return nil, err
	}
	for i, id := range ids {
		u, err := uuid.Parse(id)
		if err != nil {
			continue
		}
		if v, ok := sessions[u]; ok {
			out[i] = v
		} else if v, ok := messages[u]; ok {
			out[i] = v
		} else if v, ok := agents[u]; ok {
			out[i] = v
		}
	}
	return out, nil
}

// reachableMessages keeps the messages whose sessions the caller may reach;
// known holds sessions already read (and checked).
func (s *Service) reachableMessages(ctx context.Context, msgs []*models.Message, known map[uuid.UUID]*models.Session) (map[uuid.UUID]*models.Message, error) {
	out := make(map[uuid.UUID]*models.Message, len(msgs))
	if len(msgs) == 0 {
		return out, nil
	}
	if models.PrincipalFrom(ctx).Role != models.RoleAdmin {
		var missing []uuid.UUID
		for _, m := range msgs {
			if _, ok := known[m.SessionID]; !ok {
				missing = append(missing, m.SessionID)
			}
		}
		more, err := s.SessionsByID(ctx, missing)
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			if known[m.SessionID] == nil && more[m.SessionID] == nil {
				continue
			}
			out[m.ID] = m
		}
		return out, nil
	}
	for _, m := range msgs {
		out[m.ID] = m
	}
	return out, nil
}

// SessionsByID reads sessions by id in one query, keeping those the caller
// may reach. Reads never renew.
func (s *Service) SessionsByID(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*models.Session, error) {
	out := make(map[uuid.UUID]*models.Session, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.store.FindSessions(ctx, ids)
	if err != nil {
		return nil, err
	}
	p := models.PrincipalFrom(ctx)
	for _, row := range rows {
		if p.CanAccess(row) {
			out[row.ID] = row
		}
	}
	return out, nil
}

// AgentsByID reads agents by id in one query.
func (s *Service) AgentsByID(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*models.Agent, error) {
	out := make(map[uuid.UUID]*models.Agent, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.store.FindAgents(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, row := range rows {
		out[row.ID] = row
	}
	return out, nil
}

// CountMessages counts the messages of each session in one query (sessions
// the caller reached already; absent ones count 0).
func (s *Service) CountMessages(ctx context.Context, sessionIDs []uuid.UUID) (map[uuid.UUID]int64, error) {
	return s.store.CountMessages(ctx, sessionIDs)
}

// CountSessions counts the sessions Sessions would list with this filter,
// on every page. Errors: VALIDATION_ERROR (a malformed id in the filter).
func (s *Service) CountSessions(ctx context.Context, f SessionFilter) (int64, error) {
	criteria, err := f.criteria(models.PrincipalFrom(ctx))
	if err != nil {
		return 0, err
	}
	return s.store.CountSessions(ctx, criteria, s.Now())
}
