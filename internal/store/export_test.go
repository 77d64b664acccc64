package store

import (
	"context"

	"github.com/google/uuid"
)

// ObserveGroups reports the size of every shared send statement s runs
// (PostgreSQL only); call it before sending.
func ObserveGroups(s *Store, observe func(size int)) {
	inner := s.sends.group
	s.sends.group = func(ctx context.Context, sends []*pendingSend) (map[uuid.UUID]bool, error) {
		observe(len(sends))
		return inner(ctx, sends)
	}
}
