package chat_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"sessionhub/internal/chat"
	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
	"sessionhub/models"
)

// serviceStart is when every service test's clock starts; the nanoseconds
// check that the service keeps millisecond precision.
var serviceStart = time.Date(2026, 1, 1, 12, 0, 0, 123_456_789, time.UTC)

// serviceEnv is the service on a fresh real store, with a fake clock and one
// registered agent.
type serviceEnv struct {
	ctx   context.Context
	store *store.Store
	clock *testutil.Clock
	svc   *chat.Service
	agent *models.Agent
}

func newServiceEnv(t *testing.T, dialect store.Dialect) *serviceEnv {
	t.Helper()
	e := &serviceEnv{
		ctx:   context.Background(),
		store: testutil.OpenStore(t, dialect),
		clock: testutil.NewClock(serviceStart),
	}
	e.svc = chat.New(e.store, e.clock, models.DefaultSessionPolicy())
	agent, err := e.svc.CreateAgent(e.ctx, chat.CreateAgentInput{Name: "helper"})
	if err != nil {
		t.Fatalf("CreateAgent: %v", err)
	}
	e.agent = agent
	return e
}

// forEachServiceDialect runs f on a fresh service per dialect.
func forEachServiceDialect(t *testing.T, f func(t *testing.T, e *serviceEnv)) {
	t.Helper()
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) { f(t, newServiceEnv(t, dialect)) })
	}
}

// now is the service's notion of the current time (the clock at millisecond precision).
func (e *serviceEnv) now() time.Time { return models.Truncate(e.clock.Now()) }

// openSession opens a session with e.agent for a new user.
func (e *serviceEnv) openSession(t *testing.T, timeout models.TimeoutOverrides) *models.Session {
	t.Helper()
	s, err := e.svc.CreateSession(e.ctx, chat.CreateSessionInput{
		AgentID: e.agent.ID.String(),
		UserID:  testutil.MustUUID(),
		Timeout: timeout,
	})
	if err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return s
}

// send sends a user message and fails the test if it is refused.
func (e *serviceEnv) send(t *testing.T, sessionID uuid.UUID, content string) *models.Message {
	t.Helper()
	msg, err := e.svc.SendMessage(e.ctx, sessionID.String(), models.MessageInput{Content: content})
	if err != nil {
		t.Fatalf("SendMessage at %s: %v", models.FormatTime(e.now()), err)
	}
	if msg.SessionStatus == nil {
		t.Fatal("SendMessage returned a message without sessionStatus")
	}
	return msg
}

// session reads a session back through the service.
func (e *serviceEnv) session(t *testing.T, id uuid.UUID) *models.Session {
	t.Helper()
	s, err := e.svc.Session(e.ctx, id.String())
	if err != nil {
		t.Fatalf("Session: %v", err)
	}
	return s
}

// messageCount counts a session's stored messages, straight from the table.
func (e *serviceEnv) messageCount(t *testing.T, id uuid.UUID) int64 {
	t.Helper()
	var n int64
	if err := e.store.DB().Table("messages").Where("session_id = ?", id).Count(&n).Error; err != nil {
		t.Fatalf("count messages: %v", err)
	}
	return n
}

// wantCode checks that err is an application error with the given code and returns it.
func wantCode(t *testing.T, err error, code models.Code) *models.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want %s", code)
	}
	var appErr *models.Error
	if !errors.As(err, &appErr) {
		t.Fatalf("err = %v (%T), want an *models.Error with code %s", err, err, code)
	}
	if got := appErr.Code; got != code {
		t.Fatalf("error code = %s (%v), want %s", got, err, code)
	}
	return appErr
}

// wantDetails checks an error's details, keys in order.
func wantDetails(t *testing.T, e *models.Error, want string) {
	t.Helper()
	got, err := json.Marshal(e.Details)
	if err != nil {
		t.Fatalf("marshal details: %v", err)
	}
	if string(got) != want {
		t.Errorf("details = %s, want %s", got, want)
	}
}

func intp(v int) *int    { return &v }
func boolp(v bool) *bool { return &v }

func TestCreateAgent(t *testing.T) {
	forEachServiceDialect(t, func(t *testing.T, e *serviceEnv) {
		t.Run("generated id", func(t *testing.T) {
			a, err := e.svc.CreateAgent(e.ctx, chat.CreateAgentInput{Name: "  Ada  "})
			if err != nil {
				t.Fatalf("CreateAgent: %v", err)
			}
			if a.ID == uuid.Nil {
				t.Fatal("generated id is the nil UUID")
			}
			if got, want := a.Name, "Ada"; got != want {
				t.Errorf("name = %q, want %q", got, want)
			}
			if got, want := a.CreatedAt, e.now(); !got.Equal(want) {
				t.Errorf("createdAt = %v, want %v", got, want)
			}
			stored, err := e.svc.Agent(e.ctx, a.ID.String())
			if err != nil {
				t.Fatalf("Agent(%s): %v", a.ID, err)
			}
			if got, want := stored.Name, "Ada"; got != want {
				t.Errorf("stored name = %q, want %q", got, want)
			}
		})

		t.Run("explicit id kept", func(t *testing.T) {
			id := uuid.NewString()
			a, err := e.svc.CreateAgent(e.ctx, chat.CreateAgentInput{ID: strings.ToUpper(id), Name: "Bob",
				SessionDefaults: models.TimeoutOverrides{TimeoutMinutes: intp(60)}})
			if err != nil {
				t.Fatalf("CreateAgent: %v", err)
			}
			if got, want := a.ID.String(), id; got != want {
				t.Errorf("id = %s, want %s", got, want)
			}
			stored, err := e.svc.Agent(e.ctx, id)
			if err != nil {
				t.Fatalf("Agent(%s): %v", id, err)
			}
			if got := stored.SessionDefaults.TimeoutMinutes; got == nil || *got != 60 {
				t.Errorf("stored default timeout = %v, want 60", got)
			}
			if got := stored.SessionDefaults.AutoRenew; got != nil {
				t.Errorf("stored default autoRenew = %v, want unset", *got)
			}
		})

		t.Run("duplicate id", func(t *testing.T) {
			_, err := e.svc.CreateAgent(e.ctx, chat.CreateAgentInput{ID: e.agent.ID.String(), Name: "again"})
			wantCode(t, err, models.CodeValidation)
			stored, err := e.svc.Agent(e.ctx, e.agent.ID.String())
			if err != nil {
				t.Fatalf("Agent: %v", err)
			}
			if got, want := stored.Name, e.agent.Name; got != want {
				t.Errorf("name after a rejected duplicate = %q, want %q", got, want)
			}
		})

		for _, tc := range []struct {
			name string
			in   chat.CreateAgentInput
		}{
			{"id not a uuid", chat.CreateAgentInput{ID: "agent-1", Name: "x"}},
			{"id without dashes", chat.CreateAgentInput{ID: strings.ReplaceAll(uuid.NewString(), "-", ""), Name: "x"}},
			{"id as urn", chat.CreateAgentInput{ID: "urn:uuid:" + uuid.NewString(), Name: "x"}},
			{"empty name", chat.CreateAgentInput{Name: ""}},
			{"blank name", chat.CreateAgentInput{Name: " \t "}},
			{"name too long", chat.CreateAgentInput{Name: strings.Repeat("n", 201)}},
			{"zero default timeout", chat.CreateAgentInput{Name: "x", SessionDefaults: models.TimeoutOverrides{TimeoutMinutes: intp(0)}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.svc.CreateAgent(e.ctx, tc.in)
				wantCode(t, err, models.CodeValidation)
			})
		}
	})
}

func TestCreateSessionRejects(t *testing.T) {
	forEachServiceDialect(t, func(t *testing.T, e *serviceEnv) {
		agentID, userID := e.agent.ID.String(), uuid.NewString()
		for _, tc := range []struct {
			name string
			in   chat.CreateSessionInput
			code models.Code
		}{
			{"unknown agent", chat.CreateSessionInput{AgentID: uuid.NewString(), UserID: userID}, models.CodeAgentNotFound},
			{"missing agentId", chat.CreateSessionInput{UserID: userID}, models.CodeValidation},
			{"missing userId", chat.CreateSessionInput{AgentID: agentID}, models.CodeValidation},
			{"agentId not a uuid", chat.CreateSessionInput{AgentID: "agent", UserID: userID}, models.CodeValidation},
			{"userId not a uuid", chat.CreateSessionInput{AgentID: agentID, UserID: "user-1"}, models.CodeValidation},
			{"userId without dashes", chat.CreateSessionInput{AgentID: agentID, UserID: strings.ReplaceAll(userID, "-", "")}, models.CodeValidation},
			{"zero timeout", chat.CreateSessionInput{AgentID: agentID, UserID: userID,
				Timeout: models.TimeoutOverrides{TimeoutMinutes: intp(0)}}, models.CodeValidation},
			{"metadata too large", chat.CreateSessionInput{AgentID: agentID, UserID: userID,
				Metadata: models.JSONObject(`{"x":"` + strings.Repeat("a", models.MaxMetadataBytes) + `"}`)}, models.CodeValidation},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.svc.CreateSession(e.ctx, tc.in)
				wantCode(t, err, tc.code)
			})
		}
		var n int64
		if err := e.store.DB().Table("sessions").Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%d sessions stored after rejected creates, want 0", n)
		}
	})
}

// TestCreateSessionForItself: a user principal opens sessions for itself
// only. Its own id (in any letter case) or none is accepted; another user's
// id is FORBIDDEN and a malformed one a VALIDATION_ERROR, storing nothing.
func TestCreateSessionForItself(t *testing.T) {
	forEachServiceDialect(t, func(t *testing.T, e *serviceEnv) {
		me := uuid.New()
		ctx := models.WithPrincipal(e.ctx, models.Principal{Role: models.RoleUser, ID: me, Scope: "user:" + me.String()})
		agentID := e.agent.ID.String()
		for _, tc := range []struct {
			name, userID string
			code         models.Code // "" = created for me
		}{
			{"own id", me.String(), ""},
			{"own id in capitals", strings.ToUpper(me.String()), ""},
			{"no id", "", ""},
			{"another user's id", uuid.NewString(), models.CodeForbidden},
			{"malformed id", "user-1", models.CodeValidation},
			{"id without dashes", strings.ReplaceAll(me.String(), "-", ""), models.CodeValidation},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var before, after int64
				e.store.DB().Table("sessions").Count(&before)
				s, err := e.svc.CreateSession(ctx, chat.CreateSessionInput{AgentID: agentID, UserID: tc.userID})
				e.store.DB().Table("sessions").Count(&after)
				if tc.code == "" {
					if err != nil || s.UserID != me {
						t.Fatalf("got %v, %v; want a session of %s", s, err, me)
					}
					return
				}
				wantCode(t, err, tc.code)
				if after != before {
					t.Errorf("a refused create stored a session")
				}
			})
		}
	})
}

func TestCreateSessionResolvesConfig(t *testing.T) {
	forEachServiceDialect(t, func(t *testing.T, e *serviceEnv) {
		e.clock.Advance(7*time.Minute + 42*time.Millisecond + 999*time.Microsecond)
		for _, tc := range []struct {
			name     string
			defaults models.TimeoutOverrides // the agent's
			request  models.TimeoutOverrides
			want     models.TimeoutConfig
		}{
			{"global defaults", models.TimeoutOverrides{}, models.TimeoutOverrides{},
				models.TimeoutConfig{TimeoutMinutes: 30, AutoRenew: true, MaxDurationMinutes: 720, WarningThresholdMinutes: 5}},
			{"agent defaults over global", models.TimeoutOverrides{TimeoutMinutes: intp(60), AutoRenew: boolp(false)}, models.TimeoutOverrides{},
				models.TimeoutConfig{TimeoutMinutes: 60, AutoRenew: false, MaxDurationMinutes: 720, WarningThresholdMinutes: 5}},
			{"request over agent defaults",
				models.TimeoutOverrides{TimeoutMinutes: intp(60), AutoRenew: boolp(false), MaxDurationMinutes: intp(100), WarningThresholdMinutes: intp(10)},
				models.TimeoutOverrides{TimeoutMinutes: intp(45), AutoRenew: boolp(true)},
				models.TimeoutConfig{TimeoutMinutes: 45, AutoRenew: true, MaxDurationMinutes: 100, WarningThresholdMinutes: 10}},
			{"timeout clamped up", models.TimeoutOverrides{}, models.TimeoutOverrides{TimeoutMinutes: intp(1)},
				models.TimeoutConfig{TimeoutMinutes: 5, AutoRenew: true, MaxDurationMinutes: 720, WarningThresholdMinutes: 5}},
			{"timeout clamped down, max duration raised to it", models.TimeoutOverrides{}, models.TimeoutOverrides{TimeoutMinutes: intp(100000)},
				models.TimeoutConfig{TimeoutMinutes: 1440, AutoRenew: true, MaxDurationMinutes: 1440, WarningThresholdMinutes: 5}},
			{"agent timeout clamped", models.TimeoutOverrides{TimeoutMinutes: intp(2)}, models.TimeoutOverrides{},
				models.TimeoutConfig{TimeoutMinutes: 5, AutoRenew: true, MaxDurationMinutes: 720, WarningThresholdMinutes: 5}},
			{"max duration at least timeout", models.TimeoutOverrides{}, models.TimeoutOverrides{MaxDurationMinutes: intp(10)},
				models.TimeoutConfig{TimeoutMinutes: 30, AutoRenew: true, MaxDurationMinutes: 30, WarningThresholdMinutes: 5}},
			{"max duration at most twice max timeout", models.TimeoutOverrides{}, models.TimeoutOverrides{MaxDurationMinutes: intp(100000)},
				models.TimeoutConfig{TimeoutMinutes: 30, AutoRenew: true, MaxDurationMinutes: 2880, WarningThresholdMinutes: 5}},
			{"warning at most timeout", models.TimeoutOverrides{}, models.TimeoutOverrides{TimeoutMinutes: intp(10), WarningThresholdMinutes: intp(100)},
				models.TimeoutConfig{TimeoutMinutes: 10, AutoRenew: true, MaxDurationMinutes: 720, WarningThresholdMinutes: 10}},
			{"agent warning clamped after request timeout", models.TimeoutOverrides{WarningThresholdMinutes: intp(20)}, models.TimeoutOverrides{TimeoutMinutes: intp(8)},
				models.TimeoutConfig{TimeoutMinutes: 8, AutoRenew: true, MaxDurationMinutes: 720, WarningThresholdMinutes: 8}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				agent, err := e.svc.CreateAgent(e.ctx, chat.CreateAgentInput{Name: tc.name, SessionDefaults: tc.defaults})
				if err != nil {
					t.Fatalf("CreateAgent: %v", err)
				}
				userID := uuid.New()
				metadata := models.JSONObject(`{"plan":"pro","n":[1,2]}`)
				created, err := e.svc.CreateSession(e.ctx, chat.CreateSessionInput{
					AgentID: agent.ID.String(), UserID: userID.String(), Metadata: metadata, Timeout: tc.request,
				})
				if err != nil {
					t.Fatalf("CreateSession: %v", err)
				}
				now := e.now()
				for _, s := range []*models.Session{created, e.session(t, created.ID)} {
					if got, want := s.TimeoutConfig, tc.want; got != want {
						t.Errorf("timeoutConfig = %+v, want %+v", got, want)
					}
					if s.AgentID != agent.ID || s.UserID != userID {
						t.Errorf("agentId/userId = %v/%v, want %v/%v", s.AgentID, s.UserID, agent.ID, userID)
					}
					if !s.CreatedAt.Equal(now) || !s.LastActivity.Equal(now) {
						t.Errorf("createdAt/lastActivity = %v/%v, want %v", s.CreatedAt, s.LastActivity, now)
					}
					if got, want := s.ExpiresAt, now.Add(time.Duration(tc.want.TimeoutMinutes)*time.Minute); !got.Equal(want) {
						t.Errorf("expiresAt = %v, want createdAt + timeout = %v", got, want)
					}
					if got, want := s.RenewalCount, 0; got != want {
						t.Errorf("renewalCount = %d, want %d", got, want)
					}
					var gotMeta, wantMeta any
					if err := json.Unmarshal(s.Metadata, &gotMeta); err != nil {
						t.Fatalf("metadata %q: %v", s.Metadata, err)
					}
					_ = json.Unmarshal(metadata, &wantMeta)
					if got, want := mustJSON(t, gotMeta), mustJSON(t, wantMeta); got != want {
						t.Errorf("metadata = %s, want %s", got, want)
					}
				}
			})
		}
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSendMessageRenews(t *testing.T) {
	forEachServiceDialect(t, func(t *testing.T, e *serviceEnv) {
		s := e.openSession(t, models.TimeoutOverrides{})
		e.clock.Advance(10*time.Minute + 500*time.Microsecond)
		now := e.now()
		msg, err := e.svc.SendMessage(e.ctx, s.ID.String(), models.MessageInput{
			Content:     "hello",
			Metadata:    models.JSONObject(`{"k":"v"}`),
			Attachments: models.Attachments{{Type: "image", URL: "https://example.com/a.png"}},
		})
		if err != nil {
			t.Fatalf("SendMessage: %v", err)
		}
		wantStatus := models.SessionStatus{ExpiresAt: now.Add(30 * time.Minute), RenewalCount: 1, WasRenewed: true, IsNearExpiration: false}
		if msg.SessionStatus == nil {
			t.Fatal("sessionStatus is nil")
		}
		if got := *msg.SessionStatus; !sameStatus(got, wantStatus) {
			t.Errorf("sessionStatus = %+v, want %+v", got, wantStatus)
		}
		if got, want := msg.AuthorID, s.UserID; got != want {
			t.Errorf("authorId = %v, want the session's userId %v", got, want)
		}
		if msg.IsAgent {
			t.Error("isAgent = true, want false")
		}
		if msg.SessionID != s.ID || msg.Content != "hello" || !msg.CreatedAt.Equal(now) {
			t.Errorf("message = {session %v, %q, %v}, want {%v, %q, %v}", msg.SessionID, msg.Content, msg.CreatedAt, s.ID, "hello", now)
		}
		stored := e.session(t, s.ID)
		if !stored.LastActivity.Equal(now) || !stored.ExpiresAt.Equal(wantStatus.ExpiresAt) || stored.RenewalCount != 1 {
			t.Errorf("stored session lastActivity/expiresAt/renewalCount = %v/%v/%d, want %v/%v/1",
				stored.LastActivity, stored.ExpiresAt, stored.RenewalCount, now, wantStatus.ExpiresAt)
		}
		if !stored.CreatedAt.Equal(s.CreatedAt) {
			t.Errorf("createdAt changed to %v, want %v", stored.CreatedAt, s.CreatedAt)
		}
		page, err := e.svc.Messages(e.ctx, s.ID.String(), models.PageArgs{})
		if err != nil {
			t.Fatalf("Messages: %v", err)
		}
		if len(page.Messages) != 1 || page.Messages[0].ID != msg.ID || page.Messages[0].AuthorID != s.UserID {
			t.Fatalf("history = %+v, want just the sent message", page.Messages)
		}
		if got, want := len(page.Messages[0].Attachments), 1; got != want {
			t.Errorf("stored attachments = %d, want %d", got, want)
		}

		// A second send slides expiresAt again.
		e.clock.Advance(5 * time.Minute)
		second := e.send(t, s.ID, "again")
		if got, want := *second.SessionStatus, (models.SessionStatus{ExpiresAt: e.now().Add(30 * time.Minute), RenewalCount: 2, WasRenewed: true}); !sameStatus(got, want) {
			t.Errorf("second sessionStatus = %+v, want %+v", got, want)
		}
	})
}

func sameStatus(a, b models.SessionStatus) bool {
	return a.ExpiresAt.Equal(b.ExpiresAt) && a.RenewalCount == b.RenewalCount &&
		a.WasRenewed == b.WasRenewed && a.IsNearExpiration == b.IsNearExpiration
}

func TestSendMessageWithoutAutoRenew(t *testing.T) {
	forEachServiceDialect(t, func(t *testing.T, e *serviceEnv) {
		s := e.openSession(t, models.TimeoutOverrides{AutoRenew: boolp(false)})
		for i, step := range []struct {
			advance time.Duration
			nearing bool // 0 < expiresAt - now <= 5 minutes
		}{
			{advance: 10 * time.Minute},           // 20 minutes left
			{advance: 14 * time.Minute},           // 6 minutes left
			{advance: time.Minute, nearing: true}, // exactly 5 minutes left
			{advance: 4*time.Minute + 59*time.Second + 999*time.Millisecond, nearing: true}, // 1 ms left
		} {
			e.clock.Advance(step.advance)
			msg := e.send(t, s.ID, "no renew")
			want := models.SessionStatus{ExpiresAt: s.ExpiresAt, RenewalCount: 0, WasRenewed: false, IsNearExpiration: step.nearing}
			if got := *msg.SessionStatus; !sameStatus(got, want) {
				t.Errorf("send %d: sessionStatus = %+v, want %+v", i, got, want)
			}
			stored := e.session(t, s.ID)
			if !stored.LastActivity.Equal(e.now()) {
				t.Errorf("send %d: lastActivity = %v, want %v", i, stored.LastActivity, e.now())
			}
			if !stored.ExpiresAt.Equal(s.ExpiresAt) || stored.RenewalCount != 0 {
				t.Errorf("send %d: expiresAt/renewalCount = %v/%d, want %v/0", i, stored.ExpiresAt, stored.RenewalCount, s.ExpiresAt)
			}
		}
		if got, want := e.messageCount(t, s.ID), int64(4); got != want {
			t.Errorf("messages = %d, want %d", got, want)
		}
		e.clock.Advance(time.Millisecond) // now == expiresAt
		_, err := e.svc.SendMessage(e.ctx, s.ID.String(), models.MessageInput{Content: "late"})
		wantCode(t, err, models.CodeSessionExpired)
	})
}

// TestSendMessageUpToTheCap: expiresAt never passes createdAt + maxDuration,
// so a session is always expired by the time its cap is reached; before
// that, a send still renews (the count grows) but expiresAt is clipped.
func TestSendMessageUpToTheCap(t *testing.T) {
	forEachServiceDialect(t, func(t *testing.T, e *serviceEnv) {
		s := e.openSession(t, models.TimeoutOverrides{TimeoutMinutes: intp(30), MaxDurationMinutes: intp(60)})
		hardCap := s.CreatedAt.Add(60 * time.Minute)

		e.clock.Advance(20 * time.Minute)
		msg := e.send(t, s.ID, "at 20")
		if got, want := *msg.SessionStatus, (models.SessionStatus{ExpiresAt: s.CreatedAt.Add(50 * time.Minute), RenewalCount: 1, WasRenewed: true}); !sameStatus(got, want) {
			t.Errorf("at +20m: sessionStatus = %+v, want %+v", got, want)
		}

		e.clock.Advance(20 * time.Minute)
		msg = e.send(t, s.ID, "at 40")
		if got, want := *msg.SessionStatus, (models.SessionStatus{ExpiresAt: hardCap, RenewalCount: 2, WasRenewed: true}); !sameStatus(got, want) {
			t.Errorf("at +40m: sessionStatus = %+v, want %+v (expiresAt clipped to the cap)", got, want)
		}

		e.clock.Advance(16 * time.Minute) // 4 minutes before the cap
		msg = e.send(t, s.ID, "at 56")
		if got, want := *msg.SessionStatus, (models.SessionStatus{ExpiresAt: hardCap, RenewalCount: 3, WasRenewed: true, IsNearExpiration: true}); !sameStatus(got, want) {
			t.Errorf("at +56m: sessionStatus = %+v, want %+v", got, want)
		}

		e.clock.Set(hardCap.Add(-time.Millisecond))
		msg = e.send(t, s.ID, "last millisecond")
		if got, want := *msg.SessionStatus, (models.SessionStatus{ExpiresAt: hardCap, RenewalCount: 4, WasRenewed: true, IsNearExpiration: true}); !sameStatus(got, want) {
			t.Errorf("at cap-1ms: sessionStatus = %+v, want %+v", got, want)
		}

		e.clock.Set(hardCap)
		_, err := e.svc.SendMessage(e.ctx, s.ID.String(), models.MessageInput{Content: "at the cap"})
		wantCode(t, err, models.CodeSessionExpired)
		stored := e.session(t, s.ID)
		if !stored.ExpiresAt.Equal(hardCap) || stored.RenewalCount != 4 {
			t.Errorf("stored expiresAt/renewalCount = %v/%d, want %v/4", stored.ExpiresAt, stored.RenewalCount, hardCap)
		}
		if got, want := e.messageCount(t, s.ID), int64(4); got != want {
			t.Errorf("messages = %d, want %d", got, want)
		}
	})
}

func TestSendMessageNearExpiration(t *testing.T) {
	forEachServiceDialect(t, func(t *testing.T, e *serviceEnv) {
		t.Run("renewal leaves the session inside its window", func(t *testing.T) {
			// timeout 5 clamps the warning threshold to 5: after every renewal
			// exactly 5 minutes are left.
			s := e.openSession(t, models.TimeoutOverrides{TimeoutMinutes: intp(5), WarningThresholdMinutes: intp(10)})
			if got, want := s.TimeoutConfig.WarningThresholdMinutes, 5; got != want {
				t.Fatalf("warning threshold = %d, want %d", got, want)
			}
			e.clock.Advance(time.Minute)
			msg := e.send(t, s.ID, "hi")
			if !msg.SessionStatus.WasRenewed || !msg.SessionStatus.IsNearExpiration {
				t.Errorf("sessionStatus = %+v, want renewed and near expiration", *msg.SessionStatus)
			}
		})
		t.Run("renewal leaves the session outside its window", func(t *testing.T) {
			s := e.openSession(t, models.TimeoutOverrides{TimeoutMinutes: intp(6), WarningThresholdMinutes: intp(5)})
			e.clock.Advance(5*time.Minute + 30*time.Second) // 30 s left before the send
			msg := e.send(t, s.ID, "hi")
			if !msg.SessionStatus.WasRenewed || msg.SessionStatus.IsNearExpiration {
				t.Errorf("sessionStatus = %+v, want renewed and not near expiration (computed after the update)", *msg.SessionStatus)
			}
		})
	})
}

func TestSendMessageExpired(t *testing.T) {
	forEachServiceDialect(t, func(t *testing.T, e *serviceEnv) {
		s := e.openSession(t, models.TimeoutOverrides{})
		e.clock.Set(s.ExpiresAt) // expiresAt <= now
		wantDetailsJSON := `{"sessionId":"` + s.ID.String() + `","expiresAt":"` + models.FormatTime(s.ExpiresAt) + `"}`
		for i, advance := range []time.Duration{0, time.Millisecond, time.Hour, 30 * 24 * time.Hour} {
			e.clock.Advance(advance)
			_, err := e.svc.SendMessage(e.ctx, s.ID.String(), models.MessageInput{Content: "too late"})
			appErr := wantCode(t, err, models.CodeSessionExpired)
			wantDetails(t, appErr, wantDetailsJSON)

			got, err := e.svc.Session(e.ctx, s.ID.String())
			if err != nil {
				t.Fatalf("call %d: Session of an expired session: %v, want it returned", i, err)
			}
			if got, want := got.StateAt(e.svc.Now()), models.SessionStateExpired; got != want {
				t.Errorf("call %d: state = %s, want %s", i, got, want)
			}
			if !got.ExpiresAt.Equal(s.ExpiresAt) || got.RenewalCount != 0 || !got.LastActivity.Equal(s.LastActivity) {
				t.Errorf("call %d: expired session changed: %+v", i, got)
			}
		}
		if got, want := e.messageCount(t, s.ID), int64(0); got != want {
			t.Errorf("messages = %d, want %d", got, want)
		}
	})
}

func TestSendMessageUnknownSession(t *testing.T) {
	forEachServiceDialect(t, func(t *testing.T, e *serviceEnv) {
		e.openSession(t, models.TimeoutOverrides{})
		for _, id := range []string{uuid.NewString(), "not-a-uuid", "", strings.ReplaceAll(uuid.NewString(), "-", "")} {
			_, err := e.svc.SendMessage(e.ctx, id, models.MessageInput{Content: "hi"})
			appErr := wantCode(t, err, models.CodeSessionNotFound)
			wantDetails(t, appErr, `{"sessionId":"`+id+`"}`)
			_, err = e.svc.Session(e.ctx, id)
			wantCode(t, err, models.CodeSessionNotFound)
		}
	})
}

func TestSendMessageInvalidInput(t *testing.T) {
	invalid := []struct {
		name string
		in   models.MessageInput
	}{
		{"empty content", models.MessageInput{Content: ""}},
		{"content too long", models.MessageInput{Content: strings.Repeat("é", models.MaxContentChars+1)}},
		{"invalid utf-8", models.MessageInput{Content: "a\xffb"}},
		{"relative attachment url", models.MessageInput{Content: "ok", Attachments: models.Attachments{{Type: "file", URL: "/a.png"}}}},
	}
	forEachServiceDialect(t, func(t *testing.T, e *serviceEnv) {
		live := e.openSession(t, models.TimeoutOverrides{})
		expired := e.openSession(t, models.TimeoutOverrides{TimeoutMinutes: intp(5)})
		e.clock.Set(expired.ExpiresAt)
		if live.IsExpired(e.now()) {
			t.Fatal("the live session expired too early")
		}
		for _, tc := range invalid {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.svc.SendMessage(e.ctx, uuid.NewString(), tc.in)
				wantCode(t, err, models.CodeSessionNotFound)
				_, err = e.svc.SendMessage(e.ctx, expired.ID.String(), tc.in)
				wantCode(t, err, models.CodeSessionExpired)
				_, err = e.svc.SendMessage(e.ctx, live.ID.String(), tc.in)
				wantCode(t, err, models.CodeValidation)
			})
		}
		for _, s := range []*models.Session{live, expired} {
			if got, want := e.messageCount(t, s.ID), int64(0); got != want {
				t.Errorf("messages in %v = %d, want %d", s.ID, got, want)
			}
			stored := e.session(t, s.ID)
			if stored.RenewalCount != 0 || !stored.LastActivity.Equal(s.LastActivity) || !stored.ExpiresAt.Equal(s.ExpiresAt) {
				t.Errorf("session %v changed by rejected sends: %+v", s.ID, stored)
			}
		}

		// The limits themselves are accepted: 4000 code points of a two-byte character.
		msg := e.send(t, live.ID, strings.Repeat("é", models.MaxContentChars))
		if got, want := msg.SessionStatus.RenewalCount, 1; got != want {
			t.Errorf("renewalCount after a valid send = %d, want %d", got, want)
		}
	})
}

func TestSendMessageConcurrentOneSession(t *testing.T) {
	forEachServiceDialect(t, func(t *testing.T, e *serviceEnv) {
		s := e.openSession(t, models.TimeoutOverrides{})
		e.clock.Advance(time.Minute)
		const senders = 64
		msgs := concurrentSends(t, e, []uuid.UUID{s.ID}, senders)[s.ID]
		checkConcurrentSends(t, e, s.ID, msgs, senders)
	})
}

func TestSendMessageConcurrentManySessions(t *testing.T) {
	forEachServiceDialect(t, func(t *testing.T, e *serviceEnv) {
		const sessions, senders = 8, 16
		ids := make([]uuid.UUID, sessions)
		for i := range ids {
			ids[i] = e.openSession(t, models.TimeoutOverrides{}).ID
		}
		e.clock.Advance(time.Minute)
		results := concurrentSends(t, e, ids, senders)
		for _, id := range ids {
			checkConcurrentSends(t, e, id, results[id], senders)
		}
	})
}

// concurrentSends starts perSession senders on each session, all at once,
// and returns the messages each session's senders got back.
func concurrentSends(t *testing.T, e *serviceEnv, ids []uuid.UUID, perSession int) map[uuid.UUID][]*models.Message {
	t.Helper()
	results := make(map[uuid.UUID][]*models.Message, len(ids))
	for _, id := range ids {
		results[id] = make([]*models.Message, perSession)
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, id := range ids {
		out := results[id]
		for i := range perSession {
			wg.Go(func() {
				<-start
				msg, err := e.svc.SendMessage(e.ctx, id.String(), models.MessageInput{Content: "concurrent"})
				if err != nil {
					t.Errorf("SendMessage to %v: %v", id, err)
					return
				}
				out[i] = msg
			})
		}
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return results
}

// checkConcurrentSends checks that n concurrent sends to one session were
// serialized: each saw a distinct renewal count 1..n, and all n are stored.
func checkConcurrentSends(t *testing.T, e *serviceEnv, id uuid.UUID, msgs []*models.Message, n int) {
	t.Helper()
	counts := make([]int, 0, n)
	seen := make(map[uuid.UUID]bool, n)
	for _, m := range msgs {
		if m.SessionStatus == nil {
			t.Fatalf("session %v: a message without sessionStatus", id)
		}
		counts = append(counts, m.SessionStatus.RenewalCount)
		if !m.SessionStatus.WasRenewed {
			t.Errorf("session %v: a send was not renewed", id)
		}
		if seen[m.ID] {
			t.Errorf("session %v: message id %v returned twice", id, m.ID)
		}
		seen[m.ID] = true
	}
	slices.Sort(counts)
	want := make([]int, n)
	for i := range want {
		want[i] = i + 1
	}
	if !slices.Equal(counts, want) {
		t.Errorf("session %v: renewal counts returned = %v, want each of 1..%d once", id, counts, n)
	}
	if got := e.session(t, id).RenewalCount; got != n {
		t.Errorf("session %v: stored renewalCount = %d, want %d", id, got, n)
	}
	if got := e.messageCount(t, id); got != int64(n) {
		t.Errorf("session %v: stored messages = %d, want %d", id, got, n)
	}
}
