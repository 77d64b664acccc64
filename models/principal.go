package models

import (
	"context"

	"github.com/google/uuid"
)

// Role is what a caller may do (SPEC §7).
type Role string

const (
	RoleUser  Role = "user"  // reaches only its own sessions
	RoleAgent Role = "agent" // reaches only sessions opened with it; its messages are agent messages
	RoleAdmin Role = "admin" // reaches everything
)

// Principal is the authenticated caller of one request.
type Principal struct {
	Role Role
	// ID is the JWT subject: the user's or agent's id. It is zero for API-key
	// holders and when authentication is off.
	ID uuid.UUID
	// Scope names the caller for idempotency keys.
	Scope string
	// Caller keys rate limits and quotas: the Scope of an authenticated
	// principal, the client's address for anonymous ones (set per request).
	Caller string
}

// Anonymous is every caller when authentication is off: an admin.
var Anonymous = Principal{Role: RoleAdmin, Scope: "anonymous"}

// CanAccess reports whether p may read or write session s. Others' sessions
// must look exactly like unknown ones, so callers answer SESSION_NOT_FOUND.
func (p Principal) CanAccess(s *Session) bool {
	switch p.Role {
	case RoleAdmin:
		return true
	case RoleUser:
		return s.UserID == p.ID
	case RoleAgent:
		return s.AgentID == p.ID
	}
	return false
}

type principalKey struct{}

// WithPrincipal returns ctx carrying the request's principal.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the request's principal. A context without one
// belongs to the server itself (background jobs, tests of the service), which
// may do anything: every HTTP entry point sets a principal before any service call.
func PrincipalFrom(ctx context.Context) Principal {
	if p, ok := ctx.Value(principalKey{}).(Principal); ok {
		return p
	}
	return Principal{Role: RoleAdmin, Scope: "system"}
}
