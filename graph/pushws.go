package graph

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
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
		sub.cancel()
	}
}

func (c *pushConnection) stopAll() {
	c.mu.Lock()
	subs := c.subs
	c.subs = map[string]*pushSubscription{}
	c.mu.Unlock()
	for _, sub := range subs {
		sub.cancel()
	}
}

// forget removes a finished operation, unless the id was reused meanwhile.
func (c *pushConnection) forget(sub *pushSubscription) {
	c.mu.Lock()
	if c.subs[sub.id] == sub {
		delete(c.subs, sub.id)
	}
	c.mu.Unlock()
	sub.cancel()
}

// pushSubscription is one operation of a connection.
type pushSubscription struct {
	id     string
	conn   *pushConnection
	cancel context.CancelFunc

	mu        sync.Mutex
	pushed    bool                    // its resolver delivers by push
	responses graphql.ResponseHandler // set once the operation is dispatched
	ctx       context.Context         // the operation's, for responses
	waiting   int                     // events handed over before responses was set
	ended     bool                    // the stream has ended
	endWaits  bool                    // the stream ended before responses was set
}

type pushKey struct{}

// pushFrom returns the push subscription a resolver may deliver through.
func pushFrom(ctx context.Context) *pushSubscription {
	p, _ := ctx.Value(pushKey{}).(*pushSubscription)
	return p
}

// run dispatches the operation. A subscription whose resolver takes up
// push delivery (see followSession) costs no goroutine from then on; any
// other operation is answered here, as gqlgen's transport would.
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
		ctx = context.WithValue(ctx, pushKey{}, s)
	}
	var responses graphql.ResponseHandler
	func() {
		defer func() {
			if r := recover(); r != nil {
				err := rc.Recover(ctx, r)
				var gqlErr *gqlerror.Error
				if !errors.As(err, &gqlErr) {
					gqlErr = gqlerror.Errorf("internal system error")
				}
				s.sendErrors(gqlerror.List{gqlErr})
				s.conn.forget(s)
			}
		}()
		responses, ctx = exec.DispatchOperation(ctx, rc)
	}()
	if responses == nil {
		return
	}
	s.mu.Lock()
	if s.pushed {
		s.responses, s.ctx = responses, ctx
		for ; s.waiting > 0; s.waiting-- {
			s.emitLocked()
		}
		endWaits := s.endWaits
		s.mu.Unlock()
		if endWaits {
			s.finish()
		}
		return
	}
	s.mu.Unlock()
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

// takePush is called by a subscription resolver that will deliver by push.
func (s *pushSubscription) takePush() {
	s.mu.Lock()
	s.pushed = true
	s.mu.Unlock()
}

// ready says an event waits in the resolver's channel: it is turned into a
// response and written now, on the caller's goroutine. False when the
// client has gone.
func (s *pushSubscription) ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.responses == nil {
		s.waiting++
		return true
	}
	return s.emitLocked()
}

func (s *pushSubscription) emitLocked() bool {
	resp := s.responses(s.ctx)
	if resp == nil {
		return false
	}
	return s.send("next", resp)
}

// end says the resolver's channel is closed: the stream ends with its
// final error, if any, or complete.
func (s *pushSubscription) end() {
	s.mu.Lock()
	if s.responses == nil {
		s.endWaits = true
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.finish()
}

func (s *pushSubscription) finish() {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	live := s.ctx.Err() == nil
	var resp *graphql.Response
	if live {
		resp = s.responses(s.ctx) // the closed channel: nil, or the final error
	}
	s.mu.Unlock()
	if live {
		if resp != nil && len(resp.Errors) > 0 {
			s.sendErrors(resp.Errors)
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
