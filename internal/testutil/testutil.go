// Package testutil holds helpers shared by the tests of every package: a
// settable clock and throwaway databases on both dialects.
package testutil

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"sessionhub/internal/store"
)

// Clock is a fake clock that moves only when told to. Safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock starts a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t.UTC()} }

func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t.UTC()
}

// DefaultPostgresURL is where PostgreSQL tests look when TEST_DATABASE_URL is unset.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres"

// Dialects lists the databases a store test runs on, for table-driven setup.
var Dialects = []store.Dialect{store.SQLite, store.Postgres}

// DatabaseURL returns a database URL for a fresh, empty database of the
// given dialect, removed when the test ends. For PostgreSQL it creates a
// uniquely named database on the server named by TEST_DATABASE_URL; if that
// server is unreachable the test is skipped, or fails under CI=true.
func DatabaseURL(tb testing.TB, dialect store.Dialect) string {
	tb.Helper()
	if dialect == store.SQLite {
		return "sqlite:" + filepath.Join(tb.TempDir(), "sessionhub.db")
	}
	return postgresDatabase(tb)
}

// OpenStore opens and migrates a fresh store of the given dialect.
func OpenStore(tb testing.TB, dialect store.Dialect) *store.Store {
	tb.Helper()
	return OpenStoreAt(tb, DatabaseURL(tb, dialect))
}

// OpenStoreAt opens the store at databaseURL, closed when the test ends;
// opening one URL twice is what two server processes do.
func OpenStoreAt(tb testing.TB, databaseURL string) *store.Store {
	tb.Helper()
	s, err := store.Open(context.Background(), databaseURL, Logger())
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// SyncBuffer collects output written from several goroutines (logs, a
// child process's output).
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Take returns what was written so far and empties the buffer.
func (b *SyncBuffer) Take() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	b.buf.Reset()
	return s
}

// Logger discards logs unless SESSIONHUB_TEST_LOG is set.
func Logger() *slog.Logger {
	if os.Getenv("SESSIONHUB_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func postgresDatabase(tb testing.TB) string {
	tb.Helper()
	admin := os.Getenv("TEST_DATABASE_URL")
	if admin == "" {
		admin = DefaultPostgresURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("PostgreSQL is required under CI=true but %s is unreachable: %v", redact(admin), err)
		}
		tb.Skipf("PostgreSQL at %s is unreachable (%v); set TEST_DATABASE_URL to run the PostgreSQL tests", redact(admin), err)
	}
	defer conn.Close(context.Background())

	name := "sessionhub_test_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "TEST_DATABASE_URL"
	}
	return u.Redacted()
}

// MustUUID returns a new random UUID string, for ids in test fixtures.
func MustUUID() string { return uuid.NewString() }
