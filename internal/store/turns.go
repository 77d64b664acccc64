package store

import (
	"context"
	"sync"

	"github.com/google/uuid"
)

// sessionTurns lets one update of a session at a time proceed in this
// process. Two concurrent sends to one session would otherwise both start
// from the same remembered version, and the loser would pay a failed write,
// a read and a second write; in turn, the second starts from the copy the
// first just wrote and commits in one statement. Other replicas' writes are
// still caught by the version guard: this is a cost saving, not the
// correctness mechanism.
type sessionTurns struct {
	mu    sync.Mutex
	turns map[uuid.UUID]*turn
}

// turn is one session's token (a channel of capacity one) and how many
// callers hold or wait for it; the last one out removes it.
type turn struct {
	token chan struct{}
	users int
}

func newSessionTurns() *sessionTurns {
	return &sessionTurns{turns: map[uuid.UUID]*turn{}}
}

// take waits for id's turn, or for ctx to end. The returned func gives the
// turn back; it must be called exactly once when take succeeds.
func (s *sessionTurns) take(ctx context.Context, id uuid.UUID) (release func(), err error) {
	s.mu.Lock()
	t := s.turns[id]
	if t == nil {
		t = &turn{token: make(chan struct{}, 1)}
		s.turns[id] = t
	}
	t.users++
	s.mu.Unlock()

	select {
	case t.token <- struct{}{}:
		return func() { <-t.token; s.leave(id, t) }, nil
	case <-ctx.Done():
		s.leave(id, t)
		return nil, ctx.Err()
	}
}

func (s *sessionTurns) leave(id uuid.UUID, t *turn) {
	s.mu.Lock()
	if t.users--; t.users == 0 {
		delete(s.turns, id)
	}
	s.mu.Unlock()
}
