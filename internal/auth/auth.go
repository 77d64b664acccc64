// Package auth authenticates requests (SPEC §7): static API keys, and JWTs
// signed with HS256 or RS256 whose `sub` names a user or agent and whose
// `role` claim says which.
package auth

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"sessionhub/models"
)

// Config names the credentials the server accepts; all empty turns authentication off.
type Config struct {
	APIKeys            []string
	HS256Secret        string
	RS256PublicKeyFile string
	// FailuresPerMinute bounds failed authentication per client address
	// (see AuthenticateFrom); 0 leaves failures unlimited.
	FailuresPerMinute int
}

// Authenticator checks credentials.
type Authenticator struct {
	apiKeys   [][32]byte // SHA-256 of each key, compared in constant time
	hs256     []byte
	rs256     *rsa.PublicKey
	leeway    time.Duration
	methods   []string
	enabled   bool
	parserNow func() time.Time
	now       func() time.Time // the lockout's clock
	lockout   *lockout         // nil: failures are not limited
}

// New builds an authenticator. It fails on an unreadable or invalid key file.
func New(cfg Config) (*Authenticator, error) {
	a := &Authenticator{leeway: 30 * time.Second, parserNow: time.Now, now: time.Now, lockout: newLockout(cfg.FailuresPerMinute)}
	for _, k := range cfg.APIKeys {
		if k = strings.TrimSpace(k); k != "" {
			a.apiKeys = append(a.apiKeys, sha256.Sum256([]byte(k)))
		}
	}
	if cfg.HS256Secret != "" {
		a.hs256 = []byte(cfg.HS256Secret)
		a.methods = append(a.methods, jwt.SigningMethodHS256.Alg())
	}
	if cfg.RS256PublicKeyFile != "" {
		pem, err := os.ReadFile(cfg.RS256PublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("AUTH_JWT_RS256_PUBLIC_KEY_FILE: %w", err)
		}
		if a.rs256, err = jwt.ParseRSAPublicKeyFromPEM(pem); err != nil {
			return nil, fmt.Errorf("AUTH_JWT_RS256_PUBLIC_KEY_FILE: %w", err)
		}
		a.methods = append(a.methods, jwt.SigningMethodRS256.Alg())
	}
	a.enabled = len(a.apiKeys) > 0 || len(a.methods) > 0
	return a, nil
}

// Enabled reports whether any credential is configured.
func (a *Authenticator) Enabled() bool { return a.enabled }

// Credentials are what a client presented: an X-API-KEY header or an
// Authorization: Bearer token (an API key or a JWT).
type Credentials struct {
	APIKey string
	Bearer string
}

// FromHeader reads the credentials of an HTTP request.
func FromHeader(h http.Header) Credentials {
	c := Credentials{APIKey: h.Get("X-API-KEY")}
	if v := h.Get("Authorization"); len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		c.Bearer = strings.TrimSpace(v[7:])
	}
	return c
}

// FromInitPayload reads credentials from a graphql-ws connection_init
// payload, which carries them the way headers would.
func FromInitPayload(payload map[string]any) Credentials {
	h := http.Header{}
	for k, v := range payload {
		if s, ok := v.(string); ok {
			h.Set(k, s)
		}
	}
	if s, ok := payload["authToken"].(string); ok && h.Get("Authorization") == "" {
		h.Set("Authorization", "Bearer "+s)
	}
	return FromHeader(h)
}

// Authenticate turns credentials into a principal. With authentication off
// everyone is models.Anonymous. Errors: UNAUTHENTICATED.
func (a *Authenticator) Authenticate(c Credentials) (models.Principal, error) {
	if !a.enabled {
		return models.Anonymous, nil
	}
	for _, candidate := range []string{c.APIKey, c.Bearer} {
		if candidate != "" && a.isAPIKey(candidate) {
			return models.Principal{Role: models.RoleAdmin, Scope: apiKeyScope(candidate)}, nil
		}
	}
	if c.Bearer != "" && len(a.methods) > 0 {
		return a.parseJWT(c.Bearer)
	}
	if c.APIKey != "" || c.Bearer != "" {
		return models.Principal{}, models.ErrUnauthenticated("Invalid credentials")
	}
	return models.Principal{}, models.ErrUnauthenticated("Authentication required: send X-API-KEY or Authorization: Bearer")
}

const apiKeyScopePrefix = "key:"

// apiKeyScope names the caller holding API key k without revealing it.
func apiKeyScope(k string) string {
	sum := sha256.Sum256([]byte(k))
	return apiKeyScopePrefix + hex.EncodeToString(sum[:8])
}

func (a *Authenticator) isAPIKey(k string) bool {
	sum := sha256.Sum256([]byte(k))
	match := 0
	for _, key := range a.apiKeys {
		match |= subtle.ConstantTimeCompare(sum[:], key[:])
	}
	return match == 1
}

type claims struct {
	Role string `json:"role"`
	jwt.RegisteredClaims
}

func (a *Authenticator) parseJWT(token string) (models.Principal, error) {
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, a.key,
		jwt.WithValidMethods(a.methods),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(a.leeway),
		jwt.WithTimeFunc(a.parserNow),
	)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return models.Principal{}, models.ErrUnauthenticated("Token has expired")
		}
		return models.Principal{}, models.ErrUnauthenticated("Invalid token")
	}
	id, err := uuid.Parse(c.Subject)
	if err != nil {
		return models.Principal{}, models.ErrUnauthenticated("Token subject must be a UUID")
	}
	role := models.Role(c.Role)
	switch role {
	case models.RoleUser, models.RoleAgent, models.RoleAdmin:
	default:
		return models.Principal{}, models.ErrUnauthenticated("Token role must be user, agent or admin")
	}
	return models.Principal{Role: role, ID: id, Scope: string(role) + ":" + id.String()}, nil
}

func (a *Authenticator) key(t *jwt.Token) (any, error) {
	switch t.Method.Alg() {
	case jwt.SigningMethodHS256.Alg():
		return a.hs256, nil
	case jwt.SigningMethodRS256.Alg():
		return a.rs256, nil
	}
	return nil, fmt.Errorf("unexpected signing method %s", t.Method.Alg())
}
