package graph

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"sessionhub/models"
)

// graphqlTransportWS is the subprotocol of the graphql-ws library
// (github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md).
const graphqlTransportWS = "graphql-transport-ws"

// pushWebsocket serves GraphQL over WebSocket with the graphql-transport-ws
// protocol. Unlike gqlgen's transport, it parks no goroutine per idle
// subscription: a subscription's events are pushed to the socket by the
// event bus's delivery goroutine, which runs only while there are events.
// Ten thousand idle subscriptions then cost their state, not ten thousand
// stacks. The legacy graphql-ws subprotocol stays with gqlgen's transport.
type pushWebsocket struct {
	accept       websocket.AcceptOptions
	init         transport.WebsocketInitFunc
	initTimeout  time.Duration
	pingInterval time.Duration
	readLimit    int64
}

var _ graphql.Transport = pushWebsocket{}

// Supports takes the WebSocket upgrades that offer graphql-transport-ws.
func (t pushWebsocket) Supports(r *http.Request) bool {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return false
	}
	for _, header := range r.Header.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(header, ",") {
			if strings.TrimSpace(p) == graphqlTransportWS {
				return true
			}
		}
	}
	return false
}

// Do upgrades the request and serves the connection until it ends.
func (t pushWebsocket) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	opts := t.accept
	opts.Subprotocols = []string{graphqlTransportWS}
	conn, err := websocket.Accept(w, r, &opts)
	if err != nil {
		return // Accept has answered
	}
	if t.readLimit > 0 {
		conn.SetReadLimit(t.readLimit)
	}
	c := &pushConnection{transport: t, conn: conn, exec: exec, headers: r.Header, subs: map[string]*pushSubscription{}}
	c.serve(r.Context())
}

// Close codes of graphql-transport-ws.
const (
	closeBadRequest         = 4400
	closeUnauthorized       = 4401
	closeForbidden          = 4403
	closeInitTimeout        = 4408
	closeSubscriberExists   = 4409
	closeTooManyInitRequest = 4429
)

// wsFrame is one graphql-transport-ws message.
type wsFrame struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// pushConnection is one graphql-transport-ws connection.
type pushConnection struct {
	transport pushWebsocket
	conn      *websocket.Conn
	exec      graphql.GraphExecutor
	headers   http.Header
	ctx       context.Context // the connection's, after connection_init

	mu   sync.Mutex
	subs map[string]*pushSubscription
}

// serve runs the connection: connection_init within the deadline, then
// messages until the client leaves or the connection's context ends
// (server shutdown).
func (c *pushConnection) serve(requestCtx context.Context) {
	defer c.conn.CloseNow()
	// Reads never take a context: coder/websocket closes the connection,
	// with no close code, when a read's context ends.
	timeout := time.AfterFunc(c.transport.initTimeout, func() {
		_ = c.conn.Close(closeInitTimeout, "Connection initialisation timeout")
	})
	first, err := c.read()
	if !timeout.Stop() || err != nil {
		return
	}
	if first.Type != "connection_init" {
		_ = c.conn.Close(closeUnauthorized, "Unauthorized")
		return
	}
	var payload transport.InitPayload
	if len(first.Payload) > 0 && string(first.Payload) != "null" {
		if err := json.Unmarshal(first.Payload, &payload); err != nil {
			_ = c.conn.Close(closeBadRequest, "Invalid connection_init payload")
			return
		}
	}
	ctx, cancel := context.WithCancel(requestCtx)
	defer cancel()
	if c.transport.init != nil {
		initialized, _, err := c.transport.init(ctx, payload)
		if err != nil {
			code, reason := closeForbidden, "Forbidden"
			var refusal *initRefusal
			if errors.As(err, &refusal) {
				code, reason = refusal.code, refusal.reason
			}
			_ = c.conn.Close(websocket.StatusCode(code), reason)
			return
		}
		ctx = initialized
	}
	c.ctx = ctx
	if !c.write(wsFrame{Type: "connection_ack"}) {
		return
	}
	go c.keepAlive(ctx)
	context.AfterFunc(ctx, func() { // server shutdown, or the client gone
		_ = c.conn.Close(websocket.StatusNormalClosure, "terminated")
	})
	for {
		m, err := c.read()
		if err != nil {
			c.stopAll()
			return
		}
		switch m.Type {
		case "ping":
			c.write(wsFrame{Type: "pong", Payload: m.Payload})
		case "pong":
		case "subscribe":
			c.subscribe(m)
		case "complete":
			c.stop(m.ID)
		case "connection_init":
			_ = c.conn.Close(closeTooManyInitRequest, "Too many initialisation requests")
			c.stopAll()
			return
		default:
			_ = c.conn.Close(closeBadRequest, "Unknown message type "+m.Type)
			c.stopAll()
			return
		}
	}
}

// initRefusal is an InitFunc error that names its close code.
type initRefusal struct {
	code   int
	reason string
	err    error
}

func (e *initRefusal) Error() string { return e.err.Error() }
func (e *initRefusal) Unwrap() error { return e.err }

func (c *pushConnection) read() (wsFrame, error) {
	var m wsFrame
	_, data, err := c.conn.Read(context.Background())
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(data, &m); err != nil || m.Type == "" {
		_ = c.conn.Close(closeBadRequest, "Invalid message received")
		return m, errors.New("invalid message")
	}
	return m, nil
}

// write sends one message; false when the connection is gone.
func (c *pushConnection) write(m wsFrame) bool {
	data, err := json.Marshal(m)
	if err != nil {
		return false
	}
	return c.conn.Write(context.Background(), websocket.MessageText, data) == nil
}

// keepAlive pings the client so that proxies keep an idle connection open.
func (c *pushConnection) keepAlive(ctx context.Context) {
	if c.transport.pingInterval <= 0 {
		return
	}
	tick := time.NewTicker(c.transport.pingInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if !c.write(wsFrame{Type: "ping"}) {
				return
			}
		}
	}
}

// subscribe starts an operation: queries and mutations run once; a
// subscription is set up and then driven by its events.
func (c *pushConnection) subscribe(m wsFrame) {
	var params graphql.RawParams
	if err := json.Unmarshal(m.Payload, &params); err != nil || m.ID == "" {
		_ = c.conn.Close(closeBadRequest, "Invalid subscribe message")
		return
	}
	c.mu.Lock()
	if _, taken := c.subs[m.ID]; taken {
		c.mu.Unlock()
		_ = c.conn.Close(closeSubscriberExists, "Subscriber for "+m.ID+" already exists")
		return
	}
	ctx, cancel := context.WithCancel(c.ctx)
	sub := &pushSubscription{id: m.ID, conn: c, cancel: cancel}
	c.subs[m.ID] = sub
	c.mu.Unlock()

	params.Headers = c.headers
	params.ReadTime = graphql.TraceTiming{Start: graphql.Now(), End: graphql.Now()}
	go sub.run(ctx, &params)
}

// stop ends operation id at the client's request: nothing more is sent.
func (c *pushConnection) stop(id string) {
	c.mu.Lock()
	sub := c.subs[id]
	delete(c.subs, id)
	c.mu.Unlock()
	if sub != nil {
		sub.stop()
	}
}

func (c *pushConnection) stopAll() {
	c.mu.Lock()
	subs := c.subs
	c.subs = map[string]*pushSubscription{}
	c.mu.Unlock()
	for _, sub := range subs {
		sub.stop()
	}
}

// forget removes a finished operation, unless the id was reused meanwhile.
func (c *pushConnection) forget(sub *pushSubscription) {
	c.mu.Lock()
	if c.subs[sub.id] == sub {
		delete(c.subs, sub.id)
	}
	c.mu.Unlock()
	sub.stop()
}

// pushSubscription is one operation of a connection. A subscription whose
// resolver takes up push delivery keeps only its validated operation between
// events: for each event the operation is dispatched again with that event
// (see pushTurn), so an idle subscription holds no resolver state, field
// contexts or per-operation loaders — a few hundred bytes instead of kilobytes.
type pushSubscription struct {
	id   string
	conn *pushConnection

	// A pushed subscription keeps no context of its own: its events run in
	// the connection's, and it ends by stop.
	stopped atomic.Bool
	stopMu  sync.Mutex
	cancel  context.CancelFunc // ends the operation's first run; nil once it is over
	onStop  func()             // what follow was given; nil once run

	mu     sync.Mutex                // serialises events and the end
	op     *graphql.OperationContext // set when the resolver takes up push delivery
	field  string                    // the subscription field's alias, for a final error
	pushed bool                      // the resolver follows by push: run answers nothing more
	ended  bool
	// keepSeen: the operation selects an event's session, so the session as
	// last read is kept in seen for a deletion event (it can no longer be read).
	keepSeen bool
	seen     *models.Session
}

type pushKey struct{}

// pushTurn is what a subscription resolver finds in its context over this
// transport: at set-up, the subscription that may take up push delivery
// (event nil); when the operation runs again for one event, that event.
type pushTurn struct {
	sub   *pushSubscription
	event *models.Event
	links *loaders // the event run's loaders, to keep what they read
}

// pushFrom returns the push turn a subscription resolver runs in, or nil
// over other transports.
func pushFrom(ctx context.Context) *pushTurn {
	t, _ := ctx.Value(pushKey{}).(*pushTurn)
	return t
}

// run dispatches the operation. A subscription whose resolver takes up
// push delivery costs no goroutine from then on; any other operation is
// answered here, as gqlgen's transport would.
func (s *pushSubscription) run(ctx context.Context, params *graphql.RawParams) {
	exec := s.conn.exec
	rc, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
		if errcode.GetErrorKind(errs) == errcode.KindProtocol {
			s.sendErrors(resp.Errors)
		} else {
			s.send("next", &graphql.Response{Errors: errs})
			s.send("complete", nil)
		}
		s.conn.forget(s)
		return
	}
	ctx = graphql.WithOperationContext(ctx, rc)
	if rc.Operation != nil && rc.Operation.Operation == ast.Subscription {
		ctx = context.WithValue(ctx, pushKey{}, &pushTurn{sub: s})
	}
	responses, ctx, ok := s.dispatch(ctx, rc)
	if !ok {
		s.conn.forget(s)
		return
	}
	s.mu.Lock()
	pushed := s.pushed
	s.mu.Unlock()
	if pushed {
		// The first run's context is not needed any more: nothing of it
		// stays with the subscription.
		s.stopMu.Lock()
		cancel := s.cancel
		s.cancel = nil
		s.stopMu.Unlock()
		if cancel != nil {
			cancel()
		}
		return
	}
	// Not pushed: a query, a mutation, or a refused subscription.
	for {
		resp := responses(ctx)
		if resp == nil {
			break
		}
		if !s.send("next", resp) {
			break
		}
	}
	if ctx.Err() == nil {
		s.send("complete", nil)
	}
	s.conn.forget(s)
}

// dispatch runs the operation's resolvers; a panic is answered with an
// error message (ok false).
func (s *pushSubscription) dispatch(ctx context.Context, rc *graphql.OperationContext) (responses graphql.ResponseHandler, _ context.Context, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			err := rc.Recover(ctx, r)
			var gqlErr *gqlerror.Error
			if !errors.As(err, &gqlErr) {
				gqlErr = gqlerror.Errorf("internal system error")
			}
			s.sendErrors(gqlerror.List{gqlErr})
			ok = false
		}
	}()
	responses, ctx = s.conn.exec.DispatchOperation(ctx, rc)
	return responses, ctx, responses != nil
}

// prepare is called by a subscription resolver about to follow its events
// by push, before the first can arrive: each event runs the operation again.
func (t *pushTurn) prepare(ctx context.Context) {
	s, field := t.sub, graphql.GetFieldContext(ctx).Field
	s.mu.Lock()
	s.op, s.field = graphql.GetOperationContext(ctx), field.Alias
	s.keepSeen = selectsSession(field.Selections)
	s.mu.Unlock()
}

// selectsSession reports whether a deletion event's session is selected:
// directly, or through fragments on the event types. Conditions (@skip,
// @include) are ignored: when in doubt, the session is kept. It walks the
// selection itself, leaving gqlgen's per-operation field cache empty.
func selectsSession(set ast.SelectionSet) bool {
	onDeletion := func(typeCondition string) bool {
		return typeCondition == "" || typeCondition == "SessionEvent" || typeCondition == "SessionDeletedEvent"
	}
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			if sel.Name == "session" {
				return true
			}
		case *ast.InlineFragment:
			if onDeletion(sel.TypeCondition) && selectsSession(sel.SelectionSet) {
				return true
			}
		case *ast.FragmentSpread:
			if d := sel.Definition; d != nil && onDeletion(d.TypeCondition) && selectsSession(d.SelectionSet) {
				return true
			}
		}
	}
	return false
}

// follow says the resolver now delivers by push (see prepare). seen is the
// session as the resolver read it; stop runs once the operation ends,
// whoever ends it.
func (t *pushTurn) follow(seen *models.Session, stop func()) {
	s := t.sub
	s.mu.Lock()
	s.pushed = true
	s.op = eventRun(s.op)            // without the set-up's field cache, timings and extension stats
	if s.keepSeen && s.seen == nil { // an event may already have brought a newer one
		s.seen = seen
	}
	s.mu.Unlock()
	s.stopMu.Lock()
	if s.stopped.Load() { // stopped while it was set up
		s.stopMu.Unlock()
		stop()
		return
	}
	s.onStop = stop
	s.stopMu.Unlock()
}

// stop ends the operation: its first run's context, and what follow was
// given. It never waits for an event being sent.
func (s *pushSubscription) stop() {
	s.stopped.Store(true)
	s.stopMu.Lock()
	cancel, onStop := s.cancel, s.onStop
	s.cancel, s.onStop = nil, nil
	s.stopMu.Unlock()
	if cancel != nil {
		cancel()
	}
	if onStop != nil {
		onStop()
	}
}

// live reports whether the operation may still send.
func (s *pushSubscription) live() bool {
	return !s.stopped.Load() && s.conn.ctx.Err() == nil
}

// remember gives an event run's loaders the session as it was last read
// (what a deletion event shows), and keeps what they read for the next.
// It runs inside emit, which holds the subscription's lock.
func (t *pushTurn) remember(links *loaders) {
	if t.sub.seen != nil {
		links.remember(t.sub.seen)
	}
	t.links = links
}

// emit runs the operation for one event and sends the result. It is called
// by the event bus's delivery goroutine, one event at a time; false when the
// client has gone.
func (s *pushSubscription) emit(e models.Event) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || !s.live() {
		return false
	}
	turn := &pushTurn{sub: s, event: &e}
	op := eventRun(s.op)
	ctx := graphql.WithOperationContext(context.WithValue(s.conn.ctx, pushKey{}, turn), op)
	responses, ctx, ok := s.dispatch(ctx, op)
	if !ok {
		s.ended = true
		s.conn.forget(s)
		return false
	}
	resp := responses(ctx)
	if turn.links != nil && s.keepSeen {
		if seen := turn.links.lastKnown(e.SessionID); seen != nil {
			s.seen = seen
		}
	}
	return resp != nil && s.send("next", resp)
}

// eventRun is the operation for one event's run: the validated operation
// without gqlgen's field-collection cache, which would otherwise fill up in
// the kept operation and stay for the subscription's life.
func eventRun(op *graphql.OperationContext) *graphql.OperationContext {
	return &graphql.OperationContext{
		RawQuery:               op.RawQuery,
		Variables:              op.Variables,
		OperationName:          op.OperationName,
		Doc:                    op.Doc,
		Extensions:             op.Extensions,
		Headers:                op.Headers,
		Operation:              op.Operation,
		DisableIntrospection:   op.DisableIntrospection,
		RecoverFunc:            op.RecoverFunc,
		ResolverMiddleware:     op.ResolverMiddleware,
		RootResolverMiddleware: op.RootResolverMiddleware,
	}
}

// end finishes a pushed stream: with its final error, or complete.
func (s *pushSubscription) end(appErr *models.Error) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	live := s.live()
	field := s.field
	s.mu.Unlock()
	if live {
		if appErr != nil {
			s.sendErrors(gqlerror.List{withCode(&gqlerror.Error{Path: ast.Path{ast.PathName(field)}}, appErr)})
		} else {
			s.send("complete", nil)
		}
	}
	s.conn.forget(s)
}

func (s *pushSubscription) send(kind string, resp *graphql.Response) bool {
	m := wsFrame{ID: s.id, Type: kind}
	if resp != nil {
		payload, err := json.Marshal(resp)
		if err != nil {
			return false
		}
		m.Payload = payload
	}
	return s.conn.write(m)
}

func (s *pushSubscription) sendErrors(errs gqlerror.List) {
	payload, err := json.Marshal(errs)
	if err == nil {
		s.conn.write(wsFrame{ID: s.id, Type: "error", Payload: payload})
	}
}
