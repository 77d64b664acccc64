package store

import (
	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"

	"sessionhub/models"
)

// recentSessions remembers the sessions this process wrote last, with their
// versions, so the next send to one can skip reading it. It is never the
// truth: every write is guarded by the version, so a copy another replica
// made stale only costs a read and a retry.
type recentSessions struct {
	cache *lru.Cache[uuid.UUID, models.Session]
}

// recentSessionsSize bounds the memory: a session's row is a few hundred bytes.
const recentSessionsSize = 10_000

func newRecentSessions() recentSessions {
	cache, err := lru.New[uuid.UUID, models.Session](recentSessionsSize)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return recentSessions{cache: cache}
}

func (r recentSessions) get(id uuid.UUID, into *models.Session) bool {
	if r.cache == nil {
		return false
	}
	s, ok := r.cache.Get(id)
	if ok {
		*into = s
	}
	return ok
}

func (r recentSessions) put(s *models.Session) {
	if r.cache != nil {
		r.cache.Add(s.ID, *s)
	}
}

func (r recentSessions) forget(id uuid.UUID) {
	if r.cache != nil {
		r.cache.Remove(id)
	}
}
