package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/schema"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
	"sessionhub/models"
)

// t0 is an arbitrary instant at millisecond precision, the precision the product stores.
var t0 = time.Date(2026, 3, 4, 5, 6, 7, 891_000_000, time.UTC)

// forEachDialect runs f as one subtest per database dialect.
func forEachDialect(t *testing.T, f func(t *testing.T, dialect store.Dialect)) {
	t.Helper()
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) { f(t, dialect) })
	}
}

func ptr[T any](v T) *T { return &v }

func testConfig() models.TimeoutConfig {
	return models.TimeoutConfig{TimeoutMinutes: 30, AutoRenew: true, MaxDurationMinutes: 720, WarningThresholdMinutes: 5}
}

// createAgent stores an agent with a fresh id and no session defaults.
func createAgent(t *testing.T, s *store.Store) *models.Agent {
	t.Helper()
	a := &models.Agent{ID: uuid.New(), Name: "agent", CreatedAt: t0}
	if err := s.CreateAgent(context.Background(), a); err != nil {
		t.Fatalf("CreateAgent: %v", err)
	}
	return a
}

// createSession stores a fresh session of a new agent, opened at t0.
func createSession(t *testing.T, s *store.Store) *models.Session {
	t.Helper()
	a := createAgent(t, s)
	sess := models.NewSession(uuid.New(), a.ID, uuid.New(), models.JSONObject(`{"k":"v"}`), testConfig(), t0)
	if err := s.CreateSession(context.Background(), sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return sess
}

func newMessage(sess *models.Session, content string) *models.Message {
	return &models.Message{
		ID:        uuid.New(),
		SessionID: sess.ID,
		AuthorID:  sess.UserID,
		Content:   content,
		Metadata:  models.JSONObject("{}"),
		CreatedAt: t0,
	}
}

// countMessages counts the stored messages of a session, straight from the table.
func countMessages(t *testing.T, s *store.Store, sessionID uuid.UUID) int64 {
	t.Helper()
	var n int64
	if err := s.DB().Table("messages").Where("session_id = ?", sessionID).Count(&n).Error; err != nil {
		t.Fatalf("count messages: %v", err)
	}
	return n
}

func findSession(t *testing.T, s *store.Store, id uuid.UUID) *models.Session {
	t.Helper()
	got, err := s.FindSession(context.Background(), id)
	if err != nil {
		t.Fatalf("FindSession: %v", err)
	}
	return got
}

// sameJSON reports whether two JSON texts encode the same value, numbers
// compared by their text.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	decode := func(raw []byte) any {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatalf("decode %s: %v", raw, err)
		}
		return v
	}
	return reflect.DeepEqual(decode(a), decode(b))
}

// postgresTypes are the column types SPEC §6 requires on PostgreSQL, by Go field type.
var postgresTypes = map[reflect.Type]string{
	reflect.TypeFor[uuid.UUID]():          "uuid",
	reflect.TypeFor[time.Time]():          "timestamptz",
	reflect.TypeFor[models.JSONObject]():  "jsonb",
	reflect.TypeFor[models.Attachments](): "jsonb",
}

func TestSchemaMatchesModels(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect store.Dialect) {
		db := testutil.OpenStore(t, dialect).DB()
		for _, tc := range []struct {
			model any
			table string
		}{
			{&models.Agent{}, "agents"},
			{&models.Session{}, "sessions"},
			{&models.Message{}, "messages"},
			{&models.IdempotencyKey{}, "idempotency_keys"},
			{&models.PersistedQuery{}, "persisted_queries"},
		} {
			t.Run(tc.table, func(t *testing.T) {
				sch, err := schema.Parse(tc.model, &sync.Map{}, db.NamingStrategy)
				if err != nil {
					t.Fatalf("parse schema: %v", err)
				}
				if got, want := sch.Table, tc.table; got != want {
					t.Errorf("table name = %q, want %q", got, want)
				}
				columns, err := db.Migrator().ColumnTypes(tc.model)
				if err != nil {
					t.Fatalf("ColumnTypes: %v", err)
				}
				byName := make(map[string]gorm.ColumnType, len(columns))
				for _, c := range columns {
					byName[c.Name()] = c
				}
				for _, name := range sch.DBNames {
					if _, ok := byName[name]; !ok {
						t.Errorf("model field column %q is missing from table %s", name, tc.table)
					}
				}
				for name := range byName {
					if _, ok := sch.FieldsByDBName[name]; !ok {
						t.Errorf("table %s has column %q that no model field maps", tc.table, name)
					}
				}
				want := sch.PrimaryFieldDBNames
				if key, ok := distributionKeys[tc.table]; ok && dialect == store.Postgres {
					want = key
				}
				if got := primaryKey(t, db, dialect, tc.table); !slices.Equal(got, want) {
					t.Errorf("%s primary key = %v, want %v", tc.table, got, want)
				}
				for _, name := range sch.DBNames {
					field, column := sch.FieldsByDBName[name], byName[name]
					if column == nil {
						continue
					}
					// SQLite lets a non-INTEGER PRIMARY KEY hold NULL; the store always sets ids.
					if nullable, ok := column.Nullable(); ok && !field.PrimaryKey {
						if got, want := nullable, field.FieldType.Kind() == reflect.Pointer; got != want {
							t.Errorf("%s.%s: nullable = %v, want %v", tc.table, name, got, want)
						}
					}
					if dialect != store.Postgres {
						continue
					}
					if want, ok := postgresTypes[field.FieldType]; ok {
						if got := column.DatabaseTypeName(); !strings.EqualFold(got, want) {
							t.Errorf("%s.%s: database type = %q, want %q", tc.table, name, got, want)
						}
					}
				}
			})
		}
	})
}

// distributionKeys are PostgreSQL primary keys that lead with session_id for
// a distributed PostgreSQL (migration 00010, docs/scaling.md) while the model
// keys rows by id alone (which keeps a unique index of its own).
var distributionKeys = map[string][]string{"messages": {"session_id", "created_at", "id"}}

// primaryKey returns the primary key columns of table, in key order.
func primaryKey(t *testing.T, db *gorm.DB, dialect store.Dialect, table string) []string {
	t.Helper()
	query := "SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk"
	if dialect == store.Postgres {
		query = `
			SELECT a.attname
			FROM pg_index x
			JOIN pg_class c ON c.oid = x.indrelid
			CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, position)
			JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
			WHERE x.indisprimary AND c.relname = ? AND c.relnamespace = current_schema()::regnamespace
			ORDER BY k.position`
	}
	var columns []string
	if err := db.Raw(query, table).Scan(&columns).Error; err != nil {
		t.Fatalf("primary key of %s: %v", table, err)
	}
	return columns
}

// indexes returns the ordered key columns of every index on table, by index name.
func indexes(t *testing.T, db *gorm.DB, dialect store.Dialect, table string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	if dialect == store.Postgres {
		var rows []struct{ IndexName, ColumnName string }
		err := db.Raw(`
			SELECT i.relname AS index_name, a.attname AS column_name
			FROM pg_index x
			JOIN pg_class i ON i.oid = x.indexrelid
			JOIN pg_class c ON c.oid = x.indrelid
			CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, position)
			JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
			WHERE c.relname = ? AND c.relnamespace = current_schema()::regnamespace
			ORDER BY i.relname, k.position`, table).Scan(&rows).Error
		if err != nil {
			t.Fatalf("list indexes of %s: %v", table, err)
		}
		for _, r := range rows {
			out[r.IndexName] = append(out[r.IndexName], r.ColumnName)
		}
		return out
	}
	var names []string
	if err := db.Raw("SELECT name FROM pragma_index_list(?)", table).Scan(&names).Error; err != nil {
		t.Fatalf("list indexes of %s: %v", table, err)
	}
	for _, name := range names {
		var columns []string
		if err := db.Raw("SELECT name FROM pragma_index_info(?) ORDER BY seqno", name).Scan(&columns).Error; err != nil {
			t.Fatalf("columns of index %s: %v", name, err)
		}
		out[name] = columns
	}
	return out
}

func TestSchemaIndexes(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect store.Dialect) {
		db := testutil.OpenStore(t, dialect).DB()
		for _, tc := range []struct {
			model   any
			table   string
			columns []string // an index must start with these, in this order
		}{
			{&models.Message{}, "messages", []string{"session_id", "created_at", "id"}},
			{&models.Session{}, "sessions", []string{"created_at"}}, // the sweep; expires_at has none on PostgreSQL (HOT sends)
			{&models.Session{}, "sessions", []string{"agent_id"}},
			{&models.Session{}, "sessions", []string{"user_id"}},
			{&models.IdempotencyKey{}, "idempotency_keys", []string{"created_at"}},
			{&models.PersistedQuery{}, "persisted_queries", []string{"registered_at"}},
		} {
			t.Run(tc.table+"("+strings.Join(tc.columns, ",")+")", func(t *testing.T) {
				all := indexes(t, db, dialect, tc.table)
				var found string
				for name, columns := range all {
					if len(columns) >= len(tc.columns) && slices.Equal(columns[:len(tc.columns)], tc.columns) {
						found = name
					}
				}
				if found == "" {
					t.Fatalf("no index on %s%v; indexes: %v", tc.table, tc.columns, all)
				}
				if !db.Migrator().HasIndex(tc.model, found) {
					t.Errorf("Migrator().HasIndex(%s, %q) = false", tc.table, found)
				}
			})
		}
	})
}

func TestOpenIsIdempotent(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect store.Dialect) {
		ctx := context.Background()
		url := testutil.DatabaseURL(t, dialect)
		first, err := store.Open(ctx, url, testutil.Logger())
		if err != nil {
			t.Fatalf("first Open: %v", err)
		}
		defer first.Close()
		sess := createSession(t, first)

		second, err := store.Open(ctx, url, testutil.Logger())
		if err != nil {
			t.Fatalf("second Open of a migrated database: %v", err)
		}
		defer second.Close()
		got := findSession(t, second, sess.ID)
		if got, want := got.AgentID, sess.AgentID; got != want {
			t.Errorf("session agent after reopening = %v, want %v", got, want)
		}
		if got, want := appliedMigrations(t, second), int64(1); got != want {
			t.Errorf("applied migration rows with version 1 = %d, want %d", got, want)
		}
	})
}

// appliedMigrations counts goose's records of the first migration.
func appliedMigrations(t *testing.T, s *store.Store) int64 {
	t.Helper()
	var n int64
	if err := s.DB().Table("goose_db_version").Where("version_id = ?", 1).Count(&n).Error; err != nil {
		t.Fatalf("count goose versions: %v", err)
	}
	return n
}

// TestConcurrentOpenMigratesOnce starts replicas together on fresh
// databases: goose's session advisory lock (PostgreSQL) or the lock file
// (SQLite) makes them take turns. Without the lock a round fails about half
// the time, hence several rounds.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect store.Dialect) {
		for round := range 3 {
			openConcurrently(t, testutil.DatabaseURL(t, dialect), round)
		}
	})
}

// openConcurrently opens 8 stores on url at once and checks that all succeed
// and the schema was migrated once.
func openConcurrently(t *testing.T, url string, round int) {
	t.Helper()
	const replicas = 8
	stores := make([]*store.Store, replicas)
	errs := make([]error, replicas)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = store.Open(context.Background(), url, testutil.Logger())
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("round %d: Open %d: %v", round, i, err)
			continue
		}
		t.Cleanup(func() { _ = stores[i].Close() })
	}
	if t.Failed() {
		t.FailNow()
	}
	if got, want := appliedMigrations(t, stores[0]), int64(1); got != want {
		t.Errorf("round %d: applied migration rows with version 1 = %d, want %d", round, got, want)
	}
	sess := createSession(t, stores[0])
	findSession(t, stores[replicas-1], sess.ID)
}

func TestAgentRoundTrip(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect store.Dialect) {
		s := testutil.OpenStore(t, dialect)
		ctx := context.Background()
		for _, tc := range []struct {
			name     string
			defaults models.TimeoutOverrides
		}{
			{"no defaults", models.TimeoutOverrides{}},
			{"all defaults", models.TimeoutOverrides{
				TimeoutMinutes: ptr(45), AutoRenew: ptr(false), MaxDurationMinutes: ptr(90), WarningThresholdMinutes: ptr(7),
			}},
			{"some defaults", models.TimeoutOverrides{TimeoutMinutes: ptr(10), AutoRenew: ptr(true)}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				want := &models.Agent{ID: uuid.New(), Name: "Ada " + tc.name, CreatedAt: t0, SessionDefaults: tc.defaults}
				if err := s.CreateAgent(ctx, want); err != nil {
					t.Fatalf("CreateAgent: %v", err)
				}
				got, err := s.FindAgent(ctx, want.ID)
				if err != nil {
					t.Fatalf("FindAgent: %v", err)
				}
				if got.ID != want.ID || got.Name != want.Name {
					t.Errorf("agent = {%v %q}, want {%v %q}", got.ID, got.Name, want.ID, want.Name)
				}
				if !got.CreatedAt.Equal(want.CreatedAt) {
					t.Errorf("createdAt = %v, want %v", got.CreatedAt, want.CreatedAt)
				}
				if !reflect.DeepEqual(got.SessionDefaults, want.SessionDefaults) {
					t.Errorf("session defaults = %s, want %s", overrides(got.SessionDefaults), overrides(want.SessionDefaults))
				}
			})
		}
	})
}

func overrides(o models.TimeoutOverrides) string {
	b, _ := json.Marshal(o)
	return string(b)
}

func TestCreateAgentDuplicateID(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect store.Dialect) {
		s := testutil.OpenStore(t, dialect)
		a := createAgent(t, s)
		err := s.CreateAgent(context.Background(), &models.Agent{ID: a.ID, Name: "again", CreatedAt: t0})
		if !errors.Is(err, models.ErrDuplicate) {
			t.Fatalf("CreateAgent with a taken id: err = %v, want models.ErrDuplicate", err)
		}
		got, err := s.FindAgent(context.Background(), a.ID)
		if err != nil {
			t.Fatalf("FindAgent: %v", err)
		}
		if got, want := got.Name, a.Name; got != want {
			t.Errorf("name after failed duplicate = %q, want %q", got, want)
		}
	})
}

func TestFindAgentUnknown(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect store.Dialect) {
		s := testutil.OpenStore(t, dialect)
		createAgent(t, s)
		if _, err := s.FindAgent(context.Background(), uuid.New()); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("FindAgent(unknown): err = %v, want models.ErrNotFound", err)
		}
	})
}

func TestCreateSessionUnknownAgent(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect store.Dialect) {
		s := testutil.OpenStore(t, dialect)
		sess := models.NewSession(uuid.New(), uuid.New(), uuid.New(), nil, testConfig(), t0)
		if err := s.CreateSession(context.Background(), sess); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("CreateSession with an unknown agent: err = %v, want models.ErrNotFound", err)
		}
		if _, err := s.FindSession(context.Background(), sess.ID); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("FindSession after failed create: err = %v, want models.ErrNotFound", err)
		}
	})
}

func TestSessionRoundTrip(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect store.Dialect) {
		s := testutil.OpenStore(t, dialect)
		ctx := context.Background()
		a := createAgent(t, s)
		metadata := models.JSONObject(`{"b":1.50,"a":[1,2],"s":"é\"x"}`)
		want := &models.Session{
			ID:            uuid.New(),
			AgentID:       a.ID,
			UserID:        uuid.New(),
			Metadata:      metadata,
			CreatedAt:     t0,
			LastActivity:  t0.Add(90*time.Second + 123*time.Millisecond),
			ExpiresAt:     t0.Add(31*time.Minute + 5*time.Millisecond),
			RenewalCount:  3,
			TimeoutConfig: models.TimeoutConfig{TimeoutMinutes: 31, AutoRenew: false, MaxDurationMinutes: 99, WarningThresholdMinutes: 4},
		}
		if err := s.CreateSession(ctx, want); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		got := findSession(t, s, want.ID)
		if got.ID != want.ID || got.AgentID != want.AgentID || got.UserID != want.UserID {
			t.Errorf("ids = %v/%v/%v, want %v/%v/%v", got.ID, got.AgentID, got.UserID, want.ID, want.AgentID, want.UserID)
		}
		for _, tt := range []struct {
			name      string
			got, want time.Time
		}{
			{"createdAt", got.CreatedAt, want.CreatedAt},
			{"lastActivity", got.LastActivity, want.LastActivity},
			{"expiresAt", got.ExpiresAt, want.ExpiresAt},
		} {
			if !tt.got.Equal(tt.want) {
				t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
			}
		}
		if got, want := got.RenewalCount, want.RenewalCount; got != want {
			t.Errorf("renewalCount = %d, want %d", got, want)
		}
		if got, want := got.TimeoutConfig, want.TimeoutConfig; got != want {
			t.Errorf("timeoutConfig = %+v, want %+v", got, want)
		}
		// SQLite keeps the JSON text as written. PostgreSQL's jsonb keeps the
		// value (number text included) but not the text: it sorts keys and
		// adds spaces, so there only the value can round-trip.
		if dialect == store.SQLite {
			if got, want := string(got.Metadata), string(metadata); got != want {
				t.Errorf("metadata = %s, want exactly %s", got, want)
			}
		} else if !sameJSON(t, got.Metadata, metadata) {
			t.Errorf("metadata = %s, want the value of %s", got.Metadata, metadata)
		}
	})
}

func TestFindSessionUnknown(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect store.Dialect) {
		s := testutil.OpenStore(t, dialect)
		createSession(t, s)
		if _, err := s.FindSession(context.Background(), uuid.New()); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("FindSession(unknown): err = %v, want models.ErrNotFound", err)
		}
	})
}

func TestUpdateSession(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect store.Dialect) {
		s := testutil.OpenStore(t, dialect)
		ctx := context.Background()

		t.Run("persists changes and message", func(t *testing.T) {
			sess := createSession(t, s)
			later := t0.Add(10*time.Minute + 7*time.Millisecond)
			newConfig := models.TimeoutConfig{TimeoutMinutes: 60, AutoRenew: false, MaxDurationMinutes: 120, WarningThresholdMinutes: 9}
			msg := newMessage(sess, "hello")
			msg.CreatedAt = later
			msg.Metadata = models.JSONObject(`{"x":1}`)
			msg.Attachments = models.Attachments{
				{Type: "image", URL: "https://example.com/a.png", Name: ptr("a.png")},
				{Type: "link", URL: "http://example.com/"},
			}
			returned, err := s.UpdateSession(ctx, sess.ID, func(cur *models.Session) (*models.Message, error) {
				if got, want := cur.ID, sess.ID; got != want {
					t.Errorf("apply got session %v, want %v", got, want)
				}
				cur.LastActivity = later
				cur.ExpiresAt = later.Add(time.Hour)
				cur.RenewalCount = 5
				cur.TimeoutConfig = newConfig
				return msg, nil
			})
			if err != nil {
				t.Fatalf("UpdateSession: %v", err)
			}
			if got, want := returned.RenewalCount, 5; got != want {
				t.Errorf("returned renewalCount = %d, want %d", got, want)
			}
			got := findSession(t, s, sess.ID)
			if !got.LastActivity.Equal(later) || !got.ExpiresAt.Equal(later.Add(time.Hour)) {
				t.Errorf("stored lastActivity/expiresAt = %v/%v, want %v/%v", got.LastActivity, got.ExpiresAt, later, later.Add(time.Hour))
			}
			if got, want := got.RenewalCount, 5; got != want {
				t.Errorf("stored renewalCount = %d, want %d", got, want)
			}
			if got, want := got.TimeoutConfig, newConfig; got != want {
				t.Errorf("stored timeoutConfig = %+v, want %+v", got, want)
			}
			if !got.CreatedAt.Equal(sess.CreatedAt) || got.UserID != sess.UserID || got.AgentID != sess.AgentID {
				t.Errorf("immutable fields changed: %+v, want %+v", got, sess)
			}
			if got, want := countMessages(t, s, sess.ID), int64(1); got != want {
				t.Fatalf("messages = %d, want %d", got, want)
			}
			listed, err := s.ListMessages(ctx, sess.ID, models.ListQuery{Limit: 10})
			if err != nil {
				t.Fatalf("ListMessages: %v", err)
			}
			if len(listed) != 1 {
				t.Fatalf("ListMessages returned %d messages, want 1", len(listed))
			}
			m := listed[0]
			if m.ID != msg.ID || m.SessionID != msg.SessionID || m.AuthorID != msg.AuthorID || m.IsAgent != msg.IsAgent || m.Content != msg.Content {
				t.Errorf("stored message = %+v, want %+v", m, msg)
			}
			if !m.CreatedAt.Equal(later) {
				t.Errorf("message createdAt = %v, want %v", m.CreatedAt, later)
			}
			if !sameJSON(t, m.Metadata, msg.Metadata) {
				t.Errorf("message metadata = %s, want %s", m.Metadata, msg.Metadata)
			}
			if !reflect.DeepEqual(m.Attachments, msg.Attachments) {
				t.Errorf("message attachments = %+v, want %+v", m.Attachments, msg.Attachments)
			}
		})

		t.Run("no message", func(t *testing.T) {
			sess := createSession(t, s)
			if _, err := s.UpdateSession(ctx, sess.ID, func(cur *models.Session) (*models.Message, error) {
				cur.RenewalCount++
				return nil, nil
			}); err != nil {
				t.Fatalf("UpdateSession: %v", err)
			}
			if got, want := findSession(t, s, sess.ID).RenewalCount, 1; got != want {
				t.Errorf("renewalCount = %d, want %d", got, want)
			}
			if got, want := countMessages(t, s, sess.ID), int64(0); got != want {
				t.Errorf("messages = %d, want %d", got, want)
			}
		})

		t.Run("apply error changes nothing", func(t *testing.T) {
			sess := createSession(t, s)
			errApply := errors.New("rule says no")
			_, err := s.UpdateSession(ctx, sess.ID, func(cur *models.Session) (*models.Message, error) {
				cur.RenewalCount = 42
				cur.ExpiresAt = t0.Add(48 * time.Hour)
				return newMessage(sess, "never"), errApply
			})
			if !errors.Is(err, errApply) {
				t.Fatalf("UpdateSession: err = %v, want %v", err, errApply)
			}
			got := findSession(t, s, sess.ID)
			if got, want := got.RenewalCount, 0; got != want {
				t.Errorf("renewalCount = %d, want %d", got, want)
			}
			if !got.ExpiresAt.Equal(sess.ExpiresAt) {
				t.Errorf("expiresAt = %v, want %v", got.ExpiresAt, sess.ExpiresAt)
			}
			if got, want := countMessages(t, s, sess.ID), int64(0); got != want {
				t.Errorf("messages = %d, want %d", got, want)
			}
		})

		t.Run("failed insert rolls back the session", func(t *testing.T) {
			sess := createSession(t, s)
			first := newMessage(sess, "first")
			if _, err := s.UpdateSession(ctx, sess.ID, func(cur *models.Session) (*models.Message, error) {
				cur.RenewalCount++
				return first, nil
			}); err != nil {
				t.Fatalf("first UpdateSession: %v", err)
			}
			_, err := s.UpdateSession(ctx, sess.ID, func(cur *models.Session) (*models.Message, error) {
				cur.RenewalCount++
				cur.ExpiresAt = t0.Add(48 * time.Hour)
				dup := newMessage(sess, "same id")
				dup.ID = first.ID
				return dup, nil
			})
			if err == nil {
				t.Fatal("UpdateSession inserting a duplicate message id succeeded")
			}
			if !errors.Is(err, models.ErrDuplicate) {
				t.Errorf("UpdateSession: err = %v, want models.ErrDuplicate", err)
			}
			got := findSession(t, s, sess.ID)
			if got, want := got.RenewalCount, 1; got != want {
				t.Errorf("renewalCount = %d, want %d (the session update must roll back with the insert)", got, want)
			}
			if !got.ExpiresAt.Equal(sess.ExpiresAt) {
				t.Errorf("expiresAt = %v, want %v", got.ExpiresAt, sess.ExpiresAt)
			}
			if got, want := countMessages(t, s, sess.ID), int64(1); got != want {
				t.Errorf("messages = %d, want %d", got, want)
			}
			// The store is still usable after the rolled-back transaction.
			if _, err := s.UpdateSession(ctx, sess.ID, func(cur *models.Session) (*models.Message, error) {
				cur.RenewalCount++
				return newMessage(sess, "second"), nil
			}); err != nil {
				t.Fatalf("UpdateSession after rollback: %v", err)
			}
			if got, want := findSession(t, s, sess.ID).RenewalCount, 2; got != want {
				t.Errorf("renewalCount = %d, want %d", got, want)
			}
		})

		t.Run("unknown session", func(t *testing.T) {
			called := false
			_, err := s.UpdateSession(ctx, uuid.New(), func(*models.Session) (*models.Message, error) {
				called = true
				return nil, nil
			})
			if !errors.Is(err, models.ErrNotFound) {
				t.Fatalf("UpdateSession(unknown): err = %v, want models.ErrNotFound", err)
			}
			if called {
				t.Error("apply was called for an unknown session")
			}
		})
	})
}

func TestUpdateSessionConcurrent(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect store.Dialect) {
		s := testutil.OpenStore(t, dialect)
		ctx := context.Background()
		sess := createSession(t, s)
		const writers = 64
		counts := make([]int, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				_, err := s.UpdateSession(ctx, sess.ID, func(cur *models.Session) (*models.Message, error) {
					cur.RenewalCount++
					counts[i] = cur.RenewalCount
					return newMessage(sess, "concurrent"), nil
				})
				if err != nil {
					t.Errorf("UpdateSession %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		if got, want := findSession(t, s, sess.ID).RenewalCount, writers; got != want {
			t.Errorf("renewalCount = %d, want %d", got, want)
		}
		if got, want := countMessages(t, s, sess.ID), int64(writers); got != want {
			t.Errorf("messages = %d, want %d", got, want)
		}
		sort.Ints(counts)
		for i, c := range counts {
			if c != i+1 {
				t.Fatalf("renewal counts seen by the writers = %v, want 1..%d each once", counts, writers)
			}
		}
	})
}
