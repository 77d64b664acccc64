package models_test

import (
	"testing"

	"sessionhub/models"
)

func TestValidText(t *testing.T) {
	tests := []struct {
		name string
		s    string
		want bool
	}{
		{"ascii", "hello", true},
		{"empty", "", true},
		{"emoji", "😀 é ß", true},
		{"replacement character itself", "\uFFFD", true},
		{"NUL inside", "a\x00b", false},
		{"NUL alone", "\x00", false},
		{"invalid UTF-8 byte", "a\xffb", false},
		{"encoded high surrogate (CESU)", "\xed\xa0\x80", false},
		{"truncated sequence", "\xe2\x82", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := models.ValidText(tt.s); got != tt.want {
				t.Errorf("ValidText(%q) = %v, want %v", tt.s, got, tt.want)
			}
		})
	}
}

func TestValidJSONText(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want bool
	}{
		{"plain object", `{"a":"b"}`, true},
		{"escaped quote and backslash", `{"a":"\"\\"}`, true},
		{"escaped backslash then u is not an escape", `{"a":"\\u0000"}`, true},
		{"unicode escape", `{"a":"\u00e9"}`, true},
		{"surrogate pair", `{"a":"\ud83d\ude00"}`, true},
		{"surrogate pair upper case", `{"a":"\uD83D\uDE00"}`, true},
		{"NUL escape in value", `{"a":"x\u0000y"}`, false},
		{"NUL escape in key", `{"\u0000":1}`, false},
		{"lone high surrogate", `{"a":"\ud800"}`, false},
		{"lone high surrogate at end of text", `"\ud800"`, false},
		{"high surrogate then plain text", `{"a":"\ud800abcdef"}`, false},
		{"high surrogate then non-surrogate escape", `{"a":"\ud800\u0041"}`, false},
		{"lone low surrogate", `{"a":"\udc00"}`, false},
		{"two high surrogates", `{"a":"\ud800\ud800"}`, false},
		{"invalid UTF-8 inside a string", "{\"a\":\"\xff\"}", false},
		{"not JSON is left to the decoder", `{"a":"\u12`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := models.ValidJSONText([]byte(tt.raw)); got != tt.want {
				t.Errorf("ValidJSONText(%s) = %v, want %v", tt.raw, got, tt.want)
			}
		})
	}
}

// TestInvalidTextIsRefused: every field of a message and of a session's
// metadata refuses NUL and lone surrogates with VALIDATION_ERROR.
func TestInvalidTextIsRefused(t *testing.T) {
	name := "a\x00b"
	tests := []struct {
		name string
		in   models.MessageInput
	}{
		{"NUL in content", models.MessageInput{Content: "a\x00b"}},
		{"invalid UTF-8 in content", models.MessageInput{Content: "a\xed\xa0\x80b"}},
		{"NUL in a metadata value", models.MessageInput{Content: "ok", Metadata: models.JSONObject(`{"k":"a\u0000b"}`)}},
		{"NUL in a metadata key", models.MessageInput{Content: "ok", Metadata: models.JSONObject(`{"\u0000":"v"}`)}},
		{"lone surrogate in metadata", models.MessageInput{Content: "ok", Metadata: models.JSONObject(`{"k":"\ud800"}`)}},
		{"NUL in an attachment type", models.MessageInput{Content: "ok", Attachments: models.Attachments{{Type: "im\x00age", URL: "https://e.com/a"}}}},
		{"NUL in an attachment url", models.MessageInput{Content: "ok", Attachments: models.Attachments{{Type: "image", URL: "https://e.com/a\x00"}}}},
		{"NUL in an attachment name", models.MessageInput{Content: "ok", Attachments: models.Attachments{{Type: "image", URL: "https://e.com/a", Name: &name}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.Validate()
			if models.ErrorCode(err) != models.CodeValidation {
				t.Fatalf("Validate() = %v, want VALIDATION_ERROR", err)
			}
		})
	}
	if err := models.ValidateMetadata(models.JSONObject(`{"k":"\udfff"}`)); models.ErrorCode(err) != models.CodeValidation {
		t.Errorf("session metadata with a lone surrogate: %v, want VALIDATION_ERROR", err)
	}
}
