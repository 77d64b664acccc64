package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"sessionhub/models"
)

// When the connection breaks or the database stalls while a send's statement
// runs, the send may or may not have committed. Answering "unavailable, retry"
// would then invite a duplicate; so the store finds out, by the message's id
// (chosen before the write), before it answers.

// minSettleTime is how long the look-up may take at least, even when the
// request's own deadline is what cut the write short.
const minSettleTime = 3 * time.Second

// settle decides whether a send whose write failed with err committed. It
// returns nil when the message is stored (the send succeeded), err when it is
// certainly not (nothing was written: retrying is safe), and
// models.ErrSendOutcomeUnknown when the database does not answer in time.
//
// The check first bumps the session's version in its own transaction: the
// UPDATE waits for the lost statement's row lock if that statement is still
// running, and once it commits, the lost statement — guarded by the old
// version — can never commit later. Then the message either exists or never will.
func (s *Store) settle(ctx context.Context, sessionID, messageID uuid.UUID, err error) error {
	budget := minSettleTime
	if deadline, ok := ctx.Deadline(); ok {
		budget = max(budget, time.Until(deadline))
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), budget)
	defer cancel()
	backoff := 50 * time.Millisecond
	for {
		stored, checkErr := s.fenceAndFind(ctx, sessionID, messageID)
		switch {
		case checkErr == nil && stored:
			return nil
		case checkErr == nil:
			return err
		case !isUnavailable(checkErr):
			return errors.Join(models.ErrSendOutcomeUnknown(sessionID.String(), messageID.String()), checkErr)
		}
		select {
		case <-ctx.Done():
			return errors.Join(models.ErrSendOutcomeUnknown(sessionID.String(), messageID.String()), checkErr)
		case <-time.After(backoff):
			backoff = min(2*backoff, 500*time.Millisecond)
		}
	}
}

func (s *Store) fenceAndFind(ctx context.Context, sessionID, messageID uuid.UUID) (bool, error) {
	tx, err := s.sql.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `UPDATE sessions SET version = version + 1 WHERE id = $1`, sessionID); err != nil {
		return false, err
	}
	var stored bool
	// session_id leads the key, so this stays a one-shard read on a
	// distributed PostgreSQL (docs/scaling.md).
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM messages WHERE session_id = $1 AND id = $2)`, sessionID, messageID).Scan(&stored); err != nil {
		return false, err
	}
	return stored, tx.Commit()
}

// settled wraps apply to remember the message of its last run, and settles
// the outcome of a write that failed for want of a database.
type settled struct {
	store   *Store
	apply   func(*models.Session) (*models.Message, error)
	session *models.Session // as the last run of apply left it
	message *models.Message
}

func (st *settled) run(sess *models.Session) (*models.Message, error) {
	msg, err := st.apply(sess)
	st.session, st.message = sess, msg
	return msg, err
}

// outcome returns what the caller should see for a write that returned sess, err.
func (st *settled) outcome(ctx context.Context, sess *models.Session, err error) (*models.Session, error) {
	if err == nil || st.store.dialect != Postgres || st.message == nil || !isUnavailable(err) {
		return sess, err
	}
	st.store.recent.forget(st.message.SessionID)
	if settleErr := st.store.settle(ctx, st.message.SessionID, st.message.ID, err); settleErr != nil {
		return nil, translate(settleErr)
	}
	return st.session, nil
}
