// Package pubsub delivers session events to subscribers: in process through
// a Broker, and across replicas through PostgreSQL LISTEN/NOTIFY.
//
// Message events are delivered gap-free: every message event carries the
// createdAt of the session's message before it, so a subscription that sees
// one whose predecessor it has not seen knows it missed something, and reads
// what it missed from the database (Backfill) before going on. The same
// read runs when a subscription starts from a cursor and when the bus was
// cut off for a while (Resync). A session's messages have strictly
// increasing createdAt milliseconds, so (createdAt, id) orders them exactly.
// Other events (renewals, lifetime notices) are delivered as they arrive and
// are not replayed.
package pubsub

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"

	"sessionhub/models"
)

// Bus publishes events and hands out subscriptions; the chat service uses it.
type Bus interface {
	// Publish announces events that have been committed, in order. It never
	// blocks for long: events that cannot be queued are dropped (and message
	// events recovered by subscribers from the database).
	Publish(ctx context.Context, events ...models.Event) error
	// Subscribe follows one session's events in this process; see Follow.
	Subscribe(f Follow) *Subscription
	// Subscribers counts this process's live subscriptions.
	Subscribers() int
	// WatchAgent calls wake (which must not block) whenever an event of one
	// of the agent's sessions arrives in this process, and after the bus was
	// cut off (Resync); stop ends it. Agent feed readers re-read the
	// database when woken: the event itself is only a hint.
	WatchAgent(agentID uuid.UUID, wake func()) (stop func())
	// AgentFollowers counts this process's agent watches: the open
	// agentEvents subscriptions.
	AgentFollowers() int
	Close() error
}

// Backfill reads a session's messages after a position, oldest first, at most
// limit of them: what a subscriber missed.
type Backfill func(ctx context.Context, sessionID uuid.UUID, after models.Key, limit int) ([]*models.Message, error)

// Why a subscription ended.
var (
	ErrSlowSubscriber = errors.New("subscriber could not keep up and was dropped")
	ErrSessionDeleted = errors.New("session was deleted")
	ErrClosed         = errors.New("subscription closed")
	// ErrMissedEvents: events were missed and could not be read back (the
	// database did not answer); the client should resubscribe from its cursor.
	ErrMissedEvents = errors.New("missed events could not be recovered")
)

// MaxQueuedEvents is how many events may wait for one subscriber before it
// counts as stuck and is dropped. It is generous — a client that reads at any
// steady pace is never dropped by a burst — and costs nothing while a
// subscriber keeps up: the queue only holds what has not been taken yet.
const MaxQueuedEvents = 4096

// backfillPage is how many missed messages one database read brings back.
const backfillPage = 100

// Follow says what a subscription follows and where its events go.
type Follow struct {
	SessionID uuid.UUID
	// Deliver hands one event to the subscriber, blocking until it is taken;
	// false means the subscriber has gone. It is called from one goroutine
	// at a time, in order.
	Deliver func(models.Event) bool
	// End is called once, after the last Deliver, when the subscription ends
	// for a reason of its own (the session deleted, the subscriber too slow,
	// missed events lost) — not after Close.
	End func(error)
}

// Subscription is one subscriber's stream of a session's events. Events
// wait in a queue that a goroutine of the subscription's own drains; the
// goroutine runs only while there is something to hand over, so an idle
// subscription costs a few hundred bytes.
type Subscription struct {
	follow Follow
	broker *Broker
	ctx    context.Context // ends with the subscription: cancels a backfill
	cancel context.CancelFunc

	mu      sync.Mutex
	started bool
	last    models.Key // the newest message handed over, or the starting position
	queue   []pending
	pumping bool
	closed  bool  // no more events are queued
	err     error // why it ended
}

// pending is one item of a subscription's queue.
type pending struct {
	event  models.Event
	resync bool  // read what was missed since last from the database
	end    error // end the subscription with this reason
}

// Broker fans events out to this process's subscribers without ever blocking
// the publisher: a subscriber whose queue is full is dropped.
type Broker struct {
	backfill Backfill

	mu     sync.Mutex
	subs   map[uuid.UUID]map[*Subscription]struct{}
	agents map[uuid.UUID]map[*agentWatch]struct{}
}

// agentWatch is one WatchAgent registration.
type agentWatch struct{ wake func() }

// NewBroker makes an empty broker that reads missed messages with backfill.
func NewBroker(backfill Backfill) *Broker {
	return &Broker{backfill: backfill, subs: map[uuid.UUID]map[*Subscription]struct{}{},
		agents: map[uuid.UUID]map[*agentWatch]struct{}{}}
}

// Subscribe registers a subscription; events queue from now on but are
// handed over only after Start, so the caller can first read where the
// session stands (and check the subscriber may follow it).
func (b *Broker) Subscribe(f Follow) *Subscription {
	s := &Subscription{follow: f, broker: b}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs[f.SessionID] == nil {
		b.subs[f.SessionID] = map[*Subscription]struct{}{}
	}
	b.subs[f.SessionID][s] = struct{}{}
	return s
}

// Start hands over events after position from: with replay, first the
// session's messages after it read from the database (a client resuming from
// its cursor), then what happens live. Without replay, from is where the
// session stood when the subscriber arrived (its newest message): events of
// messages up to it are history and skipped.
func (s *Subscription) Start(from models.Key, replay bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started, s.last = true, from
	if replay {
		s.queue = append([]pending{{resync: true}}, s.queue...)
	}
	s.wakeLocked()
}

// Close ends the subscription from the subscriber's side. Safe to call more
// than once and from any goroutine.
func (s *Subscription) Close() {
	s.broker.remove(s)
	s.mu.Lock()
	if !s.closed {
		s.closed, s.err, s.queue = true, ErrClosed, nil
	}
	s.mu.Unlock()
	s.cancel()
}

// Err is why the subscription ended, nil while it runs.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Deliver hands e to the session's subscribers. A deleted session's
// subscriptions end after the event.
func (b *Broker) Deliver(e models.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs[e.SessionID] {
		s.offer(pending{event: e})
		if e.Kind == models.EventDeleted {
			s.offer(pending{end: ErrSessionDeleted})
			b.removeLocked(s)
		}
	}
	for w := range b.agents[e.AgentID] {
		w.wake()
	}
}

// WatchAgent: see Bus.
func (b *Broker) WatchAgent(agentID uuid.UUID, wake func()) (stop func()) {
	w := &agentWatch{wake: wake}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.agents[agentID] == nil {
		b.agents[agentID] = map[*agentWatch]struct{}{}
	}
	b.agents[agentID][w] = struct{}{}
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		delete(b.agents[agentID], w)
		if len(b.agents[agentID]) == 0 {
			delete(b.agents, agentID)
		}
	}
}

// Resync makes every subscription read back the messages it may have missed,
// after the bus was cut off for a while.
func (b *Broker) Resync() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, set := range b.subs {
		for s := range set {
			s.offer(pending{resync: true})
		}
	}
	for _, set := range b.agents {
		for w := range set {
			w.wake()
		}
	}
}

// ResyncSession is Resync for one session's subscriptions.
func (b *Broker) ResyncSession(sessionID uuid.UUID) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs[sessionID] {
		s.offer(pending{resync: true})
	}
}

// Subscribers counts started subscriptions (for tests and metrics): a
// subscriber counts once it hears every message committed from then on.
func (b *Broker) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, set := range b.subs {
		for s := range set {
			s.mu.Lock()
			if s.started {
				n++
			}
			s.mu.Unlock()
		}
	}
	return n
}

// AgentFollowers counts the agent watches running in this process.
func (b *Broker) AgentFollowers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, watches := range b.agents {
		n += len(watches)
	}
	return n
}

// listening reports whether an event could reach anyone in this process: a
// subscription (started or starting) or an agent's follower. Buses skip
// decoding what nobody here would hear.
func (b *Broker) listening() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs) > 0 || len(b.agents) > 0
}

// wants reports whether an event of sessionID could reach anyone here: the
// session's subscriptions, or any agent's follower (an event names its
// agent only once decoded).
func (b *Broker) wants(sessionID uuid.UUID) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs[sessionID]) > 0 || len(b.agents) > 0
}

func (b *Broker) remove(s *Subscription) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.removeLocked(s)
}

func (b *Broker) removeLocked(s *Subscription) {
	set := b.subs[s.follow.SessionID]
	if _, ok := set[s]; !ok {
		return
	}
	delete(set, s)
	if len(set) == 0 {
		delete(b.subs, s.follow.SessionID)
	}
}

// offer queues an item and makes sure the queue is being drained. A queue
// that is full drops the subscriber: its queue is replaced by the end.
func (s *Subscription) offer(p pending) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	switch {
	case p.resync && len(s.queue) > 0 && s.queue[len(s.queue)-1].resync:
		return // one pending read back covers both
	case p.end != nil:
		s.closed = true
	case len(s.queue) >= MaxQueuedEvents:
		s.closed = true
		s.queue = []pending{{end: ErrSlowSubscriber}}
		s.wakeLocked()
		return
	}
	s.queue = append(s.queue, p)
	s.wakeLocked()
}

// wakeLocked starts the draining goroutine if there is work and none runs.
func (s *Subscription) wakeLocked() {
	if s.started && !s.pumping && len(s.queue) > 0 {
		s.pumping = true
		go s.pump()
	}
}

// pump hands queued items over in order until the queue is empty or the
// subscription ends.
func (s *Subscription) pump() {
	for {
		s.mu.Lock()
		if len(s.queue) == 0 || s.err != nil {
			s.pumping = false
			s.queue = nil
			s.mu.Unlock()
			return
		}
		p := s.queue[0]
		s.queue[0] = pending{}
		s.queue = s.queue[1:]
		s.mu.Unlock()

		var err error
		switch {
		case p.end != nil:
			err = p.end
		case p.resync:
			err = s.catchUp(nil)
		case p.event.Kind == models.EventMessageAdded && p.event.Message != nil:
			err = s.handOverMessage(p.event)
		default:
			err = s.handOver(p.event)
		}
		if err != nil {
			s.finish(err)
			return
		}
	}
}

// finish ends the subscription from the pump; the subscriber hears why
// unless it left itself.
func (s *Subscription) finish(err error) {
	s.broker.remove(s)
	s.mu.Lock()
	left := errors.Is(s.err, ErrClosed)
	if s.err == nil {
		s.err = err
	}
	s.closed, s.pumping, s.queue = true, false, nil
	s.mu.Unlock()
	s.cancel()
	if !left && !errors.Is(err, ErrClosed) && s.follow.End != nil {
		s.follow.End(err)
	}
}

func (s *Subscription) handOver(e models.Event) error {
	if !s.follow.Deliver(e) {
		return ErrClosed
	}
	return nil
}

// handOverMessage delivers a live message event exactly once and in order:
// one already handed over is skipped; one whose predecessor was not handed
// over first brings the missed messages back from the database.
func (s *Subscription) handOverMessage(e models.Event) error {
	key := models.KeyOf(e.Message.CreatedAt, e.Message.ID)
	if !key.After(s.last) {
		return nil // delivered already (read back, or history when the subscription started)
	}
	if e.PrevMessageAt.After(s.last.CreatedAt) {
		return s.catchUp(&key)
	}
	if err := s.handOver(e); err != nil {
		return err
	}
	s.last = key
	return nil
}

// catchUp reads the messages after s.last from the database and hands them
// over, up to and including until (all of them when until is nil).
func (s *Subscription) catchUp(until *models.Key) error {
	for {
		msgs, err := s.readMissed()
		if err != nil {
			return err
		}
		for _, m := range msgs {
			key := models.KeyOf(m.CreatedAt, m.ID)
			if err := s.handOver(models.Event{Kind: models.EventMessageAdded, SessionID: m.SessionID, OccurredAt: m.CreatedAt, Message: m}); err != nil {
				return err
			}
			s.last = key
			if until != nil && !until.After(key) {
				return nil
			}
		}
		if len(msgs) < backfillPage {
			return nil
		}
	}
}

// readMissed reads the next page after s.last, retrying a failing database
// for a while before giving up on the subscription.
func (s *Subscription) readMissed() ([]*models.Message, error) {
	var err error
	for attempt := range backfillAttempts {
		var msgs []*models.Message
		ctx, cancel := context.WithTimeout(s.ctx, backfillTimeout)
		msgs, err = s.broker.backfill(ctx, s.follow.SessionID, s.last, backfillPage)
		cancel()
		if err == nil {
			return msgs, nil
		}
		if s.ctx.Err() != nil {
			return nil, ErrClosed
		}
		if !sleep(s.ctx, backoff(attempt)) {
			return nil, ErrClosed
		}
	}
	return nil, errors.Join(ErrMissedEvents, err)
}

// How long a subscription keeps trying to read back what it missed.
const (
	backfillAttempts = 8
	backfillTimeout  = 5 * time.Second
)

// backoff is the pause before retry attempt+1: 100 ms doubling to 2 s
// (about 8 s over all attempts).
func backoff(attempt int) time.Duration {
	return min(100*time.Millisecond<<attempt, 2*time.Second)
}

// sleep waits d, or less if ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Local is the single-process Bus (SQLite): publishing delivers directly.
type Local struct{ *Broker }

// NewLocal makes an in-process bus that reads missed messages with backfill.
func NewLocal(backfill Backfill) *Local { return &Local{NewBroker(backfill)} }

func (l *Local) Publish(_ context.Context, events ...models.Event) error {
	for _, e := range events {
		l.Deliver(e)
	}
	return nil
}

func (l *Local) Close() error { return nil }
