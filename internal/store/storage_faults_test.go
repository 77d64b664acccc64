package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
	"sessionhub/models"
)

// wantStorageFault: err is UNAVAILABLE with the sentence of the fault.
func wantStorageFault(t *testing.T, what string, err error, want *models.Error) {
	t.Helper()
	got, ok := errors.AsType[*models.Error](err)
	if !ok || got.Code != models.CodeUnavailable || got.Message != want.Message {
		t.Fatalf("%s: %v, want UNAVAILABLE %q", what, err, want.Message)
	}
}

// TestSQLiteFullIsUnavailable: a write SQLite refuses with SQLITE_FULL is
// UNAVAILABLE "storage is full" (503), not an internal error; the write
// probe of the readiness check fails the same way, and both recover once
// space is back. A full disk is simulated with PRAGMA max_page_count set
// to the pages the file has (the e2e suite fills a real, small file
// system as well).
func TestSQLiteFullIsUnavailable(t *testing.T) {
	s := testutil.OpenStore(t, store.SQLite)
	ctx := context.Background()
	db := s.DB() // one connection, so the pragma holds for every statement
	var pages int
	if err := db.Raw("PRAGMA page_count").Scan(&pages).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(fmt.Sprintf("PRAGMA max_page_count = %d", pages)).Error; err != nil {
		t.Fatal(err)
	}
	var err error
	for i := 0; i < 10_000 && err == nil; i++ { // use up the free space of the last pages
		err = s.CreateAgent(ctx, &models.Agent{ID: uuid.New(), Name: strings.Repeat("x", 500), CreatedAt: t0})
	}
	wantStorageFault(t, "a write to a full database", err, models.ErrStorageFull())
	wantStorageFault(t, "the write probe", s.CheckWritable(ctx), models.ErrStorageFull())
	if err := s.Ping(ctx); err != nil {
		t.Errorf("reads must still work: %v", err)
	}

	if err := db.Exec("PRAGMA max_page_count = 1073741823").Error; err != nil {
		t.Fatal(err)
	}
	if err := s.CheckWritable(ctx); err != nil {
		t.Errorf("write probe after space is back: %v", err)
	}
	if err := s.CreateAgent(ctx, &models.Agent{ID: uuid.New(), Name: "after", CreatedAt: t0}); err != nil {
		t.Errorf("write after space is back: %v", err)
	}
}

// TestSQLiteReadOnlyIsUnavailable: writes SQLite refuses as read-only
// (SQLITE_READONLY; here by PRAGMA query_only, since a file system cannot be
// remounted read-only under open files, and root ignores file modes) are
// UNAVAILABLE "read-only" and fail the write probe, until writes are
// allowed again. A read-only file or directory at start-up is refused with
// its path and cause (e2e TestStartupNamesStorageFaults).
func TestSQLiteReadOnlyIsUnavailable(t *testing.T) {
	s := testutil.OpenStore(t, store.SQLite)
	ctx := context.Background()
	if err := s.DB().Exec("PRAGMA query_only = ON").Error; err != nil {
		t.Fatal(err)
	}
	err := s.CreateAgent(ctx, &models.Agent{ID: uuid.New(), Name: "a", CreatedAt: t0})
	wantStorageFault(t, "a write to a read-only database", err, models.ErrStorageReadOnly())
	wantStorageFault(t, "the write probe", s.CheckWritable(ctx), models.ErrStorageReadOnly())
	if err := s.DB().Exec("PRAGMA query_only = OFF").Error; err != nil {
		t.Fatal(err)
	}
	if err := s.CheckWritable(ctx); err != nil {
		t.Errorf("write probe once writable: %v", err)
	}
}

// TestPostgresReadOnlyIsUnavailable: on a PostgreSQL database that turned
// read-only (default_transaction_read_only, as on a standby) writes are
// UNAVAILABLE "read-only" and the write probe fails, until it is writable
// again — without reopening the store.
func TestPostgresReadOnlyIsUnavailable(t *testing.T) {
	url := testutil.DatabaseURL(t, store.Postgres)
	s := testutil.OpenStoreAt(t, url)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	setReadOnly := func(on bool) {
		t.Helper()
		stmt := "ALTER DATABASE " + admin.Config().Database + " RESET default_transaction_read_only"
		if on {
			stmt = "ALTER DATABASE " + admin.Config().Database + " SET default_transaction_read_only = on"
		}
		if _, err := admin.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
		// Pooled connections keep their setting: end them, the pool reconnects.
		if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`); err != nil {
			t.Fatal(err)
		}
	}
	// eventually retries while connections the server ended are replaced
	// (those answer UNAVAILABLE "unavailable" once each).
	eventually := func(what string, check func() error, ok func(error) bool) error {
		t.Helper()
		var err error
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if err = check(); ok(err) {
				return err
			}
		}
		t.Fatalf("%s: last %v", what, err)
		return err
	}
	readOnly := func(err error) bool {
		e, ok := errors.AsType[*models.Error](err)
		return ok && e.Message == models.ErrStorageReadOnly().Message
	}

	setReadOnly(true)
	err = eventually("write probe on a read-only database", func() error { return s.CheckWritable(ctx) }, readOnly)
	wantStorageFault(t, "the write probe", err, models.ErrStorageReadOnly())
	err = eventually("a write", func() error {
		return s.CreateAgent(ctx, &models.Agent{ID: uuid.New(), Name: "a", CreatedAt: t0})
	}, readOnly)
	wantStorageFault(t, "a write to a read-only database", err, models.ErrStorageReadOnly())

	setReadOnly(false)
	eventually("write probe once writable", func() error { return s.CheckWritable(ctx) }, func(err error) bool { return err == nil })
	if err := s.CreateAgent(ctx, &models.Agent{ID: uuid.New(), Name: "after", CreatedAt: t0}); err != nil {
		t.Errorf("write once writable: %v", err)
	}
}
