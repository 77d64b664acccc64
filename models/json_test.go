package models_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"sessionhub/models"
)

func TestParseJSONObject(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		want    string
		wantErr bool
	}{
		{name: "empty input", raw: "", want: "{}"},
		{name: "only whitespace", raw: " \n\t ", want: "{}"},
		{name: "null", raw: "null", want: "{}"},
		{name: "null with whitespace", raw: "  null\n", want: "{}"},
		{name: "empty object", raw: "{}", want: "{}"},
		{name: "whitespace is compacted", raw: "{ \"a\" : 1 ,\n \"b\" : [ 1, 2 ] }", want: `{"a":1,"b":[1,2]}`},
		{name: "key order and number text preserved", raw: `{"b":1.50,"a":2}`, want: `{"b":1.50,"a":2}`},
		{name: "exponent and big integers preserved", raw: `{"x":1e3,"y":12345678901234567890}`, want: `{"x":1e3,"y":12345678901234567890}`},
		{name: "whitespace inside strings kept", raw: `{ "k" : "a  b" }`, want: `{"k":"a  b"}`},
		{name: "nested objects", raw: `{"a":{"b":{"c":null}}}`, want: `{"a":{"b":{"c":null}}}`},
		{name: "array rejected", raw: `[1,2]`, wantErr: true},
		{name: "empty array rejected", raw: `[]`, wantErr: true},
		{name: "string rejected", raw: `"x"`, wantErr: true},
		{name: "number rejected", raw: `42`, wantErr: true},
		{name: "boolean rejected", raw: `true`, wantErr: true},
		{name: "malformed object rejected", raw: `{"a":}`, wantErr: true},
		{name: "unterminated object rejected", raw: `{"a":1`, wantErr: true},
		{name: "trailing garbage rejected", raw: `{"a":1} x`, wantErr: true},
		{name: "two objects rejected", raw: `{"a":1}{"b":2}`, wantErr: true},
		{name: "bare word rejected", raw: `nul`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := models.ParseJSONObject([]byte(tc.raw))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ParseJSONObject(%q) = %s, want error", tc.raw, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseJSONObject(%q): unexpected error %v", tc.raw, err)
			}
			if got, want := string(got), tc.want; got != want {
				t.Errorf("ParseJSONObject(%q) = %s, want %s", tc.raw, got, want)
			}
		})
	}
}

func TestJSONObjectMarshalUnmarshal(t *testing.T) {
	type wrapper struct {
		Metadata models.JSONObject `json:"metadata"`
	}
	tests := []struct {
		name string
		in   string
		want string // re-marshalled wrapper
	}{
		{"object kept exactly", `{"metadata":{"b":1.50,"a":2}}`, `{"metadata":{"b":1.50,"a":2}}`},
		{"whitespace compacted", `{"metadata":{ "b" : 1 }}`, `{"metadata":{"b":1}}`},
		{"null becomes empty object", `{"metadata":null}`, `{"metadata":{}}`},
		{"absent is the empty object", `{}`, `{"metadata":{}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var w wrapper
			if err := json.Unmarshal([]byte(tc.in), &w); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			b, err := json.Marshal(w)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if got, want := string(b), tc.want; got != want {
				t.Errorf("round trip = %s, want %s", got, want)
			}
		})
	}

	rejects := []string{`{"metadata":[1]}`, `{"metadata":"x"}`, `{"metadata":3}`}
	for _, in := range rejects {
		t.Run("rejects "+in, func(t *testing.T) {
			var w wrapper
			if err := json.Unmarshal([]byte(in), &w); err == nil {
				t.Errorf("Unmarshal(%s) = nil error, want error", in)
			}
		})
	}
}

func TestJSONObjectValue(t *testing.T) {
	tests := []struct {
		name string
		o    models.JSONObject
		want string
	}{
		{"nil is the empty object", nil, "{}"},
		{"empty slice is the empty object", models.JSONObject{}, "{}"},
		{"object kept", models.JSONObject(`{"b":1.50,"a":2}`), `{"b":1.50,"a":2}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := tc.o.Value()
			if err != nil {
				t.Fatalf("Value: %v", err)
			}
			s, ok := v.(string)
			if !ok {
				t.Fatalf("Value() type = %T, want string", v)
			}
			if got, want := s, tc.want; got != want {
				t.Errorf("Value() = %s, want %s", got, want)
			}
		})
	}
}

func TestJSONObjectScan(t *testing.T) {
	tests := []struct {
		name    string
		src     any
		want    string
		wantErr bool
	}{
		{name: "nil", src: nil, want: "{}"},
		{name: "bytes", src: []byte(`{"b":1.50,"a":2}`), want: `{"b":1.50,"a":2}`},
		{name: "string", src: `{"b":1.50,"a":2}`, want: `{"b":1.50,"a":2}`},
		{name: "int rejected", src: 42, wantErr: true},
		{name: "time rejected", src: time.Time{}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var o models.JSONObject
			err := o.Scan(tc.src)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Scan(%T) = nil error, want error", tc.src)
				}
				return
			}
			if err != nil {
				t.Fatalf("Scan: %v", err)
			}
			if got, want := string(o), tc.want; got != want {
				t.Errorf("Scan = %s, want %s", got, want)
			}
		})
	}
}

func TestJSONObjectScanCopiesBytes(t *testing.T) {
	// database/sql may reuse the []byte it passes to Scan.
	src := []byte(`{"a":1}`)
	var o models.JSONObject
	if err := o.Scan(src); err != nil {
		t.Fatal(err)
	}
	copy(src, `{"z":9}`)
	if got, want := string(o), `{"a":1}`; got != want {
		t.Errorf("after source reuse = %s, want %s", got, want)
	}
}

func TestJSONObjectValueScanRoundTrip(t *testing.T) {
	for _, in := range []string{`{}`, `{"b":1.50,"a":2}`, `{"s":"é😀","n":null,"l":[1,{"x":true}]}`} {
		t.Run(in, func(t *testing.T) {
			v, err := models.JSONObject(in).Value()
			if err != nil {
				t.Fatal(err)
			}
			var out models.JSONObject
			if err := out.Scan(v); err != nil {
				t.Fatal(err)
			}
			if got, want := string(out), in; got != want {
				t.Errorf("round trip = %s, want %s", got, want)
			}
		})
	}
}

func TestAttachmentsValueScan(t *testing.T) {
	name := "photo.png"
	tests := []struct {
		name      string
		in        models.Attachments
		wantValue string
	}{
		{"nil is an empty array", nil, `[]`},
		{"empty is an empty array", models.Attachments{}, `[]`},
		{"name omitted when nil", models.Attachments{{Type: "image", URL: "https://example.com/a.png"}},
			`[{"type":"image","url":"https://example.com/a.png"}]`},
		{"name kept when set", models.Attachments{{Type: "image", URL: "https://example.com/a.png", Name: &name}},
			`[{"type":"image","url":"https://example.com/a.png","name":"photo.png"}]`},
		{"order kept", models.Attachments{{Type: "a", URL: "https://x/1"}, {Type: "b", URL: "https://x/2"}},
			`[{"type":"a","url":"https://x/1"},{"type":"b","url":"https://x/2"}]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := tc.in.Value()
			if err != nil {
				t.Fatalf("Value: %v", err)
			}
			s, ok := v.(string)
			if !ok {
				t.Fatalf("Value() type = %T, want string", v)
			}
			if got, want := s, tc.wantValue; got != want {
				t.Errorf("Value() = %s, want %s", got, want)
			}
			for _, src := range []any{s, []byte(s)} {
				var out models.Attachments
				if err := out.Scan(src); err != nil {
					t.Fatalf("Scan(%T): %v", src, err)
				}
				if got, want := len(out), len(tc.in); got != want {
					t.Fatalf("Scan(%T): %d attachments, want %d", src, got, want)
				}
				if len(tc.in) > 0 && !reflect.DeepEqual(out, tc.in) {
					t.Errorf("Scan(%T) = %+v, want %+v", src, out, tc.in)
				}
			}
		})
	}
}

func TestAttachmentsScanErrors(t *testing.T) {
	tests := []struct {
		name    string
		src     any
		wantErr bool
		wantLen int
	}{
		{name: "nil is no attachments", src: nil, wantLen: 0},
		{name: "object rejected", src: `{"type":"x"}`, wantErr: true},
		{name: "malformed rejected", src: `[{"type":`, wantErr: true},
		{name: "int rejected", src: 7, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out models.Attachments
			err := out.Scan(tc.src)
			if got, want := err != nil, tc.wantErr; got != want {
				t.Fatalf("Scan error = %v, wantErr %v", err, want)
			}
			if got, want := len(out), tc.wantLen; got != want {
				t.Errorf("len = %d, want %d", got, want)
			}
		})
	}
}

func TestDetailsMarshalJSON(t *testing.T) {
	tests := []struct {
		name string
		d    models.Details
		want string
	}{
		{"nil", nil, `{}`},
		{"order kept, not sorted", models.Details{{"sessionId", "x"}, {"expiresAt", "y"}}, `{"sessionId":"x","expiresAt":"y"}`},
		{"mixed value types", models.Details{{"n", 720}, {"b", true}, {"z", nil}, {"l", []int{1}}}, `{"n":720,"b":true,"z":null,"l":[1]}`},
		{"keys and values escaped", models.Details{{`k"`, "<v>"}}, `{"k\"":"\u003cv\u003e"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.d)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if got, want := string(b), tc.want; got != want {
				t.Errorf("Marshal = %s, want %s", got, want)
			}
		})
	}
}

func TestDetailsMap(t *testing.T) {
	if got := models.Details(nil).Map(); got != nil {
		t.Errorf("empty Map() = %v, want nil", got)
	}
	m := models.Details{{"sessionId", "x"}, {"maxDurationMinutes", 720}}.Map()
	if got, want := len(m), 2; got != want {
		t.Fatalf("len = %d, want %d", got, want)
	}
	if got, want := m["sessionId"], any("x"); got != want {
		t.Errorf("sessionId = %v, want %v", got, want)
	}
	if got, want := m["maxDurationMinutes"], any(720); got != want {
		t.Errorf("maxDurationMinutes = %v, want %v", got, want)
	}
}

func TestErrorCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want models.Code
	}{
		{"nil", nil, models.CodeInternal},
		{"plain error", errors.New("boom"), models.CodeInternal},
		{"ErrNotFound sentinel", models.ErrNotFound, models.CodeInternal},
		{"validation", models.ErrValidation("bad"), models.CodeValidation},
		{"session not found", models.ErrSessionNotFound("x"), models.CodeSessionNotFound},
		{"agent not found", models.ErrAgentNotFound("x"), models.CodeAgentNotFound},
		{"session expired", models.ErrSessionExpired("x", "y"), models.CodeSessionExpired},
		{"rate limited", models.ErrRateLimited(3), models.CodeRateLimited},
		{"idempotency conflict", models.ErrIdempotencyConflict("k"), models.CodeIdempotencyConflict},
		{"unavailable", models.ErrUnavailable(), models.CodeUnavailable},
		{"wrapped coded error", fmt.Errorf("ctx: %w", models.ErrForbidden("no")), models.CodeForbidden},
		{"doubly wrapped coded error", fmt.Errorf("a: %w", fmt.Errorf("b: %w", models.ErrUnauthenticated("who"))), models.CodeUnauthenticated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := models.ErrorCode(tc.err), tc.want; got != want {
				t.Errorf("ErrorCode = %v, want %v", got, want)
			}
		})
	}
}

func TestAsError(t *testing.T) {
	secret := errors.New("pq: password authentication failed for user admin")
	e := models.AsError(secret)
	if got, want := e.Code, models.CodeInternal; got != want {
		t.Errorf("Code = %v, want %v", got, want)
	}
	if got, want := e.Message, "Internal server error"; got != want {
		t.Errorf("Message = %q, want %q (must not leak the cause)", got, want)
	}
	orig := models.ErrValidation("bad input")
	if got, want := models.AsError(fmt.Errorf("wrap: %w", orig)), orig; got != want {
		t.Errorf("AsError(wrapped) = %p, want the original %p", got, want)
	}
}

func TestFormatTime(t *testing.T) {
	tests := []struct {
		name string
		t    time.Time
		want string
	}{
		{"milliseconds", time.Date(2025, 8, 20, 12, 34, 56, 789_000_000, time.UTC), "2025-08-20T12:34:56.789Z"},
		{"whole second keeps three digits", time.Date(2025, 8, 20, 12, 34, 56, 0, time.UTC), "2025-08-20T12:34:56.000Z"},
		{"trailing zero kept", time.Date(2025, 8, 20, 12, 34, 56, 100_000_000, time.UTC), "2025-08-20T12:34:56.100Z"},
		{"leading zero kept", time.Date(2025, 8, 20, 12, 34, 56, 7_000_000, time.UTC), "2025-08-20T12:34:56.007Z"},
		{"sub-millisecond digits dropped", time.Date(2025, 8, 20, 12, 34, 56, 789_999_999, time.UTC), "2025-08-20T12:34:56.789Z"},
		{"other zone converted to UTC", time.Date(2025, 8, 20, 14, 34, 56, 789_000_000, time.FixedZone("CEST", 2*3600)), "2025-08-20T12:34:56.789Z"},
		{"zone crossing the date line", time.Date(2025, 8, 20, 20, 0, 0, 0, time.FixedZone("X", -5*3600)), "2025-08-21T01:00:00.000Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := models.FormatTime(tc.t), tc.want; got != want {
				t.Errorf("FormatTime = %s, want %s", got, want)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		name string
		in   time.Time
		want time.Time
	}{
		{"already milliseconds", time.Date(2025, 8, 20, 12, 0, 0, 5_000_000, time.UTC), time.Date(2025, 8, 20, 12, 0, 0, 5_000_000, time.UTC)},
		{"drops microseconds and nanoseconds", time.Date(2025, 8, 20, 12, 0, 0, 5_999_999, time.UTC), time.Date(2025, 8, 20, 12, 0, 0, 5_000_000, time.UTC)},
		{"converts to UTC", time.Date(2025, 8, 20, 14, 0, 0, 1, time.FixedZone("CEST", 2*3600)), time.Date(2025, 8, 20, 12, 0, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := models.Truncate(tc.in)
			if !got.Equal(tc.want) {
				t.Errorf("Truncate = %v, want %v", got, tc.want)
			}
			if got, want := got.Location(), time.UTC; got != want {
				t.Errorf("location = %v, want %v", got, want)
			}
		})
	}
}
