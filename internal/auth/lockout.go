package auth

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"sessionhub/models"
)

// lockout limits failed authentication per client address, so credentials
// cannot be guessed at full speed: an address may fail perMinute times in a
// row (a token bucket of that size, refilled at perMinute a minute); past
// that it is locked out until a token is back.
//
// While an address is locked out its attempts are answered 429 without
// their credentials being checked — except credentials that cannot be the
// fruit of guessing: a JWT (checked as usual: forging one needs the key),
// and an API key that already authenticated from this address in the last
// 24 hours. A caller with good credentials is thus never slowed by a
// guesser sharing its address (a JWT caller never; an API-key caller once
// it has been seen there), while the guesser learns nothing from its
// attempts. Successes do not count. It is per process, like RateLimiter.
type lockout struct {
	perMinute int
	mu        sync.Mutex
	addrs     map[string]*addrRecord
	lastSweep time.Time
}

type addrRecord struct {
	failures *rate.Limiter
	trusted  map[string]time.Time // API-key scope → its last success from here
	lastSeen time.Time
}

// trustFor is how long an API key that authenticated from an address stays
// exempt from that address's lockout.
const trustFor = 24 * time.Hour

func newLockout(perMinute int) *lockout {
	if perMinute <= 0 {
		return nil
	}
	return &lockout{perMinute: perMinute, addrs: map[string]*addrRecord{}}
}

// record returns addr's record, creating it; l.mu must be held.
func (l *lockout) record(addr string, now time.Time) *addrRecord {
	l.forgetIdle(now)
	r, ok := l.addrs[addr]
	if !ok {
		r = &addrRecord{failures: rate.NewLimiter(rate.Limit(float64(l.perMinute)/60), l.perMinute)}
		l.addrs[addr] = r
	}
	r.lastSeen = now
	return r
}

// lockedFor reports how long addr stays locked out (0: it is not).
func (l *lockout) lockedFor(addr string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.addrs[addr]
	if !ok {
		return 0
	}
	tokens := r.failures.TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) / float64(r.failures.Limit()) * float64(time.Second))
}

// fail counts a failed attempt from addr.
func (l *lockout) fail(addr string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.record(addr, now).failures.AllowN(now, 1)
}

// trust remembers that the API key of scope authenticated from addr.
func (l *lockout) trust(addr, scope string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.record(addr, now)
	if r.trusted == nil {
		r.trusted = map[string]time.Time{}
	}
	r.trusted[scope] = now
}

func (l *lockout) trusted(addr, scope string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.addrs[addr]
	if !ok {
		return false
	}
	at, ok := r.trusted[scope]
	return ok && now.Sub(at) < trustFor
}

// forgetIdle drops, once a minute, addresses whose bucket is full again and
// that hold no trusted key, so the map does not grow with every address.
func (l *lockout) forgetIdle(now time.Time) {
	if now.Sub(l.lastSweep) < time.Minute {
		return
	}
	l.lastSweep = now
	for addr, r := range l.addrs {
		for scope, at := range r.trusted {
			if now.Sub(at) >= trustFor {
				delete(r.trusted, scope)
			}
		}
		if len(r.trusted) == 0 && now.Sub(r.lastSeen) > 2*time.Minute && r.failures.TokensAt(now) >= float64(l.perMinute) {
			delete(l.addrs, addr)
		}
	}
}

// LockedOut is the error of an attempt refused because its address failed
// too often; it unwraps to a RATE_LIMITED models.Error.
type LockedOut struct {
	Wait time.Duration
	err  *models.Error
}

func (e *LockedOut) Error() string { return e.err.Error() }
func (e *LockedOut) Unwrap() error { return e.err }

func lockedOut(wait time.Duration) *LockedOut {
	seconds := RetryAfterSeconds(wait)
	return &LockedOut{Wait: wait, err: &models.Error{
		Code:    models.CodeRateLimited,
		Message: "Too many failed authentication attempts from this address, retry later",
		Details: models.Details{{Key: "retryAfterSeconds", Value: seconds}},
	}}
}

// AuthenticateFrom is Authenticate for a client at addr, with failed
// attempts limited per address (Config.FailuresPerMinute). Errors:
// UNAUTHENTICATED, or a *LockedOut (RATE_LIMITED) while addr is locked out.
func (a *Authenticator) AuthenticateFrom(addr string, c Credentials) (models.Principal, error) {
	if !a.enabled || a.lockout == nil {
		return a.Authenticate(c)
	}
	now := a.now()
	if wait := a.lockout.lockedFor(addr, now); wait > 0 {
		if p, ok := a.unguessable(addr, c, now); ok {
			return p, nil
		}
		return models.Principal{}, lockedOut(wait)
	}
	p, err := a.Authenticate(c)
	switch {
	case err == nil:
		if strings.HasPrefix(p.Scope, apiKeyScopePrefix) {
			a.lockout.trust(addr, p.Scope, now)
		}
		return p, nil
	case c.APIKey != "" || c.Bearer != "": // a wrong guess; sending none is no guess
		a.lockout.fail(addr, now)
	}
	return p, err
}

// unguessable authenticates, while addr is locked out, only credentials a
// guesser could not have found: a valid JWT, or an API key already trusted
// from addr. Nothing else is checked, so a locked-out guess learns nothing.
func (a *Authenticator) unguessable(addr string, c Credentials, now time.Time) (models.Principal, bool) {
	for _, candidate := range []string{c.APIKey, c.Bearer} {
		if candidate != "" && a.lockout.trusted(addr, apiKeyScope(candidate), now) && a.isAPIKey(candidate) {
			return models.Principal{Role: models.RoleAdmin, Scope: apiKeyScope(candidate)}, true
		}
	}
	if c.Bearer != "" && len(a.methods) > 0 && strings.Count(c.Bearer, ".") == 2 {
		if p, err := a.parseJWT(c.Bearer); err == nil {
			return p, true
		}
	}
	return models.Principal{}, false
}

// RetryAfter returns how long a *LockedOut error asks the client to wait.
func RetryAfter(err error) (time.Duration, bool) {
	if l, ok := errors.AsType[*LockedOut](err); ok {
		return l.Wait, true
	}
	return 0, false
}

// ClientAddress is the address failed authentication is counted against:
// the TCP peer (no proxy header is trusted), IPv6 by its /64, since one
// client usually holds a whole /64.
func ClientAddress(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.To4() != nil {
		return host
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

type clientAddrKey struct{}

// WithClientAddress records the client address of a request in ctx, for
// authentication that happens later (a WebSocket's connection_init).
func WithClientAddress(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientAddrKey{}, addr)
}

// ClientAddressFrom returns the address WithClientAddress recorded, or "".
func ClientAddressFrom(ctx context.Context) string {
	addr, _ := ctx.Value(clientAddrKey{}).(string)
	return addr
}
