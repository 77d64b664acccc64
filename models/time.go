package models

import "time"

// TimeLayout is how every timestamp leaves the server: UTC with exactly three
// fractional digits, the shape of JavaScript's Date.toISOString that elizaOS emits.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// FormatTime renders t in TimeLayout.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// Clock tells the time. Rules take `now` as an argument; only the service asks the clock.
type Clock interface{ Now() time.Time }

// SystemClock is the wall clock.
type SystemClock struct{}

func (SystemClock) Now() time.Time { return time.Now() }

// Truncate brings t to the precision the product stores: UTC milliseconds.
func Truncate(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }
