package graph_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"sessionhub/internal/testutil"
	"sessionhub/models"
)

var isoMillis = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

// TestAgentsSessionsAndSends drives createAgent, agent, createSession and
// sendSessionMessage through the executable schema on both databases.
func TestAgentsSessionsAndSends(t *testing.T) {
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			env := newLifecycleEnv(t, dialect)
			var agent struct {
				CreateAgent struct {
					ID, Name, CreatedAt string
					SessionDefaults     struct {
						TimeoutMinutes *int
						AutoRenew      *bool
					}
				}
			}
			env.data(`mutation { createAgent(input: {name: "Support", sessionDefaults: {timeoutMinutes: 15, autoRenew: false}}) {
				id name createdAt sessionDefaults { timeoutMinutes autoRenew } } }`, nil, &agent)
			a := agent.CreateAgent
			if a.Name != "Support" || !isoMillis.MatchString(a.CreatedAt) || *a.SessionDefaults.TimeoutMinutes != 15 || *a.SessionDefaults.AutoRenew {
				t.Fatalf("createAgent %+v", a)
			}
			var found struct{ Agent *struct{ ID string } }
			env.data(`query($id: ID!) { agent(id: $id) { id } }`, map[string]any{"id": a.ID}, &found)
			if found.Agent == nil || found.Agent.ID != a.ID {
				t.Errorf("agent(id) = %+v", found.Agent)
			}
			env.data(`query($id: ID!) { agent(id: $id) { id } }`, map[string]any{"id": testutil.MustUUID()}, &found)
			if found.Agent != nil {
				t.Errorf("unknown agent = %+v, want null", found.Agent)
			}

			const create = `mutation($in: CreateSessionInput!) { createSession(input: $in) {
				id agentId userId state timeRemaining isNearExpiration renewalCount metadata createdAt expiresAt
				timeoutConfig { timeoutMinutes autoRenew maxDurationMinutes warningThresholdMinutes } } }`
			user := testutil.MustUUID()
			var session struct {
				CreateSession struct {
					ID, AgentID, UserID, State, CreatedAt, ExpiresAt string
					TimeRemaining                                    int
					IsNearExpiration                                 bool
					RenewalCount                                     int
					Metadata                                         map[string]any
					TimeoutConfig                                    models.TimeoutConfig
				}
			}
			env.data(create, map[string]any{"in": map[string]any{
				"agentId": a.ID, "userId": user, "metadata": map[string]any{"platform": "discord", "n": 1.5},
				"timeoutConfig": map[string]any{"warningThresholdMinutes": 99},
			}}, &session)
			s := session.CreateSession
			want := models.TimeoutConfig{TimeoutMinutes: 15, AutoRenew: false, MaxDurationMinutes: 720, WarningThresholdMinutes: 15}
			if s.State != "ACTIVE" || s.UserID != user || s.AgentID != a.ID || s.TimeRemaining != 15*60*1000 || !s.IsNearExpiration ||
				s.RenewalCount != 0 || s.Metadata["platform"] != "discord" || s.Metadata["n"] != 1.5 || s.TimeoutConfig != want {
				t.Errorf("createSession %+v, want agent defaults overlaid by the request, clamped (%+v)", s, want)
			}

			var bare struct {
				CreateSession struct{ Metadata map[string]any }
			}
			env.data(create, map[string]any{"in": map[string]any{"agentId": a.ID, "userId": user}}, &bare)
			if bare.CreateSession.Metadata == nil || len(bare.CreateSession.Metadata) != 0 {
				t.Errorf("metadata of a session created without it: %v, want {}", bare.CreateSession.Metadata)
			}

			for name, in := range map[string]map[string]any{
				"AGENT_NOT_FOUND":              {"agentId": testutil.MustUUID(), "userId": user},
				"VALIDATION_ERROR bad userId":  {"agentId": a.ID, "userId": "nope"},
				"VALIDATION_ERROR string meta": {"agentId": a.ID, "userId": user, "metadata": "x"},
				"VALIDATION_ERROR array meta":  {"agentId": a.ID, "userId": user, "metadata": []any{1}},
			} {
				res := env.do(create, map[string]any{"in": in})
				code, _, _ := strings.Cut(name, " ")
				if len(res.Errors) != 1 || res.Errors[0].Extensions.Code != code {
					t.Errorf("%s: %+v", name, res.Errors)
				}
				if code == "AGENT_NOT_FOUND" && res.Errors[0].Extensions.Details["agentId"] != in["agentId"] {
					t.Errorf("details %+v", res.Errors[0].Extensions.Details)
				}
			}

			const send = `mutation($id: ID!, $in: SendSessionMessageInput!) { sendSessionMessage(sessionId: $id, input: $in) {
				id sessionId content authorId isAgent createdAt metadata attachments { type url name }
				sessionStatus { expiresAt renewalCount wasRenewed isNearExpiration } } }`
			type sent struct {
				SendSessionMessage struct {
					ID, SessionID, Content, AuthorID, CreatedAt string
					IsAgent                                     bool
					Metadata                                    map[string]any
					Attachments                                 []models.Attachment
					SessionStatus                               *models.SessionStatus
				}
			}
			var first sent
			env.data(send, map[string]any{"id": s.ID, "in": map[string]any{
				"content": "hello", "metadata": map[string]any{"k": "v"},
				"attachments": []any{map[string]any{"type": "image", "url": "https://example.com/a.png", "name": "a.png"}},
			}}, &first)
			m := first.SendSessionMessage
			if m.SessionID != s.ID || m.AuthorID != user || m.IsAgent || m.Content != "hello" || m.Metadata["k"] != "v" ||
				len(m.Attachments) != 1 || *m.Attachments[0].Name != "a.png" || !isoMillis.MatchString(m.CreatedAt) {
				t.Errorf("send %+v", m)
			}
			// autoRenew is off for this agent: the send moves nothing.
			if st := m.SessionStatus; st == nil || st.WasRenewed || st.RenewalCount != 0 || !st.ExpiresAt.Equal(mustTime(t, s.ExpiresAt)) {
				t.Errorf("sessionStatus %+v, want unchanged", st)
			}
			env.clock.Advance(11 * time.Minute) // 4 minutes left of 15, warning window 15
			env.data(send, map[string]any{"id": s.ID, "in": map[string]any{"content": "still there?"}}, &first)
			if st := first.SendSessionMessage.SessionStatus; !st.IsNearExpiration {
				t.Errorf("sessionStatus %+v, want isNearExpiration", st)
			}
			env.clock.Advance(5 * time.Minute) // expired
			for range 2 {
				res := env.do(send, map[string]any{"id": s.ID, "in": map[string]any{"content": "late"}})
				if len(res.Errors) != 1 || res.Errors[0].Extensions.Code != "SESSION_EXPIRED" || res.Errors[0].Extensions.Details["expiresAt"] != s.ExpiresAt {
					t.Errorf("send after expiry: %+v", res.Errors)
				}
			}
			var expired struct {
				Session struct {
					State         string
					TimeRemaining int
				}
			}
			env.data(`query($id: ID!) { session(id: $id) { state timeRemaining } }`, map[string]any{"id": s.ID}, &expired)
			if expired.Session.State != "EXPIRED" || expired.Session.TimeRemaining != 0 {
				t.Errorf("expired session reads as %+v", expired.Session)
			}
			for content, code := range map[string]string{"": "VALIDATION_ERROR", strings.Repeat("a", 4001): "VALIDATION_ERROR"} {
				live := env.session(models.TimeoutOverrides{})
				res := env.do(send, map[string]any{"id": live, "in": map[string]any{"content": content}})
				if len(res.Errors) != 1 || res.Errors[0].Extensions.Code != code {
					t.Errorf("content of %d chars: %+v", len(content), res.Errors)
				}
			}
			res := env.do(send, map[string]any{"id": "abc-123", "in": map[string]any{"content": "x"}})
			if len(res.Errors) != 1 || res.Errors[0].Extensions.Code != "SESSION_NOT_FOUND" || res.Errors[0].Message != "Session not found" {
				t.Errorf("unknown session: %+v", res.Errors)
			}
		})
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
