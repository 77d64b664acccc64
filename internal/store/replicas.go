package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, as gorm's postgres driver uses
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/plugin/dbresolver"

	"sessionhub/models"
)

// Read replicas (DATABASE_READ_URLS). Reads that need not see the latest
// write — history, lists, sessions by id — may go to a PostgreSQL streaming
// standby; everything else stays on the primary. Which reads may, and when:
//
//   - A caller's own writes through this process are always seen: after a
//     caller's write is acknowledged, its reads go to the primary until a
//     standby has replayed a primary WAL position sampled after that moment.
//     No query is added to any write: positions are sampled in the
//     background (probeEvery), so a read shortly after a write simply goes
//     to the primary.
//   - Every read, whoever makes it, goes to a standby only when that standby
//     has replayed everything the primary had at most maxLag ago.
//   - A standby that fails a read (down, cut off, a query cancelled by a
//     recovery conflict) is answered by the primary at once and left out
//     until a probe finds it well again; a standby that finds nothing for a
//     point read by id is asked again on the primary.
//
// What this cannot see is a write the same caller made through another
// sessionhub process: that one is only guaranteed to be visible maxLag after
// it was acknowledged (see README, "Read replicas").

// ReadReplicas configures read replicas for Open.
type ReadReplicas struct {
	// URLs are postgres:// URLs of streaming standbys of DATABASE_URL.
	URLs []string
	// MaxLag bounds how stale a standby may be for any read.
	MaxLag time.Duration
	// ProbeEvery is how often the primary's WAL position and each standby's
	// replay position are sampled (default 50 ms).
	ProbeEvery time.Duration
}

// WithReadReplicas sends reads that need not see the latest write to these
// standbys (PostgreSQL only; SQLite ignores it).
func WithReadReplicas(r ReadReplicas) Option {
	return func(o *options) { o.replicas = r }
}

const (
	defaultProbeEvery = 50 * time.Millisecond
	// standbyConns bounds each standby's pool, as the primary's is bounded.
	standbyConns = 16
	// rememberedCallers bounds the callers whose last write is remembered.
	rememberedCallers = 100_000
)

// standby is one read replica and what the last probe found.
type standby struct {
	name string // its dbresolver resolver
	host string // for logs: host:port, never credentials
	pool *sql.DB

	mu     sync.Mutex
	up     bool
	synced time.Time // every write the primary acknowledged before this instant is replayed here
}

func (sb *standby) state() (up bool, synced time.Time) {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.up, sb.synced
}

// walSample is the primary's WAL insert position read at a moment: every
// commit acknowledged before `at` lies before `lsn`.
type walSample struct {
	at  time.Time
	lsn uint64
}

// replicaSet routes reads between the primary and the standbys.
type replicaSet struct {
	primary    *sql.DB
	standbys   []*standby
	maxLag     time.Duration
	probeEvery time.Duration
	log        *slog.Logger

	mu        sync.Mutex
	samples   []walSample // oldest first, the last maxLag and a little more
	writes    *lru.Cache[string, time.Time]
	forgotten time.Time // the newest write of any caller pushed out of writes

	turn   atomic.Uint64 // round robin among fresh standbys
	reads  func(target string)
	cancel context.CancelFunc
	done   chan struct{}
}

// openReplicas connects to the standbys, registers them with GORM through
// dbresolver (one named resolver per standby; statements without a
// resolver stay on the primary) and starts probing.
func openReplicas(db *gorm.DB, primary *sql.DB, cfg ReadReplicas, log *slog.Logger) (*replicaSet, error) {
	r := &replicaSet{primary: primary, maxLag: cfg.MaxLag, probeEvery: cfg.ProbeEvery, log: log, done: make(chan struct{})}
	if r.probeEvery <= 0 {
		r.probeEvery = defaultProbeEvery
	}
	var err error
	r.writes, err = lru.NewWithEvict(rememberedCallers, func(_ string, at time.Time) {
		if at.After(r.forgotten) { // called under r.mu (Add happens there)
			r.forgotten = at
		}
	})
	if err != nil {
		return nil, err
	}
	var resolver *dbresolver.DBResolver
	for i, raw := range cfg.URLs {
		dsn, err := withPostgresDefaults(raw)
		if err != nil {
			r.closePools()
			return nil, errors.New("DATABASE_READ_URLS: an entry is not a valid URL")
		}
		pool, err := sql.Open("pgx", dsn)
		if err != nil {
			r.closePools()
			return nil, fmt.Errorf("DATABASE_READ_URLS: %w", err)
		}
		pool.SetMaxOpenConns(standbyConns)
		pool.SetMaxIdleConns(standbyConns)
		pool.SetConnMaxIdleTime(5 * time.Minute)
		sb := &standby{name: "standby-" + strconv.Itoa(i), host: hostOf(raw), pool: pool}
		r.standbys = append(r.standbys, sb)
		config := dbresolver.Config{Replicas: []gorm.Dialector{postgres.New(postgres.Config{Conn: pool})}}
		if resolver == nil {
			resolver = dbresolver.Register(config, sb.name)
		} else {
			resolver.Register(config, sb.name)
		}
	}
	if resolver != nil {
		// dbresolver opens each standby with a copy of this config, which
		// pings: a standby down at start-up must not stop the server (the
		// probe leaves it out until it answers).
		ping := db.Config.DisableAutomaticPing
		db.Config.DisableAutomaticPing = true
		err := db.Use(resolver)
		db.Config.DisableAutomaticPing = ping
		if err != nil {
			r.closePools()
			return nil, fmt.Errorf("read replicas: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go r.probeLoop(ctx)
	return r, nil
}

func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Host
	}
	return "?"
}

// close stops probing and closes the standbys' pools.
func (r *replicaSet) close() {
	if r == nil {
		return
	}
	r.cancel()
	<-r.done
	r.closePools()
}

func (r *replicaSet) closePools() {
	for _, sb := range r.standbys {
		_ = sb.pool.Close()
	}
}

// wrote notes that ctx's caller had a write acknowledged now (or tried one:
// a failed write may have committed).
func (r *replicaSet) wrote(ctx context.Context) {
	if r == nil {
		return
	}
	now := time.Now()
	r.mu.Lock()
	r.writes.Add(models.CallerKey(ctx), now)
	r.mu.Unlock()
}

// choose picks a standby that may serve a read made with ctx, or nil for
// the primary.
func (r *replicaSet) choose(ctx context.Context) *standby {
	if r == nil || models.WantsLatestReads(ctx) {
		return nil
	}
	need := time.Now().Add(-r.maxLag) // synced at or after this instant
	r.mu.Lock()
	last, ok := r.writes.Peek(models.CallerKey(ctx))
	if !ok {
		last = r.forgotten // it may have been pushed out: assume the newest that was
	}
	r.mu.Unlock()
	if last.After(need) {
		need = last
	}
	n := len(r.standbys)
	start := int(r.turn.Add(1))
	for i := range n {
		sb := r.standbys[(start+i)%n]
		if up, synced := sb.state(); up && !synced.Before(need) {
			return sb
		}
	}
	return nil
}

// failed takes a standby out of rotation until a probe finds it well.
func (r *replicaSet) failed(sb *standby, err error) {
	sb.mu.Lock()
	was := sb.up
	sb.up = false
	sb.mu.Unlock()
	if was {
		r.log.Warn("read replica failed a read; reading on the primary until it is back", "replica", sb.host, "err", err)
	}
}

func (r *replicaSet) counted(target string) {
	if r != nil && r.reads != nil {
		r.reads(target)
	}
}

func (r *replicaSet) probeLoop(ctx context.Context) {
	defer close(r.done)
	ticker := time.NewTicker(r.probeEvery)
	defer ticker.Stop()
	for {
		r.probe(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// probe samples the primary's WAL insert position, then each standby's
// replay position: a standby that replayed a sample taken at t holds every
// write acknowledged before t.
func (r *replicaSet) probe(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	at := time.Now()
	var text string
	if err := r.primary.QueryRowContext(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&text); err == nil {
		if lsn, err := parseLSN(text); err == nil {
			r.mu.Lock()
			r.samples = append(r.samples, walSample{at: at, lsn: lsn})
			keep := 0 // older samples than maxLag (and a second) can no longer make a standby fresh enough
			for keep < len(r.samples)-1 && at.Sub(r.samples[keep].at) > r.maxLag+time.Second {
				keep++
			}
			r.samples = append(r.samples[:0], r.samples[keep:]...)
			r.mu.Unlock()
		}
	} // without a sample, standbys' positions stop advancing and they age out of use
	var wg sync.WaitGroup
	for _, sb := range r.standbys {
		wg.Go(func() { r.probeStandby(ctx, sb) })
	}
	wg.Wait()
}

func (r *replicaSet) probeStandby(ctx context.Context, sb *standby) {
	var recovering bool
	var replay sql.NullString
	err := sb.pool.QueryRowContext(ctx, "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text").Scan(&recovering, &replay)
	if err == nil && (!recovering || !replay.Valid) {
		err = errors.New("not a streaming standby (pg_is_in_recovery() is false): its data would drift from the primary's")
	}
	var lsn uint64
	if err == nil {
		lsn, err = parseLSN(replay.String)
	}
	if err != nil {
		sb.mu.Lock()
		was := sb.up
		sb.up = false
		sb.mu.Unlock()
		if was && ctx.Err() == nil {
			r.log.Warn("read replica unavailable; reading on the primary", "replica", sb.host, "err", err)
		}
		return
	}
	synced := r.syncedAt(lsn)
	sb.mu.Lock()
	was := sb.up
	sb.up = true
	if synced.After(sb.synced) {
		sb.synced = synced
	}
	sb.mu.Unlock()
	if !was {
		r.log.Info("read replica in use", "replica", sb.host)
	}
}

// syncedAt is the newest sample a standby that replayed up to lsn holds.
func (r *replicaSet) syncedAt(lsn uint64) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.samples) - 1; i >= 0; i-- {
		if r.samples[i].lsn <= lsn {
			return r.samples[i].at
		}
	}
	return time.Time{}
}

// parseLSN reads PostgreSQL's pg_lsn text form, "16/B374D848".
func parseLSN(text string) (uint64, error) {
	hi, lo, ok := strings.Cut(text, "/")
	if !ok {
		return 0, fmt.Errorf("bad LSN %q", text)
	}
	h, err := strconv.ParseUint(hi, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("bad LSN %q", text)
	}
	l, err := strconv.ParseUint(lo, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("bad LSN %q", text)
	}
	return h<<32 | l, nil
}

// standbyFailed reports whether a standby's error should be answered by
// the primary: the standby is unreachable or shutting down (class 57, 08),
// or cancelled the query because replay needed the rows it was reading (a
// recovery conflict, 40001).
func standbyFailed(err error) bool {
	if isUnavailable(err) {
		return true
	}
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || strings.HasPrefix(pgErr.Code, "57"))
}

// read runs a query that may be served by a standby (see choose), on the
// primary otherwise or when the standby fails it. With retryMissing, a
// standby's "not found" is confirmed on the primary (a point read of a row
// written moments ago elsewhere).
func (s *Store) read(ctx context.Context, retryMissing bool, query func(db *gorm.DB) error) error {
	if sb := s.replicas.choose(ctx); sb != nil {
		err := query(s.db.WithContext(ctx).Clauses(dbresolver.Use(sb.name), dbresolver.Read))
		switch {
		case err == nil:
			s.replicas.counted("standby")
			return nil
		case ctx.Err() != nil:
			return translate(err)
		case retryMissing && errors.Is(err, gorm.ErrRecordNotFound):
		case standbyFailed(err):
			s.replicas.failed(sb, err)
		default:
			return translate(err)
		}
	}
	err := query(s.db.WithContext(ctx))
	if err == nil {
		s.replicas.counted("primary")
	}
	return translate(err)
}

// wrote records that ctx's caller wrote (see replicaSet.wrote).
func (s *Store) wrote(ctx context.Context) { s.replicas.wrote(ctx) }

// ObserveReads reports where each read that could use a read replica was
// served ("standby" or "primary"); nothing without read replicas. Call it
// before the first read.
func (s *Store) ObserveReads(observe func(target string)) {
	if s.replicas != nil {
		s.replicas.reads = observe
	}
}

// ReadReplicasInUse counts the standbys serving reads now (for tests and
// metrics).
func (s *Store) ReadReplicasInUse() int {
	if s.replicas == nil {
		return 0
	}
	n := 0
	for _, sb := range s.replicas.standbys {
		if up, _ := sb.state(); up {
			n++
		}
	}
	return n
}
