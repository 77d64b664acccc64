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

// SweepAgentFeed removes agent feed rows that happened more than retention
// ago, agent by agent and batch by batch, by position: each batch removes
// an agent's oldest rows up to the first newer one and moves the agent's
// horizon to the last row removed, in one transaction, so that a reader
// behind it is told (FEED_CURSOR_EXPIRED; a webhook skips to it) instead of
// missing events silently. Reports how many rows it removed. A zero or
// negative retention keeps everything. Several replicas may sweep at once:
// an agent is swept by one at a time.
func (s *Service) SweepAgentFeed(ctx context.Context, retention time.Duration) (int, error) {
	if retention <= 0 {
		return 0, nil
	}
	cutoff := s.Now().Add(-retention)
	agents, err := s.store.FeedAgentsBefore(ctx, cutoff)
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, agentID := range agents {
		n, err := inBatches(func() (int, error) { return s.store.DeleteAgentFeed(ctx, agentID, cutoff, SweepBatchSize) })
		removed += n
		if err != nil {
			return removed, err
		}
	}
	return removed, nil
}

// SweepDeliveries removes webhook deliveries that were delivered or failed
// for good and were created more than retention ago, batch by batch, and
// reports how many. Pending deliveries are never removed. A zero or
// negative retention keeps everything. Several replicas may sweep at once.
func (s *Service) SweepDeliveries(ctx context.Context, retention time.Duration) (int, error) {
	if retention <= 0 {
		return 0, nil
	}
	cutoff := s.Now().Add(-retention)
	return inBatches(func() (int, error) { return s.store.DeleteFinishedDeliveries(ctx, cutoff, SweepBatchSize) })
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
