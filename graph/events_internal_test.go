package graph

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"sessionhub/graph/model"
	"sessionhub/internal/pubsub"
	"sessionhub/models"
)

// TestStuckSubscriberConnectionIsClosed: when gqlgen stops taking events
// (its client does not read), the subscription is dropped and the client's
// connection is closed, while publishing never blocks.
func TestStuckSubscriberConnectionIsClosed(t *testing.T) {
	broker := pubsub.NewBroker()
	session := uuid.New()
	sub := broker.Subscribe(session)
	var closed atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctx = context.WithValue(ctx, connectionCloserKey{}, context.CancelFunc(func() { closed.Store(true) }))
	out := make(chan model.SessionEvent) // nobody reads: a stuck client
	finished := make(chan struct{})
	go func() {
		forwardEvents(ctx, sub, out)
		close(finished)
	}()
	for range 3 * pubsub.SubscriberBuffer {
		broker.Deliver(models.Event{Kind: models.EventMessageAdded, SessionID: session, OccurredAt: time.Now()})
	}
	select {
	case <-finished:
	case <-time.After(5 * time.Second):
		t.Fatal("forwarder still running after its subscriber was dropped")
	}
	if !closed.Load() {
		t.Error("the stuck client's connection was not closed")
	}
	if broker.Subscribers() != 0 {
		t.Errorf("%d subscribers left", broker.Subscribers())
	}
}
