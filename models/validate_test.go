package models_test

import (
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"sessionhub/models"
)

// metadataOfSize returns a compact JSON object of exactly n bytes (n >= 8).
func metadataOfSize(t *testing.T, n int) models.JSONObject {
	t.Helper()
	const overhead = len(`{"k":""}`)
	raw := `{"k":"` + strings.Repeat("a", n-overhead) + `"}`
	obj, err := models.ParseJSONObject([]byte(raw))
	if err != nil {
		t.Fatalf("ParseJSONObject: %v", err)
	}
	if len(obj) != n {
		t.Fatalf("metadata fixture is %d bytes, want %d", len(obj), n)
	}
	return obj
}

func attachments(n int) models.Attachments {
	list := make(models.Attachments, n)
	for i := range list {
		list[i] = models.Attachment{Type: "image", URL: "https://example.com/a.png"}
	}
	return list
}

func TestContentFixtures(t *testing.T) {
	// Guard the emoji fixture: each is one code point, 4 UTF-8 bytes, 2 UTF-16 units,
	// so a byte- or UTF-16-based count would reject 4000 of them.
	e := strings.Repeat("😀", 4000)
	if got, want := utf8.RuneCountInString(e), 4000; got != want {
		t.Errorf("runes = %d, want %d", got, want)
	}
	if got, want := len(e), 16000; got != want {
		t.Errorf("bytes = %d, want %d", got, want)
	}
	if got, want := len(utf16.Encode([]rune(e))), 8000; got != want {
		t.Errorf("UTF-16 units = %d, want %d", got, want)
	}
}

func TestMessageInputValidate(t *testing.T) {
	name := "a.png"
	tests := []struct {
		name     string
		in       func(t *testing.T) models.MessageInput
		wantCode models.Code // "" = valid
	}{
		{"single character", content("a"), ""},
		{"empty content", content(""), models.CodeValidation},
		{"whitespace content is not empty", content(" "), ""},
		{"4000 ASCII characters", content(strings.Repeat("a", 4000)), ""},
		{"4001 ASCII characters", content(strings.Repeat("a", 4001)), models.CodeValidation},
		{"4000 emoji (16000 bytes, 8000 UTF-16 units)", content(strings.Repeat("😀", 4000)), ""},
		{"4001 emoji", content(strings.Repeat("😀", 4001)), models.CodeValidation},
		{"4000 two-byte characters", content(strings.Repeat("é", 4000)), ""},
		{"3999 ASCII plus one emoji", content(strings.Repeat("a", 3999) + "😀"), ""},
		{"4000 ASCII plus one emoji", content(strings.Repeat("a", 4000) + "😀"), models.CodeValidation},
		{"invalid UTF-8 byte", content("ab\xffcd"), models.CodeValidation},
		{"truncated UTF-8 sequence", content("\xf0\x9f\x98"), models.CodeValidation},
		{"nil metadata", withMeta(nil), ""},
		{"empty metadata", withMeta(models.JSONObject("{}")), ""},
		{"metadata of exactly 10240 bytes", func(t *testing.T) models.MessageInput {
			return models.MessageInput{Content: "hi", Metadata: metadataOfSize(t, 10240)}
		}, ""},
		{"metadata of 10241 bytes", func(t *testing.T) models.MessageInput {
			return models.MessageInput{Content: "hi", Metadata: metadataOfSize(t, 10241)}
		}, models.CodeValidation},
		{"no attachments", withAtt(nil), ""},
		{"10 attachments", withAtt(attachments(10)), ""},
		{"11 attachments", withAtt(attachments(11)), models.CodeValidation},
		{"attachment with name", withAtt(models.Attachments{{Type: "image", URL: "https://example.com/a.png", Name: &name}}), ""},
		{"attachment with empty type", withAtt(models.Attachments{{Type: "", URL: "https://example.com/a.png"}}), models.CodeValidation},
		{"second attachment invalid", withAtt(models.Attachments{
			{Type: "image", URL: "https://example.com/a.png"},
			{Type: "image", URL: "/relative"},
		}), models.CodeValidation},
		{"https url", withURL("https://example.com/a.png"), ""},
		{"http url with port and query", withURL("http://example.com:8080/a.png?x=1"), ""},
		{"upper-case scheme", withURL("HTTPS://EXAMPLE.COM/a.png"), ""},
		{"ftp url", withURL("ftp://x"), models.CodeValidation},
		{"relative path", withURL("/relative"), models.CodeValidation},
		{"scheme-relative url", withURL("//example.com/a.png"), models.CodeValidation},
		{"http without host", withURL("http://"), models.CodeValidation},
		{"https with empty host and path", withURL("https:///a.png"), models.CodeValidation},
		{"opaque http url", withURL("http:example.com"), models.CodeValidation},
		{"javascript url", withURL("javascript:alert(1)"), models.CodeValidation},
		{"data url", withURL("data:image/png;base64,AAAA"), models.CodeValidation},
		{"empty url", withURL(""), models.CodeValidation},
		{"unparsable url", withURL("https://exa mple.com"), models.CodeValidation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.in(t).Validate()
			if tc.wantCode == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %v", tc.wantCode)
			}
			if got, want := models.ErrorCode(err), tc.wantCode; got != want {
				t.Errorf("ErrorCode = %v, want %v (err %v)", got, want, err)
			}
		})
	}
}

func content(s string) func(*testing.T) models.MessageInput {
	return func(*testing.T) models.MessageInput { return models.MessageInput{Content: s} }
}

func withMeta(m models.JSONObject) func(*testing.T) models.MessageInput {
	return func(*testing.T) models.MessageInput { return models.MessageInput{Content: "hi", Metadata: m} }
}

func withAtt(a models.Attachments) func(*testing.T) models.MessageInput {
	return func(*testing.T) models.MessageInput { return models.MessageInput{Content: "hi", Attachments: a} }
}

func withURL(u string) func(*testing.T) models.MessageInput {
	return withAtt(models.Attachments{{Type: "image", URL: u}})
}

// The three sentences below are documented contract (the reference API's
// error bodies), so they are checked verbatim.
func TestMessageInputValidateDocumentedMessages(t *testing.T) {
	tests := []struct {
		name string
		in   func(t *testing.T) models.MessageInput
		want string
	}{
		{"empty content", content(""), "Content cannot be empty"},
		{"content too long", content(strings.Repeat("a", 4001)), "Content exceeds maximum length of 4000 characters"},
		{"metadata too large", func(t *testing.T) models.MessageInput {
			return models.MessageInput{Content: "hi", Metadata: metadataOfSize(t, 10241)}
		}, "Metadata exceeds maximum size of 10240 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.in(t).Validate()
			if got, want := models.ErrorCode(err), models.CodeValidation; got != want {
				t.Fatalf("ErrorCode = %v, want %v (err %v)", got, want, err)
			}
			if got, want := models.AsError(err).Message, tc.want; got != want {
				t.Errorf("Message = %q, want %q", got, want)
			}
		})
	}
}

func TestValidateMetadata(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		wantErr bool
	}{
		{"small", 16, false},
		{"one under the limit", 10239, false},
		{"at the limit", 10240, false},
		{"one over the limit", 10241, true},
		{"far over the limit", 20000, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := models.ValidateMetadata(metadataOfSize(t, tc.size))
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("ValidateMetadata = %v, want nil", err)
				}
				return
			}
			if got, want := models.ErrorCode(err), models.CodeValidation; got != want {
				t.Errorf("ErrorCode = %v, want %v (err %v)", got, want, err)
			}
		})
	}
}

func TestAttachmentsValidateDetails(t *testing.T) {
	tests := []struct {
		name      string
		list      models.Attachments
		wantIndex int
	}{
		{"first bad type", models.Attachments{{Type: "", URL: "https://example.com"}}, 0},
		{"third bad url", models.Attachments{
			{Type: "a", URL: "https://example.com"},
			{Type: "b", URL: "http://example.com"},
			{Type: "c", URL: "ftp://example.com"},
		}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.list.Validate()
			if got, want := models.ErrorCode(err), models.CodeValidation; got != want {
				t.Fatalf("ErrorCode = %v, want %v (err %v)", got, want, err)
			}
			if got, want := models.AsError(err).Details.Map()["attachment"], any(tc.wantIndex); got != want {
				t.Errorf("details.attachment = %v, want %v", got, want)
			}
		})
	}
}
