package pubsub

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"sessionhub/models"
)

// history is a fake database of one session's messages, for Backfill.
type history struct {
	mu    sync.Mutex
	msgs  []*models.Message
	reads int
	fail  int // how many reads fail before one succeeds
}

var base = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// add stores message n (1-based) of the session, n ms after base, and
// returns its event as a send would publish it.
func (h *history) add(session uuid.UUID, n int) models.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := &models.Message{ID: uuid.New(), SessionID: session, Content: "m", CreatedAt: base.Add(time.Duration(n) * time.Millisecond)}
	var prev time.Time
	if len(h.msgs) > 0 {
		prev = h.msgs[len(h.msgs)-1].CreatedAt
	}
	h.msgs = append(h.msgs, m)
	return models.Event{Kind: models.EventMessageAdded, SessionID: session, OccurredAt: m.CreatedAt, Message: m, PrevMessageAt: prev}
}

func (h *history) backfill(_ context.Context, _ uuid.UUID, after models.Key, limit int) ([]*models.Message, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reads++
	if h.fail > 0 {
		h.fail--
		return nil, errors.New("database unavailable")
	}
	var out []*models.Message
	for _, m := range h.msgs {
		if models.KeyOf(m.CreatedAt, m.ID).After(after) && len(out) < limit {
			out = append(out, m)
		}
	}
	return out, nil
}

// recorder is a subscriber: it takes every event (or, stuck, none) and
// remembers how the subscription ended.
type recorder struct {
	mu     sync.Mutex
	events []models.Event
	ended  chan error
	stuck  chan struct{} // while open, Deliver blocks
}

func newRecorder() *recorder { return &recorder{ended: make(chan error, 1)} }

func (r *recorder) follow(session uuid.UUID) Follow {
	return Follow{SessionID: session, Deliver: r.deliver, End: func(err error) { r.ended <- err }}
}

func (r *recorder) deliver(e models.Event) bool {
	if r.stuck != nil {
		<-r.stuck
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	return true
}

// contents returns the contents' message numbers (ms after base) in delivery order.
func (r *recorder) messages() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int
	for _, e := range r.events {
		if e.Message != nil {
			out = append(out, int(e.Message.CreatedAt.Sub(base)/time.Millisecond))
		}
	}
	return out
}

func (r *recorder) waitMessages(t *testing.T, want []int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := r.messages()
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("messages delivered %v, want %v", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func seq(from, to int) []int {
	var out []int
	for n := from; n <= to; n++ {
		out = append(out, n)
	}
	return out
}

// TestMessagesArriveOnceAndInOrder: live events that arrive out of order,
// twice, or not at all (a gap the next event reveals) still reach the
// subscriber exactly once each, in order; the missing ones are read back.
func TestMessagesArriveOnceAndInOrder(t *testing.T) {
	h := &history{}
	b := NewBroker(h.backfill)
	session := uuid.New()
	r := newRecorder()
	sub := b.Subscribe(r.follow(session))
	sub.Start(models.Key{}, false)
	defer sub.Close()

	e1, e2, e3, e4, e5 := h.add(session, 1), h.add(session, 2), h.add(session, 3), h.add(session, 4), h.add(session, 5)
	b.Deliver(e1)
	b.Deliver(e1) // a duplicate
	b.Deliver(e3) // e2 was missed: e3 names it as its predecessor
	b.Deliver(e2) // arrives late
	b.Deliver(e5) // e4 never arrives live
	r.waitMessages(t, []int{1, 2, 3, 4, 5})
	b.Deliver(e4)
	b.Deliver(h.add(session, 6))
	r.waitMessages(t, []int{1, 2, 3, 4, 5, 6})
}

// TestStartFromACursorReplaysThenGoesLive: a subscriber resuming from the
// cursor of message 3 first gets 4..250 from the database (over several
// pages), then live messages, each once — also those published while it was
// still reading back.
func TestStartFromACursorReplaysThenGoesLive(t *testing.T) {
	h := &history{}
	b := NewBroker(h.backfill)
	session := uuid.New()
	var events []models.Event
	for n := 1; n <= 250; n++ {
		events = append(events, h.add(session, n))
	}
	r := newRecorder()
	sub := b.Subscribe(r.follow(session))
	b.Deliver(events[249]) // published between registering and starting
	sub.Start(models.KeyOf(events[2].Message.CreatedAt, events[2].Message.ID), true)
	defer sub.Close()
	b.Deliver(h.add(session, 251))
	r.waitMessages(t, seq(4, 251))
}

// TestLiveSubscriptionSkipsHistory: without a cursor, messages up to the
// session's newest when the subscriber arrived are history.
func TestLiveSubscriptionSkipsHistory(t *testing.T) {
	h := &history{}
	b := NewBroker(h.backfill)
	session := uuid.New()
	e1, e2 := h.add(session, 1), h.add(session, 2)
	r := newRecorder()
	sub := b.Subscribe(r.follow(session))
	b.Deliver(e2) // committed before the subscriber read where the session stood
	sub.Start(models.KeyOf(e2.Message.CreatedAt, uuid.Max), false)
	defer sub.Close()
	b.Deliver(e1)
	b.Deliver(h.add(session, 3))
	r.waitMessages(t, []int{3})
	if h.reads != 0 {
		t.Errorf("%d database reads, want none", h.reads)
	}
}

// TestResyncReadsBackWhatTheBusMissed: after the bus was cut off, a resync
// brings the messages committed meanwhile, even if no later event reveals
// the gap; a failing database is retried.
func TestResyncReadsBackWhatTheBusMissed(t *testing.T) {
	h := &history{}
	b := NewBroker(h.backfill)
	session := uuid.New()
	r := newRecorder()
	sub := b.Subscribe(r.follow(session))
	sub.Start(models.Key{}, false)
	defer sub.Close()
	b.Deliver(h.add(session, 1))
	h.add(session, 2) // published while the bus was down
	h.add(session, 3)
	h.mu.Lock()
	h.fail = 2
	h.mu.Unlock()
	b.Resync()
	r.waitMessages(t, []int{1, 2, 3})
}

// TestMissedEventsThatCannotBeReadBackEndTheSubscription: when the database
// does not answer for long, the subscription ends with ErrMissedEvents (the
// client resubscribes from its cursor) instead of skipping silently.
func TestMissedEventsThatCannotBeReadBackEndTheSubscription(t *testing.T) {
	h := &history{fail: 1 << 30}
	b := NewBroker(h.backfill)
	session := uuid.New()
	r := newRecorder()
	sub := b.Subscribe(r.follow(session))
	sub.Start(models.Key{}, true)
	select {
	case err := <-r.ended:
		if !errors.Is(err, ErrMissedEvents) {
			t.Errorf("ended with %v, want ErrMissedEvents", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("subscription still waiting for the database")
	}
	if b.Subscribers() != 0 {
		t.Errorf("%d subscribers left", b.Subscribers())
	}
}

// TestStuckSubscriberIsDropped: a subscriber that stops taking events is
// dropped once MaxQueuedEvents wait, with ErrSlowSubscriber; the publisher
// never waits for it, and a subscriber that keeps up gets every event.
func TestStuckSubscriberIsDropped(t *testing.T) {
	b := NewBroker((&history{}).backfill)
	session := uuid.New()
	stuck, reader := newRecorder(), newRecorder()
	stuck.stuck = make(chan struct{})
	defer close(stuck.stuck)
	s1, s2 := b.Subscribe(stuck.follow(session)), b.Subscribe(reader.follow(session))
	s1.Start(models.Key{}, false)
	s2.Start(models.Key{}, false)
	defer s2.Close()
	total := MaxQueuedEvents + 10
	for range total {
		b.Deliver(models.Event{Kind: models.EventRenewed, SessionID: session}) // never blocks, or the test would hang
	}
	select {
	case err := <-stuck.ended:
		t.Fatalf("stuck subscriber ended while blocked in Deliver: %v", err)
	default:
	}
	stuck.stuck <- struct{}{} // let the one event in hand go; the queue behind it was dropped
	select {
	case err := <-stuck.ended:
		if !errors.Is(err, ErrSlowSubscriber) {
			t.Errorf("stuck subscriber ended with %v, want ErrSlowSubscriber", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("stuck subscriber was not dropped")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		reader.mu.Lock()
		n := len(reader.events)
		reader.mu.Unlock()
		if n == total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reader got %d events, want %d", n, total)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if b.Subscribers() != 1 {
		t.Errorf("%d subscribers left, want the reader only", b.Subscribers())
	}
}

// TestDeletionEndsSubscriptionsAfterTheEvent: the deletion event is the
// last one; the subscription ends with ErrSessionDeleted; others go on.
func TestDeletionEndsSubscriptionsAfterTheEvent(t *testing.T) {
	b := NewBroker((&history{}).backfill)
	session, other := uuid.New(), uuid.New()
	r, bystander := newRecorder(), newRecorder()
	sub, s2 := b.Subscribe(r.follow(session)), b.Subscribe(bystander.follow(other))
	sub.Start(models.Key{}, false)
	s2.Start(models.Key{}, false)
	b.Deliver(models.Event{Kind: models.EventDeleted, SessionID: session})
	b.Deliver(models.Event{Kind: models.EventRenewed, SessionID: session}) // nobody hears this
	if err := <-r.ended; !errors.Is(err, ErrSessionDeleted) {
		t.Errorf("ended with %v, want ErrSessionDeleted", err)
	}
	if len(r.events) != 1 || r.events[0].Kind != models.EventDeleted {
		t.Errorf("events %v, want the deletion only", r.events)
	}
	if b.Subscribers() != 1 {
		t.Errorf("%d subscribers, want the bystander", b.Subscribers())
	}
	s2.Close()
	s2.Close() // idempotent
	if !errors.Is(s2.Err(), ErrClosed) || b.Subscribers() != 0 {
		t.Errorf("after Close: %v, %d left", s2.Err(), b.Subscribers())
	}
	select {
	case err := <-bystander.ended:
		t.Errorf("End called after Close: %v", err)
	default:
	}
}

// TestIdleSubscriptionsRunNoGoroutine: a subscription waiting for events
// has no goroutine of its own.
func TestIdleSubscriptionsRunNoGoroutine(t *testing.T) {
	b := NewBroker((&history{}).backfill)
	before := runtime.NumGoroutine()
	subs := make([]*Subscription, 1000)
	for i := range subs {
		session := uuid.New()
		r := newRecorder()
		subs[i] = b.Subscribe(r.follow(session))
		subs[i].Start(models.Key{}, false)
		b.Deliver(models.Event{Kind: models.EventRenewed, SessionID: session})
		r.mu.Lock()
		r.mu.Unlock()
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before+10 {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines for 1000 idle subscriptions (%d before)", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, s := range subs {
		s.Close()
	}
}

// Agent watches are counted while they run, several per agent included.
func TestAgentFollowersCountsWatches(t *testing.T) {
	b := NewBroker((&history{}).backfill)
	a, other := uuid.New(), uuid.New()
	stopA1 := b.WatchAgent(a, func() {})
	stopA2 := b.WatchAgent(a, func() {})
	stopOther := b.WatchAgent(other, func() {})
	if n := b.AgentFollowers(); n != 3 {
		t.Fatalf("%d followers, want 3", n)
	}
	stopA1()
	stopOther()
	if n := b.AgentFollowers(); n != 1 {
		t.Fatalf("%d followers after two stopped, want 1", n)
	}
	stopA2()
	if n := b.AgentFollowers(); n != 0 {
		t.Fatalf("%d followers after all stopped, want 0", n)
	}
}
