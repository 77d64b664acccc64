package store

import "context"

// MigrateDownTo rolls s's schema back to version, then MigrateUp (below)
// applies everything again: an upgrade of a database that holds data.
func MigrateDownTo(s *Store, version int64) error {
	p, err := s.migrations()
	if err != nil {
		return err
	}
	_, err = p.DownTo(context.Background(), version)
	return err
}

// MigrateUp applies every pending migration.
func MigrateUp(s *Store) error {
	p, err := s.migrations()
	if err != nil {
		return err
	}
	_, err = p.Up(context.Background())
	return err
}

// ObserveGroups reports the size of every shared send statement s runs
// (PostgreSQL only); call it before sending.
func ObserveGroups(s *Store, observe func(size int)) {
	s.sends.sizes = observe
}

// QueuedSends counts the sends waiting for a group statement (PostgreSQL only).
func QueuedSends(s *Store) int {
	s.sends.mu.Lock()
	defer s.sends.mu.Unlock()
	return len(s.sends.queue)
}

// SessionHeadsAgree reports the sessions whose head row (webhook_session_heads)
// is not their oldest pending delivery, or is missing, or stays without one.
func SessionHeadsAgree(s *Store) ([]string, error) {
	rows, err := s.sql.Query(`SELECT 'missing or wrong: ' || d.session_id FROM webhook_deliveries d
		WHERE d.status = 'pending' AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e
			WHERE e.session_id = d.session_id AND e.status = 'pending'
			  AND (e.feed_tx, e.feed_seq, e.part) < (d.feed_tx, d.feed_seq, d.part))
		  AND NOT EXISTS (SELECT 1 FROM webhook_session_heads h WHERE h.session_id = d.session_id AND h.delivery_id = d.id
			AND h.next_attempt_at = d.next_attempt_at)
		UNION ALL
		SELECT 'left over: ' || h.session_id FROM webhook_session_heads h
		WHERE NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.id = h.delivery_id AND d.status = 'pending')`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, err
		}
		out = append(out, line)
	}
	return out, rows.Err()
}
