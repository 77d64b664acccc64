// Command loadgen measures how many messages per second a running sessionhub
// accepts, over REST and GraphQL, beside the raw-SQL ceiling: the same
// lock-renew-insert issued by pgx directly against the same database.
//
//	go run ./cmd/loadgen -url http://localhost:8080 -db postgres://postgres@127.0.0.1:5432/sessionhub -c 32 -d 10s
//
// Reads are measured the same way, each beside the same query issued with
// pgx: -transports history-sql,history-rest,history-graphql,session-sql,session-rest,session-graphql.
// http-floor (GET /healthz, no database) shows what HTTP alone costs on the
// same machine: no REST read can beat it.
//
// With -poison, one more client sends, beside the others, messages the
// server must refuse (NUL characters, lone surrogates); loadgen then fails
// unless every one was refused with 400 and no other send failed.
//
// With -idle-subscriptions N, it opens N subscriptions that receive nothing
// and reports the server's resident memory per subscription. With -fanout N
// it follows N sessions with one subscriber each, sends -fanout-rate
// messages a second to them (0: as fast as it can), and reports delivery,
// latency and RSS.
//
// Several replicas: -url http://a,http://b,http://c sends to each in turn;
// with -fanout the subscribers sit on the first and the sends go to the
// others, so that every event crosses replicas.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

type options struct {
	// url is the first -url: fan-out subscribers and /metrics use it;
	// requests go to targets in turn.
	url, db, apiKey     string
	targets             []string
	turn                *atomic.Uint64
	concurrency, rounds int
	sessions            int
	duration, warmup    time.Duration
	transports          []string
	poison              bool
	idleSubscriptions   int
	hold                time.Duration
	history             int
	fanOut, fanOutRate  int
	// webhookDelay, when set, gives the loadgen agent a webhook to a
	// receiver in this process that answers each POST after this delay
	// (the server needs WEBHOOK_ALLOW_PRIVATE=true): a slow receiver must
	// not slow sends.
	webhookDelay time.Duration
	webhookURL   string
}

func main() {
	var o options
	var transports, urls string
	flag.StringVar(&urls, "url", "http://localhost:8080", "sessionhub base URL, or several replicas' comma-separated: requests go to each in turn (with -fanout, subscribers sit on the first and sends go to the others)")
	flag.StringVar(&o.db, "db", "", "PostgreSQL URL of the server's database, for the raw-SQL ceiling (empty: skip it)")
	flag.StringVar(&o.apiKey, "api-key", "", "X-API-KEY to send, when the server has AUTH_API_KEYS")
	flag.IntVar(&o.concurrency, "c", 32, "concurrent clients")
	flag.IntVar(&o.sessions, "sessions", 200, "sessions to spread the sends over")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds per transport (the median is reported)")
	flag.DurationVar(&o.duration, "d", 10*time.Second, "duration of one round")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured warm-up before each round")
	flag.StringVar(&transports, "transports", "sql,rest,graphql", "what to measure, in order: sends (sql, rest, graphql), the history page (history-sql, history-rest, history-graphql), one session by id (session-sql, session-rest, session-graphql), and http-floor: GET /healthz, a request that reaches no database")
	flag.IntVar(&o.history, "history", 1000, "messages in the session whose history page the history-* reads fetch (filled in one statement with -db)")
	flag.BoolVar(&o.poison, "poison", false, "add one client sending messages that must be refused (400), and fail on any other error")
	flag.IntVar(&o.idleSubscriptions, "idle-subscriptions", 0, "instead of sends, open this many idle subscriptions and report the server's RSS per subscription")
	flag.DurationVar(&o.hold, "hold", 0, "with -idle-subscriptions: keep them open this long before measuring")
	flag.IntVar(&o.fanOut, "fanout", 0, "instead of sends, follow this many sessions with one subscriber each and send -fanout-rate messages a second to them for -d")
	flag.IntVar(&o.fanOutRate, "fanout-rate", 1000, "with -fanout: messages a second; 0 sends as fast as the -c clients can")
	flag.DurationVar(&o.webhookDelay, "webhook-delay", 0, "give the agent a webhook (every event type) to a receiver in loadgen that answers each POST after this delay; the server needs WEBHOOK_ALLOW_PRIVATE=true")
	flag.Parse()
	for _, u := range strings.Split(urls, ",") {
		if u = strings.TrimSpace(u); u != "" {
			o.targets = append(o.targets, u)
		}
	}
	if len(o.targets) == 0 {
		fmt.Fprintln(os.Stderr, "loadgen: -url is empty")
		os.Exit(2)
	}
	o.url, o.turn = o.targets[0], new(atomic.Uint64)
	if o.fanOut > 0 && len(o.targets) > 1 {
		o.targets = o.targets[1:]
	}
	o.transports = strings.Split(transports, ",")
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// result is one round of one transport.
type result struct {
	sends, errors int
	// poisoned counts the poisoning client's sends; misanswered those not
	// refused as invalid.
	poisoned, misanswered int
	elapsed               time.Duration
	latencies             []time.Duration
}

// target is the base URL of the next request: the -url values in turn.
func (o options) target() string {
	return o.targets[o.turn.Add(1)%uint64(len(o.targets))]
}

func (r result) rate() float64 { return float64(r.sends) / r.elapsed.Seconds() }

func (r result) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
}

func run(ctx context.Context, o options) error {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.concurrency * 2}}
	if o.fanOut > 0 {
		o.sessions = o.fanOut
	}
	if o.webhookDelay > 0 {
		hooks, err := startSlowReceiver(o.webhookDelay)
		if err != nil {
			return err
		}
		defer hooks.report()
		o.webhookURL = hooks.url
	}
	sessions, err := setup(ctx, client, o)
	if err != nil {
		return err
	}
	if o.fanOut > 0 {
		return fanOut(ctx, client, o, sessions, o.fanOutRate)
	}
	if o.idleSubscriptions > 0 {
		return idleSubscriptions(ctx, client, o, sessions, o.idleSubscriptions)
	}
	senders := map[string]func(ctx context.Context, session string) error{
		"rest":    func(ctx context.Context, s string) error { return sendREST(ctx, client, o, s) },
		"graphql": func(ctx context.Context, s string) error { return sendGraphQL(ctx, client, o, s) },
	}
	poisoners := map[string]func(ctx context.Context, session string, n int) error{
		"rest":    func(ctx context.Context, s string, n int) error { return poisonREST(ctx, client, o, s, n) },
		"graphql": func(ctx context.Context, s string, n int) error { return poisonGraphQL(ctx, client, o, s, n) },
	}
	if !o.poison {
		clear(poisoners)
	}
	var pool *pgxpool.Pool
	if o.db != "" {
		if pool, err = pgxpool.New(ctx, o.db+withPoolSize(o.db, o.concurrency)); err != nil {
			return err
		}
		defer pool.Close()
		senders["sql"] = func(ctx context.Context, s string) error { return sendSQL(ctx, pool, s) }
	}
	history := sessions[0]
	if slices.ContainsFunc(o.transports, func(t string) bool { return strings.HasPrefix(t, "history-") }) {
		fmt.Printf("filling the history of session %s with %d messages\n", history, o.history)
		if err := fillHistory(ctx, client, o, pool, history, o.history); err != nil {
			return err
		}
		sessions = sessions[1:] // sends and session reads leave it alone
	}
	readers(client, o, pool, history, senders)
	fmt.Printf("sessionhub loadgen: %d clients, %d sessions, %d rounds of %s (median reported)\n", o.concurrency, len(sessions), o.rounds, o.duration)
	medians := map[string]result{}
	for _, t := range o.transports {
		send, ok := senders[t]
		if !ok {
			fmt.Printf("%-8s skipped (no -db for the ceiling, or unknown transport)\n", t)
			continue
		}
		var rounds []result
		for range o.rounds {
			drive(ctx, o, sessions, send, poisoners[t], o.warmup)
			rounds = append(rounds, drive(ctx, o, sessions, send, poisoners[t], o.duration))
		}
		slices.SortFunc(rounds, func(a, b result) int { return int(a.rate() - b.rate()) })
		medians[t] = rounds[len(rounds)/2]
	}
	fmt.Printf("%-16s %10s %8s %8s %8s %7s %9s\n", "", "ops/s", "p50", "p95", "p99", "errors", "/ceiling")
	for _, t := range o.transports {
		r, ok := medians[t]
		if !ok {
			continue
		}
		ratio := "-"
		if c, ok := medians[ceilingOf(t)]; ok && t != ceilingOf(t) {
			ratio = fmt.Sprintf("%.0f%%", 100*r.rate()/c.rate())
		}
		fmt.Printf("%-16s %10.0f %8s %8s %8s %7d %9s\n", t, r.rate(),
			r.percentile(0.50).Round(10*time.Microsecond), r.percentile(0.95).Round(10*time.Microsecond),
			r.percentile(0.99).Round(10*time.Microsecond), r.errors, ratio)
	}
	if !o.poison {
		return nil
	}
	var failed []string
	for _, t := range o.transports {
		r, ok := medians[t]
		if !ok || poisoners[t] == nil {
			continue
		}
		fmt.Printf("%-8s poisoned sends %d, refused with 400: %d; innocent sends failed: %d\n", t, r.poisoned, r.poisoned-r.misanswered, r.errors)
		if r.errors > 0 || r.misanswered > 0 || r.poisoned == 0 {
			failed = append(failed, t)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("poison run failed for %v", failed)
	}
	return nil
}

// ceilingOf names the raw-SQL run an operation is compared with:
// history-rest with history-sql, rest with sql.
func ceilingOf(operation string) string {
	if i := strings.LastIndex(operation, "-"); i >= 0 {
		return operation[:i] + "-sql"
	}
	return "sql"
}

func withPoolSize(dsn string, n int) string {
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return fmt.Sprintf("%spool_max_conns=%d", sep, n)
}

// drive runs the sender from o.concurrency clients for d, each picking a
// random session per send, and the poisoner (when not nil) from one more.
func drive(ctx context.Context, o options, sessions []string, send func(context.Context, string) error,
	poison func(context.Context, string, int) error, d time.Duration) result {
	var mu sync.Mutex
	var total result
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	if poison != nil {
		wg.Go(func() {
			poisoned, misanswered := 0, 0
			for ; time.Now().Before(deadline); poisoned++ {
				if err := poison(ctx, sessions[rand.IntN(len(sessions))], poisoned); err != nil {
					misanswered++
					if misanswered <= 3 {
						fmt.Fprintln(os.Stderr, "loadgen: poisoned send not refused:", err)
					}
				}
			}
			mu.Lock()
			total.poisoned, total.misanswered = poisoned, misanswered
			mu.Unlock()
		})
	}
	for range o.concurrency {
		wg.Go(func() {
			var local result
			for time.Now().Before(deadline) {
				s := sessions[rand.IntN(len(sessions))]
				t0 := time.Now()
				if err := send(ctx, s); err != nil {
					if local.errors++; local.errors <= 3 && poison != nil {
						fmt.Fprintln(os.Stderr, "loadgen: innocent send failed:", err)
					}
					continue
				}
				local.latencies = append(local.latencies, time.Since(t0))
				local.sends++
			}
			mu.Lock()
			total.sends += local.sends
			total.errors += local.errors
			total.latencies = append(total.latencies, local.latencies...)
			mu.Unlock()
		})
	}
	wg.Wait()
	total.elapsed = time.Since(start)
	slices.Sort(total.latencies)
	return total
}

// setup registers an agent and opens sessions that live for the whole run.
func setup(ctx context.Context, client *http.Client, o options) ([]string, error) {
	var agent struct {
		Data   struct{ CreateAgent struct{ ID string } }
		Errors []any
	}
	input := map[string]any{"name": "loadgen", "sessionDefaults": map[string]any{"timeoutMinutes": 1440, "maxDurationMinutes": 2880}}
	if o.webhookURL != "" {
		input["webhook"] = map[string]any{"url": o.webhookURL, "secret": "loadgen-webhook-secret"}
	}
	if err := post(ctx, client, o, "/query", map[string]any{
		"query":     `mutation($in: CreateAgentInput!) { createAgent(input: $in) { id } }`,
		"variables": map[string]any{"in": input},
	}, http.StatusOK, &agent); err != nil || agent.Data.CreateAgent.ID == "" {
		return nil, fmt.Errorf("create agent: %v %v", err, agent.Errors)
	}
	sessions := make([]string, o.sessions)
	for i := range sessions {
		var s struct{ SessionID string }
		if err := post(ctx, client, o, "/api/messaging/sessions", map[string]any{
			"agentId": agent.Data.CreateAgent.ID, "userId": uuid.NewString(),
		}, http.StatusCreated, &s); err != nil {
			return nil, fmt.Errorf("create session: %w", err)
		}
		sessions[i] = s.SessionID
	}
	return sessions, nil
}

func sendREST(ctx context.Context, client *http.Client, o options, session string) error {
	return post(ctx, client, o, "/api/messaging/sessions/"+session+"/messages",
		map[string]any{"content": "load test message"}, http.StatusCreated, nil)
}

const sendMutation = `mutation($id: ID!) { sendSessionMessage(sessionId: $id, input: {content: "load test message"}) { id sessionStatus { expiresAt renewalCount wasRenewed isNearExpiration } } }`

func sendGraphQL(ctx context.Context, client *http.Client, o options, session string) error {
	var out struct {
		Errors []json.RawMessage
	}
	if err := post(ctx, client, o, "/query", map[string]any{"query": sendMutation, "variables": map[string]any{"id": session}}, http.StatusOK, &out); err != nil {
		return err
	}
	if len(out.Errors) > 0 {
		return fmt.Errorf("graphql: %s", out.Errors[0])
	}
	return nil
}

// poisonBodies are sends every database would choke on, written as raw
// JSON because Go strings cannot carry a lone surrogate.
var poisonBodies = []string{
	`{"content":"a\u0000b"}`,
	`{"content":"fine","metadata":{"k\u0000":"v"}}`,
	`{"content":"fine","metadata":{"k":"\u0000"}}`,
	`{"content":"fine","metadata":{"k":"\ud800"}}`,
	`{"content":"\ud800"}`,
}

// poisonREST sends the nth poison body; nil means it was refused as invalid.
func poisonREST(ctx context.Context, client *http.Client, o options, session string, n int) error {
	return post(ctx, client, o, "/api/messaging/sessions/"+session+"/messages",
		json.RawMessage(poisonBodies[n%len(poisonBodies)]), http.StatusBadRequest, nil)
}

// poisonGraphQL sends the nth poison body as sendSessionMessage's input;
// nil means it was refused with VALIDATION_ERROR (400 when the body itself
// is refused, 200 when a field is).
func poisonGraphQL(ctx context.Context, client *http.Client, o options, session string, n int) error {
	body := json.RawMessage(`{"query":"mutation($id: ID!, $input: SendSessionMessageInput!) { sendSessionMessage(sessionId: $id, input: $input) { id } }",` +
		`"variables":{"id":"` + session + `","input":` + poisonBodies[n%len(poisonBodies)] + `}}`)
	var out struct {
		Errors []struct{ Extensions struct{ Code string } }
	}
	status, _, err := exchange(ctx, client, o, "/query", body, &out)
	if err != nil {
		return err
	}
	if (status != http.StatusOK && status != http.StatusBadRequest) || len(out.Errors) != 1 || out.Errors[0].Extensions.Code != "VALIDATION_ERROR" {
		return fmt.Errorf("graphql answered %d %+v, want one VALIDATION_ERROR", status, out.Errors)
	}
	return nil
}

// ceilingSQL is one send done by PostgreSQL alone: lock the live session,
// renew it under its cap, insert the message — one statement, one round trip.
const ceilingSQL = `
WITH s AS (
	SELECT id, user_id, created_at, timeout_minutes, auto_renew, max_duration_minutes
	FROM sessions WHERE id = $1 AND expires_at > now() FOR UPDATE
), u AS (
	UPDATE sessions SET
		last_activity = now(),
		expires_at = CASE WHEN s.auto_renew AND now() < s.created_at + s.max_duration_minutes * interval '1 minute'
			THEN LEAST(now() + s.timeout_minutes * interval '1 minute', s.created_at + s.max_duration_minutes * interval '1 minute')
			ELSE sessions.expires_at END,
		renewal_count = sessions.renewal_count +
			CASE WHEN s.auto_renew AND now() < s.created_at + s.max_duration_minutes * interval '1 minute' THEN 1 ELSE 0 END
	FROM s WHERE sessions.id = s.id
	RETURNING sessions.user_id
)
INSERT INTO messages (id, session_id, author_id, is_agent, content, metadata, attachments, created_at)
SELECT $2, $1, u.user_id, false, 'load test message', '{}', '[]', now() FROM u`

func sendSQL(ctx context.Context, pool *pgxpool.Pool, session string) error {
	tag, err := pool.Exec(ctx, ceilingSQL, session, uuid.Must(uuid.NewV7()))
	if err == nil && tag.RowsAffected() != 1 {
		err = errors.New("session not live")
	}
	return err
}

// post sends body and decodes the answer into out (when not nil), failing
// unless the status is want.
func post(ctx context.Context, client *http.Client, o options, path string, body any, want int, out any) error {
	status, raw, err := exchange(ctx, client, o, path, body, out)
	if err == nil && status != want {
		err = fmt.Errorf("%s: %d %.512s", path, status, raw)
	}
	return err
}

// exchange posts body as JSON and decodes a JSON answer into out (when not
// nil); it returns the status and the raw answer.
func exchange(ctx context.Context, client *http.Client, o options, path string, body any, out any) (int, []byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.target()+path, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if o.apiKey != "" {
		req.Header.Set("X-API-KEY", o.apiKey)
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return res.StatusCode, raw, err
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return res.StatusCode, raw, fmt.Errorf("%s: %d %.512s", path, res.StatusCode, raw)
		}
	}
	return res.StatusCode, raw, nil
}
