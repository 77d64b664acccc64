package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
)

// trickle opens a TCP connection, sends the headers of a POST with a
// 200-byte body, then one byte of it every 200 ms (far slower than the
// body read timeout allows), and returns the response the server sends
// while the body is still incomplete — or an error if the connection ends
// without one, or none comes within a minute.
func trickle(t *testing.T, srv *server, path string) (*http.Response, []byte, error) {
	addr := strings.TrimPrefix(srv.URL, "http://")
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
	if _, err := fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{", path, addr); err != nil {
		return nil, nil, err
	}
	stop := make(chan struct{})
	var wrote sync.WaitGroup
	wrote.Go(func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for range 199 {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := conn.Write([]byte(" ")); err != nil {
				return // the server closed the connection
			}
		}
	})
	defer func() { close(stop); wrote.Wait() }()
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(res.Body)
	return res, body, err
}

// TestSlowBodyIsTimedOut: with BODY_READ_TIMEOUT_SECONDS=1, 60 clients
// trickling their bodies to the REST shim and 60 to /query all get 408 with
// the transport's error shape (the contract: a body arrives within a
// bounded time), and the connection is closed; a normal request, a long
// WebSocket subscription and a keep-alive connection reused after its
// body was read are not affected.
func TestSlowBodyIsTimedOut(t *testing.T) {
	srv := startServer(t, testutil.DatabaseURL(t, store.SQLite), "BODY_READ_TIMEOUT_SECONDS=1", "RATE_LIMIT_PER_MINUTE=0")
	sessionID := srv.createSession(t, srv.createAgent(t), userID)
	ws, err := dialWS(t, srv, nil)
	if err != nil {
		t.Fatal(err)
	}

	const perRoute = 60
	paths := map[string]string{"rest": "/api/messaging/sessions/" + sessionID + "/messages", "graphql": "/query"}
	var wg sync.WaitGroup
	errs := make(chan error, 2*perRoute)
	for name, path := range paths {
		for range perRoute {
			wg.Go(func() {
				res, body, err := trickle(t, srv, path)
				if err != nil {
					errs <- fmt.Errorf("%s: no answer to a trickled body: %v", name, err)
					return
				}
				if res.StatusCode != http.StatusRequestTimeout || !res.Close {
					errs <- fmt.Errorf("%s: %d (close %v) %s, want 408 and the connection closed", name, res.StatusCode, res.Close, body)
					return
				}
				var shape struct {
					Error  string
					Code   string
					Errors []struct{ Message string }
				}
				_ = json.Unmarshal(body, &shape)
				if name == "rest" && (shape.Error != "Request body did not arrive in time" || shape.Code != "VALIDATION_ERROR") ||
					name == "graphql" && (len(shape.Errors) != 1 || shape.Errors[0].Message != "Request body did not arrive in time") {
					errs <- fmt.Errorf("%s: 408 body %s", name, body)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// A keep-alive client whose first body arrived keeps its connection past
	// the timeout: the deadline is lifted once a body is read.
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	for i := range 2 {
		res, err := client.Post(srv.URL+paths["rest"], "application/json", strings.NewReader(`{"content":"after"}`))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("send %d: %d", i, res.StatusCode)
		}
		if i == 0 {
			time.Sleep(1500 * time.Millisecond) // idle past the body timeout
		}
	}
	// The WebSocket opened before the trickling is still served.
	ws.subscribe(t, "1", eventsQuery, map[string]any{"id": sessionID})
	for attempt := 0; ; attempt++ {
		srv.postJSON(t, paths["rest"], map[string]any{"content": "live"})
		ev, err := ws.nextEvent(t, time.Second)
		if err == nil && ev.Data.SessionEvents.Message != nil && ev.Data.SessionEvents.Message.Content == "live" {
			break
		}
		if attempt > 30 {
			t.Fatalf("WebSocket after the body timeout: %+v %v", ev, err)
		}
	}
}
