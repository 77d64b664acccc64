package models

import (
	"bytes"
	"encoding/json"
	"errors"
)

// Code is a machine-readable error code, shared by every transport
// (GraphQL extensions.code, the REST body's "code").
type Code string

// Application error codes (SPEC §4).
const (
	CodeSessionNotFound      Code = "SESSION_NOT_FOUND"
	CodeSessionExpired       Code = "SESSION_EXPIRED"
	CodeAgentNotFound        Code = "AGENT_NOT_FOUND"
	CodeValidation           Code = "VALIDATION_ERROR"
	CodeSessionRenewalFailed Code = "SESSION_RENEWAL_FAILED"
	CodeUnauthenticated      Code = "UNAUTHENTICATED"
	CodeForbidden            Code = "FORBIDDEN"
	CodeRateLimited          Code = "RATE_LIMITED"
	CodeIdempotencyConflict  Code = "IDEMPOTENCY_CONFLICT"
	// CodeUnavailable: the database or its storage cannot take the request
	// now (down, stalled, full, read-only); retry shortly.
	CodeUnavailable Code = "UNAVAILABLE"
	// CodeSlowConsumer ends a subscription whose client did not read its events.
	CodeSlowConsumer Code = "SLOW_CONSUMER"
	// CodeUntrustedDocument refuses a GraphQL document that is not in the
	// deployment's trusted-documents manifest (GRAPHQL_TRUSTED_DOCUMENTS_ONLY).
	CodeUntrustedDocument Code = "UNTRUSTED_DOCUMENT"
	// CodeFeedCursorExpired refuses an agentEvents cursor that the agent
	// feed's retention sweep has passed: events after it were removed.
	CodeFeedCursorExpired Code = "FEED_CURSOR_EXPIRED"
	CodeInternal          Code = "INTERNAL"
)

// Error is the one application error. Its Message is a human sentence that is
// safe to show to clients; Details carries the machine fields (in a stable
// order, so REST bodies match the documented ones byte for byte).
type Error struct {
	Code    Code
	Message string
	Details Details
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// ErrNotFound is what a store returns for a missing row; the service turns it
// into the coded error that names what was missing.
var ErrNotFound = errors.New("not found")

// ErrDuplicate is what a store returns when a primary key is taken.
var ErrDuplicate = errors.New("duplicate key")

// newError builds a coded error; messages are fixed sentences, never formatted from internals.
func newError(code Code, message string, details ...Detail) *Error {
	return &Error{Code: code, Message: message, Details: details}
}

// ErrorCode returns the code of err, or CodeInternal for anything that is not an *Error.
func ErrorCode(err error) Code {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return CodeInternal
}

// AsError returns the application error inside err, or a generic internal
// error whose message reveals nothing about err.
func AsError(err error) *Error {
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	return ErrInternal()
}

// Detail is one key of an error's details object.
type Detail struct {
	Key   string
	Value any
}

// Details is an ordered JSON object.
type Details []Detail

// MarshalJSON writes the details as an object, keys in order.
func (d Details) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, kv := range d {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := json.Marshal(kv.Key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(kv.Value)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// Map returns the details as a map (for GraphQL extensions).
func (d Details) Map() map[string]any {
	if len(d) == 0 {
		return nil
	}
	m := make(map[string]any, len(d))
	for _, kv := range d {
		m[kv.Key] = kv.Value
	}
	return m
}

// The constructors below carry the documented sentences of the elizaOS
// Sessions API (reference/seed-send-session-message.md) where one exists.

func ErrSessionNotFound(sessionID string) *Error {
	return newError(CodeSessionNotFound, "Session not found", Detail{"sessionId", sessionID})
}

func ErrSessionExpired(sessionID string, expiresAt string) *Error {
	return newError(CodeSessionExpired, "Session has expired",
		Detail{"sessionId", sessionID}, Detail{"expiresAt", expiresAt})
}

func ErrAgentNotFound(agentID string) *Error {
	return newError(CodeAgentNotFound, "Agent not found", Detail{"agentId", agentID})
}

// ErrValidation reports bad input; message is a complete sentence for the client.
func ErrValidation(message string, details ...Detail) *Error {
	return newError(CodeValidation, message, details...)
}

func ErrInternal() *Error {
	return newError(CodeInternal, "Internal server error")
}

// ErrRenewalFailed reports a manual renewal past the session's hard cap.
func ErrRenewalFailed(s *Session) *Error {
	return newError(CodeSessionRenewalFailed, "Cannot renew session: maximum duration reached",
		Detail{"sessionId", s.ID.String()},
		Detail{"createdAt", FormatTime(s.CreatedAt)},
		Detail{"maxDurationMinutes", s.TimeoutConfig.MaxDurationMinutes})
}

func ErrUnauthenticated(message string) *Error {
	return newError(CodeUnauthenticated, message)
}

func ErrForbidden(message string) *Error {
	return newError(CodeForbidden, message)
}

func ErrRateLimited(retryAfterSeconds int) *Error {
	return newError(CodeRateLimited, "Too many requests, retry later", Detail{"retryAfterSeconds", retryAfterSeconds})
}

func ErrIdempotencyConflict(key string) *Error {
	return newError(CodeIdempotencyConflict, "Idempotency-Key was already used with a different request",
		Detail{"idempotencyKey", key})
}

// ErrUnavailable reports that the database cannot be reached or is too slow;
// the request changed nothing and may be retried. Transports answer it with 503.
func ErrUnavailable() *Error {
	return newError(CodeUnavailable, "The database is unavailable, retry shortly")
}

// ErrStorageFull reports a write refused because the database's storage
// is full (SQLite: the disk; PostgreSQL: disk_full); nothing was written.
func ErrStorageFull() *Error {
	return newError(CodeUnavailable, "The database's storage is full, so nothing can be written; retry later")
}

// ErrStorageReadOnly reports a write refused because the database or its
// storage is read-only (or cannot be opened for writing); nothing was written.
func ErrStorageReadOnly() *Error {
	return newError(CodeUnavailable, "The database is read-only, so nothing can be written; retry later")
}

// ErrSlowConsumer ends a subscription whose client fell too far behind.
func ErrSlowConsumer(queued int) *Error {
	return newError(CodeSlowConsumer, "Subscription dropped: the client did not read its events fast enough",
		Detail{"queuedEvents", queued})
}

// ErrSendOutcomeUnknown reports a send whose write the database neither
// confirmed nor denied in time: the message may be stored. The client should
// look for details.messageId before sending again (or resend with the same
// Idempotency-Key).
func ErrSendOutcomeUnknown(sessionID, messageID string) *Error {
	return newError(CodeUnavailable, "The database did not confirm whether the message was stored; look for details.messageId before sending it again",
		Detail{"sessionId", sessionID}, Detail{"messageId", messageID})
}

// ErrEventsLost ends a subscription that missed events it could not read back
// from the database; the client should subscribe again from its cursor.
func ErrEventsLost() *Error {
	return newError(CodeUnavailable, "Subscription ended: missed events could not be read back; subscribe again with after set to the last cursor you saw")
}

// ErrRateLimitedBy refuses work beyond a quota (subscriptions per
// connection, per caller) with a sentence naming it.
func ErrRateLimitedBy(message, per string, limit int) *Error {
	return newError(CodeRateLimited, message, Detail{"per", per}, Detail{"limit", limit})
}

// ErrUntrustedDocument refuses a GraphQL document the server was not told to trust.
func ErrUntrustedDocument() *Error {
	return newError(CodeUntrustedDocument, "Only trusted documents are accepted: send the sha256Hash of a document from the trusted-documents manifest (extensions.persistedQuery)")
}

// ErrFeedCursorExpired refuses to resume an agent's feed from a position
// the retention sweep has passed (AGENT_FEED_RETENTION_HOURS): events
// between it and the horizon were removed. The client resyncs, then
// resumes from details.horizon (or without a cursor).
func ErrFeedCursorExpired(cursor, horizon string) *Error {
	return newError(CodeFeedCursorExpired, "The cursor points before the agent feed's retention horizon: events after it were removed; resync, then resume after details.horizon or without a cursor",
		Detail{"cursor", cursor}, Detail{"horizon", horizon})
}
