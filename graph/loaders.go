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

// Per-operation loading of lists and links, without a query per row.
//
// Session.messages: when an operation lists sessions, the first
// Session.messages resolver fetches the latest messages (or the message
// counts) of every listed session in one query and the others read the
// result: a page of sessions with their messages costs two queries however
// long the page.
//
// Links (Message.session, Session.agent): every resolver that hands out
// messages or sessions notes them here first. The first link resolver to run
// loads the linked objects of every noted parent in one query and the others
// read the result; objects the operation already read (the session a
// message page belongs to) cost nothing. (A time-window data loader would
// batch only the resolvers that happen to start within its window.)
//
// The state is scoped to one operation, so it travels in its context; the
// services stay on the Resolver. A subscription is one operation: before
// each event is handed over, the event's session is forgotten, so that its
// links are read again (the session as it is when the event is delivered).

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
	counts   map[uuid.UUID]int64 // message counts of sessions

	sessions     map[uuid.UUID]*models.Session // read by this operation; nil: unknown or unreachable
	lastSeen     map[uuid.UUID]*models.Session // sessions forgotten since (for deleted ones)
	agents       map[uuid.UUID]*models.Agent
	wantSessions []uuid.UUID // sessions of noted messages, not read yet
	wantAgents   []uuid.UUID // agents of noted sessions, not read yet
}

// withLoaders gives each operation its own loaders over svc.
func withLoaders(svc *chat.Service) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		l := &loaders{
			svc:      svc,
			pages:    map[latestKey]*chat.MessagePage{},
			counts:   map[uuid.UUID]int64{},
			sessions: map[uuid.UUID]*models.Session{},
			lastSeen: map[uuid.UUID]*models.Session{},
			agents:   map[uuid.UUID]*models.Agent{},
		}
		return next(context.WithValue(ctx, loadersKey{}, l))
	}
}

func loadersFrom(ctx context.Context) *loaders {
	l, _ := ctx.Value(loadersKey{}).(*loaders)
	return l
}

// noteListed records sessions the operation listed, whose messages may be
// asked for, and notes them as handed out.
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
	l.noteSessionsLocked(sessions)
}

// noteSessions records sessions an operation hands out: they are known, and
// their agents are loaded together when the first Session.agent asks.
func noteSessions(ctx context.Context, sessions ...*models.Session) {
	if l := loadersFrom(ctx); l != nil {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.noteSessionsLocked(sessions)
	}
}

func (l *loaders) noteSessionsLocked(sessions []*models.Session) {
	for _, s := range sessions {
		if s == nil {
			continue
		}
		l.sessions[s.ID] = s
		if _, ok := l.agents[s.AgentID]; !ok {
			l.wantAgents = append(l.wantAgents, s.AgentID)
		}
	}
}

// noteMessages records messages an operation hands out: their sessions are
// loaded together when the first Message.session asks.
func noteMessages(ctx context.Context, msgs []*models.Message) {
	l := loadersFrom(ctx)
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range msgs {
		if _, ok := l.sessions[m.SessionID]; !ok {
			l.wantSessions = append(l.wantSessions, m.SessionID)
		}
	}
}

// forget drops what the operation knows about a session, so that it is read
// again (a subscription does this before each event).
func (l *loaders) forget(id uuid.UUID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.sessions[id]; s != nil {
		l.lastSeen[id] = s
	}
	delete(l.sessions, id)
	delete(l.counts, id)
	for k := range l.pages {
		if k.SessionID == id {
			delete(l.pages, k)
		}
	}
}

// remember keeps s as the last seen state of its session, unless the
// operation read a newer one.
func (l *loaders) remember(s *models.Session) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.lastSeen[s.ID]; !ok {
		l.lastSeen[s.ID] = s
	}
}

// lastKnown is the session as this operation last read it (nil if never).
func (l *loaders) lastKnown(id uuid.UUID) *models.Session {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.sessions[id]; s != nil {
		return s
	}
	return l.lastSeen[id]
}

// session returns a session by id, reading it together with the sessions of
// every message noted so far. A session the caller may not reach, or that is
// gone, is SESSION_NOT_FOUND (or, in a subscription, the session as it was
// last seen).
func (l *loaders) session(ctx context.Context, id uuid.UUID) (*models.Session, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.sessions[id]
	if !ok {
		ids := unique(append(l.wantSessions, id), func(x uuid.UUID) bool { _, known := l.sessions[x]; return !known })
		found, err := l.svc.SessionsByID(ctx, ids)
		if err != nil {
			return nil, err
		}
		l.wantSessions = l.wantSessions[:0]
		for _, x := range ids {
			l.sessions[x] = found[x] // nil when unknown or unreachable
		}
		l.noteSessionsLocked(mapValues(found))
		s = found[id]
	}
	if s == nil {
		if last := l.lastSeen[id]; last != nil {
			return last, nil
		}
		return nil, models.ErrSessionNotFound(id.String())
	}
	return s, nil
}

// agent returns an agent by id, reading it together with the agents of every
// session noted so far.
func (l *loaders) agent(ctx context.Context, id uuid.UUID) (*models.Agent, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, ok := l.agents[id]
	if !ok {
		ids := unique(append(l.wantAgents, id), func(x uuid.UUID) bool { _, known := l.agents[x]; return !known })
		found, err := l.svc.AgentsByID(ctx, ids)
		if err != nil {
			return nil, err
		}
		l.wantAgents = l.wantAgents[:0]
		for _, x := range ids {
			l.agents[x] = found[x]
		}
		a = found[id]
	}
	if a == nil {
		return nil, models.ErrAgentNotFound(id.String())
	}
	return a, nil
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

// messageCount returns how many messages a session has, counting them for
// all listed sessions at once the first time.
func (l *loaders) messageCount(ctx context.Context, id uuid.UUID) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n, ok := l.counts[id]; ok {
		return n, nil
	}
	ids := []uuid.UUID{id}
	if slices.Contains(l.siblings, id) {
		ids = unique(l.siblings, func(uuid.UUID) bool { return true })
	}
	counts, err := l.svc.CountMessages(ctx, ids)
	if err != nil {
		return 0, err
	}
	for _, x := range ids {
		l.counts[x] = counts[x]
	}
	return l.counts[id], nil
}

// unique returns the distinct ids that keep accepts, in order.
func unique(ids []uuid.UUID, keep func(uuid.UUID) bool) []uuid.UUID {
	seen := make(map[uuid.UUID]bool, len(ids))
	out := make([]uuid.UUID, 0, len(ids))
	for _, id := range ids {
		if !seen[id] && keep(id) {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func mapValues[K comparable, V any](m map[K]V) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
