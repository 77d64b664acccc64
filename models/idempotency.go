package models

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// IdempotencyTTL is how long a send's Idempotency-Key is remembered.
const IdempotencyTTL = 24 * time.Hour

// MaxIdempotencyKeyChars bounds a client's key.
const MaxIdempotencyKeyChars = 255

// IdempotencyKey remembers the first result of a send made with a key.
type IdempotencyKey struct {
	Scope         string     `gorm:"primaryKey"`
	Key           string     `gorm:"primaryKey"`
	RequestHash   string     `gorm:"not null"`
	SessionID     uuid.UUID  `gorm:"type:uuid;not null"`
	MessageID     uuid.UUID  `gorm:"type:uuid;not null"`
	SessionStatus JSONObject `gorm:"not null"`
	CreatedAt     time.Time  `gorm:"not null;autoCreateTime:false"`
}

// ValidateIdempotencyKey checks a client's key: 1 to 255 characters.
func ValidateIdempotencyKey(key string) error {
	if n := utf8.RuneCountInString(key); n == 0 || n > MaxIdempotencyKeyChars || !utf8.ValidString(key) {
		return ErrValidation("Idempotency-Key must be 1 to 255 characters")
	}
	return nil
}

// RequestHash fingerprints a send so a reused key can be told apart from a
// retried request: the session, who authors it, and the exact input.
func RequestHash(sessionID string, isAgent bool, in MessageInput) string {
	b, _ := json.Marshal(struct {
		SessionID   string      `json:"s"`
		IsAgent     bool        `json:"a"`
		Content     string      `json:"c"`
		Metadata    JSONObject  `json:"m"`
		Attachments Attachments `json:"t"`
	}{sessionID, isAgent, in.Content, in.Metadata, in.Attachments})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// EncodeStatus stores a send's SessionStatus with the key (none for agent messages).
func EncodeStatus(s *SessionStatus) JSONObject {
	if s == nil {
		return JSONObject("{}")
	}
	b, _ := json.Marshal(s)
	return b
}

// DecodeStatus is the inverse of EncodeStatus.
func DecodeStatus(o JSONObject) *SessionStatus {
	var s SessionStatus
	if len(o) == 0 || string(o) == "{}" || json.Unmarshal(o, &s) != nil {
		return nil
	}
	s.ExpiresAt = s.ExpiresAt.UTC()
	return &s
}
