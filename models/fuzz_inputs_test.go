package models_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"sessionhub/models"
)

// FuzzValidateMessage: validation never panics, accepts only what SPEC §3
// allows, and rejects everything else as VALIDATION_ERROR.
func FuzzValidateMessage(f *testing.F) {
	f.Add("Hello, how are you?", []byte(`{"source":"web"}`), []byte(`[{"type":"image","url":"https://example.com/a.png"}]`))
	f.Add("", []byte(`null`), []byte(`[]`))
	f.Add(strings.Repeat("a", 4001), []byte(`{}`), []byte(`null`))
	f.Add(strings.Repeat("😀", 4000), []byte(`{"k":"`+strings.Repeat("x", 10230)+`"}`), []byte(`[{"type":"","url":"ftp://x"}]`))
	f.Add("\xff\xfe", []byte(`[1,2]`), []byte(`[{"type":"f","url":"http://:80"}]`))
	f.Fuzz(func(t *testing.T, content string, metadata, attachments []byte) {
		meta, err := models.ParseJSONObject(metadata)
		if err != nil {
			return
		}
		var atts models.Attachments
		if json.Unmarshal(attachments, &atts) != nil {
			return
		}
		err = models.MessageInput{Content: content, Metadata: meta, Attachments: atts}.Validate()
		if err != nil {
			if models.ErrorCode(err) != models.CodeValidation {
				t.Fatalf("error %v is not a VALIDATION_ERROR", err)
			}
			return
		}
		if n := utf8.RuneCountInString(content); n < 1 || n > models.MaxContentChars || !utf8.ValidString(content) {
			t.Fatalf("accepted content of %d code points (valid UTF-8: %v)", n, utf8.ValidString(content))
		}
		if len(meta) > models.MaxMetadataBytes || len(atts) > models.MaxAttachments {
			t.Fatalf("accepted %d metadata bytes and %d attachments", len(meta), len(atts))
		}
	})
}

// FuzzJSONObject: parsing never panics and yields a compact object that
// parses back to itself.
func FuzzJSONObject(f *testing.F) {
	for _, seed := range []string{`{}`, `null`, ` { "b" : 1.50 , "a" : [ 1 , 2 ] } `, `[]`, `"x"`, `{"a":`, `{"a":1}{"b":2}`, "{\"\xff\":1}"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		obj, err := models.ParseJSONObject(raw)
		if err != nil {
			return
		}
		if !json.Valid(obj) || !bytes.HasPrefix(obj, []byte("{")) {
			t.Fatalf("%q parsed to %q, not an object", raw, obj)
		}
		again, err := models.ParseJSONObject(obj)
		if err != nil || !bytes.Equal(again, obj) {
			t.Fatalf("re-parsing %q gave %q, %v", obj, again, err)
		}
	})
}

// FuzzCursor: decoding never panics; what decodes encodes back to itself,
// and what does not is a VALIDATION_ERROR.
func FuzzCursor(f *testing.F) {
	f.Add(models.KeyOf(time.UnixMilli(1700000000000).UTC(), uuid.MustParse("01a21072-ea01-78b0-afbe-199fec31098d")).Cursor())
	f.Add("")
	f.Add("garbage")
	f.Add("azE6LTE6eA")                                   // k1:-1:x
	f.Add("azE6OTk5OTk5OTk5OTk5OTk5OTk5OjAwMDAwMDAwLTAw") // far future, truncated uuid
	f.Add(strings.Repeat("A", 5000))
	f.Fuzz(func(t *testing.T, cursor string) {
		key, err := models.ParseCursor(cursor)
		if err != nil {
			if models.ErrorCode(err) != models.CodeValidation {
				t.Fatalf("error %v is not a VALIDATION_ERROR", err)
			}
			return
		}
		back, err := models.ParseCursor(key.Cursor())
		if err != nil || back != key {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", cursor, key, key.Cursor(), back, err)
		}
	})
}

// FuzzPaging: any Relay arguments plan a bounded query or are refused.
func FuzzPaging(f *testing.F) {
	f.Add(20, 0, true, false, "", "", true)
	f.Add(0, 101, false, true, "x", "", false)
	f.Add(-1, 5, true, true, "", "garbage", true)
	f.Add(100, 100, false, true, "", models.KeyOf(time.UnixMilli(1), uuid.Nil).Cursor(), false)
	f.Fuzz(func(t *testing.T, first, last int, hasFirst, hasLast bool, after, before string, newestFirst bool) {
		var args models.PageArgs
		if hasFirst {
			args.First = &first
		}
		if hasLast {
			args.Last = &last
		}
		args.After, args.Before = after, before
		plan, err := args.Plan(newestFirst)
		if err != nil {
			if models.ErrorCode(err) != models.CodeValidation {
				t.Fatalf("error %v is not a VALIDATION_ERROR", err)
			}
			return
		}
		if plan.Size < 1 || plan.Size > models.MaxPageSize || plan.Query.Limit != plan.Size+1 {
			t.Fatalf("plan %+v out of bounds", plan)
		}
	})
}
