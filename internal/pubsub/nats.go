package pubsub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"sessionhub/models"
)

// DefaultSubjectPrefix is where session events are published: one subject
// per session, <prefix>.<sessionID>.
const DefaultSubjectPrefix = "sessionhub.events"

// NATSConfig says which NATS server(s) carry the events, and under which
// subjects.
type NATSConfig struct {
	// URL is one server or a comma-separated list of a cluster's servers
	// (nats://user:password@host:4222, tls://…).
	URL string
	// SubjectPrefix is prepended to the session id; empty means
	// DefaultSubjectPrefix. Deployments sharing one NATS keep apart by it.
	SubjectPrefix string
}

// NATS is the cross-replica Bus over core NATS: Publish sends each committed
// change to its session's subject, and every replica (this one included)
// subscribes to every session's subject and delivers all it hears to its own
// Broker — not only for the sessions followed here, so that subscriptions
// spanning sessions hear everything.
//
// Delivery is at most once, as with LISTEN/NOTIFY, and what is missed is
// read back from the database: a message event names its predecessor
// (Event.PrevMessageAt), and after a reconnect, or when this replica could
// not keep up and the client library dropped events, every subscription
// reads back what was committed meanwhile (Resync). JetStream is not used:
// the database already keeps every message, so a stream would store each
// one twice and make NATS stateful for nothing the read-back does not give
// (README, Operations).
type NATS struct {
	*Broker
	conn   *nats.Conn
	sub    *nats.Subscription
	prefix string
	fetch  FetchMessage
	log    *slog.Logger

	connected     chan struct{} // closed at the first connection
	connectedOnce sync.Once
	started       atomic.Bool   // NewNATS has returned: subscribers may exist
	maxPayload    atomic.Int64  // the server's limit, kept here so that Publish never takes the connection's lock
	connClosed    chan struct{} // closed when the connection is closed for good

	// Published events wait here for the publisher goroutine, so that a send
	// never waits on the network; the client library coalesces them into
	// large socket writes.
	outbox        chan natsItem
	publisherDone chan struct{}
	closing       sync.RWMutex // held for reading while queueing, for writing to close the outbox
	closed        bool
}

// natsItem is one NATS message waiting to be published: the events of one
// committed change of one session.
type natsItem struct {
	subject string
	data    []byte
}

// natsOutbox bounds the events waiting to leave; past it Publish drops them
// (as the Postgres bus does) and subscribers read the messages back.
const natsOutbox = 4096

// natsWait bounds how long start-up waits for the first connection, and
// Close for the connection to drain.
const natsWait = 5 * time.Second

// NewNATS connects to the NATS server(s) in cfg and subscribes to every
// session's events. fetch loads a message announced by id; backfill reads
// what subscribers missed. A server that cannot be reached yet is retried in
// the background (with a warning): replicas keep serving, and subscribers
// here read back what they missed once it answers. A server that refuses
// the connection for good (bad credentials) is an error.
func NewNATS(ctx context.Context, cfg NATSConfig, fetch FetchMessage, backfill Backfill, log *slog.Logger) (*NATS, error) {
	prefix := cfg.SubjectPrefix
	if prefix == "" {
		prefix = DefaultSubjectPrefix
	}
	if err := ValidSubjectPrefix(prefix); err != nil {
		return nil, err
	}
	n := &NATS{Broker: NewBroker(backfill), prefix: prefix, fetch: fetch, log: log,
		connected: make(chan struct{}), connClosed: make(chan struct{}),
		outbox: make(chan natsItem, natsOutbox), publisherDone: make(chan struct{})}
	conn, err := nats.Connect(cfg.URL,
		nats.Name("sessionhub"),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1), // an event bus never gives up
		nats.ReconnectWait(time.Second),
		nats.PingInterval(10*time.Second), // a silently dead connection is noticed within about 30 s
		nats.FlusherTimeout(natsWait),     // so is a stalled one, and the publisher does not wait on it for long
		nats.DrainTimeout(natsWait),
		nats.ConnectHandler(n.onConnect),
		nats.ReconnectHandler(n.onReconnect),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("pubsub: lost the NATS connection, reconnecting", "err", err)
			}
		}),
		nats.ErrorHandler(n.onError),
		nats.ClosedHandler(n.onClosed),
	)
	if err != nil {
		return nil, fmt.Errorf("pubsub: NATS: %w", err)
	}
	n.conn = conn
	if n.sub, err = conn.Subscribe(prefix+".*", n.receive); err != nil {
		conn.Close()
		return nil, fmt.Errorf("pubsub: NATS: %w", err)
	}
	go n.publish()
	// Wait until the server has the subscription, so that no event published
	// after start-up is missed here.
	select {
	case <-n.connected:
		if err := conn.FlushTimeout(natsWait); err != nil {
			log.Warn("pubsub: NATS subscription not confirmed yet; continuing", "err", err)
		}
	case <-n.connClosed: // refused for good, e.g. bad credentials: a configuration error
		err := conn.LastError()
		_ = n.Close()
		return nil, fmt.Errorf("pubsub: NATS: %w", err)
	case <-time.After(natsWait):
		log.Warn("pubsub: NATS not reachable yet; retrying in the background, events of other replicas reach this one once it connects")
	case <-ctx.Done():
	}
	n.started.Store(true)
	return n, nil
}

// ValidSubjectPrefix checks that prefix is a NATS subject without wildcards:
// dot-separated tokens of printable characters.
func ValidSubjectPrefix(prefix string) error {
	for _, token := range strings.Split(prefix, ".") {
		if token == "" || token == "*" || token == ">" || strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return fmt.Errorf("subject prefix %q: must be dot-separated tokens without spaces or wildcards, like %s", prefix, DefaultSubjectPrefix)
		}
	}
	return nil
}

// onConnect runs at the first connection. If start-up stopped waiting for
// it, subscribers may have started without the bus: they read back what
// they missed.
func (n *NATS) onConnect(conn *nats.Conn) {
	late := n.started.Load() // read before NewNATS can go on
	n.maxPayload.Store(conn.MaxPayload())
	n.connectedOnce.Do(func() { close(n.connected) })
	if late {
		n.onReconnect(conn)
	}
}

// onReconnect runs after every reconnect: what other replicas published
// while this one was away is lost, so once the server has the subscription
// again every subscriber reads back the messages committed meanwhile.
func (n *NATS) onReconnect(conn *nats.Conn) {
	n.maxPayload.Store(conn.MaxPayload())
	go func() {
		// The subscription is re-sent before this callback; the round trip
		// makes sure the server has it before the read-back starts.
		_ = conn.FlushTimeout(natsWait)
		n.Resync()
	}()
}

// onClosed runs once the connection is closed for good: after Close, or
// when the client gave up (the server refused the credentials).
func (n *NATS) onClosed(conn *nats.Conn) {
	n.closing.RLock()
	closed := n.closed
	n.closing.RUnlock()
	if !closed && n.started.Load() {
		n.log.Error("pubsub: the NATS connection was closed and will not reconnect; events no longer cross replicas until this replica restarts", "err", conn.LastError())
	}
	close(n.connClosed)
}

// onError hears asynchronous errors; a slow-consumer error means the client
// library dropped events it had no room for, which the subscribers read back.
func (n *NATS) onError(_ *nats.Conn, _ *nats.Subscription, err error) {
	if errors.Is(err, nats.ErrSlowConsumer) {
		n.log.Warn("pubsub: NATS events arrived faster than this replica delivers them and some were dropped; subscribers read back what they missed", "err", err)
		n.Resync()
		return
	}
	n.log.Warn("pubsub: NATS error", "err", err)
}

// Publish queues the events of one committed change; they leave in order,
// a NATS message per session, from the publisher goroutine. It never waits:
// when the queue is full the events are dropped, and subscribers read the
// messages among them back from the database when they notice the gap.
func (n *NATS) Publish(_ context.Context, events ...models.Event) error {
	limit := n.maxPayload.Load()
	if limit <= 0 {
		limit = 1 << 20 // not connected yet: NATS's default
	}
	n.closing.RLock()
	defer n.closing.RUnlock()
	if n.closed {
		return errors.New("pubsub: closed")
	}
	for len(events) > 0 {
		run := 1 // events of one session share a message; they are normally all of one
		for run < len(events) && events[run].SessionID == events[0].SessionID {
			run++
		}
		data, err := encodeEvents(events[:run], int(limit))
		if err != nil {
			return err
		}
		select {
		case n.outbox <- natsItem{subject: n.subject(events[0].SessionID), data: data}:
		default:
			return errors.New("pubsub: NATS outbox full; events dropped")
		}
		events = events[run:]
	}
	return nil
}

func (n *NATS) subject(sessionID uuid.UUID) string { return n.prefix + "." + sessionID.String() }

// encodeEvents is the wire form of events, a JSON array; when it would be
// larger than limit, messages travel by id and each replica fetches them.
func encodeEvents(events []models.Event, limit int) ([]byte, error) {
	wire := make([]wireEvent, len(events))
	for i, e := range events {
		wire[i] = wireEvent{Event: e}
	}
	data, err := json.Marshal(wire)
	if err != nil || len(data) <= limit {
		return data, err
	}
	for i := range wire {
		if m := wire[i].Message; m != nil {
			wire[i].MessageID, wire[i].Message = m.ID, nil
		}
	}
	return json.Marshal(wire)
}

// publish hands queued events to the client library until the outbox is
// closed and drained. A publish fails only when the connection has been
// down so long that the library's reconnect buffer is full, or is closed.
func (n *NATS) publish() {
	defer close(n.publisherDone)
	var failed int
	var warned time.Time
	for item := range n.outbox {
		err := n.conn.Publish(item.subject, item.data)
		if err == nil {
			continue
		}
		// Once every 10 s at most: a long outage fails every publish.
		if failed++; time.Since(warned) >= 10*time.Second {
			n.log.Warn("pubsub: NATS publish failed; subscribers elsewhere miss these events until they notice the gap",
				"err", err, "failed", failed)
			warned, failed = time.Now(), 0
		}
	}
}

// receive delivers every event of one NATS message to this replica's
// subscribers, fetching the messages that travelled by id.
func (n *NATS) receive(m *nats.Msg) {
	// The subject names the session: skip decoding (and fetching) what
	// nobody here would hear.
	if id, err := uuid.Parse(strings.TrimPrefix(m.Subject, n.prefix+".")); err == nil && !n.wants(id) {
		return
	}
	var wire []wireEvent
	if err := json.Unmarshal(m.Data, &wire); err != nil {
		n.log.Warn("pubsub: ignoring malformed NATS message", "subject", m.Subject, "err", err)
		return
	}
	for _, w := range wire {
		if w.Message == nil && w.MessageID != uuid.Nil {
			ctx, cancel := context.WithTimeout(context.Background(), backfillTimeout)
			msg, err := n.fetch(ctx, w.MessageID)
			cancel()
			if err != nil {
				n.log.Warn("pubsub: cannot fetch announced message; its subscribers read back what they missed", "id", w.MessageID, "err", err)
				n.ResyncSession(w.SessionID)
				continue
			}
			w.Message = msg
		}
		n.Deliver(w.Event)
	}
}

// Close publishes what is queued, delivers what has arrived, and closes the
// connection. Publishing after Close fails; closing twice is harmless.
func (n *NATS) Close() error {
	n.closing.Lock()
	if n.closed {
		n.closing.Unlock()
		return nil
	}
	n.closed = true
	close(n.outbox)
	n.closing.Unlock()
	<-n.publisherDone
	// Drain flushes the publications and lets the received events be
	// delivered before closing; while reconnecting it closes at once.
	if err := n.conn.Drain(); err != nil {
		n.conn.Close()
	}
	select {
	case <-n.connClosed:
	case <-time.After(2 * natsWait):
		n.conn.Close()
	}
	return nil
}
