package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Khan/genqlient/graphql"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"sessionhub/client"
	"sessionhub/internal/testutil"
)

// TestGenqlientClient drives the real binary, on both databases, through the
// typed client that genqlient generates (package client) from the shared
// example operations: agents, sessions, sends and their renewals, the
// messages connection, the lifetime mutations, typed errors, and the
// sessionEvents subscription over graphql-transport-ws.
func TestGenqlientClient(t *testing.T) {
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			srv := startServer(t, testutil.DatabaseURL(t, dialect))
			c := graphql.NewClient(srv.URL+"/query", http.DefaultClient)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()

			agent, err := client.CreateAgent(ctx, c, client.CreateAgentInput{
				Name:            "Eliza",
				SessionDefaults: &client.TimeoutConfigInput{WarningThresholdMinutes: genqlientPtr(2)},
			})
			if err != nil {
				t.Fatalf("createAgent: %v", err)
			}
			agentID := agent.CreateAgent.Id
			if agentID == "" || agent.CreateAgent.Name != "Eliza" || agent.CreateAgent.CreatedAt.IsZero() {
				t.Fatalf("createAgent = %+v", agent.CreateAgent)
			}
			if d := agent.CreateAgent.SessionDefaults; d.WarningThresholdMinutes == nil || *d.WarningThresholdMinutes != 2 || d.TimeoutMinutes != nil || d.AutoRenew != nil || d.MaxDurationMinutes != nil {
				t.Errorf("agent sessionDefaults = %s, want only warningThresholdMinutes 2", genqlientDump(d))
			}
			got, err := client.GetAgent(ctx, c, agentID)
			if err != nil || got.Agent == nil || got.Agent.Id != agentID {
				t.Fatalf("agent(%s) = %s, %v", agentID, genqlientDump(got), err)
			}

			t.Run("session lifecycle", func(t *testing.T) {
				genqlientLifecycle(ctx, t, c, agentID)
			})
			t.Run("subscription", func(t *testing.T) {
				genqlientSubscription(ctx, t, srv, c, agentID)
			})
		})
	}
}

// genqlientLifecycle opens a session, sends to it, pages its messages, renews
// it every way there is, deletes it, and checks the typed errors.
func genqlientLifecycle(ctx context.Context, t *testing.T, c graphql.Client, agentID string) {
	user := testutil.MustUUID()

	_, err := client.CreateSession(ctx, c, client.CreateSessionInput{AgentId: testutil.MustUUID(), UserId: user})
	genqlientWantCode(t, err, "createSession", "AGENT_NOT_FOUND")

	metadata := json.RawMessage(`{"channel":"e2e","budget":1.50}`)
	created, err := client.CreateSession(ctx, c, client.CreateSessionInput{AgentId: agentID, UserId: user, Metadata: &metadata})
	if err != nil {
		t.Fatalf("createSession: %v", err)
	}
	s := created.CreateSession
	sessionID := s.Id
	cfg := s.TimeoutConfig
	// The server defaults (30, autoRenew, 720) overlaid by the agent's warning threshold.
	if cfg.TimeoutMinutes != 30 || !cfg.AutoRenew || cfg.MaxDurationMinutes != 720 || cfg.WarningThresholdMinutes != 2 {
		t.Errorf("timeoutConfig = %+v, want {30 true 720 2}", cfg)
	}
	if s.AgentId != agentID || s.UserId != user || s.State != client.SessionStateActive || s.RenewalCount != 0 || s.IsNearExpiration {
		t.Errorf("createSession = %s", genqlientDump(s))
	}
	timeout := time.Duration(cfg.TimeoutMinutes) * time.Minute
	if !s.ExpiresAt.Equal(s.CreatedAt.Add(timeout)) || !s.LastActivity.Equal(s.CreatedAt) {
		t.Errorf("createdAt %v, lastActivity %v, expiresAt %v: want expiresAt = createdAt + %v", s.CreatedAt, s.LastActivity, s.ExpiresAt, timeout)
	}
	if s.TimeRemaining <= 0 || s.TimeRemaining > int(timeout/time.Millisecond) {
		t.Errorf("timeRemaining = %d ms, want in (0, %d]", s.TimeRemaining, timeout/time.Millisecond)
	}
	genqlientSameJSON(t, "session metadata", s.Metadata, `{"budget":1.50,"channel":"e2e"}`)

	// Three user messages: each renews the session, so renewalCount grows by
	// one and expiresAt slides to the send's time + timeout, later each time.
	type sent struct {
		id, content string
		createdAt   time.Time
	}
	var sends []sent
	prevExpires, prevCount, last := s.ExpiresAt, s.RenewalCount, s.LastActivity
	inputs := []client.SendSessionMessageInput{
		{Content: "Hello, how are you?", Metadata: genqlientPtr(json.RawMessage(`{"source":"genqlient","n":1.50}`))},
		{Content: "Here is a link", Attachments: []client.AttachmentInput{{Type: "link", Url: "https://example.com/a"}}},
		{Content: "Still there?"},
	}
	for i, in := range inputs {
		genqlientNextMillisecond(last)
		res, err := client.SendSessionMessage(ctx, c, sessionID, in)
		if err != nil {
			t.Fatalf("send %d: %v", i+1, err)
		}
		m := res.SendSessionMessage
		if m.Id == "" || m.SessionId != sessionID || m.Content != in.Content || m.AuthorId != user || m.IsAgent {
			t.Errorf("send %d = %s", i+1, genqlientDump(m))
		}
		st := m.SessionStatus
		if st == nil {
			t.Fatalf("send %d: no sessionStatus", i+1)
		}
		if st.RenewalCount != prevCount+1 || !st.WasRenewed || st.IsNearExpiration {
			t.Errorf("send %d sessionStatus = %+v, want renewalCount %d, wasRenewed, not near expiration", i+1, *st, prevCount+1)
		}
		if !st.ExpiresAt.After(prevExpires) {
			t.Errorf("send %d: expiresAt %v is not after the previous %v", i+1, st.ExpiresAt, prevExpires)
		}
		if !st.ExpiresAt.Equal(m.CreatedAt.Add(timeout)) {
			t.Errorf("send %d: expiresAt %v, want createdAt %v + %v", i+1, st.ExpiresAt, m.CreatedAt, timeout)
		}
		sends = append(sends, sent{m.Id, m.Content, m.CreatedAt})
		prevExpires, prevCount, last = st.ExpiresAt, st.RenewalCount, m.CreatedAt
	}
	if prevCount != 3 {
		t.Errorf("renewalCount after 3 sends = %d, want 3", prevCount)
	}

	// An agent reply is stored but neither renews nor moves lastActivity.
	genqlientNextMillisecond(last)
	reply, err := client.SendAgentMessage(ctx, c, sessionID, client.SendSessionMessageInput{Content: "I'm here."})
	if err != nil {
		t.Fatalf("sendAgentMessage: %v", err)
	}
	r := reply.SendAgentMessage
	if r.AuthorId != agentID || !r.IsAgent || r.SessionStatus == nil || r.SessionStatus.WasRenewed ||
		r.SessionStatus.RenewalCount != prevCount || !r.SessionStatus.ExpiresAt.Equal(prevExpires) {
		t.Errorf("sendAgentMessage = %s, want by the agent, not renewed, renewalCount %d, expiresAt %v", genqlientDump(r), prevCount, prevExpires)
	}
	sends = append(sends, sent{r.Id, r.Content, r.CreatedAt})

	// The whole history in one page, newest first.
	page, err := client.GetSession(ctx, c, sessionID, genqlientPtr(10), nil, nil, nil)
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	if page.Session == nil {
		t.Fatal("session: null")
	}
	if page.Session.RenewalCount != 3 || !page.Session.ExpiresAt.Equal(prevExpires) || !page.Session.LastActivity.Equal(last) {
		t.Errorf("session renewalCount %d expiresAt %v lastActivity %v, want 3, %v, %v",
			page.Session.RenewalCount, page.Session.ExpiresAt, page.Session.LastActivity, prevExpires, last)
	}
	edges := page.Session.Messages.Edges
	var gotIDs, wantIDs, gotContents, wantContents []string
	for _, e := range edges {
		gotIDs = append(gotIDs, e.Node.Id)
		gotContents = append(gotContents, e.Node.Content)
	}
	for _, m := range slices.Backward(sends) {
		wantIDs = append(wantIDs, m.id)
		wantContents = append(wantContents, m.content)
	}
	if !slices.Equal(gotIDs, wantIDs) || !slices.Equal(gotContents, wantContents) {
		t.Errorf("messages = %q %q, want newest first %q %q", gotIDs, gotContents, wantIDs, wantContents)
	}
	if pi := page.Session.Messages.PageInfo; pi.HasNextPage || pi.HasPreviousPage {
		t.Errorf("single page pageInfo = %s, want no next or previous page", genqlientDump(pi))
	}
	if len(edges) == 4 {
		if !edges[0].Node.IsAgent || edges[0].Node.AuthorId != agentID || edges[1].Node.IsAgent || edges[1].Node.AuthorId != user {
			t.Errorf("authors = %s", genqlientDump(edges[:2]))
		}
		oldest := edges[3].Node
		genqlientSameJSON(t, "message metadata", oldest.Metadata, `{"n":1.50,"source":"genqlient"}`)
		genqlientSameJSON(t, "message without metadata", edges[1].Node.Metadata, `{}`)
		if a := edges[2].Node.Attachments; len(a) != 1 || a[0].Type != "link" || a[0].Url != "https://example.com/a" || a[0].Name != nil {
			t.Errorf("attachments = %s", genqlientDump(a))
		}
		if !edges[3].Node.CreatedAt.Equal(sends[0].createdAt) {
			t.Errorf("oldest createdAt %v, want %v", edges[3].Node.CreatedAt, sends[0].createdAt)
		}
	}

	// The same history two at a time, following endCursor toward older messages.
	first, err := client.GetSession(ctx, c, sessionID, genqlientPtr(2), nil, nil, nil)
	if err != nil || first.Session == nil {
		t.Fatalf("session first 2: %s, %v", genqlientDump(first), err)
	}
	p1 := first.Session.Messages
	if p1.PageInfo.EndCursor == nil || !p1.PageInfo.HasNextPage {
		t.Fatalf("first page pageInfo = %s, want a next page and an endCursor", genqlientDump(p1.PageInfo))
	}
	second, err := client.GetSession(ctx, c, sessionID, genqlientPtr(2), p1.PageInfo.EndCursor, nil, nil)
	if err != nil || second.Session == nil {
		t.Fatalf("session after %s: %s, %v", *p1.PageInfo.EndCursor, genqlientDump(second), err)
	}
	p2 := second.Session.Messages
	var paged []string
	for _, e := range slices.Concat(p1.Edges, p2.Edges) {
		paged = append(paged, e.Node.Id)
	}
	if !slices.Equal(paged, wantIDs) || p2.PageInfo.HasNextPage {
		t.Errorf("paged ids %q (second hasNextPage %v), want %q and no further page", paged, p2.PageInfo.HasNextPage, wantIDs)
	}

	_, err = client.GetSession(ctx, c, sessionID, genqlientPtr(0), nil, nil, nil)
	genqlientWantCode(t, err, "session.messages", "VALIDATION_ERROR")

	// The sessions list, narrowed to this user.
	list, err := client.ListSessions(ctx, c, genqlientPtr(10), nil, nil, nil, &client.SessionFilter{UserId: &user})
	if err != nil {
		t.Fatalf("sessions: %v", err)
	}
	if e := list.Sessions.Edges; len(e) != 1 || e[0].Node.Id != sessionID || e[0].Node.AgentId != agentID ||
		e[0].Node.RenewalCount != 3 || e[0].Node.State != client.SessionStateActive || e[0].Cursor == "" {
		t.Errorf("sessions(filter: {userId}) = %s, want just %s", genqlientDump(list.Sessions), sessionID)
	}
	other, err := client.ListSessions(ctx, c, genqlientPtr(10), nil, nil, nil, &client.SessionFilter{UserId: genqlientPtr(testutil.MustUUID())})
	if err != nil || len(other.Sessions.Edges) != 0 {
		t.Errorf("sessions of an unknown user = %s, %v; want none", genqlientDump(other), err)
	}

	// renewSession: a renewal at now, counted.
	genqlientNextMillisecond(last)
	renewed, err := client.RenewSession(ctx, c, sessionID)
	if err != nil {
		t.Fatalf("renewSession: %v", err)
	}
	rs := renewed.RenewSession
	if rs.RenewalCount != 4 || !rs.LastActivity.After(last) || !rs.ExpiresAt.After(prevExpires) || !rs.ExpiresAt.Equal(rs.LastActivity.Add(timeout)) {
		t.Errorf("renewSession = %s, want renewalCount 4 and expiresAt = a later lastActivity + %v", genqlientDump(rs), timeout)
	}
	prevExpires, last = rs.ExpiresAt, rs.LastActivity

	// sessionHeartbeat: activity without a message, renewing as a send would.
	genqlientNextMillisecond(last)
	beat, err := client.SessionHeartbeat(ctx, c, sessionID)
	if err != nil {
		t.Fatalf("sessionHeartbeat: %v", err)
	}
	hb := beat.SessionHeartbeat
	if hb.RenewalCount != 5 || !hb.LastActivity.After(last) || !hb.ExpiresAt.After(prevExpires) || !hb.ExpiresAt.Equal(hb.LastActivity.Add(timeout)) {
		t.Errorf("sessionHeartbeat = %s, want renewalCount 5 and expiresAt = a later lastActivity + %v", genqlientDump(hb), timeout)
	}
	last = hb.LastActivity

	// updateSessionTimeout: an out-of-range timeout is rejected, not clamped...
	_, err = client.UpdateSessionTimeout(ctx, c, sessionID, client.TimeoutConfigInput{TimeoutMinutes: genqlientPtr(1)})
	genqlientWantCode(t, err, "updateSessionTimeout", "VALIDATION_ERROR")
	// ...an in-range one is applied, omitted fields (sent as null) keep their
	// values, and expiresAt is recomputed from lastActivity without a renewal.
	updated, err := client.UpdateSessionTimeout(ctx, c, sessionID, client.TimeoutConfigInput{TimeoutMinutes: genqlientPtr(60)})
	if err != nil {
		t.Fatalf("updateSessionTimeout: %v", err)
	}
	u := updated.UpdateSessionTimeout
	if got := u.TimeoutConfig; got.TimeoutMinutes != 60 || !got.AutoRenew || got.MaxDurationMinutes != 720 || got.WarningThresholdMinutes != 2 {
		t.Errorf("updated timeoutConfig = %+v, want {60 true 720 2}", got)
	}
	if u.RenewalCount != 5 || !u.LastActivity.Equal(last) || !u.ExpiresAt.Equal(last.Add(60*time.Minute)) {
		t.Errorf("updateSessionTimeout = %s, want renewalCount 5, expiresAt = lastActivity %v + 60m", genqlientDump(u), last)
	}
	// Turning autoRenew off bases expiry on createdAt, and a send no longer renews.
	updated, err = client.UpdateSessionTimeout(ctx, c, sessionID, client.TimeoutConfigInput{AutoRenew: genqlientPtr(false)})
	if err != nil {
		t.Fatalf("updateSessionTimeout autoRenew false: %v", err)
	}
	u = updated.UpdateSessionTimeout
	if u.TimeoutConfig.AutoRenew || u.TimeoutConfig.TimeoutMinutes != 60 || !u.ExpiresAt.Equal(s.CreatedAt.Add(60*time.Minute)) {
		t.Errorf("updateSessionTimeout autoRenew false = %s, want timeout 60 kept, expiresAt = createdAt + 60m", genqlientDump(u))
	}
	res, err := client.SendSessionMessage(ctx, c, sessionID, client.SendSessionMessageInput{Content: "no renewal"})
	if err != nil {
		t.Fatalf("send without autoRenew: %v", err)
	}
	if st := res.SendSessionMessage.SessionStatus; st == nil || st.WasRenewed || st.RenewalCount != 5 || !st.ExpiresAt.Equal(u.ExpiresAt) {
		t.Errorf("send without autoRenew: sessionStatus %s, want not renewed, renewalCount 5, expiresAt %v", genqlientDump(st), u.ExpiresAt)
	}

	// deleteSession, after which the session is gone for every operation.
	deleted, err := client.DeleteSession(ctx, c, sessionID)
	if err != nil || !deleted.DeleteSession {
		t.Fatalf("deleteSession = %s, %v", genqlientDump(deleted), err)
	}
	_, err = client.SendSessionMessage(ctx, c, sessionID, client.SendSessionMessageInput{Content: "anyone?"})
	genqlientWantCode(t, err, "sendSessionMessage", "SESSION_NOT_FOUND")
	_, err = client.SessionHeartbeat(ctx, c, sessionID)
	genqlientWantCode(t, err, "sessionHeartbeat", "SESSION_NOT_FOUND")
	_, err = client.DeleteSession(ctx, c, sessionID)
	genqlientWantCode(t, err, "deleteSession", "SESSION_NOT_FOUND")
	gone, err := client.GetSession(ctx, c, sessionID, nil, nil, nil, nil)
	if err != nil || gone.Session != nil {
		t.Errorf("session after delete = %s, %v; want null", genqlientDump(gone), err)
	}
}

// genqlientSubscription follows a session's events with the generated
// subscription over genqlient's WebSocket client: a message and its renewal
// arrive, deletion ends the stream, and an unknown session is an error.
func genqlientSubscription(ctx context.Context, t *testing.T, srv *server, c graphql.Client, agentID string) {
	created, err := client.CreateSession(ctx, c, client.CreateSessionInput{AgentId: agentID, UserId: testutil.MustUUID()})
	if err != nil {
		t.Fatalf("createSession: %v", err)
	}
	sessionID := created.CreateSession.Id

	dialer := &genqlientWSDialer{}
	ws := graphql.NewClientUsingWebSocket("ws"+strings.TrimPrefix(srv.URL, "http")+"/query", dialer)
	errs, err := ws.Start(ctx)
	if err != nil {
		t.Fatalf("websocket start: %v", err)
	}
	stream := &genqlientStream{errs: errs}
	t.Cleanup(func() { stream.shutdown(dialer) })

	// An unknown session: one response carrying the typed error, then the end.
	unknown := testutil.MustUUID()
	stream.data, _, err = client.SessionEvents(ctx, ws, unknown)
	if err != nil {
		t.Fatalf("subscribe to %s: %v", unknown, err)
	}
	resp, ok := stream.receive(t, 10*time.Second)
	if !ok {
		t.Fatal("subscription to an unknown session ended without an error")
	}
	if len(resp.Errors) != 1 || genqlientCode(resp.Errors[0]) != "SESSION_NOT_FOUND" {
		t.Errorf("subscription to an unknown session: %s, want one SESSION_NOT_FOUND error", genqlientDump(resp))
	}
	if _, ok := stream.receive(t, 10*time.Second); ok {
		t.Error("subscription to an unknown session did not end after its error")
	}

	stream.data, _, err = client.SessionEvents(ctx, ws, sessionID)
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	// The server does not acknowledge a subscription, so send probes until one
	// is heard: from then on the subscription is known to be registered.
	subscribed := false
	for attempt := 0; attempt < 50 && !subscribed; attempt++ {
		if _, err := client.SendSessionMessage(ctx, c, sessionID, client.SendSessionMessageInput{Content: fmt.Sprintf("probe %d", attempt)}); err != nil {
			t.Fatalf("probe: %v", err)
		}
		for {
			e, ok := stream.tryNext(t, 200*time.Millisecond)
			if !ok {
				break
			}
			if _, isMessage := e.(*client.SessionEventsSessionEventsMessageAddedEvent); isMessage {
				subscribed = true
				break
			}
		}
	}
	if !subscribed {
		t.Fatal("the subscription never delivered a probe message")
	}

	sent, err := client.SendSessionMessage(ctx, c, sessionID, client.SendSessionMessageInput{Content: "hello over websocket"})
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	msg := sent.SendSessionMessage
	// Events of earlier probes may still be ahead of it; nothing else may be.
	deadline := time.Now().Add(10 * time.Second)
	for {
		e := stream.next(t, time.Until(deadline))
		if e.GetSessionId() != sessionID {
			t.Fatalf("event for session %s on the subscription to %s", e.GetSessionId(), sessionID)
		}
		added, ok := e.(*client.SessionEventsSessionEventsMessageAddedEvent)
		if !ok {
			if _, renewed := e.(*client.SessionEventsSessionEventsSessionRenewedEvent); !renewed {
				t.Fatalf("unexpected %T before the message: %s", e, genqlientDump(e))
			}
			continue
		}
		if added.Message.Id != msg.Id {
			if !strings.HasPrefix(added.Message.Content, "probe ") {
				t.Fatalf("unexpected message before ours: %s", genqlientDump(added.Message))
			}
			continue
		}
		if added.Message.Content != "hello over websocket" || added.Message.SessionId != sessionID || added.Message.IsAgent ||
			!added.Message.CreatedAt.Equal(msg.CreatedAt) || !added.OccurredAt.Equal(msg.CreatedAt) || added.Typename == nil || *added.Typename != "MessageAddedEvent" {
			t.Errorf("MessageAddedEvent = %s, want the sent message %s", genqlientDump(added), genqlientDump(msg))
		}
		break
	}
	// The renewal it caused comes next, matching the send's sessionStatus.
	e := stream.next(t, 10*time.Second)
	renewed, ok := e.(*client.SessionEventsSessionEventsSessionRenewedEvent)
	if !ok {
		t.Fatalf("after the message: %T %s, want SessionRenewedEvent", e, genqlientDump(e))
	}
	st := msg.SessionStatus
	if st == nil || renewed.SessionId != sessionID || !renewed.SessionStatus.WasRenewed ||
		renewed.SessionStatus.RenewalCount != st.RenewalCount || !renewed.SessionStatus.ExpiresAt.Equal(st.ExpiresAt) {
		t.Errorf("SessionRenewedEvent = %s, want the send's status %s", genqlientDump(renewed), genqlientDump(st))
	}

	// Deleting the session is announced, and then the subscription ends.
	if _, err := client.DeleteSession(ctx, c, sessionID); err != nil {
		t.Fatalf("deleteSession: %v", err)
	}
	e = stream.next(t, 10*time.Second)
	if d, ok := e.(*client.SessionEventsSessionEventsSessionDeletedEvent); !ok || d.SessionId != sessionID || d.OccurredAt.IsZero() {
		t.Fatalf("after deleteSession: %T %s, want SessionDeletedEvent", e, genqlientDump(e))
	}
	if resp, ok := stream.receive(t, 10*time.Second); ok {
		t.Errorf("subscription still open after SessionDeletedEvent: %s", genqlientDump(resp))
	}
}

// genqlientStream reads one subscription's channel and the connection's
// error channel.
type genqlientStream struct {
	data       chan client.SessionEventsWsResponse
	errs       chan error
	listenDone bool // the error channel delivered: genqlient's reader stopped
}

// receive returns the next response, or false once the subscription ended;
// it fails the test on a connection error or after timeout.
func (s *genqlientStream) receive(t *testing.T, timeout time.Duration) (client.SessionEventsWsResponse, bool) {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case resp, ok := <-s.data:
		return resp, ok
	case err := <-s.errs:
		s.listenDone = true
		t.Fatalf("websocket: %v", err)
	case <-timer.C:
		t.Fatalf("nothing on the subscription within %v", timeout)
	}
	return client.SessionEventsWsResponse{}, false
}

// tryNext returns the next event, or false if none arrives within timeout.
func (s *genqlientStream) tryNext(t *testing.T, timeout time.Duration) (client.SessionEventsSessionEventsSessionEvent, bool) {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case resp, ok := <-s.data:
		if !ok {
			t.Fatal("subscription ended")
		}
		return s.event(t, resp), true
	case err := <-s.errs:
		s.listenDone = true
		t.Fatalf("websocket: %v", err)
	case <-timer.C:
	}
	return nil, false
}

// next returns the next event, failing the test if none arrives within timeout.
func (s *genqlientStream) next(t *testing.T, timeout time.Duration) client.SessionEventsSessionEventsSessionEvent {
	t.Helper()
	resp, ok := s.receive(t, timeout)
	if !ok {
		t.Fatal("subscription ended")
	}
	return s.event(t, resp)
}

func (s *genqlientStream) event(t *testing.T, resp client.SessionEventsWsResponse) client.SessionEventsSessionEventsSessionEvent {
	t.Helper()
	if len(resp.Errors) > 0 {
		t.Fatalf("subscription error: %v", resp.Errors)
	}
	if resp.Data == nil || resp.Data.SessionEvents == nil {
		t.Fatalf("subscription response without an event: %s", genqlientDump(resp))
	}
	return resp.Data.SessionEvents
}

// shutdown closes the connection under genqlient's client and waits for its
// reader to stop. (genqlient v0.8.1's own Close unsubscribes every
// subscription it ever made, closing the channels of completed ones a second
// time, which panics.)
func (s *genqlientStream) shutdown(d *genqlientWSDialer) {
	d.closeAll()
	if s.listenDone {
		return
	}
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	data := s.data
	for {
		select {
		case <-s.errs:
			return
		case _, ok := <-data: // unblock a reader stuck delivering
			if !ok {
				data = nil
			}
		case <-timer.C:
			return
		}
	}
}

// genqlientWSDialer is genqlient's Dialer, keeping every connection so that
// the test can cut them.
type genqlientWSDialer struct {
	mu    sync.Mutex
	conns []*websocket.Conn
}

func (d *genqlientWSDialer) DialContext(ctx context.Context, url string, header http.Header) (graphql.WSConn, error) {
	conn, err := client.DialWebSocket(ctx, url, header)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.conns = append(d.conns, conn)
	d.mu.Unlock()
	return client.WSConn(conn), nil
}

func (d *genqlientWSDialer) closeAll() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, conn := range d.conns {
		_ = conn.CloseNow()
	}
}

// genqlientWantCode fails unless err is the GraphQL error list genqlient
// returns for a 200 response, holding one error with the given code at path.
func genqlientWantCode(t *testing.T, err error, path, code string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want %s", path, code)
		return
	}
	var list gqlerror.List
	if !errors.As(err, &list) {
		t.Errorf("%s: %T %v, want a gqlerror.List with %s", path, err, err, code)
		return
	}
	if len(list) != 1 || genqlientCode(list[0]) != code || list[0].Path.String() != path {
		t.Errorf("%s: errors %s, want one %s at path %s", path, genqlientDump(list), code, path)
	}
}

func genqlientCode(e *gqlerror.Error) string {
	code, _ := e.Extensions["code"].(string)
	return code
}

// genqlientSameJSON compares JSON texts, ignoring insignificant whitespace.
func genqlientSameJSON(t *testing.T, what string, got json.RawMessage, want string) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, got); err != nil || buf.String() != want {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

// genqlientNextMillisecond returns once the clock (shared with the server,
// which keeps milliseconds) has passed prev, so the next write gets a later
// timestamp. It is a precondition, not an assertion.
func genqlientNextMillisecond(prev time.Time) {
	for !time.Now().Truncate(time.Millisecond).After(prev) {
		time.Sleep(time.Millisecond)
	}
}

func genqlientPtr[T any](v T) *T { return &v }

func genqlientDump(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}
