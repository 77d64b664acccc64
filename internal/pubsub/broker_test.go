package pubsub

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"sessionhub/models"
)

func event(session uuid.UUID, kind models.EventKind) models.Event {
	return models.Event{Kind: kind, SessionID: session, OccurredAt: time.Now()}
}

// TestStuckSubscriberIsDropped: a subscriber that never reads is dropped once
// its buffer is full; the publisher never waits for it, and a subscriber that
// keeps up gets every event.
func TestStuckSubscriberIsDropped(t *testing.T) {
	b := NewBroker()
	session := uuid.New()
	stuck := b.Subscribe(session)
	reader := b.Subscribe(session)
	got := make(chan struct{})
	go func() {
		for range reader.Events() {
			got <- struct{}{}
		}
	}()
	const rounds, perRound = 20, SubscriberBuffer / 2
	for range rounds {
		for range perRound {
			b.Deliver(event(session, models.EventMessageAdded)) // never blocks, or the test would hang
		}
		for range perRound { // the reader keeps up between rounds
			select {
			case <-got:
			case <-time.After(5 * time.Second):
				t.Fatal("the reading subscriber missed events")
			}
		}
	}
	select {
	case <-stuck.Done():
	default:
		t.Fatal("stuck subscriber still registered")
	}
	if !errors.Is(stuck.Err(), ErrSlowSubscriber) {
		t.Errorf("stuck subscriber ended with %v, want ErrSlowSubscriber", stuck.Err())
	}
	if reader.Err() != nil {
		t.Errorf("the reading subscriber was dropped: %v", reader.Err())
	}
	reader.Close()
	if b.Subscribers() != 0 {
		t.Errorf("%d subscribers left", b.Subscribers())
	}
}

func TestDeletionEndsSubscriptionsAfterTheEvent(t *testing.T) {
	b := NewBroker()
	session, other := uuid.New(), uuid.New()
	sub := b.Subscribe(session)
	bystander := b.Subscribe(other)
	b.Deliver(event(session, models.EventDeleted))
	<-sub.Done()
	if !errors.Is(sub.Err(), ErrSessionDeleted) {
		t.Errorf("ended with %v, want ErrSessionDeleted", sub.Err())
	}
	if e := <-sub.Events(); e.Kind != models.EventDeleted {
		t.Errorf("queued event %v, want the deletion", e.Kind)
	}
	if bystander.Err() != nil || b.Subscribers() != 1 {
		t.Errorf("another session's subscription was affected: %v, %d left", bystander.Err(), b.Subscribers())
	}
	bystander.Close()
	bystander.Close() // idempotent
	if !errors.Is(bystander.Err(), ErrClosed) || b.Subscribers() != 0 {
		t.Errorf("after Close: %v, %d left", bystander.Err(), b.Subscribers())
	}
}
