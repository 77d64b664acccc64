// Package pubsub delivers session events to subscribers: in process through
// a Broker, and across replicas through PostgreSQL LISTEN/NOTIFY.
package pubsub

import (
	"context"
	"errors"
	"sync"

	"github.com/google/uuid"

	"sessionhub/models"
)

// Bus publishes events and hands out subscriptions; the chat service uses it.
type Bus interface {
	// Publish announces events that have been committed, in order.
	Publish(ctx context.Context, events ...models.Event) error
	// Subscribe follows one session's events in this process.
	Subscribe(sessionID uuid.UUID) *Subscription
	// Subscribers counts this process's live subscriptions.
	Subscribers() int
	Close() error
}

// Why a subscription ended.
var (
	ErrSlowSubscriber = errors.New("subscriber could not keep up and was dropped")
	ErrSessionDeleted = errors.New("session was deleted")
	ErrClosed         = errors.New("subscription closed")
)

// SubscriberBuffer is how many events may wait for a subscriber before it
// counts as stuck and is dropped; publishers never wait for it.
const SubscriberBuffer = 64

// Subscription is one subscriber's stream of a session's events.
type Subscription struct {
	sessionID uuid.UUID
	broker    *Broker
	events    chan models.Event
	done      chan struct{}
	err       error // why it ended; written once, before done closes
	once      sync.Once
}

// Events delivers the session's events in order.
func (s *Subscription) Events() <-chan models.Event { return s.events }

// Done closes when the subscription ends; Err then says why.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err is nil while the subscription runs.
func (s *Subscription) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// Close ends the subscription. Safe to call more than once.
func (s *Subscription) Close() { s.broker.remove(s, ErrClosed) }

// Broker fans events out to this process's subscribers without ever blocking
// the publisher: a subscriber whose buffer is full is dropped.
type Broker struct {
	mu   sync.Mutex
	subs map[uuid.UUID]map[*Subscription]struct{}
}

// NewBroker makes an empty broker.
func NewBroker() *Broker {
	return &Broker{subs: map[uuid.UUID]map[*Subscription]struct{}{}}
}

// Subscribe follows one session's events.
func (b *Broker) Subscribe(sessionID uuid.UUID) *Subscription {
	s := &Subscription{
		sessionID: sessionID,
		broker:    b,
		events:    make(chan models.Event, SubscriberBuffer),
		done:      make(chan struct{}),
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs[sessionID] == nil {
		b.subs[sessionID] = map[*Subscription]struct{}{}
	}
	b.subs[sessionID][s] = struct{}{}
	return s
}

// Deliver hands e to the session's subscribers. A deleted session's
// subscriptions end after the event.
func (b *Broker) Deliver(e models.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs[e.SessionID] {
		select {
		case s.events <- e:
		default:
			b.removeLocked(s, ErrSlowSubscriber)
		}
	}
	if e.Kind == models.EventDeleted {
		for s := range b.subs[e.SessionID] {
			b.removeLocked(s, ErrSessionDeleted)
		}
	}
}

// Subscribers counts live subscriptions (for tests and metrics).
func (b *Broker) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, set := range b.subs {
		n += len(set)
	}
	return n
}

func (b *Broker) remove(s *Subscription, why error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.removeLocked(s, why)
}

func (b *Broker) removeLocked(s *Subscription, why error) {
	s.once.Do(func() {
		set := b.subs[s.sessionID]
		delete(set, s)
		if len(set) == 0 {
			delete(b.subs, s.sessionID)
		}
		s.err = why
		close(s.done)
	})
}

// Local is the single-process Bus (SQLite): publishing delivers directly.
type Local struct{ *Broker }

// NewLocal makes an in-process bus.
func NewLocal() *Local { return &Local{NewBroker()} }

func (l *Local) Publish(_ context.Context, events ...models.Event) error {
	for _, e := range events {
		l.Deliver(e)
	}
	return nil
}

func (l *Local) Close() error { return nil }
