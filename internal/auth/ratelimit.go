package auth

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimiter allows each caller (by principal scope, or client address when
// anonymous) a number of requests per minute, with a burst of the same size.
// It is per process: with N replicas behind a balancer a caller can reach N×.
type RateLimiter struct {
	perMinute int
	mu        sync.Mutex
	callers   map[string]*caller
	lastSweep time.Time
}

type caller struct {
	limiter  *rate.Limiter
	lastSeen time.Time
}

// NewRateLimiter allows perMinute requests per caller; 0 turns limiting off.
func NewRateLimiter(perMinute int) *RateLimiter {
	return &RateLimiter{perMinute: perMinute, callers: map[string]*caller{}}
}

// Allow reports whether the caller may proceed at now; if not, how long until it may.
func (l *RateLimiter) Allow(scope string, now time.Time) (bool, time.Duration) {
	if l == nil || l.perMinute <= 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forgetIdle(now)
	c, ok := l.callers[scope]
	if !ok {
		c = &caller{limiter: rate.NewLimiter(rate.Limit(float64(l.perMinute)/60), l.perMinute)}
		l.callers[scope] = c
	}
	c.lastSeen = now
	r := c.limiter.ReserveN(now, 1)
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now)
		return false, delay
	}
	return true, 0
}

// forgetIdle drops callers whose bucket has been full for a while, so the
// map does not grow with every address ever seen.
func (l *RateLimiter) forgetIdle(now time.Time) {
	if now.Sub(l.lastSweep) < time.Minute {
		return
	}
	l.lastSweep = now
	for scope, c := range l.callers {
		if now.Sub(c.lastSeen) > 2*time.Minute {
			delete(l.callers, scope)
		}
	}
}

// RetryAfterSeconds rounds a delay up to whole seconds, at least 1.
func RetryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
