package pubsub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"sessionhub/models"
)

// channel is the NOTIFY channel every replica listens on.
const channel = "sessionhub_events"

// maxPayload keeps NOTIFY payloads under PostgreSQL's 8000-byte limit; a
// larger message travels by id and each replica fetches it once.
const maxPayload = 7500

// FetchMessage loads a message a notification referred to by id.
type FetchMessage func(ctx context.Context, id uuid.UUID) (*models.Message, error)

// Postgres is the cross-replica Bus: Publish sends NOTIFY, and every
// replica's listener (this one included) delivers what it hears to its own
// subscribers. When a listener had to reconnect, its subscribers read back
// from the database the messages committed meanwhile (Resync); other events
// of that gap are lost.
type Postgres struct {
	*Broker
	pool   *pgxpool.Pool
	fetch  FetchMessage
	log    *slog.Logger
	cancel context.CancelFunc
	done   sync.WaitGroup
	ready  chan struct{}

	// Published events wait here for the flusher, which packs the events of
	// many sends into one NOTIFY: every NOTIFY takes PostgreSQL's global
	// notification-queue lock at commit, so one per send would serialise them.
	outbox      chan []byte
	flusherDone chan struct{}
	closing     sync.RWMutex // held for reading while queueing, for writing to close the outbox
	closed      bool
}

// flushWindow is how long the flusher waits for more events to share a NOTIFY.
const flushWindow = time.Millisecond

// notifyAttempts bounds the retries of one NOTIFY (about 8 s in all).
const notifyAttempts = 8

// NewPostgres connects to databaseURL and starts listening. fetch loads a
// message announced by id; backfill reads what subscribers missed.
func NewPostgres(ctx context.Context, databaseURL string, fetch FetchMessage, backfill Backfill, log *slog.Logger) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("pubsub: %w", err)
	}
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pubsub: %w", err)
	}
	listenCtx, cancel := context.WithCancel(context.Background())
	p := &Postgres{Broker: NewBroker(backfill), pool: pool, fetch: fetch, log: log, cancel: cancel, ready: make(chan struct{}),
		outbox: make(chan []byte, 4096), flusherDone: make(chan struct{})}
	p.done.Go(func() { p.listen(listenCtx, cfg.ConnConfig) })
	go p.flush()
	select { // wait for the first LISTEN so that no event published after start-up is missed
	case <-p.ready:
	case <-time.After(5 * time.Second):
		log.Warn("pubsub: LISTEN not established yet; continuing")
	case <-ctx.Done():
	}
	return p, nil
}

// wireEvent is an event on the wire; a large message is sent by id.
type wireEvent struct {
	models.Event
	MessageID uuid.UUID `json:"mid,omitzero"`
}

// Publish queues the events of one committed change for every replica; they
// leave, in order, in the next NOTIFY (within about a millisecond). It never
// waits: when the queue is full (the database has been unreachable for a
// while) the events are dropped, and subscribers read the messages among
// them back from the database when they notice the gap.
func (p *Postgres) Publish(_ context.Context, events ...models.Event) error {
	if len(events) == 0 {
		return nil
	}
	wire := make([]wireEvent, len(events))
	for i, e := range events {
		wire[i] = wireEvent{Event: e}
	}
	payload, err := json.Marshal(wire)
	if err != nil {
		return err
	}
	if len(payload) > maxPayload {
		for i := range wire {
			if m := wire[i].Message; m != nil {
				wire[i].MessageID, wire[i].Message = m.ID, nil
			}
		}
		if payload, err = json.Marshal(wire); err != nil {
			return err
		}
	}
	item := payload[1 : len(payload)-1] // the events, without the array's brackets
	p.closing.RLock()
	defer p.closing.RUnlock()
	if p.closed {
		return errors.New("pubsub: closed")
	}
	select {
	case p.outbox <- item:
		return nil
	default:
		return errors.New("pubsub: outbox full; events dropped")
	}
}

// flush sends queued events, as many as fit in one payload per NOTIFY,
// until the outbox is closed and drained.
func (p *Postgres) flush() {
	defer close(p.flusherDone)
	var batch []byte
	send := func() {
		if len(batch) == 0 {
			return
		}
		payload := "[" + string(batch) + "]"
		// The events are committed: keep trying while the database comes back.
		for attempt := 0; ; attempt++ {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := p.pool.Exec(ctx, "SELECT pg_notify($1, $2)", channel, payload)
			cancel()
			if err == nil {
				break
			}
			if attempt == notifyAttempts-1 {
				p.log.Warn("pubsub: NOTIFY failed; subscribers elsewhere miss these events until they notice the gap",
					"err", err, "bytes", len(payload))
				break
			}
			time.Sleep(backoff(attempt))
		}
		batch = batch[:0]
	}
	add := func(item []byte) {
		if len(batch) > 0 && len(batch)+1+len(item) > maxPayload {
			send()
		}
		if len(batch) > 0 {
			batch = append(batch, ',')
		}
		batch = append(batch, item...)
	}
	for item := range p.outbox {
		add(item)
		window := time.After(flushWindow)
	gather:
		for {
			select {
			case more, ok := <-p.outbox:
				if !ok {
					break gather
				}
				add(more)
			case <-window:
				break gather
			}
		}
		send()
	}
	send()
}

func (p *Postgres) listen(ctx context.Context, cfg *pgx.ConnConfig) {
	backoff := 100 * time.Millisecond
	first := true
	for ctx.Err() == nil {
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			_, err = conn.Exec(ctx, "LISTEN "+channel)
		}
		if err != nil {
			if conn != nil {
				_ = conn.Close(context.Background())
			}
			if ctx.Err() == nil {
				p.log.Warn("pubsub: cannot listen, retrying", "err", err, "in", backoff)
			}
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		if first {
			close(p.ready)
			first = false
		} else {
			// Listening again: what was committed while nobody here listened
			// is read back from the database by every subscription.
			p.Resync()
		}
		p.receive(ctx, conn)
		_ = conn.Close(context.Background())
	}
}

func (p *Postgres) receive(ctx context.Context, conn *pgx.Conn) {
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if ctx.Err() == nil {
				p.log.Warn("pubsub: listener lost its connection, reconnecting", "err", err)
			}
			return
		}
		if !p.listening() {
			continue // nobody here listens: skip decoding (the busiest replica's common case)
		}
		var wire []wireEvent
		if err := json.Unmarshal([]byte(n.Payload), &wire); err != nil {
			p.log.Warn("pubsub: ignoring malformed notification", "err", err)
			continue
		}
		for _, w := range wire {
			if w.Message == nil && w.MessageID != uuid.Nil {
				msg, err := p.fetch(ctx, w.MessageID)
				if err != nil {
					p.log.Warn("pubsub: cannot fetch announced message; its subscribers read back what they missed", "id", w.MessageID, "err", err)
					p.ResyncSession(w.SessionID)
					continue
				}
				w.Message = msg
			}
			p.Deliver(w.Event)
		}
	}
}

// Close sends what is queued, stops listening and releases the connections.
// Publishing after Close is not allowed.
func (p *Postgres) Close() error {
	p.closing.Lock()
	p.closed = true
	close(p.outbox)
	p.closing.Unlock()
	<-p.flusherDone
	p.cancel()
	p.done.Wait()
	p.pool.Close()
	return nil
}
