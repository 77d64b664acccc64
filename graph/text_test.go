package graph_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"sessionhub/graph"
	"sessionhub/internal/testutil"
)

// TestGraphQLRefusesInvalidText: NUL and lone surrogates in variables (raw
// JSON, before decoding would hide a surrogate as U+FFFD) and NUL in a
// document's string literal are VALIDATION_ERROR on both databases, and
// nothing is stored.
func TestGraphQLRefusesInvalidText(t *testing.T) {
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			env := newHubEnv(t, dialect, graph.Options{})
			s := env.liveSession(nil)
			post := func(body string) (int, []hubError) {
				req := httptest.NewRequest(http.MethodPost, "/query", bytes.NewReader([]byte(body)))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				env.handler.ServeHTTP(rec, req)
				var resp struct{ Errors []hubError }
				if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
					t.Fatalf("decode %s: %v", rec.Body.Bytes(), err)
				}
				return rec.Code, resp.Errors
			}
			op, _ := json.Marshal(hubSendOp)
			for name, input := range map[string]string{
				"NUL in content":             `{"content":"a\u0000b"}`,
				"lone surrogate in content":  `{"content":"\ud800"}`,
				"NUL in a metadata key":      `{"content":"ok","metadata":{"\u0000":1}}`,
				"lone surrogate in metadata": `{"content":"ok","metadata":{"k":"\udc00"}}`,
				"NUL in an attachment":       `{"content":"ok","attachments":[{"type":"\u0000","url":"https://e.com/a"}]}`,
			} {
				t.Run(name, func(t *testing.T) {
					status, errs := post(`{"query":` + string(op) + `,"variables":{"id":"` + s.ID + `","in":` + input + `}}`)
					if status != http.StatusBadRequest || len(errs) != 1 || errs[0].code() != "VALIDATION_ERROR" {
						t.Errorf("status %d, errors %+v; want 400 VALIDATION_ERROR", status, errs)
					}
				})
			}
			t.Run("NUL in a string literal", func(t *testing.T) {
				_, errs, _ := env.rawErrors(`mutation($id: ID!) { sendSessionMessage(sessionId: $id, input: {content: "a\u0000b"}) { id } }`, map[string]any{"id": s.ID})
				if len(errs) != 1 || errs[0].code() != "VALIDATION_ERROR" {
					t.Errorf("errors %+v; want VALIDATION_ERROR", errs)
				}
			})
			var resp struct {
				Session struct {
					Messages struct{ Nodes []struct{ ID string } }
				}
			}
			env.post(&resp, `query($id: ID!) { session(id: $id) { messages(first: 10) { nodes { id } } } }`, map[string]any{"id": s.ID})
			if n := len(resp.Session.Messages.Nodes); n != 0 {
				t.Errorf("%d messages stored, want none", n)
			}
		})
	}
}
