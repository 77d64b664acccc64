package rest_test

import (
	"testing"

	"sessionhub/internal/testutil"
)

// TestInvalidTextIsRefusedBeforeTheDatabase: NUL characters and lone
// surrogates anywhere in a send or a create — content, metadata keys and
// values, attachment fields — are a 400 VALIDATION_ERROR on both databases,
// and nothing is stored. (Decoded, a lone surrogate would silently become
// U+FFFD; PostgreSQL would refuse NUL with a 500.)
func TestInvalidTextIsRefusedBeforeTheDatabase(t *testing.T) {
	for _, dialect := range testutil.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			s := newShim(t, dialect)
			id := s.session("")
			sends := map[string]string{
				"NUL in content":                  `{"content":"a\u0000b"}`,
				"lone surrogate in content":       `{"content":"\ud800"}`,
				"lone low surrogate in content":   `{"content":"x\udc00y"}`,
				"NUL in a metadata key":           `{"content":"ok","metadata":{"\u0000":"v"}}`,
				"NUL in a metadata value":         `{"content":"ok","metadata":{"k":"a\u0000"}}`,
				"lone surrogate in metadata":      `{"content":"ok","metadata":{"k":["\ud800"]}}`,
				"NUL in an attachment name":       `{"content":"ok","attachments":[{"type":"image","url":"https://e.com/a","name":"\u0000"}]}`,
				"lone surrogate in an attachment": `{"content":"ok","attachments":[{"type":"\udbff","url":"https://e.com/a"}]}`,
			}
			for name, body := range sends {
				t.Run(name, func(t *testing.T) {
					s.with(t).fails("POST", "/api/messaging/sessions/"+id+"/messages", body, 400, "VALIDATION_ERROR")
				})
			}
			s.fails("POST", "/api/messaging/sessions", `{"agentId":"`+s.agentID+`","userId":"`+testutil.MustUUID()+`","metadata":{"k":"\u0000"}}`, 400, "VALIDATION_ERROR")
			raw := s.raw("POST", "/api/messaging/sessions/"+id+"/messages", "application/json", []byte("{\"content\":\"a\xffb\"}"))
			if raw.Status != 400 {
				t.Errorf("invalid UTF-8 in content: %d %s, want 400", raw.Status, raw.Body)
			}
			// A surrogate pair is a real character and passes.
			s.ok("POST", "/api/messaging/sessions/"+id+"/messages", `{"content":"\ud83d\ude00","metadata":{"e":"\ud83d\ude00"}}`, 201, nil)
			var n int64
			s.store.DB().Table("messages").Where("session_id = ?", id).Count(&n)
			if n != 1 {
				t.Errorf("%d messages stored, want only the valid one", n)
			}
		})
	}
}
