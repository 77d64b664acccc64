package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"sessionhub/models"
)

var testNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func rsaKeyFile(t *testing.T) (*rsa.PrivateKey, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "public.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return key, path
}

func TestAuthenticate(t *testing.T) {
	rsaKey, pemPath := rsaKeyFile(t)
	otherRSA, _ := rsaKeyFile(t)
	a, err := New(Config{APIKeys: []string{"key-one", " key-two "}, HS256Secret: "hs-secret", RS256PublicKeyFile: pemPath})
	if err != nil {
		t.Fatal(err)
	}
	a.parserNow = func() time.Time { return testNow }
	user := uuid.New()
	claims := func(role string, exp time.Time) jwt.MapClaims {
		return jwt.MapClaims{"sub": user.String(), "role": role, "exp": exp.Unix(), "nbf": testNow.Add(-time.Minute).Unix()}
	}
	valid := testNow.Add(time.Hour)

	cases := []struct {
		name     string
		creds    Credentials
		wantRole models.Role
		wantID   uuid.UUID
		wantErr  bool
	}{
		{"api key header", Credentials{APIKey: "key-one"}, models.RoleAdmin, uuid.Nil, false},
		{"api key as bearer, trimmed in config", Credentials{Bearer: "key-two"}, models.RoleAdmin, uuid.Nil, false},
		{"wrong api key", Credentials{APIKey: "key-three"}, "", uuid.Nil, true},
		{"nothing", Credentials{}, "", uuid.Nil, true},
		{"hs256 user", Credentials{Bearer: sign(t, jwt.SigningMethodHS256, []byte("hs-secret"), claims("user", valid))}, models.RoleUser, user, false},
		{"rs256 agent", Credentials{Bearer: sign(t, jwt.SigningMethodRS256, rsaKey, claims("agent", valid))}, models.RoleAgent, user, false},
		{"rs256 admin", Credentials{Bearer: sign(t, jwt.SigningMethodRS256, rsaKey, claims("admin", valid))}, models.RoleAdmin, user, false},
		{"hs256 wrong secret", Credentials{Bearer: sign(t, jwt.SigningMethodHS256, []byte("nope"), claims("user", valid))}, "", uuid.Nil, true},
		{"rs256 other key", Credentials{Bearer: sign(t, jwt.SigningMethodRS256, otherRSA, claims("user", valid))}, "", uuid.Nil, true},
		{"hs512 not allowed", Credentials{Bearer: sign(t, jwt.SigningMethodHS512, []byte("hs-secret"), claims("user", valid))}, "", uuid.Nil, true},
		{"expired", Credentials{Bearer: sign(t, jwt.SigningMethodHS256, []byte("hs-secret"), claims("user", testNow.Add(-time.Hour)))}, "", uuid.Nil, true},
		{"no exp", Credentials{Bearer: sign(t, jwt.SigningMethodHS256, []byte("hs-secret"), jwt.MapClaims{"sub": user.String(), "role": "user"})}, "", uuid.Nil, true},
		{"not yet valid", Credentials{Bearer: sign(t, jwt.SigningMethodHS256, []byte("hs-secret"), jwt.MapClaims{"sub": user.String(), "role": "user", "exp": valid.Unix(), "nbf": testNow.Add(time.Hour).Unix()})}, "", uuid.Nil, true},
		{"unknown role", Credentials{Bearer: sign(t, jwt.SigningMethodHS256, []byte("hs-secret"), claims("root", valid))}, "", uuid.Nil, true},
		{"sub not a uuid", Credentials{Bearer: sign(t, jwt.SigningMethodHS256, []byte("hs-secret"), jwt.MapClaims{"sub": "alice", "role": "user", "exp": valid.Unix()})}, "", uuid.Nil, true},
		{"garbage bearer", Credentials{Bearer: "not.a.jwt"}, "", uuid.Nil, true},
		{"none alg", Credentials{Bearer: sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims("admin", valid))}, "", uuid.Nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := a.Authenticate(tc.creds)
			if tc.wantErr {
				if models.ErrorCode(err) != models.CodeUnauthenticated {
					t.Fatalf("got %+v, %v; want UNAUTHENTICATED", p, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Role != tc.wantRole || p.ID != tc.wantID || p.Scope == "" {
				t.Errorf("principal %+v, want role %s id %s and a scope", p, tc.wantRole, tc.wantID)
			}
		})
	}
}

func TestAuthenticationOff(t *testing.T) {
	a, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Enabled() {
		t.Fatal("enabled with no credentials configured")
	}
	p, err := a.Authenticate(Credentials{Bearer: "anything"})
	if err != nil || p != models.Anonymous {
		t.Errorf("got %+v, %v; want Anonymous", p, err)
	}
}

func TestBadKeyFileIsAStartupError(t *testing.T) {
	if _, err := New(Config{RS256PublicKeyFile: filepath.Join(t.TempDir(), "missing.pem")}); err == nil {
		t.Error("missing key file accepted")
	}
	bad := filepath.Join(t.TempDir(), "bad.pem")
	_ = os.WriteFile(bad, []byte("not a key"), 0o600)
	if _, err := New(Config{RS256PublicKeyFile: bad}); err == nil {
		t.Error("invalid key file accepted")
	}
}

func TestCredentialsFromHeadersAndInitPayload(t *testing.T) {
	h := http.Header{}
	h.Set("X-API-KEY", "k")
	h.Set("Authorization", "bearer tok")
	if c := FromHeader(h); c.APIKey != "k" || c.Bearer != "tok" {
		t.Errorf("FromHeader: %+v", c)
	}
	if c := FromInitPayload(map[string]any{"Authorization": "Bearer tok"}); c.Bearer != "tok" {
		t.Errorf("init payload Authorization: %+v", c)
	}
	if c := FromInitPayload(map[string]any{"authToken": "tok"}); c.Bearer != "tok" {
		t.Errorf("init payload authToken: %+v", c)
	}
	if c := FromInitPayload(map[string]any{"x-api-key": "k"}); c.APIKey != "k" {
		t.Errorf("init payload x-api-key: %+v", c)
	}
}

func TestRateLimiter(t *testing.T) {
	l := NewRateLimiter(3)
	for i := range 3 {
		if ok, _ := l.Allow("a", testNow); !ok {
			t.Fatalf("request %d refused within the burst", i)
		}
	}
	ok, wait := l.Allow("a", testNow)
	if ok || wait <= 0 || RetryAfterSeconds(wait) != 20 {
		t.Errorf("4th request: ok=%v wait=%v (Retry-After %d), want refused for 20s", ok, wait, RetryAfterSeconds(wait))
	}
	if ok, _ := l.Allow("b", testNow); !ok {
		t.Error("another caller was limited")
	}
	if ok, _ := l.Allow("a", testNow.Add(20*time.Second)); !ok {
		t.Error("not allowed again after the refill")
	}
	if ok, _ := NewRateLimiter(0).Allow("a", testNow); !ok {
		t.Error("limit 0 should turn limiting off")
	}
}
