package rest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"sessionhub/internal/chat"
	"sessionhub/internal/rest"
	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
	"sessionhub/models"
)

// shim is the REST shim over a real store and a fake clock, served in process.
type shim struct {
	t       testing.TB
	mux     *http.ServeMux
	svc     *chat.Service
	clock   *testutil.Clock
	store   *store.Store
	agentID string
}

func newShim(t testing.TB, dialect store.Dialect) *shim {
	t.Helper()
	s := &shim{t: t, clock: testutil.NewClock(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)), mux: http.NewServeMux()}
	s.store = testutil.OpenStore(t, dialect)
	s.svc = chat.New(s.store, s.clock, models.DefaultSessionPolicy())
	rest.New(s.svc, testutil.Logger()).Register(s.mux)
	agent, err := s.svc.CreateAgent(context.Background(), chat.CreateAgentInput{Name: "Eliza"})
	if err != nil {
		t.Fatal(err)
	}
	s.agentID = agent.ID.String()
	return s
}

type reply struct {
	Status int
	Header http.Header
	Body   []byte
}

func (s *shim) do(method, path, body string) reply {
	s.t.Helper()
	contentType := ""
	if body != "" {
		contentType = "application/json"
	}
	return s.raw(method, path, contentType, []byte(body))
}

// raw sends any bytes with any Content-Type ("" sends none).
func (s *shim) raw(method, path, contentType string, body []byte) reply {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	s.mux.ServeHTTP(rec, req)
	return reply{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// with returns the shim reporting to t (one fuzz input's test).
func (s *shim) with(t testing.TB) *shim {
	c := *s
	c.t = t
	return &c
}

// ok runs a request that must answer status and decodes the body into out.
func (s *shim) ok(method, path, body string, status int, out any) {
	s.t.Helper()
	r := s.do(method, path, body)
	if r.Status != status {
		s.t.Fatalf("%s %s: %d %s, want %d", method, path, r.Status, r.Body, status)
	}
	if out != nil {
		if err := json.Unmarshal(r.Body, out); err != nil {
			s.t.Fatal(err)
		}
	}
}

// fails runs a request that must fail with status and code.
func (s *shim) fails(method, path, body string, status int, code string) reply {
	s.t.Helper()
	r := s.do(method, path, body)
	var e struct{ Error, Code string }
	_ = json.Unmarshal(r.Body, &e)
	if r.Status != status || e.Code != code || e.Error == "" {
		s.t.Errorf("%s %s: %d %s, want %d %s", method, path, r.Status, r.Body, status, code)
	}
	return r
}

func (s *shim) session(timeout string) string {
	s.t.Helper()
	body := `{"agentId":"` + s.agentID + `","userId":"` + testutil.MustUUID() + `"`
	if timeout != "" {
		body += `,"timeoutConfig":` + timeout
	}
	var out struct{ SessionID string }
	s.ok("POST", "/api/messaging/sessions", body+"}", 201, &out)
	return out.SessionID
}

func (s *shim) send(id, content string) string {
	s.t.Helper()
	var out struct{ ID string }
	s.ok("POST", "/api/messaging/sessions/"+id+"/messages", `{"content":"`+content+`"}`, 201, &out)
	return out.ID
}

type info struct {
	SessionID, ChannelID, AgentID, UserID string
	CreatedAt, LastActivity, ExpiresAt    string
	Metadata                              map[string]any
	TimeoutConfig                         models.TimeoutConfig
	RenewalCount                          int
	TimeRemaining                         int64
	IsNearExpiration                      bool
}

func keys(t *testing.T, raw []byte) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var out []string
	for dec.More() {
		k, _ := dec.Token()
		out = append(out, k.(string))
		var skip json.RawMessage
		_ = dec.Decode(&skip)
	}
	return out
}

func TestSessionRoutes(t *testing.T) {
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			s := newShim(t, dialect)
			unknown := "/api/messaging/sessions/" + testutil.MustUUID()

			t.Run("info", func(t *testing.T) {
				id := s.session(`{"timeoutMinutes":10,"warningThresholdMinutes":5}`)
				r := s.do("GET", "/api/messaging/sessions/"+id, "")
				want := []string{"sessionId", "channelId", "agentId", "userId", "createdAt", "lastActivity", "metadata", "expiresAt", "timeoutConfig", "renewalCount", "timeRemaining", "isNearExpiration"}
				if got := keys(t, r.Body); r.Status != 200 || !slices.Equal(got, want) {
					t.Fatalf("%d keys %v, want %v", r.Status, got, want)
				}
				s.clock.Advance(6 * time.Minute)
				var got info
				s.ok("GET", "/api/messaging/sessions/"+id, "", 200, &got)
				if got.TimeRemaining != 4*60*1000 || !got.IsNearExpiration || got.ChannelID != id {
					t.Errorf("info %+v, want 240000 ms left, near expiration", got)
				}
				s.fails("GET", unknown, "", 404, "SESSION_NOT_FOUND")
				s.clock.Advance(5 * time.Minute)
				r = s.fails("GET", "/api/messaging/sessions/"+id, "", 410, "SESSION_EXPIRED")
				if r.Header.Get("Cache-Control") != "no-store" {
					t.Error("410 without Cache-Control: no-store")
				}
				s.fails("GET", "/api/messaging/sessions/"+id, "", 410, "SESSION_EXPIRED") // still, never 404
			})

			t.Run("renew and heartbeat, at and past the cap", func(t *testing.T) {
				id := s.session(`{"timeoutMinutes":30,"maxDurationMinutes":60}`)
				path := "/api/messaging/sessions/" + id
				var got info
				s.clock.Advance(20 * time.Minute)
				s.ok("POST", path+"/heartbeat", "", 200, &got)
				if got.RenewalCount != 1 || got.LastActivity != models.FormatTime(s.clock.Now()) {
					t.Errorf("heartbeat: %+v", got)
				}
				s.clock.Advance(20 * time.Minute)
				s.ok("POST", path+"/renew", "", 200, &got)
				hardCap := models.FormatTime(s.clock.Now().Add(20 * time.Minute))
				if got.RenewalCount != 2 || got.ExpiresAt != hardCap {
					t.Errorf("renew at the cap: %+v, want expiresAt %s", got, hardCap)
				}
				s.clock.Advance(20 * time.Minute) // the cap
				s.fails("POST", path+"/renew", "", 422, "SESSION_RENEWAL_FAILED")
				s.fails("POST", path+"/heartbeat", "", 410, "SESSION_EXPIRED")
				s.fails("POST", unknown+"/renew", "", 404, "SESSION_NOT_FOUND")
				s.fails("POST", unknown+"/heartbeat", "", 404, "SESSION_NOT_FOUND")
			})

			t.Run("PATCH merges over the current config", func(t *testing.T) {
				id := s.session(`{"timeoutMinutes":10,"autoRenew":false}`)
				path := "/api/messaging/sessions/" + id + "/timeout"
				var got info
				s.ok("PATCH", path, `{"timeoutMinutes":60}`, 200, &got)
				if got.TimeoutConfig.TimeoutMinutes != 60 || got.TimeoutConfig.AutoRenew {
					t.Errorf("after PATCH: %+v, want timeout 60, autoRenew still false", got.TimeoutConfig)
				}
				s.ok("PATCH", path, `{}`, 200, &got)
				if got.TimeoutConfig.TimeoutMinutes != 60 || got.TimeoutConfig.AutoRenew {
					t.Errorf("after PATCH {}: %+v", got.TimeoutConfig)
				}
				r := s.fails("PATCH", path, `{"timeoutMinutes":2}`, 400, "VALIDATION_ERROR")
				if !strings.Contains(string(r.Body), "Timeout must be between 5 and 1440 minutes") {
					t.Errorf("body %s", r.Body)
				}
				s.fails("PATCH", path, `{"autoRenew":"yes"}`, 400, "VALIDATION_ERROR")
				s.fails("PATCH", path, ``, 400, "VALIDATION_ERROR")
				s.fails("PATCH", unknown+"/timeout", `not json`, 404, "SESSION_NOT_FOUND") // 404 wins over the body
				s.ok("GET", "/api/messaging/sessions/"+id, "", 200, &got)
				if got.TimeoutConfig.TimeoutMinutes != 60 {
					t.Errorf("a rejected PATCH changed the config: %+v", got.TimeoutConfig)
				}
			})

			t.Run("delete, then every route is 404", func(t *testing.T) {
				id := s.session("")
				s.send(id, "soon gone")
				path := "/api/messaging/sessions/" + id
				var out struct {
					Success bool
					Message string
				}
				s.ok("DELETE", path, "", 200, &out)
				if !out.Success || out.Message != "Session "+id+" deleted successfully" {
					t.Errorf("delete body %+v", out)
				}
				for _, r := range []struct{ method, path, body string }{
					{"GET", path, ""}, {"GET", path + "/messages", ""}, {"POST", path + "/messages", `{"content":"x"}`},
					{"POST", path + "/renew", ""}, {"POST", path + "/heartbeat", ""}, {"PATCH", path + "/timeout", `{}`}, {"DELETE", path, ""},
				} {
					s.fails(r.method, r.path, r.body, 404, "SESSION_NOT_FOUND")
				}
				var n int64
				s.store.DB().Table("messages").Where("session_id = ?", id).Count(&n)
				if n != 0 {
					t.Errorf("%d messages left", n)
				}
			})

			t.Run("list", func(t *testing.T) {
				fresh := newShim(t, dialect)
				var ids []string
				for range 5 {
					fresh.clock.Advance(time.Second)
					ids = append(ids, fresh.session(""))
				}
				expiring := fresh.session(`{"timeoutMinutes":5}`)
				fresh.clock.Advance(6 * time.Minute) // the last one expired
				var seen []string
				cursor := ""
				for pages := 0; ; pages++ {
					var page struct {
						Sessions   []info
						Total      int
						Stats      struct{ TotalSessions, ActiveSessions, ExpiredSessions int }
						HasMore    bool
						NextCursor string
					}
					fresh.ok("GET", "/api/messaging/sessions?limit=2&cursor="+url.QueryEscape(cursor), "", 200, &page)
					for _, x := range page.Sessions {
						seen = append(seen, x.SessionID)
					}
					if page.Total != 5 || page.Stats.TotalSessions != 6 || page.Stats.ActiveSessions != 5 || page.Stats.ExpiredSessions != 1 {
						t.Errorf("counts %+v %+v", page.Total, page.Stats)
					}
					if !page.HasMore {
						break
					}
					cursor = page.NextCursor
					if pages > 5 {
						t.Fatal("paging does not end")
					}
				}
				if !slices.Equal(seen, ids) || slices.Contains(seen, expiring) {
					t.Errorf("listed %v, want the live sessions oldest first %v", seen, ids)
				}
				fresh.fails("GET", "/api/messaging/sessions?cursor=garbage", "", 400, "VALIDATION_ERROR")
			})

			t.Run("health", func(t *testing.T) {
				var h struct {
					Status         string
					ActiveSessions int
					Timestamp      string
					ExpiringSoon   int
					Uptime         float64
				}
				r := s.do("GET", "/api/messaging/sessions/health", "")
				if got := keys(t, r.Body); !slices.Equal(got, []string{"status", "activeSessions", "timestamp", "expiringSoon", "uptime"}) {
					t.Errorf("health keys %v", got)
				}
				s.ok("GET", "/api/messaging/sessions/health", "", 200, &h)
				if h.Status != "healthy" || h.Timestamp != models.FormatTime(s.clock.Now()) {
					t.Errorf("health %+v", h)
				}
				_ = s.store.Close() // the database goes away
				r = s.do("GET", "/api/messaging/sessions/health", "")
				if r.Status != 503 || !strings.Contains(string(r.Body), `"status":"unhealthy"`) {
					t.Errorf("health without a database: %d %s", r.Status, r.Body)
				}
			})
		})
	}
}

type historyPage struct {
	Messages []struct {
		ID, Content, AuthorID, CreatedAt string
		IsAgent                          bool
	}
	HasMore bool
	Cursors *struct {
		Before, After int64
	}
	CursorTokens *struct {
		Before, After string
	}
}

// TestHistoryPaging walks 265 messages, 200 sharing one millisecond, back and
// forth with the exact cursor tokens: each appears once, newest first, and
// hasMore is exact.
func TestHistoryPaging(t *testing.T) {
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			s := newShim(t, dialect)
			id := s.session("")
			path := "/api/messaging/sessions/" + id + "/messages"
			var sent []string // oldest first
			for i := range 265 {
				if i < 30 || i >= 230 {
					s.clock.Advance(time.Millisecond)
				}
				sent = append(sent, s.send(id, fmt.Sprintf("m%d", i)))
			}
			newestFirst := slices.Clone(sent)
			slices.Reverse(newestFirst)

			var backward []string // from the newest towards the oldest, with before=
			query := "?limit=100"
			for pages := 1; ; pages++ {
				var p historyPage
				s.ok("GET", path+query, "", 200, &p)
				for _, m := range p.Messages {
					backward = append(backward, m.ID)
				}
				if want := pages < 3; p.HasMore != want {
					t.Errorf("page %d: hasMore %v, want %v", pages, p.HasMore, want)
				}
				if !p.HasMore {
					break
				}
				query = "?limit=100&before=" + url.QueryEscape(p.CursorTokens.Before)
			}
			if !slices.Equal(backward, newestFirst) {
				t.Errorf("paging with before returned %d ids, want all %d once, newest first", len(backward), len(sent))
			}

			var forward []string // from the oldest towards the newest, with after=
			var first historyPage
			s.ok("GET", path+"?limit=1&after=0", "", 200, &first) // the oldest message
			if len(first.Messages) != 1 || first.Messages[0].ID != sent[0] || !first.HasMore {
				t.Fatalf("after=0&limit=1: %+v", first)
			}
			forward = append(forward, sent[0])
			token := first.CursorTokens.After
			for {
				var p historyPage
				s.ok("GET", path+"?limit=100&after="+url.QueryEscape(token), "", 200, &p)
				page := make([]string, 0, len(p.Messages))
				for _, m := range p.Messages {
					page = append(page, m.ID)
				}
				slices.Reverse(page) // each page is newest first
				forward = append(forward, page...)
				if !p.HasMore {
					break
				}
				token = p.CursorTokens.After
			}
			if !slices.Equal(forward, sent) {
				t.Errorf("paging with after returned %d ids, want all %d once", len(forward), len(sent))
			}

			// The reference's millisecond cursors still work where timestamps differ.
			var newest historyPage
			s.ok("GET", path+"?limit=10", "", 200, &newest)
			var older historyPage
			s.ok("GET", path+fmt.Sprintf("?limit=10&before=%d", newest.Cursors.Before), "", 200, &older)
			if len(older.Messages) != 10 || older.Messages[0].Content != "m254" {
				t.Errorf("ms cursor: first message %+v, want m254", older.Messages)
			}
		})
	}
}

func TestHistoryParameters(t *testing.T) {
	s := newShim(t, store.SQLite)
	id := s.session("")
	for range 120 {
		s.send(id, "x")
	}
	path := "/api/messaging/sessions/" + id + "/messages"
	for raw, want := range map[string]int{"": 50, "abc": 50, "10abc": 10, "0": 1, "-5": 1, "1000": 100, "99999999999999999999999": 100} {
		var p historyPage
		s.ok("GET", path+"?limit="+url.QueryEscape(raw), "", 200, &p)
		if len(p.Messages) != want {
			t.Errorf("limit=%q: %d messages, want %d", raw, len(p.Messages), want)
		}
	}
	for _, bad := range []string{"before=yesterday", "after=2024-01-01", "before=99999999999999999"} {
		r := s.fails("GET", path+"?"+bad, "", 400, "VALIDATION_ERROR")
		if !strings.Contains(string(r.Body), "Invalid pagination parameter") {
			t.Errorf("%s: %s", bad, r.Body)
		}
	}
	var empty historyPage
	s.ok("GET", "/api/messaging/sessions/"+s.session("")+"/messages", "", 200, &empty)
	if len(empty.Messages) != 0 || empty.HasMore || empty.Cursors != nil || empty.CursorTokens != nil {
		t.Errorf("empty history: %+v", empty)
	}
	s.fails("GET", "/api/messaging/sessions/nope/messages", "", 404, "SESSION_NOT_FOUND")
}
