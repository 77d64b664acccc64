package graph

import (
	"context"
	"errors"
	"strings"
	"testing"

	"sessionhub/internal/testutil"
	"sessionhub/models"
)

// TestInternalsNeverReachClients: panics, resolver faults and database
// errors are answered as INTERNAL with a generic message.
func TestInternalsNeverReachClients(t *testing.T) {
	log := testutil.Logger()
	present := errorPresenter(log)
	ctx := context.Background()
	for name, err := range map[string]error{
		"panic":            recoverFunc(log)(ctx, "runtime error: secret-token-123"),
		"resolver fault":   &resolverFault{err: errors.New(`pq: relation "secret-token-123" does not exist`)},
		"wrapped internal": models.AsError(errors.New("secret-token-123")),
	} {
		t.Run(name, func(t *testing.T) {
			got := present(ctx, err)
			if got.Message != "Internal server error" || got.Extensions["code"] != "INTERNAL" || strings.Contains(got.Error(), "secret") {
				t.Errorf("presented %q %v", got.Message, got.Extensions)
			}
		})
	}
	unavailable := present(ctx, errors.Join(models.ErrUnavailable(), errors.New("dial tcp secret-host:5432")))
	if unavailable.Extensions["code"] != "UNAVAILABLE" || strings.Contains(unavailable.Message, "secret") || !strings.Contains(unavailable.Message, "retry") {
		t.Errorf("database outage presented as %q %v", unavailable.Message, unavailable.Extensions)
	}
	coded := present(ctx, models.ErrSessionExpired("s-1", "2026-01-01T00:00:00.000Z"))
	if coded.Extensions["code"] != "SESSION_EXPIRED" || coded.Message != "Session has expired" {
		t.Errorf("coded error presented as %q %v", coded.Message, coded.Extensions)
	}
	if d, _ := coded.Extensions["details"].(map[string]any); d["sessionId"] != "s-1" || d["expiresAt"] != "2026-01-01T00:00:00.000Z" {
		t.Errorf("details %v", coded.Extensions["details"])
	}
}
