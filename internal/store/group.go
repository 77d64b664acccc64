package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"sessionhub/models"
)

// groupSendSQL is writeSessionSQL for many sessions at once: one statement,
// one commit, shared by the sends that queued while the previous statements
// ran. Each session's write is still guarded by the version its send read;
// the rows are locked in id order so that two groups (on any replicas)
// cannot deadlock.
const groupSendSQL = `
WITH input AS (
	SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[], $4::int[], $5::int[], $6::bool[],
		$7::int[], $8::int[], $9::bigint[], $10::uuid[], $11::uuid[], $12::bool[], $13::text[], $14::jsonb[],
		$15::jsonb[], $16::timestamptz[], $17::jsonb[])
	AS t(id, last_activity, expires_at, renewal_count, timeout_minutes, auto_renew, max_duration_minutes,
		warning_threshold_minutes, version, message_id, author_id, is_agent, content, metadata, attachments, created_at,
		session_status)
), locked AS (
	SELECT s.id FROM sessions s JOIN input i ON s.id = i.id AND s.version = i.version
	ORDER BY s.id FOR UPDATE OF s
), updated AS (
	UPDATE sessions s SET last_activity = i.last_activity, expires_at = i.expires_at, renewal_count = i.renewal_count,
		timeout_minutes = i.timeout_minutes, auto_renew = i.auto_renew, max_duration_minutes = i.max_duration_minutes,
		warning_threshold_minutes = i.warning_threshold_minutes, last_message_at = i.created_at, version = s.version + 1
	FROM input i JOIN locked l ON l.id = i.id
	WHERE s.id = i.id AND s.version = i.version
	RETURNING s.id
), inserted AS (
	INSERT INTO messages (id, session_id, author_id, is_agent, content, metadata, attachments, created_at, session_status)
	SELECT i.message_id, i.id, i.author_id, i.is_agent, i.content, i.metadata, i.attachments, i.created_at, i.session_status
	FROM input i JOIN updated u ON u.id = i.id
)
SELECT id FROM updated`

const (
	// maxGroupSize bounds one statement's sends.
	maxGroupSize = 64
	// groupTimeout bounds a statement no request owns alone (the server's
	// statement_timeout is shorter).
	groupTimeout = 15 * time.Second
)

// pendingSend is one session write with its message, waiting for a statement.
type pendingSend struct {
	session *models.Session
	version int64
	message *models.Message
	done    chan sendOutcome // buffered: the statement never waits for a send that gave up
}

type sendOutcome struct {
	written bool
	err     error
}

// groupCommitter writes concurrent sends in shared statements. Under light
// load a send goes alone at once; under heavy load sends queue while a
// statement runs, and each finished statement takes the queue (up to
// maxGroupSize). A session is never in two statements at once. A client is
// answered only after the statement holding its send committed.
//
// How many statements run at once follows the load: one, unless the sends
// queued behind the running statements fill a whole group for each of them,
// that is more than they will take when they finish; then one more starts,
// up to maxStatements (a share of the connection pool). One at a time is
// fastest while it keeps up: on a 2-core machine at 32 clients, one
// statement served 25 % more sends than four (bigger groups, one backend
// busy instead of four contending), and at 32 clients the queue never holds
// a full group, so the 2-core figures stay those of one statement. A large
// database server fed by many clients gets more statements in flight.
type groupCommitter struct {
	single func(ctx context.Context, session *models.Session, version int64, message *models.Message) (bool, error)
	group  func(ctx context.Context, sends []*pendingSend) (map[uuid.UUID]bool, error)
	// sizes hears the size of every group statement (tests); may be nil.
	sizes func(int)
	// statements hears the sends of every statement, one-send ones
	// included (metrics); set before the first send, may be nil.
	statements func(int)

	// maxStatements bounds the statements running at once.
	maxStatements int

	mu      sync.Mutex
	queue   []*pendingSend
	writing map[uuid.UUID]bool
	running int
}

// newGroupCommitter writes groups through db, whose pool holds poolSize
// connections: a quarter of them at most run group statements, the rest stay
// for reads and single writes.
func newGroupCommitter(db *sql.DB, poolSize int, single func(context.Context, *models.Session, int64, *models.Message) (bool, error)) *groupCommitter {
	return &groupCommitter{
		maxStatements: max(1, poolSize/4),
		single:        single,
		group: func(ctx context.Context, sends []*pendingSend) (map[uuid.UUID]bool, error) {
			return writeGroup(ctx, db, sends)
		},
		writing: map[uuid.UUID]bool{},
	}
}

// write queues a send and waits for its statement. If ctx ends first the
// send may still commit, as a statement cut off mid-commit may.
func (g *groupCommitter) write(ctx context.Context, session *models.Session, version int64, message *models.Message) (bool, error) {
	p := &pendingSend{session: session, version: version, message: message, done: make(chan sendOutcome, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, p)
	if g.running == 0 || (g.running < g.maxStatements && len(g.queue) >= g.running*maxGroupSize) {
		g.running++
		go g.drain()
	}
	g.mu.Unlock()
	select {
	case out := <-p.done:
		return out.written, out.err
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// drain writes groups until the queue holds nothing it may take.
func (g *groupCommitter) drain() {
	for {
		sends := g.take()
		if sends == nil {
			return
		}
		if g.statements != nil {
			g.statements(len(sends))
		}
		ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
		outcomes := g.exec(ctx, sends)
		cancel()
		g.mu.Lock()
		for _, p := range sends {
			delete(g.writing, p.session.ID)
		}
		g.mu.Unlock()
		for i, p := range sends {
			p.done <- outcomes[i]
		}
	}
}

// take removes the next group from the queue, oldest first, skipping sends
// to sessions being written now (they wait for the next group); with none,
// the caller's worker stops.
func (g *groupCommitter) take() []*pendingSend {
	g.mu.Lock()
	defer g.mu.Unlock()
	var group []*pendingSend
	rest := g.queue[:0]
	for _, p := range g.queue {
		if len(group) < maxGroupSize && !g.writing[p.session.ID] {
			g.writing[p.session.ID] = true
			group = append(group, p)
		} else {
			rest = append(rest, p)
		}
	}
	clear(g.queue[len(rest):])
	g.queue = rest
	if len(group) == 0 {
		g.running--
		return nil
	}
	return group
}

// exec writes sends and returns each one's outcome, in order. A group
// statement that the database refuses for a reason tied to one of its rows
// (a value it cannot store, a vanished foreign key) would fail every send in
// it; so it is retried one send per statement, and only the offending send
// gets the error. A group that was rolled back by a deadlock or a
// serialization failure wrote nothing: every send re-reads its session and
// tries again. A group that failed for want of a database fails every send.
func (g *groupCommitter) exec(ctx context.Context, sends []*pendingSend) []sendOutcome {
	outcomes := make([]sendOutcome, len(sends))
	if len(sends) == 1 {
		p := sends[0]
		outcomes[0].written, outcomes[0].err = g.single(ctx, p.session, p.version, p.message)
		return outcomes
	}
	if g.sizes != nil {
		g.sizes(len(sends))
	}
	written, err := g.group(ctx, sends)
	switch {
	case err == nil:
		for i, p := range sends {
			outcomes[i].written = written[p.session.ID]
		}
	case isRetryable(err):
		// nothing was written; every outcome stays "not written"
	case isUnavailable(err):
		for i := range outcomes {
			outcomes[i].err = err
		}
	default:
		for i, p := range sends {
			outcomes[i].written, outcomes[i].err = g.single(ctx, p.session, p.version, p.message)
		}
	}
	return outcomes
}

// writeGroup runs groupSendSQL and reports which sessions it wrote.
func writeGroup(ctx context.Context, db *sql.DB, sends []*pendingSend) (map[uuid.UUID]bool, error) {
	n := len(sends)
	var (
		ids, messageIDs, authorIDs, contents, metadata, attachments = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		lastActivity, expiresAt, createdAt                          = make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
		renewals, timeouts, maxDurations, warnings                  = make([]int32, n), make([]int32, n), make([]int32, n), make([]int32, n)
		autoRenew, isAgent                                          = make([]bool, n), make([]bool, n)
		versions                                                    = make([]int64, n)
		statuses                                                    = make([]*string, n)
	)
	for i, p := range sends {
		s, m, cfg := p.session, p.message, p.session.TimeoutConfig
		ids[i], lastActivity[i], expiresAt[i], renewals[i] = s.ID.String(), s.LastActivity.UTC(), s.ExpiresAt.UTC(), int32(s.RenewalCount)
		timeouts[i], autoRenew[i], maxDurations[i], warnings[i] = int32(cfg.TimeoutMinutes), cfg.AutoRenew, int32(cfg.MaxDurationMinutes), int32(cfg.WarningThresholdMinutes)
		versions[i] = p.version
		messageIDs[i], authorIDs[i], isAgent[i], contents[i], createdAt[i] = m.ID.String(), m.AuthorID.String(), m.IsAgent, m.Content, m.CreatedAt.UTC()
		meta, err := m.Metadata.Value()
		if err != nil {
			return nil, err
		}
		atts, err := m.Attachments.Value()
		if err != nil {
			return nil, err
		}
		metadata[i], _ = meta.(string)
		attachments[i], _ = atts.(string)
		if statuses[i], err = statusJSON(m.SessionStatus); err != nil {
			return nil, err
		}
	}
	rows, err := db.QueryContext(ctx, groupSendSQL, ids, lastActivity, expiresAt, renewals, timeouts, autoRenew,
		maxDurations, warnings, versions, messageIDs, authorIDs, isAgent, contents, metadata, attachments, createdAt, statuses)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	written := make(map[uuid.UUID]bool, n)
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		written[id] = true
	}
	return written, rows.Err()
}

// isRetryable: the statement was rolled back by a deadlock or serialization
// failure and may simply run again.
func isRetryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

// statusJSON is a message's stored sessionStatus, or nil for none.
func statusJSON(st *models.SessionStatus) (*string, error) {
	if st == nil {
		return nil, nil
	}
	v, err := st.Value()
	if err != nil {
		return nil, err
	}
	text := v.(string)
	return &text, nil
}
