// Package store keeps agents, sessions and messages in PostgreSQL or in an
// embedded SQLite file, through GORM. It knows nothing of the rules: the
// service decides, the store persists atomically.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
)

// Dialect names the database behind a Store.
type Dialect string

const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// postgresPoolSize is how many connections one replica opens to PostgreSQL.
const postgresPoolSize = 16

// DefaultSQLitePath is where `go run .` keeps its data when DATABASE_URL is unset.
const DefaultSQLitePath = "data/sessionhub.db"

// Store is the GORM-backed implementation of the service's Store.
type Store struct {
	db      *gorm.DB
	dialect Dialect
	sql     *sql.DB
	tracer  trace.TracerProvider // nil: statements are not traced
	recent  recentSessions       // PostgreSQL's optimistic sends start from these
	turns   *sessionTurns        // one at a time per session in this process
	sends   *groupCommitter      // and commit together
	// replicas routes reads to standbys (DATABASE_READ_URLS); nil: all on the primary.
	replicas *replicaSet
}

// Option configures Open.
type Option func(*options)

type options struct {
	tracer   trace.TracerProvider
	replicas ReadReplicas
}

// WithTracing traces every statement as a span of the request that made it.
func WithTracing(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracer = tp }
}

// ObserveSendStatements reports how many sends each send statement carried
// (PostgreSQL's group commit; SQLite writes one at a time and reports
// nothing). Call it before the first send.
func (s *Store) ObserveSendStatements(observe func(sends int)) {
	if s.sends != nil {
		s.sends.statements = observe
	}
}

// Pool is the connection pool, for its statistics.
func (s *Store) Pool() *sql.DB { return s.sql }

// Open connects to databaseURL and migrates the schema. An empty URL opens the
// embedded SQLite file at DefaultSQLitePath; "sqlite:<path>" opens another
// SQLite file; "postgres://" or "postgresql://" URLs open PostgreSQL.
func Open(ctx context.Context, databaseURL string, log *slog.Logger, opts ...Option) (*Store, error) {
	dialect, dsn, err := parseURL(databaseURL)
	if err != nil {
		return nil, err
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	cfg := &gorm.Config{
		Logger:                 newGormLogger(log, dialect),
		TranslateError:         true,
		SkipDefaultTransaction: true, // every multi-statement write opens its own transaction
	}
	var db *gorm.DB
	switch dialect {
	case Postgres:
		db, err = gorm.Open(postgres.Open(dsn), cfg)
	case SQLite:
		path, _, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
		if err := checkSQLiteWritable(path); err != nil {
			return nil, err
		}
		// Processes opening one new file together take turns until it is migrated.
		unlock, lockErr := lockSQLiteFile(ctx, dsn)
		if lockErr != nil {
			return nil, fmt.Errorf("SQLite database %s: %w", path, lockErr)
		}
		defer unlock()
		db, err = gorm.Open(sqlite.Open(dsn), cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	if dialect == SQLite {
		// One connection: SQLite has one writer anyway, and this makes every
		// transaction in this process run alone (the row lock of PostgreSQL).
		sqlDB.SetMaxOpenConns(1)
	} else {
		sqlDB.SetMaxOpenConns(postgresPoolSize)
		sqlDB.SetMaxIdleConns(postgresPoolSize)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	}
	s := &Store{db: db, dialect: dialect, sql: sqlDB, tracer: o.tracer}
	if o.tracer != nil {
		if err := s.traceStatements(db); err != nil {
			return nil, err
		}
	}
	if dialect == Postgres {
		s.recent = newRecentSessions()
		s.turns = newSessionTurns()
		s.sends = newGroupCommitter(sqlDB, postgresPoolSize, s.writeSession)
	}
	if err := s.migrate(ctx, log); err != nil {
		_ = sqlDB.Close()
		if dialect == SQLite {
			path, _, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
			return nil, fmt.Errorf("SQLite database %s: %w", path, err)
		}
		return nil, err
	}
	// SQLite has no standbys: the setting is ignored there.
	if dialect == Postgres && len(o.replicas.URLs) > 0 {
		if s.replicas, err = openReplicas(db, sqlDB, o.replicas, log); err != nil {
			_ = sqlDB.Close()
			return nil, err
		}
	}
	return s, nil
}

func parseURL(databaseURL string) (Dialect, string, error) {
	switch {
	case databaseURL == "":
		return sqliteDSN(DefaultSQLitePath)
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		dsn, err := withPostgresDefaults(databaseURL)
		return Postgres, dsn, err
	case strings.HasPrefix(databaseURL, "sqlite:"):
		return sqliteDSN(strings.TrimPrefix(databaseURL, "sqlite:"))
	default:
		return "", "", errors.New("DATABASE_URL must start with postgres://, postgresql:// or sqlite:")
	}
}

// withPostgresDefaults bounds how long connecting and each statement may take
// (unless the URL sets them), so a stalled database fails requests fast
// instead of piling them up.
func withPostgresDefaults(databaseURL string) (string, error) {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return "", errors.New("DATABASE_URL is not a valid URL")
	}
	q := u.Query()
	for name, value := range map[string]string{
		"connect_timeout":                     "3",
		"statement_timeout":                   "5000",
		"idle_in_transaction_session_timeout": "10000",
	} {
		if !q.Has(name) {
			q.Set(name, value)
		}
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func sqliteDSN(path string) (Dialect, string, error) {
	if path == "" {
		return "", "", errors.New("sqlite: DATABASE_URL needs a file path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", "", fmt.Errorf("create database directory: %w", err)
	}
	// WAL lets readers run beside the writer; busy_timeout makes a second
	// process wait for the lock instead of failing; _txlock=immediate takes
	// the write lock at BEGIN so read-then-write transactions cannot deadlock.
	return SQLite, "file:" + path +
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)" +
		"&_pragma=synchronous(NORMAL)&_txlock=immediate", nil
}

// checkSQLiteWritable fails with a sentence naming the path and the real
// cause when SQLite could not write there: its directory (which must take
// the -wal, -shm and lock files) or the database file is read-only, or
// not ours. SQLite itself would report a read-only directory as "out of
// memory (14)".
func checkSQLiteWritable(path string) error {
	dir := filepath.Dir(path)
	probe, err := os.CreateTemp(dir, ".sessionhub-write-check-*")
	if err != nil {
		return fmt.Errorf("SQLite database %s: the directory %s is not writable (SQLite keeps its -wal, -shm and lock files beside the database): %w", path, dir, cause(err))
	}
	_ = probe.Close()
	_ = os.Remove(probe.Name())
	file, err := os.OpenFile(path, os.O_RDWR, 0)
	switch {
	case err == nil:
		return file.Close()
	case errors.Is(err, fs.ErrNotExist):
		return nil // created on open
	default:
		return fmt.Errorf("SQLite database %s: the file is not writable: %w", path, cause(err))
	}
}

// cause is the operating system's reason inside a path error ("read-only
// file system"), the path being named by the caller already.
func cause(err error) error {
	if pathErr, ok := errors.AsType[*fs.PathError](err); ok {
		return pathErr.Err
	}
	return err
}

// Dialect tells which database this store runs on.
func (s *Store) Dialect() Dialect { return s.dialect }

// DB exposes the GORM handle for tests and tools in this repository.
func (s *Store) DB() *gorm.DB { return s.db }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// CheckWritable commits a write that leaves nothing behind: one transaction
// inserts an agent row with 8 KiB of incompressible text in its name (new
// pages on SQLite, TOAST on PostgreSQL) and deletes it again. It fails, as a
// send would, when the storage is full or read-only — the readiness probe
// turns 503 — and passes again by itself once space or write access is back.
func (s *Store) CheckWritable(ctx context.Context) error {
	noise := make([]byte, 4096)
	_, _ = rand.Read(noise)
	id := uuid.NewString()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("INSERT INTO agents (id, name, created_at) VALUES (?, ?, ?)",
			id, "readiness probe "+hex.EncodeToString(noise), time.Unix(0, 0).UTC()).Error; err != nil {
			return err
		}
		return tx.Exec("DELETE FROM agents WHERE id = ?", id).Error
	})
	return translate(err)
}

// Close releases the connections.
func (s *Store) Close() error {
	s.replicas.close()
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}
