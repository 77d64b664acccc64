package store

import (
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"sessionhub/models"
)

// The hot reads scan rows by hand, column by column in the order these lists
// give, instead of through GORM's reflection: on a history page that
// reflection took a quarter of the server's CPU. GORM still builds the
// statements and routes them (read replicas).

// sessionColumns are the columns scanSession reads, in order.
const sessionColumns = `id, agent_id, user_id, metadata, created_at, last_activity, expires_at,
	renewal_count, timeout_minutes, auto_renew, max_duration_minutes, warning_threshold_minutes,
	version, near_expiry_notified_for, expiry_notified, last_message_at`

// messageColumns are the columns scanMessage reads, in order.
const messageColumns = `id, session_id, author_id, is_agent, content, metadata, attachments, created_at, session_status`

// rowScanner is a *sql.Row or a *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

// sessionHistorySQL is SessionHistory's statement: the session's row
// (sessionColumns, then NULL for each of messageColumns), then its page of
// messages (the other way round), in page order (%s: DESC or ASC). The
// first column keeps the session first.
var sessionHistorySQL = func() string {
	nulls := func(n int) string { return strings.Repeat("NULL, ", n-1) + "NULL" }
	createdAt, id := 1+sessionColumnCount+8, 1+sessionColumnCount+1 // the messages' created_at and id, 1-based
	return "SELECT 0, " + sessionColumns + ", " + nulls(messageColumnCount) + " FROM sessions WHERE id = ?" +
		" UNION ALL SELECT 1, " + nulls(sessionColumnCount) + ", " + messageColumns + " FROM (?) AS page" +
		fmt.Sprintf(" ORDER BY 1, %d %%s, %d %%s", createdAt, id)
}()

var (
	sessionColumnCount = len(strings.Split(sessionColumns, ","))
	messageColumnCount = len(strings.Split(messageColumns, ","))
)

// sessionHistoryRow is the scan targets of one sessionHistorySQL row: the
// session's or the message's, the other half (nil) NULL and discarded.
func sessionHistoryRow(session, message []any) []any {
	var discard any
	row := make([]any, 0, 1+sessionColumnCount+messageColumnCount)
	row = append(row, &discard)
	for _, half := range []struct {
		targets []any
		n       int
	}{{session, sessionColumnCount}, {message, messageColumnCount}} {
		if half.targets != nil {
			row = append(row, half.targets...)
			continue
		}
		for range half.n {
			row = append(row, &discard)
		}
	}
	return row
}

func scanSession(row rowScanner, s *models.Session) error { return row.Scan(sessionFields(s)...) }

// sessionFields are the scan targets of sessionColumns.
func sessionFields(s *models.Session) []any {
	return []any{&s.ID, &s.AgentID, &s.UserID, &s.Metadata,
		timeColumn{&s.CreatedAt}, timeColumn{&s.LastActivity}, timeColumn{&s.ExpiresAt}, &s.RenewalCount,
		&s.TimeoutConfig.TimeoutMinutes, &s.TimeoutConfig.AutoRenew, &s.TimeoutConfig.MaxDurationMinutes,
		&s.TimeoutConfig.WarningThresholdMinutes, &s.Version, nullTimeColumn{&s.NearExpiryNotifiedFor},
		&s.ExpiryNotified, nullTimeColumn{&s.LastMessageAt}}
}

func scanMessage(row rowScanner, m *models.Message) error { return row.Scan(messageFields(m)...) }

// messageFields are the scan targets of messageColumns.
func messageFields(m *models.Message) []any {
	return []any{&m.ID, &m.SessionID, &m.AuthorID, &m.IsAgent, &m.Content, &m.Metadata, &m.Attachments,
		timeColumn{&m.CreatedAt}, &m.SessionStatus}
}

// findSessions runs query (selecting sessionColumns) and scans every row.
func findSessions(query *gorm.DB) ([]*models.Session, error) {
	return scanAll(query, scanSession)
}

// findMessages runs query (selecting messageColumns) and scans every row.
func findMessages(query *gorm.DB) ([]*models.Message, error) {
	return scanAll(query, scanMessage)
}

func scanAll[T any](query *gorm.DB, scan func(rowScanner, *T) error) ([]*T, error) {
	rows, err := query.Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*T
	for rows.Next() {
		v := new(T)
		if err := scan(rows, v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// takeSession is findSessions for one row: gorm.ErrRecordNotFound without it.
func takeSession(query *gorm.DB) (*models.Session, error) {
	found, err := findSessions(query.Limit(1))
	if err == nil && len(found) == 0 {
		err = gorm.ErrRecordNotFound
	}
	if err != nil {
		return nil, err
	}
	return found[0], nil
}

// timeColumn scans a time whichever form the driver hands it in: a
// time.Time, or text where SQLite cannot tell the column's type (a
// UNION's, say).
type timeColumn struct{ t *time.Time }

func (c timeColumn) Scan(src any) (err error) {
	*c.t, err = dbTime(src)
	return err
}

// nullTimeColumn is timeColumn for a nullable column.
type nullTimeColumn struct{ t **time.Time }

func (c nullTimeColumn) Scan(src any) error {
	if src == nil {
		*c.t = nil
		return nil
	}
	t, err := dbTime(src)
	*c.t = &t
	return err
}

// dbTimeLayouts are the forms a time comes back in as text: PostgreSQL's
// JSON, the SQLite driver's text, and SQLite's own clock as the triggers
// write it.
var dbTimeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00", "2006-01-02T15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999Z07:00"}

// dbTime reads a stored time, in UTC at the millisecond the rules keep.
func dbTime(v any) (time.Time, error) {
	switch t := v.(type) {
	case time.Time:
		return models.Truncate(t), nil
	case []byte:
		return dbTime(string(t))
	case string:
		for _, layout := range dbTimeLayouts {
			if parsed, err := time.Parse(layout, t); err == nil {
				return models.Truncate(parsed), nil
			}
		}
		return time.Time{}, fmt.Errorf("unreadable time %q", t)
	}
	return time.Time{}, fmt.Errorf("unreadable time %T", v)
}
