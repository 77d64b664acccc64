package chat

import (
	"context"
	"time"

	"sessionhub/models"
)

// SweepBatchSize bounds how many sessions one retention statement deletes,
// so no sweep holds locks for long.
const SweepBatchSize = 500

// Sweep removes sessions (with their messages) that expired more than
// retention ago, batch by batch, and reports how many it removed. A zero or
// negative retention keeps everything. Several replicas may sweep at once.
func (s *Service) Sweep(ctx context.Context, retention time.Duration) (int, error) {
	if retention <= 0 {
		return 0, nil
	}
	cutoff := s.Now().Add(-retention)
	return inBatches(func() (int, error) { return s.store.DeleteExpired(ctx, cutoff, SweepBatchSize) })
}

// inBatches repeats a bounded delete until a batch comes back short.
func inBatches(deleteBatch func() (int, error)) (int, error) {
	removed := 0
	for {
		n, err := deleteBatch()
		removed += n
		if err != nil || n < SweepBatchSize {
			return removed, err
		}
	}
}

// ForgetIdempotencyKeys removes idempotency keys past their 24-hour life,
// batch by batch, and reports how many.
func (s *Service) ForgetIdempotencyKeys(ctx context.Context) (int, error) {
	cutoff := s.Now().Add(-models.IdempotencyTTL)
	return inBatches(func() (int, error) { return s.store.DeleteIdempotencyKeysBefore(ctx, cutoff, SweepBatchSize) })
}

// Ping checks that the database answers.
func (s *Service) Ping(ctx context.Context) error { return s.store.Ping(ctx) }

// Ready checks that the database answers and can commit a write, for the
// readiness probe: a full or read-only storage is not ready. Errors:
// UNAVAILABLE (with the storage fault's sentence), or internal.
func (s *Service) Ready(ctx context.Context) error {
	if err := s.store.Ping(ctx); err != nil {
		return err
	}
	return s.store.CheckWritable(ctx)
}
