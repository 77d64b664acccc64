// Package gctune keeps the garbage collector's headroom bounded.
//
// A high GOGC makes sends cheaper while the live heap is small, but the heap
// goal grows with the live heap: at GOGC=400 every byte a subscription keeps
// alive lets the heap (and the resident memory, which the runtime releases
// only down to the goal) grow by four more. Tune lowers GOGC as the live heap
// grows, so that the goal stays at most a fixed headroom above it: the small
// heap of a sending replica keeps the high GOGC, and a replica holding ten
// thousand idle subscriptions pays for their state, not five times it.
package gctune

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Policy bounds GOGC: the headroom above the live heap that the goal may
// reach, and the lowest and highest GOGC to set.
type Policy struct {
	Headroom   uint64 // bytes
	MinPercent int
	MaxPercent int
}

// Default keeps GOGC=400 up to a 10 MiB live heap and at most 40 MiB of
// headroom above it, never below GOGC=50.
var Default = Policy{Headroom: 40 << 20, MinPercent: 50, MaxPercent: 400}

// Percent is the GOGC for a live heap of live bytes: the highest that keeps
// the goal within the headroom, clamped to the policy's bounds.
func (p Policy) Percent(live uint64) int {
	if live == 0 {
		return p.MaxPercent
	}
	percent := p.Headroom * 100 / live
	return int(min(max(percent, uint64(p.MinPercent)), uint64(p.MaxPercent)))
}

// Tune sets GOGC from the live heap every interval until ctx ends. It
// changes it only when the new value differs by more than a tenth, so that
// a steady heap does not make it flap.
func Tune(ctx context.Context, p Policy, interval time.Duration) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	debug.SetGCPercent(p.MaxPercent)
	current := p.MaxPercent
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return // the runtime does not report it: keep the fixed setting
		}
		want := p.Percent(sample[0].Value.Uint64())
		if diff := want - current; diff*10 > current || -diff*10 > current {
			debug.SetGCPercent(want)
			current = want
		}
	}
}
