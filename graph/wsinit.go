package graph

import (
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// initDeadline accepts WebSockets of the legacy graphql-ws protocol through
// next and closes each one with 4408 (closeInitTimeout; gqlgen's own
// InitTimeout closes with 1002) unless its first message (connection_init)
// arrives within timeout.
type initDeadline struct {
	next    transport.WebsocketImplementation
	timeout time.Duration
}

func (d initDeadline) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	conn, err := d.next.Accept(w, r, opts)
	if err != nil {
		return nil, err
	}
	c := &initDeadlineConn{WebsocketConn: conn}
	c.timer = time.AfterFunc(d.timeout, c.expire)
	return c, nil
}

type initDeadlineConn struct {
	transport.WebsocketConn
	mu      sync.Mutex
	timer   *time.Timer
	started bool // the first message arrived in time
	expired bool
}

func (c *initDeadlineConn) expire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started {
		return
	}
	c.expired = true
	// The blocked read then fails, and gqlgen's own close is a no-op.
	_ = c.WebsocketConn.WriteClose(closeInitTimeout, "Connection initialisation timeout")
}

func (c *initDeadlineConn) NextReader() (int, io.Reader, error) {
	kind, r, err := c.WebsocketConn.NextReader()
	if err == nil {
		c.mu.Lock()
		if !c.started && !c.expired {
			c.started = true
			c.timer.Stop()
		}
		c.mu.Unlock()
	}
	return kind, r, err
}

func (c *initDeadlineConn) Close() error {
	c.timer.Stop()
	return c.WebsocketConn.Close()
}

// SetReadLimit and SetReadDeadline pass gqlgen's optional settings on:
// without them the payload limit and pong deadline would silently lapse.
func (c *initDeadlineConn) SetReadLimit(limit int64) {
	if l, ok := c.WebsocketConn.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(limit)
	}
}

func (c *initDeadlineConn) SetReadDeadline(t time.Time) error {
	if d, ok := c.WebsocketConn.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}
