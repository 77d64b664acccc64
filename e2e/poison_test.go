package e2e

import (
	"os/exec"
	"path/filepath"
	"testing"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
)

// TestPoisonedSendsFailNoOneElse runs cmd/loadgen -poison for a short round
// on each database: 32 clients send normal messages over REST and GraphQL
// while one more sends messages the database would refuse (NUL characters,
// lone surrogates). loadgen exits non-zero unless every poisoned send was
// refused with VALIDATION_ERROR and not one innocent send failed.
func TestPoisonedSendsFailNoOneElse(t *testing.T) {
	if testing.Short() {
		t.Skip("load run; skipped with -short")
	}
	loadgen := filepath.Join(t.TempDir(), "loadgen")
	build := exec.Command("go", "build", "-o", loadgen, "./cmd/loadgen")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build loadgen: %v\n%s", err, out)
	}
	for _, dialect := range []store.Dialect{store.Postgres, store.SQLite} {
		t.Run(string(dialect), func(t *testing.T) {
			srv := startServer(t, testutil.DatabaseURL(t, dialect), "RATE_LIMIT_PER_MINUTE=0")
			run := exec.Command(loadgen, "-url", srv.URL, "-c", "32", "-sessions", "20", "-rounds", "1",
				"-warmup", "0s", "-d", "3s", "-transports", "rest,graphql", "-poison")
			out, err := run.CombinedOutput()
			t.Logf("%s", out)
			if err != nil {
				t.Fatalf("loadgen -poison: %v", err)
			}
		})
	}
}
