package chat

import (
	"context"
	"errors"

	"sessionhub/models"
)

// PersistedQuery returns the GraphQL document registered under hash (the
// SHA-256 hex of its text) by any replica; ok is false when none is.
func (s *Service) PersistedQuery(ctx context.Context, hash string) (query string, ok bool, err error) {
	query, err = s.store.FindPersistedQuery(ctx, hash)
	if errors.Is(err, models.ErrNotFound) {
		return "", false, nil
	}
	return query, err == nil, err
}

// PersistQuery registers a document under its hash for every replica (the
// caller has checked that hash is the document's SHA-256). Documents over
// models.MaxPersistedQueryBytes are not kept.
func (s *Service) PersistQuery(ctx context.Context, hash, query string) error {
	if len(query) > models.MaxPersistedQueryBytes {
		return nil
	}
	return s.store.SavePersistedQuery(ctx, &models.PersistedQuery{Hash: hash, Query: query, RegisteredAt: s.Now()})
}

// ForgetPersistedQueries removes documents registered more than
// models.PersistedQueryTTL ago and the oldest beyond
// models.MaxPersistedQueries, batch by batch, and reports how many.
func (s *Service) ForgetPersistedQueries(ctx context.Context) (int, error) {
	cutoff := s.Now().Add(-models.PersistedQueryTTL)
	return inBatches(func() (int, error) {
		return s.store.DeletePersistedQueries(ctx, cutoff, models.MaxPersistedQueries, SweepBatchSize)
	})
}
