package chat

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"

	"sessionhub/models"
)

// Bounds of one replica's webhook attempts.
const (
	// DeliveryWorkers is how many attempts a replica makes at once.
	DeliveryWorkers = 32
	// AgentAttemptCap is how many of them one agent's deliveries may hold,
	// so that a receiver that hangs (10 s per attempt) holds at most a
	// quarter of the workers and the others' deliveries go on.
	AgentAttemptCap = 8
)

// deliveryPool makes webhook attempts on at most DeliveryWorkers
// goroutines, counting each agent's attempts in flight.
type deliveryPool struct {
	s        *Service
	mu       sync.Mutex
	busy     int
	perAgent map[uuid.UUID]int
	finished chan struct{} // holds a signal once an attempt ended since the last look
	workers  sync.WaitGroup
}

func (s *Service) newDeliveryPool() *deliveryPool {
	return &deliveryPool{s: s, perAgent: map[uuid.UUID]int{}, finished: make(chan struct{}, 1)}
}

// claim leases due deliveries for the free workers, each agent at most up
// to its cap, and starts their attempts. The cap holds between claims too:
// only claim adds attempts, so an agent's count can only fall meanwhile.
// more reports that some agent reached its cap, so more deliveries (its
// own, or others' behind them in the claim's window) may be due already.
func (p *deliveryPool) claim(ctx context.Context) (claimed int, more bool, err error) {
	p.mu.Lock()
	free := DeliveryWorkers - p.busy
	room := make(map[uuid.UUID]int, len(p.perAgent))
	for agent, n := range p.perAgent {
		room[agent] = AgentAttemptCap - n
	}
	p.mu.Unlock()
	if free == 0 {
		return 0, false, nil
	}
	now := p.s.Now()
	due, err := p.s.store.ClaimDeliveries(ctx, now, now.Add(deliveryLease), free, AgentAttemptCap, room)
	if err != nil {
		return 0, false, err
	}
	taken := map[uuid.UUID]int{}
	for _, d := range due {
		p.start(ctx, d)
		taken[d.AgentID]++
	}
	for agent, n := range taken {
		limit := AgentAttemptCap
		if r, busy := room[agent]; busy {
			limit = r
		}
		more = more || n == limit
	}
	return len(due), more, nil
}

// start runs one attempt on a worker of its own; its end frees the worker
// at once and wakes the loop.
func (p *deliveryPool) start(ctx context.Context, d *models.Delivery) {
	p.mu.Lock()
	p.busy++
	p.perAgent[d.AgentID]++
	p.mu.Unlock()
	p.s.observeInFlight(1)
	p.workers.Go(func() {
		p.s.attempt(ctx, d)
		p.s.observeInFlight(-1)
		p.mu.Lock()
		p.busy--
		if p.perAgent[d.AgentID]--; p.perAgent[d.AgentID] == 0 {
			delete(p.perAgent, d.AgentID)
		}
		p.mu.Unlock()
		select {
		case p.finished <- struct{}{}:
		default: // a wake-up is pending already
		}
	})
}

func (p *deliveryPool) full() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.busy == DeliveryWorkers
}

// wait returns once every attempt started has ended.
func (p *deliveryPool) wait() { p.workers.Wait() }

// run claims whenever workers are free until ctx ends. After a claim that
// left nothing due within reach it sleeps until deliveries were drawn, an
// attempt ended (a session's next delivery or an agent's room may be
// free), or the interval passed (retries come due).
func (p *deliveryPool) run(ctx context.Context, interval time.Duration, drawn <-chan struct{}) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for ctx.Err() == nil {
		_, more, err := p.claim(ctx)
		if err != nil && ctx.Err() == nil {
			p.s.log.WarnContext(ctx, "claiming webhook deliveries failed", "err", err)
		}
		if err == nil && more && !p.full() {
			continue
		}
		select {
		case <-ctx.Done():
		case <-drawn:
		case <-p.finished:
		case <-tick.C:
		}
	}
}

// RunWebhooks draws every interval and attempts due deliveries on a pool
// of DeliveryWorkers until ctx ends; then it returns once the attempts in
// flight (their requests cancelled, their outcome recorded) have ended.
// Drawing runs on its own, so slow receivers never delay it.
func (s *Service) RunWebhooks(ctx context.Context, interval time.Duration) {
	if s.webhooks == nil {
		return
	}
	drawn := make(chan struct{}, 1)
	var drawing sync.WaitGroup
	drawing.Go(func() { s.drawEvery(ctx, interval, drawn) })
	pool := s.newDeliveryPool()
	pool.run(ctx, interval, drawn)
	pool.wait()
	drawing.Wait()
}

// drawEvery draws the webhooks' feeds every interval until ctx ends,
// signalling drawn when a pass made deliveries.
func (s *Service) drawEvery(ctx context.Context, interval time.Duration, drawn chan<- struct{}) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		n, err := s.drawWebhooks(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "drawing webhook deliveries failed", "err", err)
		}
		if n > 0 {
			select {
			case drawn <- struct{}{}:
			default:
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
