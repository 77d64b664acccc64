package models_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"sessionhub/models"
)

// t0 is the fixed instant most cases are measured from.
var t0 = time.Date(2025, 8, 20, 12, 0, 0, 0, time.UTC)

var (
	sessionID = uuid.MustParse("11111111-1111-4111-8111-111111111111")
	agentID   = uuid.MustParse("22222222-2222-4222-8222-222222222222")
	userID    = uuid.MustParse("33333333-3333-4333-8333-333333333333")
)

func mins(n int) time.Duration { return time.Duration(n) * time.Minute }

// defaultCfg is the resolved reference default: 30 / autoRenew / 720 / 5.
func defaultCfg() models.TimeoutConfig {
	return models.TimeoutConfig{TimeoutMinutes: 30, AutoRenew: true, MaxDurationMinutes: 720, WarningThresholdMinutes: 5}
}

// sessionAt builds a session created at t0 with the given config and an
// explicit expiresAt, lastActivity and renewal count.
func sessionAt(cfg models.TimeoutConfig, lastActivity, expiresAt time.Time, renewals int) *models.Session {
	return &models.Session{
		ID:            sessionID,
		AgentID:       agentID,
		UserID:        userID,
		Metadata:      models.JSONObject("{}"),
		CreatedAt:     t0,
		LastActivity:  lastActivity,
		ExpiresAt:     expiresAt,
		RenewalCount:  renewals,
		TimeoutConfig: cfg,
	}
}

func TestNewSession(t *testing.T) {
	berlin := time.FixedZone("CEST", 2*60*60)
	tests := []struct {
		name        string
		cfg         models.TimeoutConfig
		now         time.Time
		wantCreated time.Time
		wantExpires time.Time
	}{
		{
			name:        "timeout shorter than max duration",
			cfg:         defaultCfg(),
			now:         t0,
			wantCreated: t0,
			wantExpires: t0.Add(mins(30)),
		},
		{
			name:        "max duration shorter than timeout caps expiry",
			cfg:         models.TimeoutConfig{TimeoutMinutes: 30, AutoRenew: true, MaxDurationMinutes: 10, WarningThresholdMinutes: 5},
			now:         t0,
			wantCreated: t0,
			wantExpires: t0.Add(mins(10)),
		},
		{
			name:        "timeout equal to max duration",
			cfg:         models.TimeoutConfig{TimeoutMinutes: 60, AutoRenew: false, MaxDurationMinutes: 60, WarningThresholdMinutes: 5},
			now:         t0,
			wantCreated: t0,
			wantExpires: t0.Add(mins(60)),
		},
		{
			name:        "sub-millisecond now is truncated to milliseconds",
			cfg:         defaultCfg(),
			now:         t0.Add(1*time.Second + 789*time.Millisecond + 999*time.Microsecond + 999),
			wantCreated: t0.Add(1*time.Second + 789*time.Millisecond),
			wantExpires: t0.Add(1*time.Second + 789*time.Millisecond + mins(30)),
		},
		{
			name:        "non-UTC now is stored in UTC",
			cfg:         defaultCfg(),
			now:         time.Date(2025, 8, 20, 14, 0, 0, 500_000_123, berlin),
			wantCreated: t0.Add(500 * time.Millisecond),
			wantExpires: t0.Add(500*time.Millisecond + mins(30)),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			meta := models.JSONObject(`{"k":"v"}`)
			s := models.NewSession(sessionID, agentID, userID, meta, tc.cfg, tc.now)
			if got, want := s.ID, sessionID; got != want {
				t.Errorf("ID = %v, want %v", got, want)
			}
			if got, want := s.AgentID, agentID; got != want {
				t.Errorf("AgentID = %v, want %v", got, want)
			}
			if got, want := s.UserID, userID; got != want {
				t.Errorf("UserID = %v, want %v", got, want)
			}
			if got, want := string(s.Metadata), `{"k":"v"}`; got != want {
				t.Errorf("Metadata = %s, want %s", got, want)
			}
			if got, want := s.CreatedAt, tc.wantCreated; !got.Equal(want) {
				t.Errorf("CreatedAt = %v, want %v", got, want)
			}
			if got, want := s.CreatedAt.Location(), time.UTC; got != want {
				t.Errorf("CreatedAt location = %v, want %v", got, want)
			}
			if got, want := s.LastActivity, s.CreatedAt; !got.Equal(want) {
				t.Errorf("LastActivity = %v, want createdAt %v", got, want)
			}
			if got, want := s.ExpiresAt, tc.wantExpires; !got.Equal(want) {
				t.Errorf("ExpiresAt = %v, want %v", got, want)
			}
			if got, want := s.RenewalCount, 0; got != want {
				t.Errorf("RenewalCount = %d, want %d", got, want)
			}
			if got, want := s.TimeoutConfig, tc.cfg; got != want {
				t.Errorf("TimeoutConfig = %+v, want %+v", got, want)
			}
		})
	}
}

func TestSessionExpiry(t *testing.T) {
	expires := t0.Add(mins(30))
	s := sessionAt(defaultCfg(), t0, expires, 0)
	tests := []struct {
		name          string
		now           time.Time
		wantExpired   bool
		wantState     models.SessionState
		wantRemaining time.Duration
	}{
		{"long before expiry", t0, false, models.SessionStateActive, mins(30)},
		{"90 seconds before expiry", expires.Add(-90 * time.Second), false, models.SessionStateActive, 90 * time.Second},
		{"1ms before expiry", expires.Add(-time.Millisecond), false, models.SessionStateActive, time.Millisecond},
		{"1ns before expiry", expires.Add(-1), false, models.SessionStateActive, 1},
		{"exactly at expiry", expires, true, models.SessionStateExpired, 0},
		{"1ms after expiry", expires.Add(time.Millisecond), true, models.SessionStateExpired, 0},
		{"an hour after expiry", expires.Add(time.Hour), true, models.SessionStateExpired, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := s.IsExpired(tc.now), tc.wantExpired; got != want {
				t.Errorf("IsExpired(%v) = %v, want %v", tc.now, got, want)
			}
			if got, want := s.StateAt(tc.now), tc.wantState; got != want {
				t.Errorf("StateAt(%v) = %v, want %v", tc.now, got, want)
			}
			if got, want := s.RemainingAt(tc.now), tc.wantRemaining; got != want {
				t.Errorf("RemainingAt(%v) = %v, want %v", tc.now, got, want)
			}
		})
	}
}

func TestNearExpirationAt(t *testing.T) {
	expires := t0.Add(mins(30))
	tests := []struct {
		name    string
		warning int
		now     time.Time
		want    bool
	}{
		{"far from expiry", 5, t0, false},
		{"exactly the threshold left", 5, expires.Add(-mins(5)), true},
		{"threshold plus 1ms left", 5, expires.Add(-mins(5) - time.Millisecond), false},
		{"1ms left", 5, expires.Add(-time.Millisecond), true},
		{"exactly 0 left", 5, expires, false},
		{"already expired", 5, expires.Add(mins(1)), false},
		{"wider threshold includes 10 minutes", 10, expires.Add(-mins(10)), true},
		{"1 minute threshold excludes 2 minutes", 1, expires.Add(-mins(2)), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := defaultCfg()
			cfg.WarningThresholdMinutes = tc.warning
			s := sessionAt(cfg, t0, expires, 0)
			if got, want := s.NearExpirationAt(tc.now), tc.want; got != want {
				t.Errorf("NearExpirationAt(%v) = %v, want %v", tc.now, got, want)
			}
		})
	}
}

func TestRecordActivity(t *testing.T) {
	noRenew := defaultCfg()
	noRenew.AutoRenew = false
	tight := models.TimeoutConfig{TimeoutMinutes: 5, AutoRenew: true, MaxDurationMinutes: 720, WarningThresholdMinutes: 5}
	capAt := t0.Add(mins(720))

	tests := []struct {
		name string
		cfg  models.TimeoutConfig
		// state before the send
		lastActivity time.Time
		expiresAt    time.Time
		renewals     int
		now          time.Time
		// expected state after the send
		wantExpires  time.Time
		wantRenewals int
		wantRenewed  bool
		wantNear     bool
		wantLastAct  time.Time
	}{
		{
			name:         "under the cap slides expiry to now+timeout",
			cfg:          defaultCfg(),
			lastActivity: t0, expiresAt: t0.Add(mins(30)), renewals: 0,
			now:         t0.Add(mins(10)),
			wantExpires: t0.Add(mins(40)), wantRenewals: 1, wantRenewed: true, wantNear: false,
			wantLastAct: t0.Add(mins(10)),
		},
		{
			name:         "renewal count increments from its current value",
			cfg:          defaultCfg(),
			lastActivity: t0.Add(mins(100)), expiresAt: t0.Add(mins(130)), renewals: 7,
			now:         t0.Add(mins(120)),
			wantExpires: t0.Add(mins(150)), wantRenewals: 8, wantRenewed: true, wantNear: false,
			wantLastAct: t0.Add(mins(120)),
		},
		{
			name:         "near expiry before the send is not near after renewal",
			cfg:          defaultCfg(),
			lastActivity: t0, expiresAt: t0.Add(mins(30)), renewals: 0,
			now:         t0.Add(mins(27)),
			wantExpires: t0.Add(mins(57)), wantRenewals: 1, wantRenewed: true, wantNear: false,
			wantLastAct: t0.Add(mins(27)),
		},
		{
			name:         "near the cap expiry is clipped to createdAt+maxDuration and still renews",
			cfg:          defaultCfg(),
			lastActivity: t0.Add(mins(680)), expiresAt: t0.Add(mins(710)), renewals: 20,
			now:         t0.Add(mins(700)),
			wantExpires: capAt, wantRenewals: 21, wantRenewed: true, wantNear: false,
			wantLastAct: t0.Add(mins(700)),
		},
		{
			name:         "clipped to the cap and within the warning threshold is near expiration",
			cfg:          defaultCfg(),
			lastActivity: t0.Add(mins(700)), expiresAt: capAt, renewals: 21,
			now:         t0.Add(mins(716)),
			wantExpires: capAt, wantRenewals: 22, wantRenewed: true, wantNear: true,
			wantLastAct: t0.Add(mins(716)),
		},
		{
			name:         "1ms before the cap still renews",
			cfg:          defaultCfg(),
			lastActivity: t0.Add(mins(700)), expiresAt: capAt, renewals: 21,
			now:         capAt.Add(-time.Millisecond),
			wantExpires: capAt, wantRenewals: 22, wantRenewed: true, wantNear: true,
			wantLastAct: capAt.Add(-time.Millisecond),
		},
		{
			name:         "exactly at the cap does not renew but records activity",
			cfg:          defaultCfg(),
			lastActivity: t0.Add(mins(700)), expiresAt: capAt, renewals: 21,
			now:         capAt,
			wantExpires: capAt, wantRenewals: 21, wantRenewed: false, wantNear: false,
			wantLastAct: capAt,
		},
		{
			name: "past the cap does not renew even if expiresAt is later (near computed after)",
			cfg:  defaultCfg(),
			// artificial state: expiresAt beyond the cap, so the session is
			// still live after the cap and the cap alone must stop renewal.
			lastActivity: t0.Add(mins(700)), expiresAt: capAt.Add(mins(5)), renewals: 21,
			now:         capAt.Add(mins(2)),
			wantExpires: capAt.Add(mins(5)), wantRenewals: 21, wantRenewed: false, wantNear: true,
			wantLastAct: capAt.Add(mins(2)),
		},
		{
			name:         "autoRenew off leaves expiry and count alone",
			cfg:          noRenew,
			lastActivity: t0, expiresAt: t0.Add(mins(30)), renewals: 0,
			now:         t0.Add(mins(10)),
			wantExpires: t0.Add(mins(30)), wantRenewals: 0, wantRenewed: false, wantNear: false,
			wantLastAct: t0.Add(mins(10)),
		},
		{
			name:         "autoRenew off close to expiry reports near expiration",
			cfg:          noRenew,
			lastActivity: t0, expiresAt: t0.Add(mins(30)), renewals: 0,
			now:         t0.Add(mins(26)),
			wantExpires: t0.Add(mins(30)), wantRenewals: 0, wantRenewed: false, wantNear: true,
			wantLastAct: t0.Add(mins(26)),
		},
		{
			name:         "timeout equal to warning threshold is near right after renewal",
			cfg:          tight,
			lastActivity: t0, expiresAt: t0.Add(mins(5)), renewals: 0,
			now:         t0.Add(mins(1)),
			wantExpires: t0.Add(mins(6)), wantRenewals: 1, wantRenewed: true, wantNear: true,
			wantLastAct: t0.Add(mins(1)),
		},
		{
			name:         "sub-millisecond now is truncated before use",
			cfg:          defaultCfg(),
			lastActivity: t0, expiresAt: t0.Add(mins(30)), renewals: 0,
			now:         t0.Add(mins(10) + 1500*time.Microsecond),
			wantExpires: t0.Add(mins(40) + time.Millisecond), wantRenewals: 1, wantRenewed: true, wantNear: false,
			wantLastAct: t0.Add(mins(10) + time.Millisecond),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := sessionAt(tc.cfg, tc.lastActivity, tc.expiresAt, tc.renewals)
			st := s.RecordActivity(tc.now)

			if got, want := s.ExpiresAt, tc.wantExpires; !got.Equal(want) {
				t.Errorf("ExpiresAt = %v, want %v", got, want)
			}
			if got, want := s.RenewalCount, tc.wantRenewals; got != want {
				t.Errorf("RenewalCount = %d, want %d", got, want)
			}
			if got, want := s.LastActivity, tc.wantLastAct; !got.Equal(want) {
				t.Errorf("LastActivity = %v, want %v", got, want)
			}
			if got, want := s.CreatedAt, t0; !got.Equal(want) {
				t.Errorf("CreatedAt changed to %v, want %v", got, want)
			}
			// The reported status mirrors the session after the update.
			if got, want := st.ExpiresAt, tc.wantExpires; !got.Equal(want) {
				t.Errorf("status.ExpiresAt = %v, want %v", got, want)
			}
			if got, want := st.RenewalCount, tc.wantRenewals; got != want {
				t.Errorf("status.RenewalCount = %d, want %d", got, want)
			}
			if got, want := st.WasRenewed, tc.wantRenewed; got != want {
				t.Errorf("status.WasRenewed = %v, want %v", got, want)
			}
			if got, want := st.IsNearExpiration, tc.wantNear; got != want {
				t.Errorf("status.IsNearExpiration = %v, want %v", got, want)
			}
		})
	}
}

func TestRecordActivitySequence(t *testing.T) {
	tests := []struct {
		name         string
		cfg          models.TimeoutConfig
		sends        []time.Duration // offsets from createdAt
		wantRenewals int
		wantExpires  time.Duration // offset from createdAt
		wantLastAct  time.Duration
	}{
		{
			name:         "five sends a minute apart renew five times",
			cfg:          defaultCfg(),
			sends:        []time.Duration{mins(1), mins(2), mins(3), mins(4), mins(5)},
			wantRenewals: 5,
			wantExpires:  mins(35),
			wantLastAct:  mins(5),
		},
		{
			name:         "a single send renews once",
			cfg:          defaultCfg(),
			sends:        []time.Duration{mins(29)},
			wantRenewals: 1,
			wantExpires:  mins(59),
			wantLastAct:  mins(29),
		},
		{
			name:         "sends before the cap all count even when expiry is pinned to the cap",
			cfg:          models.TimeoutConfig{TimeoutMinutes: 10, AutoRenew: true, MaxDurationMinutes: 30, WarningThresholdMinutes: 5},
			sends:        []time.Duration{mins(5), mins(10), mins(15), mins(20), mins(25), mins(29)},
			wantRenewals: 6,
			wantExpires:  mins(30),
			wantLastAct:  mins(29),
		},
		{
			name:         "autoRenew off never renews",
			cfg:          models.TimeoutConfig{TimeoutMinutes: 30, AutoRenew: false, MaxDurationMinutes: 720, WarningThresholdMinutes: 5},
			sends:        []time.Duration{mins(1), mins(2), mins(3)},
			wantRenewals: 0,
			wantExpires:  mins(30),
			wantLastAct:  mins(3),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := models.NewSession(sessionID, agentID, userID, nil, tc.cfg, t0)
			for i, off := range tc.sends {
				now := t0.Add(off)
				if s.IsExpired(now) {
					t.Fatalf("send %d at +%v: session unexpectedly expired (expiresAt %v)", i, off, s.ExpiresAt)
				}
				st := s.RecordActivity(now)
				if got, want := st.RenewalCount, s.RenewalCount; got != want {
					t.Errorf("send %d: status.RenewalCount = %d, session has %d", i, got, want)
				}
			}
			if got, want := s.RenewalCount, tc.wantRenewals; got != want {
				t.Errorf("RenewalCount = %d, want %d", got, want)
			}
			if got, want := s.ExpiresAt, t0.Add(tc.wantExpires); !got.Equal(want) {
				t.Errorf("ExpiresAt = %v, want %v", got, want)
			}
			if got, want := s.LastActivity, t0.Add(tc.wantLastAct); !got.Equal(want) {
				t.Errorf("LastActivity = %v, want %v", got, want)
			}
		})
	}
}

func TestStatusAt(t *testing.T) {
	tests := []struct {
		name     string
		now      time.Time
		wantNear bool
	}{
		{"far from expiry", t0.Add(mins(10)), false},
		{"within warning threshold", t0.Add(mins(27)), true},
		{"at expiry", t0.Add(mins(30)), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := sessionAt(defaultCfg(), t0, t0.Add(mins(30)), 3)
			st := s.StatusAt(tc.now)
			if got, want := st.WasRenewed, false; got != want {
				t.Errorf("WasRenewed = %v, want %v", got, want)
			}
			if got, want := st.RenewalCount, 3; got != want {
				t.Errorf("RenewalCount = %d, want %d", got, want)
			}
			if got, want := st.ExpiresAt, t0.Add(mins(30)); !got.Equal(want) {
				t.Errorf("ExpiresAt = %v, want %v", got, want)
			}
			if got, want := st.IsNearExpiration, tc.wantNear; got != want {
				t.Errorf("IsNearExpiration = %v, want %v", got, want)
			}
			// StatusAt is a read: it must not touch the session.
			if got, want := s.LastActivity, t0; !got.Equal(want) {
				t.Errorf("LastActivity = %v, want unchanged %v", got, want)
			}
			if got, want := s.RenewalCount, 3; got != want {
				t.Errorf("session RenewalCount = %d, want unchanged %d", got, want)
			}
		})
	}
}

func TestRenew(t *testing.T) {
	noRenew := defaultCfg()
	noRenew.AutoRenew = false
	capAt := t0.Add(mins(720))
	tests := []struct {
		name         string
		cfg          models.TimeoutConfig
		lastActivity time.Time
		expiresAt    time.Time
		now          time.Time
		wantCode     models.Code // "" = success
		wantExpires  time.Time
		wantRenewals int
		wantLastAct  time.Time
	}{
		{
			name:         "renews with autoRenew on",
			cfg:          defaultCfg(),
			lastActivity: t0, expiresAt: t0.Add(mins(30)), now: t0.Add(mins(10)),
			wantExpires: t0.Add(mins(40)), wantRenewals: 1, wantLastAct: t0.Add(mins(10)),
		},
		{
			name:         "renews as if autoRenew were on when it is off",
			cfg:          noRenew,
			lastActivity: t0, expiresAt: t0.Add(mins(30)), now: t0.Add(mins(10)),
			wantExpires: t0.Add(mins(40)), wantRenewals: 1, wantLastAct: t0.Add(mins(10)),
		},
		{
			name:         "clipped to the cap near it",
			cfg:          defaultCfg(),
			lastActivity: t0.Add(mins(690)), expiresAt: capAt, now: t0.Add(mins(700)),
			wantExpires: capAt, wantRenewals: 1, wantLastAct: t0.Add(mins(700)),
		},
		{
			name:         "at the cap fails with SESSION_RENEWAL_FAILED",
			cfg:          defaultCfg(),
			lastActivity: t0.Add(mins(700)), expiresAt: capAt, now: capAt,
			wantCode:    models.CodeSessionRenewalFailed,
			wantExpires: capAt, wantRenewals: 0, wantLastAct: t0.Add(mins(700)),
		},
		{
			name:         "past the cap with a live expiresAt still fails with SESSION_RENEWAL_FAILED",
			cfg:          defaultCfg(),
			lastActivity: t0.Add(mins(700)), expiresAt: capAt.Add(mins(10)), now: capAt.Add(mins(1)),
			wantCode:    models.CodeSessionRenewalFailed,
			wantExpires: capAt.Add(mins(10)), wantRenewals: 0, wantLastAct: t0.Add(mins(700)),
		},
		{
			name:         "expired by inactivity before the cap fails with SESSION_EXPIRED",
			cfg:          defaultCfg(),
			lastActivity: t0, expiresAt: t0.Add(mins(30)), now: t0.Add(mins(30)),
			wantCode:    models.CodeSessionExpired,
			wantExpires: t0.Add(mins(30)), wantRenewals: 0, wantLastAct: t0,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := sessionAt(tc.cfg, tc.lastActivity, tc.expiresAt, 0)
			err := s.Renew(tc.now)
			if tc.wantCode == "" {
				if err != nil {
					t.Fatalf("Renew: unexpected error %v", err)
				}
			} else if got, want := models.ErrorCode(err), tc.wantCode; got != want {
				t.Errorf("ErrorCode(Renew) = %v, want %v (err %v)", got, want, err)
			}
			if got, want := s.ExpiresAt, tc.wantExpires; !got.Equal(want) {
				t.Errorf("ExpiresAt = %v, want %v", got, want)
			}
			if got, want := s.RenewalCount, tc.wantRenewals; got != want {
				t.Errorf("RenewalCount = %d, want %d", got, want)
			}
			if got, want := s.LastActivity, tc.wantLastAct; !got.Equal(want) {
				t.Errorf("LastActivity = %v, want %v", got, want)
			}
		})
	}
}

func TestRenewalFailedDetails(t *testing.T) {
	s := sessionAt(defaultCfg(), t0, t0.Add(mins(720)), 0)
	err := s.Renew(t0.Add(mins(720)))
	e := models.AsError(err)
	b, jerr := json.Marshal(e.Details)
	if jerr != nil {
		t.Fatal(jerr)
	}
	want := `{"sessionId":"11111111-1111-4111-8111-111111111111","createdAt":"2025-08-20T12:00:00.000Z","maxDurationMinutes":720}`
	if got := string(b); got != want {
		t.Errorf("details = %s, want %s", got, want)
	}
}

func TestErrExpiredDetails(t *testing.T) {
	s := sessionAt(defaultCfg(), t0, t0.Add(mins(30)+123*time.Millisecond), 0)
	e := s.ErrExpired()
	if got, want := models.ErrorCode(e), models.CodeSessionExpired; got != want {
		t.Errorf("code = %v, want %v", got, want)
	}
	b, err := json.Marshal(e.Details)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"sessionId":"11111111-1111-4111-8111-111111111111","expiresAt":"2025-08-20T12:30:00.123Z"}`
	if got := string(b); got != want {
		t.Errorf("details = %s, want %s", got, want)
	}
}

func TestReconfigure(t *testing.T) {
	tests := []struct {
		name         string
		lastActivity time.Time
		cfg          models.TimeoutConfig
		wantExpires  time.Time
	}{
		{
			name:         "autoRenew on bases expiry on lastActivity",
			lastActivity: t0.Add(mins(100)),
			cfg:          models.TimeoutConfig{TimeoutMinutes: 60, AutoRenew: true, MaxDurationMinutes: 720, WarningThresholdMinutes: 5},
			wantExpires:  t0.Add(mins(160)),
		},
		{
			name:         "autoRenew off bases expiry on createdAt",
			lastActivity: t0.Add(mins(100)),
			cfg:          models.TimeoutConfig{TimeoutMinutes: 60, AutoRenew: false, MaxDurationMinutes: 720, WarningThresholdMinutes: 5},
			wantExpires:  t0.Add(mins(60)),
		},
		{
			name:         "clipped to the new hard cap",
			lastActivity: t0.Add(mins(100)),
			cfg:          models.TimeoutConfig{TimeoutMinutes: 60, AutoRenew: true, MaxDurationMinutes: 120, WarningThresholdMinutes: 5},
			wantExpires:  t0.Add(mins(120)),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := sessionAt(defaultCfg(), tc.lastActivity, tc.lastActivity.Add(mins(30)), 4)
			s.Reconfigure(tc.cfg)
			if got, want := s.ExpiresAt, tc.wantExpires; !got.Equal(want) {
				t.Errorf("ExpiresAt = %v, want %v", got, want)
			}
			if got, want := s.TimeoutConfig, tc.cfg; got != want {
				t.Errorf("TimeoutConfig = %+v, want %+v", got, want)
			}
			if got, want := s.RenewalCount, 4; got != want {
				t.Errorf("RenewalCount = %d, want unchanged %d", got, want)
			}
		})
	}
}
