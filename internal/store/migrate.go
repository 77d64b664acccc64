package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Versioned SQL migrations, one directory per dialect, embedded in the binary.
//
//go:embed migrations
var migrations embed.FS

// migrate applies pending migrations. On PostgreSQL a session-level advisory
// lock makes replicas that start together take turns; on SQLite, Open holds
// lockSQLiteFile around opening and migrating.
func (s *Store) migrate(ctx context.Context, log *slog.Logger) error {
	provider, err := s.migrations()
	if err != nil {
		return err
	}
	results, err := provider.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, r := range results {
		log.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
	}
	return nil
}

// migrations is goose's provider of this database's migrations.
func (s *Store) migrations() (*goose.Provider, error) {
	sqlDB, err := s.db.DB()
	if err != nil {
		return nil, err
	}
	dir, err := fs.Sub(migrations, "migrations/"+string(s.dialect))
	if err != nil {
		return nil, err
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	dialect := goose.DialectSQLite3
	if s.dialect == Postgres {
		dialect = goose.DialectPostgres
		// Retry the lock every second (goose's default is every 5 s), for up
		// to 5 minutes: replicas started together would otherwise retry in
		// step and each wait 5 s more per replica ahead of it.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	provider, err := goose.NewProvider(dialect, sqlDB, dir, opts...)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return provider, nil
}

// lockSQLiteFile serialises opening and migrating one SQLite database across
// processes: it holds an exclusive transaction on a small lock database next
// to it (SQLite's own file locking, portable to every platform it runs on)
// until the returned function is called.
func lockSQLiteFile(ctx context.Context, dsn string) (unlock func(), err error) {
	path, _, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
	lockDB, err := sql.Open("sqlite", "file:"+path+".migrate-lock?_pragma=busy_timeout(60000)")
	if err != nil {
		return nil, fmt.Errorf("sqlite migration lock: %w", err)
	}
	conn, err := lockDB.Conn(ctx)
	if err == nil {
		_, err = conn.ExecContext(ctx, "BEGIN EXCLUSIVE")
	}
	if err != nil {
		_ = lockDB.Close()
		return nil, fmt.Errorf("sqlite migration lock: %w", err)
	}
	return func() {
		_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
		_ = conn.Close()
		_ = lockDB.Close()
	}, nil
}
