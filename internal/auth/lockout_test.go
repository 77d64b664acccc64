package auth

import (
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"sessionhub/models"
)

// TestLockout: an address may fail FailuresPerMinute times; then its
// attempts are 429 (RATE_LIMITED with a wait) without their credentials
// being checked, except a JWT and an API key already seen from that
// address; other addresses are unaffected, and it refills with time.
func TestLockout(t *testing.T) {
	a, err := New(Config{APIKeys: []string{"good-key", "other-key"}, HS256Secret: "hs-secret", FailuresPerMinute: 3})
	if err != nil {
		t.Fatal(err)
	}
	now := testNow
	a.now = func() time.Time { return now }
	a.parserNow = a.now
	jwtUser, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": uuid.NewString(), "role": "user", "exp": testNow.Add(time.Hour).Unix(),
	}).SignedString([]byte("hs-secret"))
	if err != nil {
		t.Fatal(err)
	}
	const attacker, neighbour = "192.0.2.1", "192.0.2.2"
	try := func(addr string, c Credentials) error {
		_, err := a.AuthenticateFrom(addr, c)
		return err
	}
	wantCode := func(what string, err error, code models.Code) {
		t.Helper()
		if code == "" && err != nil || code != "" && models.ErrorCode(err) != code {
			t.Errorf("%s: %v, want %q", what, err, code)
		}
	}
	if err := try(attacker, Credentials{APIKey: "good-key"}); err != nil {
		t.Fatal(err) // the good key is now known from this address
	}
	wantCode("no credentials (not a guess)", try(attacker, Credentials{}), models.CodeUnauthenticated)
	for range 3 {
		wantCode("wrong key", try(attacker, Credentials{APIKey: "guess"}), models.CodeUnauthenticated)
	}
	err = try(attacker, Credentials{APIKey: "guess"})
	wantCode("4th wrong key", err, models.CodeRateLimited)
	if wait, ok := RetryAfter(err); !ok || RetryAfterSeconds(wait) != 20 {
		t.Errorf("Retry-After %v %v, want 20 s (3 per minute)", wait, ok)
	}
	wantCode("a right guess while locked out", try(attacker, Credentials{APIKey: "other-key"}), models.CodeRateLimited)
	wantCode("the known good key", try(attacker, Credentials{APIKey: "good-key"}), "")
	wantCode("the known good key as bearer", try(attacker, Credentials{Bearer: "good-key"}), "")
	wantCode("a valid JWT", try(attacker, Credentials{Bearer: jwtUser}), "")
	wantCode("a bad JWT", try(attacker, Credentials{Bearer: jwtUser + "x"}), models.CodeRateLimited)
	wantCode("another address", try(neighbour, Credentials{APIKey: "guess"}), models.CodeUnauthenticated)
	wantCode("another address, right key", try(neighbour, Credentials{APIKey: "other-key"}), "")

	now = now.Add(20 * time.Second) // one failure refilled
	wantCode("after the wait", try(attacker, Credentials{APIKey: "guess"}), models.CodeUnauthenticated)
	wantCode("and locked again", try(attacker, Credentials{APIKey: "other-key"}), models.CodeRateLimited)
	now = now.Add(25 * trustFor)
	wantCode("a day later, fresh", try(attacker, Credentials{APIKey: "other-key"}), "")

	var locked *LockedOut
	if !errors.As(lockedOut(time.Second), &locked) || models.ErrorCode(locked) != models.CodeRateLimited {
		t.Error("LockedOut does not unwrap to RATE_LIMITED")
	}
	off, _ := New(Config{APIKeys: []string{"k"}})
	for range 50 {
		if _, err := off.AuthenticateFrom(attacker, Credentials{APIKey: "x"}); models.ErrorCode(err) != models.CodeUnauthenticated {
			t.Fatalf("FailuresPerMinute 0: %v, want always 401", err)
		}
	}
}

func TestClientAddress(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1:5000":                      "192.0.2.1",
		"[2001:db8:1:2:3:4:5:6]:443":          "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff:ffff:ffff:1]:443": "2001:db8:1:2::/64",
		"pipe":                                "pipe",
	} {
		if got := ClientAddress(in); got != want {
			t.Errorf("ClientAddress(%q) = %q, want %q", in, got, want)
		}
	}
}
