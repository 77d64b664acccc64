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
// o.duration, and reports the events delivered, the latency from each send's
// 201 to its event arriving (0 when the event came first), the messages
// never delivered, and the server's RSS.
func fanOut(ctx context.Context, client *http.Client, o options, sessions []string, rate int) error {
	wsURL := "ws" + strings.TrimPrefix(o.url, "http") + "/query"
	var (
		mu       sync.Mutex
		acked    = map[string]time.Time{} // message id → when its 201 arrived
		arrived  = map[string]time.Time{} // message id → when its event arrived before its 201
		latency  []time.Duration
		received int
	)
	eventArrived := func(id string, at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		received++
		if sent, ok := acked[id]; ok {
			latency = append(latency, max(0, at.Sub(sent)))
			delete(acked, id)
		} else {
			arrived[id] = at
		}
	}
	sendAcked := func(id string, at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		if _, ok := arrived[id]; ok {
			latency = append(latency, 0)
			delete(arrived, id)
		} else {
			acked[id] = at
		}
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

	// Sends at the given rate from o.concurrency clients.
	interval := time.Duration(float64(time.Second) * float64(o.concurrency) / float64(rate))
	deadline := time.Now().Add(o.duration)
	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	for range o.concurrency {
		wg.Go(func() {
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for now := range tick.C {
				if now.After(deadline) {
					return
				}
				var m struct{ ID string }
				if err := post(ctx, client, o, "/api/messaging/sessions/"+sessions[rand.IntN(len(sessions))]+"/messages",
					map[string]any{"content": "fan-out message"}, http.StatusCreated, &m); err != nil {
					failed.Add(1)
					continue
				}
				sent.Add(1)
				sendAcked(m.ID, time.Now())
			}
		})
	}
	wg.Wait()
	time.Sleep(2 * time.Second) // the last events in flight
	rss, err := scrape(ctx, client, o, "process_resident_memory_bytes")
	if err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(latency)
	pct := func(p float64) time.Duration {
		if len(latency) == 0 {
			return 0
		}
		return latency[min(len(latency)-1, int(p*float64(len(latency))))].Round(10 * time.Microsecond)
	}
	fmt.Printf("fan-out: %d subscribers, %d sends in %s (%.0f/s, %d failed), %d events delivered (%.0f/s)\n",
		len(sessions), sent.Load(), o.duration, float64(sent.Load())/o.duration.Seconds(), failed.Load(),
		received, float64(received)/o.duration.Seconds())
	fmt.Printf("201 → event: p50 %s, p99 %s; never delivered: %d; server RSS %.1f MiB\n",
		pct(0.50), pct(0.99), len(acked), rss/(1<<20))
	if len(acked) > 0 || failed.Load() > 0 {
		return fmt.Errorf("%d events never delivered, %d sends failed", len(acked), failed.Load())
	}
	return nil
}
