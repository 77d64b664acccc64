package rest_test

import (
	"encoding/json"
	"strings"
	"testing"

	"sessionhub/internal/store"
)

// restFuzzSeeds are request bodies worth starting from: the documented one,
// and every kind of malformed input the shim must refuse with a 4xx.
var restFuzzSeeds = []string{
	`{"content":"Hello, how are you?","metadata":{"source":"web"}}`,
	`{"content":"with a file","attachments":[{"type":"image","url":"https://example.com/a.png","name":"a.png"}]}`,
	``, `{"content":`, `{"content":5}`, `null`, `[]`, `"text"`, `{"content":"a"} {}`,
	`{"content":"` + strings.Repeat("a", 4001) + `"}`,
	`{"content":"` + strings.Repeat("😀", 4000) + `"}`,
	`{"content":"a","metadata":{"k":"` + strings.Repeat("x", 10240) + `"}}`,
	`{"content":"a","metadata":"not an object"}`,
	`{"content":"a","attachments":[{"type":"f","url":"javascript:alert(1)"}]}`,
	`{"content":"a","attachments":{}}`,
	`{"content":"\xff\xfe"}`,
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	`{"content":"` + strings.Repeat("a", 140000) + `"}`,
	`{"agentId":"nope","userId":5}`,
	`{"timeoutConfig":{"timeoutMinutes":-1,"autoRenew":"false"}}`,
}

var restContentTypes = []string{"application/json", "text/plain", "", "application/json; charset=utf-8", "application/problem+json", "multipart/form-data; boundary=x"}

// checkRESTReply: never a 5xx; every refusal has the shim's error shape.
func checkRESTReply(t *testing.T, r reply, success int) {
	t.Helper()
	if r.Status >= 500 {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	if r.Status == success {
		return
	}
	var e struct{ Error, Code string }
	if err := json.Unmarshal(r.Body, &e); err != nil || e.Error == "" || e.Code == "" || r.Status < 400 {
		t.Fatalf("refusal %d without the error shape: %s", r.Status, r.Body)
	}
}

// FuzzRESTSend posts arbitrary bodies to the send route: 201 or a clean 4xx,
// and a refused request stores nothing.
func FuzzRESTSend(f *testing.F) {
	for i, body := range restFuzzSeeds {
		f.Add([]byte(body), restContentTypes[i%len(restContentTypes)])
	}
	base := newShim(f, store.SQLite)
	id := base.session("")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		shim := base.with(t)
		var before int64
		shim.store.DB().Table("messages").Where("session_id = ?", id).Count(&before)
		r := shim.raw("POST", "/api/messaging/sessions/"+id+"/messages", contentType, body)
		checkRESTReply(t, r, 201)
		var after int64
		shim.store.DB().Table("messages").Where("session_id = ?", id).Count(&after)
		if want := before + map[bool]int64{true: 1, false: 0}[r.Status == 201]; after != want {
			t.Fatalf("status %d but %d → %d messages stored", r.Status, before, after)
		}
	})
}

// FuzzRESTCreate posts arbitrary bodies to the create route: 201 or a clean
// 4xx that creates nothing.
func FuzzRESTCreate(f *testing.F) {
	for i, body := range restFuzzSeeds {
		f.Add([]byte(body), restContentTypes[i%len(restContentTypes)])
	}
	base := newShim(f, store.SQLite)
	f.Add([]byte(`{"agentId":"AGENT","userId":"123e4567-e89b-12d3-a456-426614174000","timeoutConfig":{"timeoutMinutes":1}}`), "application/json")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		shim := base.with(t)
		var before, after int64
		shim.store.DB().Table("sessions").Count(&before)
		// Half the inputs name the shim's real agent, so creation can succeed.
		body = []byte(strings.ReplaceAll(string(body), "AGENT", shim.agentID))
		r := shim.raw("POST", "/api/messaging/sessions", contentType, body)
		checkRESTReply(t, r, 201)
		shim.store.DB().Table("sessions").Count(&after)
		if want := before + map[bool]int64{true: 1, false: 0}[r.Status == 201]; after != want {
			t.Fatalf("status %d but %d → %d sessions", r.Status, before, after)
		}
	})
}
