package models

import (
	"net/url"
	"strconv"
	"unicode/utf8"
)

// Input limits (SPEC §3).
const (
	MaxContentChars  = 4000  // Unicode code points
	MaxMetadataBytes = 10240 // compact JSON encoding
	MaxAttachments   = 10
)

// MessageInput is what a sender provides; everything else about a message is decided by the server.
type MessageInput struct {
	Content     string
	Metadata    JSONObject
	Attachments Attachments
	// IdempotencyKey, when set, makes a retried send return its first result.
	IdempotencyKey string
}

// Validate checks content, metadata and attachments against SPEC §3.
func (in MessageInput) Validate() error {
	if in.Content == "" {
		return ErrValidation("Content cannot be empty")
	}
	if !ValidText(in.Content) {
		return ErrInvalidText("content")
	}
	if utf8.RuneCountInString(in.Content) > MaxContentChars {
		return ErrValidation("Content exceeds maximum length of 4000 characters")
	}
	if err := ValidateMetadata(in.Metadata); err != nil {
		return err
	}
	return in.Attachments.Validate()
}

// ValidateMetadata checks the size of a metadata object and its text.
func ValidateMetadata(m JSONObject) error {
	if len(m) > MaxMetadataBytes {
		return ErrValidation("Metadata exceeds maximum size of 10240 bytes")
	}
	if !ValidJSONText(m) {
		return ErrInvalidText("metadata")
	}
	return nil
}

// Validate checks the count and every attachment: a non-empty type and an
// absolute http(s) URL.
func (a Attachments) Validate() error {
	if len(a) > MaxAttachments {
		return ErrValidation("Too many attachments: at most 10 are allowed")
	}
	for i, att := range a {
		where := Detail{"attachment", i}
		if att.Type == "" {
			return ErrValidation("Attachment "+strconv.Itoa(i)+" must have a type", where)
		}
		if !ValidText(att.Type) || !ValidText(att.URL) || att.Name != nil && !ValidText(*att.Name) {
			return ErrInvalidText("attachment " + strconv.Itoa(i))
		}
		u, err := url.Parse(att.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
			return ErrValidation("Attachment "+strconv.Itoa(i)+" must have an absolute http or https url", where)
		}
	}
	return nil
}
