package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Reads measured beside their raw-SQL ceilings: the history page (the 20
// newest messages of one session holding -history messages) and one
// session by id.
const (
	historyPage = 20

	historySQL = `SELECT id, session_id, author_id, is_agent, content, metadata, attachments, created_at, session_status
FROM messages WHERE session_id = $1 ORDER BY created_at DESC, id DESC LIMIT 20`
	sessionSQL = `SELECT * FROM sessions WHERE id = $1`

	historyQuery = `query($id: ID!) { session(id: $id) { messages(first: 20) { edges { cursor node {
	id content authorId isAgent createdAt metadata attachments { type url } } } pageInfo { hasNextPage endCursor } } } }`
	sessionQuery = `query($id: ID!) { session(id: $id) { id agentId userId createdAt lastActivity expiresAt timeRemaining
	isNearExpiration renewalCount metadata timeoutConfig { timeoutMinutes autoRenew maxDurationMinutes } } }`
)

// readers adds the read operations to ops: history-* read the newest page of
// the history session, session-* a random session by id, http-floor the
// liveness probe.
func readers(client *http.Client, o options, pool *pgxpool.Pool, history string, ops map[string]func(context.Context, string) error) {
	get := func(ctx context.Context, path string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.target()+path, nil)
		if err != nil {
			return err
		}
		if o.apiKey != "" {
			req.Header.Set("X-API-KEY", o.apiKey)
		}
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		if _, err := io.Copy(io.Discard, res.Body); err != nil {
			return err
		}
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %d", path, res.StatusCode)
		}
		return nil
	}
	query := func(ctx context.Context, document, id string) error {
		var out struct{ Errors []json.RawMessage }
		if err := post(ctx, client, o, "/query", map[string]any{"query": document, "variables": map[string]any{"id": id}}, http.StatusOK, &out); err != nil {
			return err
		}
		if len(out.Errors) > 0 {
			return fmt.Errorf("graphql: %s", out.Errors[0])
		}
		return nil
	}
	ops["history-rest"] = func(ctx context.Context, _ string) error {
		return get(ctx, fmt.Sprintf("/api/messaging/sessions/%s/messages?limit=%d", history, historyPage))
	}
	ops["history-graphql"] = func(ctx context.Context, _ string) error { return query(ctx, historyQuery, history) }
	ops["session-rest"] = func(ctx context.Context, s string) error { return get(ctx, "/api/messaging/sessions/"+s) }
	ops["session-graphql"] = func(ctx context.Context, s string) error { return query(ctx, sessionQuery, s) }
	// The floor under every REST read: a request the server answers without
	// the database, through the same middleware, from the same client.
	ops["http-floor"] = func(ctx context.Context, _ string) error { return get(ctx, "/healthz") }
	if pool == nil {
		return
	}
	ops["history-sql"] = func(ctx context.Context, _ string) error {
		return readRows(ctx, pool, historySQL, history, historyPage)
	}
	ops["session-sql"] = func(ctx context.Context, s string) error { return readRows(ctx, pool, sessionSQL, s, 1) }
}

// readRows runs a read and fetches every column of every row, as the server
// has to.
func readRows(ctx context.Context, pool *pgxpool.Pool, sql, id string, want int) error {
	rows, err := pool.Query(ctx, sql, id)
	if err != nil {
		return err
	}
	n := 0
	for rows.Next() {
		if _, err := rows.Values(); err != nil {
			rows.Close()
			return err
		}
		n++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if n != want {
		return fmt.Errorf("read %d rows, want %d", n, want)
	}
	return nil
}

// fillHistory gives session n messages: over REST, or with -db in one
// statement (a million messages take minutes through the API).
func fillHistory(ctx context.Context, client *http.Client, o options, pool *pgxpool.Pool, session string, n int) error {
	if pool != nil {
		_, err := pool.Exec(ctx, `
INSERT INTO messages (id, session_id, author_id, is_agent, content, created_at)
SELECT gen_random_uuid(), s.id, s.user_id, false, 'history message ' || i, now() - (($2 - i) * interval '1 millisecond')
FROM sessions s, generate_series(1, $2) AS i WHERE s.id = $1`, session, n)
		if err != nil {
			return fmt.Errorf("fill history: %w", err)
		}
		_, err = pool.Exec(ctx, `UPDATE sessions SET last_message_at = now() WHERE id = $1`, session)
		return err
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, o.concurrency)
	for w := range o.concurrency {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if err := sendREST(ctx, client, o, session); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
