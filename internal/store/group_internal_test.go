package store

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"sessionhub/models"
)

// TestGroupStatementsFollowTheLoad: one group statement runs at a time
// while the sends queued behind it fit in one group; when they fill a group
// for every running statement another starts, up to a quarter of the pool.
func TestGroupStatementsFollowTheLoad(t *testing.T) {
	// Workers take their groups while sends still arrive, so how many start
	// between the bounds depends on scheduling; the bounds do not.
	cases := []struct {
		name     string
		sends    int // queued behind a first send whose statement is held
		poolSize int
		atLeast  int // statements running at once
		atMost   int
	}{
		{"32 clients: one statement", 32, 16, 1, 1},
		{"a full group waits: a second statement", maxGroupSize + 8, 16, 2, 2},
		{"three groups' worth: more", 3*maxGroupSize + 8, 16, 2, 4},
		{"far more: bounded by the pool", 20 * maxGroupSize, 16, 4, 4},
		{"a small pool: one", 20 * maxGroupSize, 4, 1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			release := make(chan struct{})
			var mu sync.Mutex
			running, most := 0, 0
			hold := func() {
				mu.Lock()
				running++
				most = max(most, running)
				mu.Unlock()
				<-release
				mu.Lock()
				running--
				mu.Unlock()
			}
			g := newGroupCommitter(nil, c.poolSize, func(context.Context, *models.Session, int64, *models.Message) (bool, error) {
				hold()
				return true, nil
			})
			g.group = func(_ context.Context, sends []*pendingSend) (map[uuid.UUID]bool, error) {
				hold()
				written := map[uuid.UUID]bool{}
				for _, p := range sends {
					written[p.session.ID] = true
				}
				return written, nil
			}
			var wg sync.WaitGroup
			send := func() {
				wg.Go(func() {
					written, err := g.write(context.Background(), &models.Session{ID: uuid.New()}, 1, &models.Message{ID: uuid.New()})
					if err != nil || !written {
						t.Errorf("send: written %v, %v", written, err)
					}
				})
			}
			send()
			waitUntil(t, "the first statement to run", func() bool { mu.Lock(); defer mu.Unlock(); return running == 1 })
			for range c.sends {
				send()
			}
			// Every send is queued or taken, and every statement started is held.
			waitUntil(t, "the sends to queue and the statements to start", func() bool {
				g.mu.Lock()
				queued, workers := len(g.queue)+len(g.writing), g.running
				g.mu.Unlock()
				mu.Lock()
				defer mu.Unlock()
				return queued == c.sends+1 && running == workers
			})
			close(release)
			wg.Wait()
			if most < c.atLeast || most > c.atMost {
				t.Errorf("%d statements ran at once with %d sends queued; want %d to %d", most, c.sends, c.atLeast, c.atMost)
			}
		})
	}
}

func waitUntil(t *testing.T, what string, done func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !done(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
