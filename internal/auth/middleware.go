package auth

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"sessionhub/models"
)

// Reject writes an error response in a transport's own shape.
type Reject func(w http.ResponseWriter, r *http.Request, status int, err error)

// Gate authenticates every request, rate-limits it per caller, and puts the
// principal in the request context for the service layer.
type Gate struct {
	Auth    *Authenticator
	Limiter *RateLimiter
	Now     func() time.Time
}

// Wrap guards next. WebSocket upgrades pass unauthenticated: browsers cannot
// set headers on them, so the GraphQL transport authenticates the
// connection_init message instead (they are still rate-limited).
func (g *Gate) Wrap(next http.Handler, reject Reject) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		principal := models.Anonymous
		addr := ClientAddress(r.RemoteAddr)
		if !isWebSocketUpgrade(r) {
			p, err := g.Auth.AuthenticateFrom(addr, FromHeader(r.Header))
			if wait, locked := RetryAfter(err); locked {
				w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds(wait)))
				reject(w, r, http.StatusTooManyRequests, err)
				return
			}
			if err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="sessionhub"`)
				reject(w, r, http.StatusUnauthorized, err)
				return
			}
			principal = p
		}
		principal.Caller = principal.Scope
		if principal.Scope == models.Anonymous.Scope {
			principal.Caller = "addr:" + clientAddr(r)
		}
		if ok, wait := g.Limiter.Allow(principal.Caller, g.Now()); !ok {
			seconds := RetryAfterSeconds(wait)
			w.Header().Set("Retry-After", strconv.Itoa(seconds))
			reject(w, r, http.StatusTooManyRequests, models.ErrRateLimited(seconds))
			return
		}
		ctx := WithClientAddress(models.WithPrincipal(r.Context(), principal), addr)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func isWebSocketUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
