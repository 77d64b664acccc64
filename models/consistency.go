package models

import "context"

type latestReadsKey struct{}

// WithLatestReads marks ctx so that every read made with it sees every write
// committed before it began: with read replicas configured, the store reads
// such requests on the primary. The service marks the reads a write depends
// on (a session checked before it is deleted, an agent checked before a
// session is opened with it) and those that must not miss a committed event
// (a subscription's start and the messages it replays).
func WithLatestReads(ctx context.Context) context.Context {
	return context.WithValue(ctx, latestReadsKey{}, true)
}

// WantsLatestReads reports whether ctx was marked by WithLatestReads.
func WantsLatestReads(ctx context.Context) bool {
	v, _ := ctx.Value(latestReadsKey{}).(bool)
	return v
}

// CallerKey names the caller of ctx for read-your-writes: the caller rate
// limits use (the principal, or the client address when anonymous), else
// the principal's scope.
func CallerKey(ctx context.Context) string {
	p := PrincipalFrom(ctx)
	if p.Caller != "" {
		return p.Caller
	}
	return p.Scope
}
