package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// subscriptionsPerSocket is how many subscriptions share one WebSocket in
// the idle-subscriptions run (the server's default cap per connection).
const subscriptionsPerSocket = 100

type wsMessage struct {
	ID      string `json:"id,omitempty"`
	Type    string `json:"type"`
	Payload any    `json:"payload,omitempty"`
}

// idleSubscriptions opens n sessionEvents subscriptions that receive
// nothing, over graphql-transport-ws sockets of subscriptionsPerSocket each,
// and reports what they cost the server: its resident memory (from
// /metrics) before and once all n are registered. The server must allow n
// subscriptions per caller (SUBSCRIPTIONS_PER_CALLER).
func idleSubscriptions(ctx context.Context, client *http.Client, o options, sessions []string, n int) error {
	before, err := scrape(ctx, client, o, "process_resident_memory_bytes")
	if err != nil {
		return err
	}
	baseline, err := scrape(ctx, client, o, "sessionhub_active_subscriptions")
	if err != nil {
		return err
	}
	wsURL := "ws" + strings.TrimPrefix(o.url, "http") + "/query"
	var sockets []*websocket.Conn
	defer func() {
		for _, c := range sockets {
			_ = c.Close(websocket.StatusNormalClosure, "")
		}
	}()
	init := map[string]any{}
	if o.apiKey != "" {
		init["X-API-KEY"] = o.apiKey
	}
	start := time.Now()
	for opened := 0; opened < n; {
		conn, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
		if err != nil {
			return fmt.Errorf("socket %d: %w", len(sockets), err)
		}
		sockets = append(sockets, conn)
		if err := wsjson.Write(ctx, conn, wsMessage{Type: "connection_init", Payload: init}); err != nil {
			return err
		}
		var ack wsMessage
		if err := wsjson.Read(ctx, conn, &ack); err != nil || ack.Type != "connection_ack" {
			return fmt.Errorf("connection_init: %v %v", ack, err)
		}
		for i := 0; i < subscriptionsPerSocket && opened < n; i, opened = i+1, opened+1 {
			if err := wsjson.Write(ctx, conn, wsMessage{ID: strconv.Itoa(i), Type: "subscribe", Payload: map[string]any{
				"query":     `subscription($id: ID!) { sessionEvents(sessionId: $id) { __typename } }`,
				"variables": map[string]any{"id": sessions[opened%len(sessions)]},
			}}); err != nil {
				return err
			}
		}
		// Pings (and any refusal) must be read for the socket to stay open.
		go func() {
			for {
				var m wsMessage
				if err := wsjson.Read(context.Background(), conn, &m); err != nil {
					return
				}
				switch m.Type {
				case "ping":
					_ = wsjson.Write(context.Background(), conn, wsMessage{Type: "pong"})
				case "error", "complete":
					fmt.Printf("subscription %s refused: %v\n", m.ID, m.Payload)
				}
			}
		}()
	}
	for {
		active, err := scrape(ctx, client, o, "sessionhub_active_subscriptions")
		if err != nil {
			return err
		}
		if active-baseline >= float64(n) {
			break
		}
		if time.Since(start) > 2*time.Minute {
			return fmt.Errorf("only %.0f of %d subscriptions registered after 2 minutes", active-baseline, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	opened := time.Since(start)
	time.Sleep(2 * time.Second) // let the server settle (GC, freed handshake buffers)
	if d := o.hold; d > 0 {
		fmt.Printf("holding the subscriptions open for %s\n", d)
		time.Sleep(d)
	}
	after, err := scrape(ctx, client, o, "process_resident_memory_bytes")
	if err != nil {
		return err
	}
	fmt.Printf("idle subscriptions: %d over %d sockets, opened in %s\n", n, len(sockets), opened.Round(time.Millisecond))
	for _, series := range []string{"go_goroutines", "go_memstats_stack_inuse_bytes", "go_memstats_heap_inuse_bytes", "go_memstats_heap_alloc_bytes"} {
		if v, err := scrape(ctx, client, o, series); err == nil {
			fmt.Printf("  %s %.0f\n", series, v)
		}
	}
	fmt.Printf("server RSS: %.1f MiB before, %.1f MiB after: %.2f KiB per subscription (socket share included)\n",
		before/(1<<20), after/(1<<20), (after-before)/1024/float64(n))
	return nil
}

// scrape reads one unlabelled series from the server's /metrics.
func scrape(ctx context.Context, client *http.Client, o options, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.url+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	lines := bufio.NewScanner(res.Body)
	for lines.Scan() {
		if value, ok := strings.CutPrefix(lines.Text(), name+" "); ok {
			return strconv.ParseFloat(value, 64)
		}
	}
	return 0, fmt.Errorf("/metrics has no %s", name)
}

// fanOut follows each of the sessions with one subscriber (over sockets of
// subscriptionsPerSocket), sends rate messages a second spread over them for
// o.duration (rate 0: each client sends as soon as its last send was
// answered), and reports the sends per second, the events delivered, the
// latency of the sends, the latency of the events (from the send's request,
// and from its 201: 0 when the event came first), the messages never
// delivered, and the server's RSS.
func fanOut(ctx context.Context, client *http.Client, o options, sessions []string, rate int) error {
	wsURL := "ws" + strings.TrimPrefix(o.url, "http") + "/query"
	type timing struct{ sent, acked, arrived time.Time }
	var (
		mu       sync.Mutex
		timings  = map[string]*timing{} // message id → when it was sent, answered, heard
		received int
	)
	timingOf := func(id string) *timing {
		t := timings[id]
		if t == nil {
			t = &timing{}
			timings[id] = t
		}
		return t
	}
	eventArrived := func(id string, at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		received++
		timingOf(id).arrived = at
	}
	sendAcked := func(id string, sent, at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		t := timingOf(id)
		t.sent, t.acked = sent, at
	}
	init := map[string]any{}
	if o.apiKey != "" {
		init["X-API-KEY"] = o.apiKey
	}
	var sockets []*websocket.Conn
	defer func() {
		for _, c := range sockets {
			_ = c.Close(websocket.StatusNormalClosure, "")
		}
	}()
	baseline, err := scrape(ctx, client, o, "sessionhub_active_subscriptions")
	if err != nil {
		return err
	}
	for first := 0; first < len(sessions); first += subscriptionsPerSocket {
		conn, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
		if err != nil {
			return err
		}
		conn.SetReadLimit(1 << 20)
		sockets = append(sockets, conn)
		if err := wsjson.Write(ctx, conn, wsMessage{Type: "connection_init", Payload: init}); err != nil {
			return err
		}
		var ack wsMessage
		if err := wsjson.Read(ctx, conn, &ack); err != nil || ack.Type != "connection_ack" {
			return fmt.Errorf("connection_init: %v %v", ack, err)
		}
		for i, s := range sessions[first:min(len(sessions), first+subscriptionsPerSocket)] {
			if err := wsjson.Write(ctx, conn, wsMessage{ID: strconv.Itoa(i), Type: "subscribe", Payload: map[string]any{
				"query":     `subscription($id: ID!) { sessionEvents(sessionId: $id) { ... on MessageAddedEvent { message { id } } } }`,
				"variables": map[string]any{"id": s},
			}}); err != nil {
				return err
			}
		}
		go func() {
			for {
				var m struct {
					ID      string `json:"id"`
					Type    string `json:"type"`
					Payload struct {
						Data struct {
							SessionEvents struct {
								Message *struct{ ID string }
							}
						}
					} `json:"payload"`
				}
				if err := wsjson.Read(context.Background(), conn, &m); err != nil {
					return
				}
				switch {
				case m.Type == "ping":
					_ = wsjson.Write(context.Background(), conn, wsMessage{Type: "pong"})
				case m.Type == "next" && m.Payload.Data.SessionEvents.Message != nil:
					eventArrived(m.Payload.Data.SessionEvents.Message.ID, time.Now())
				case m.Type == "error" || m.Type == "complete":
					fmt.Printf("subscription %s ended: %s\n", m.ID, m.Type)
				}
			}
		}()
	}
	for {
		active, err := scrape(ctx, client, o, "sessionhub_active_subscriptions")
		if err != nil {
			return err
		}
		if active-baseline >= float64(len(sessions)) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Sends at the given rate (or as fast as answered) from o.concurrency clients.
	var interval time.Duration
	if rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(o.concurrency) / float64(rate))
	}
	start := time.Now()
	deadline := start.Add(o.duration)
	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	for range o.concurrency {
		wg.Go(func() {
			var tick <-chan time.Time
			if interval > 0 {
				ticker := time.NewTicker(interval)
				defer ticker.Stop()
				tick = ticker.C
			}
			for {
				if tick != nil {
					<-tick
				}
				t0 := time.Now()
				if t0.After(deadline) {
					return
				}
				var m struct{ ID string }
				if err := post(ctx, client, o, "/api/messaging/sessions/"+sessions[rand.IntN(len(sessions))]+"/messages",
					map[string]any{"content": "fan-out message"}, http.StatusCreated, &m); err != nil {
					failed.Add(1)
					continue
				}
				sent.Add(1)
				sendAcked(m.ID, t0, time.Now())
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	time.Sleep(2 * time.Second) // the last events in flight
	rss, err := scrape(ctx, client, o, "process_resident_memory_bytes")
	if err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	var sends, fromSend, fromAck []time.Duration
	undelivered := 0
	for _, t := range timings {
		switch {
		case t.sent.IsZero():
			continue // an event of a send that failed on the client's side, or a probe
		case t.arrived.IsZero():
			undelivered++
			continue
		}
		sends = append(sends, t.acked.Sub(t.sent))
		fromSend = append(fromSend, t.arrived.Sub(t.sent))
		fromAck = append(fromAck, max(0, t.arrived.Sub(t.acked)))
	}
	pct := func(d []time.Duration, p float64) time.Duration {
		if len(d) == 0 {
			return 0
		}
		slices.Sort(d)
		return d[min(len(d)-1, int(p*float64(len(d))))].Round(10 * time.Microsecond)
	}
	fmt.Printf("fan-out: %d subscribers on %s, sends to %s\n", len(sessions), o.url, strings.Join(o.targets, ","))
	fmt.Printf("%d sends in %s (%.0f/s, %d failed), %d events delivered (%.0f/s)\n",
		sent.Load(), elapsed.Round(time.Millisecond), float64(sent.Load())/elapsed.Seconds(), failed.Load(),
		received, float64(received)/elapsed.Seconds())
	fmt.Printf("send (request → 201): p50 %s, p99 %s\n", pct(sends, 0.50), pct(sends, 0.99))
	fmt.Printf("request → event: p50 %s, p99 %s; 201 → event: p50 %s, p99 %s\n",
		pct(fromSend, 0.50), pct(fromSend, 0.99), pct(fromAck, 0.50), pct(fromAck, 0.99))
	fmt.Printf("never delivered: %d; subscribers' server RSS %.1f MiB\n", undelivered, rss/(1<<20))
	if undelivered > 0 || failed.Load() > 0 {
		return fmt.Errorf("%d events never delivered, %d sends failed", undelivered, failed.Load())
	}
	return nil
}
