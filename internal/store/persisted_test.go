package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
	"sessionhub/models"
)

func TestPersistedQueries(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect store.Dialect) {
		ctx := context.Background()
		s := testutil.OpenStore(t, dialect)
		if _, err := s.FindPersistedQuery(ctx, "nope"); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("unknown hash: %v, want ErrNotFound", err)
		}
		// h0 … h4 registered a minute apart; h0 registered again last.
		for i := range 5 {
			q := &models.PersistedQuery{Hash: fmt.Sprintf("h%d", i), Query: fmt.Sprintf("{ q%d }", i), RegisteredAt: t0.Add(time.Duration(i) * time.Minute)}
			if err := s.SavePersistedQuery(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.SavePersistedQuery(ctx, &models.PersistedQuery{Hash: "h0", Query: "{ q0 }", RegisteredAt: t0.Add(time.Hour)}); err != nil {
			t.Fatalf("registering again: %v", err)
		}
		if q, err := s.FindPersistedQuery(ctx, "h3"); err != nil || q != "{ q3 }" {
			t.Fatalf("h3 = %q, %v", q, err)
		}
		// Older than t0+1m30s: h1 (h0 was refreshed); beyond the newest 3 of the rest (h0, h4, h3): h2.
		n, err := s.DeletePersistedQueries(ctx, t0.Add(90*time.Second), 3, 100)
		if err != nil || n != 2 {
			t.Fatalf("DeletePersistedQueries = %d, %v; want 2", n, err)
		}
		for hash, kept := range map[string]bool{"h0": true, "h1": false, "h2": false, "h3": true, "h4": true} {
			_, err := s.FindPersistedQuery(ctx, hash)
			if kept != (err == nil) {
				t.Errorf("%s: kept = %v (err %v), want %v", hash, err == nil, err, kept)
			}
		}
		// keep counts what remains: h0 (newest), h4, h3 → 2 kept means h3 goes.
		if n, err := s.DeletePersistedQueries(ctx, t0, 2, 100); err != nil || n != 1 {
			t.Errorf("second trim = %d, %v; want 1", n, err)
		}
		// A limit smaller than the work leaves the rest for the next batch.
		if n, err := s.DeletePersistedQueries(ctx, t0.Add(2*time.Hour), 0, 1); err != nil || n != 1 {
			t.Errorf("batch of 1 = %d, %v", n, err)
		}
	})
}
