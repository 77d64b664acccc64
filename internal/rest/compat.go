package rest

import (
	"errors"
	"net/http"

	"sessionhub/models"
)

// Compat chooses how the shim presents its answers (REST_COMPAT). The routes,
// status codes, headers and the data itself are the same in every mode; only
// the JSON envelope differs, and every answer goes through reply or
// writeError, the one place that knows the modes.
type Compat string

const (
	// CompatDocumented answers the documented bodies (the elizaOS
	// send-message page): a success is the object itself, an error is
	// {"error": "<sentence>", "details": {…}, "code": "<CODE>"}.
	CompatDocumented Compat = ""
	// CompatElizaOS answers in the envelope @elizaos/api-client's
	// BaseApiClient unwraps: a success is {"success": true, "data": <object>}
	// (the client returns data), an error is {"success": false, "error":
	// {"code", "message", "details"}} (the client throws ApiError(code,
	// message)). A send's data is the v1.7 MessageResponse
	// {success, userMessage, sessionStatus} that SessionsService.sendMessage
	// is typed to return.
	CompatElizaOS Compat = "elizaos"
)

// ParseCompat reads a REST_COMPAT value: empty (or "documented") or "elizaos".
func ParseCompat(raw string) (Compat, error) {
	switch raw {
	case "", "documented":
		return CompatDocumented, nil
	case string(CompatElizaOS):
		return CompatElizaOS, nil
	}
	return "", errors.New("must be documented or elizaos")
}

// Option configures the shim.
type Option func(*Handler)

// WithCompat selects the answer envelope (default CompatDocumented).
func WithCompat(c Compat) Option {
	return func(h *Handler) { h.compat = c }
}

// elizaOSShaped is a documented body whose data differs in the elizaos mode
// (more than the envelope).
type elizaOSShaped interface {
	elizaOS() any
}

type elizaOSSuccess struct {
	Success bool `json:"success"`
	Data    any  `json:"data"`
}

type elizaOSError struct {
	Success bool             `json:"success"`
	Error   elizaOSErrorBody `json:"error"`
}

type elizaOSErrorBody struct {
	Code    models.Code    `json:"code"`
	Message string         `json:"message"`
	Details models.Details `json:"details,omitempty"`
}

// reply writes a successful answer (or, for health, a 503 carrying its
// body) in the shim's mode.
func (h *Handler) reply(w http.ResponseWriter, status int, body any) {
	if h.compat == CompatElizaOS {
		if shaped, ok := body.(elizaOSShaped); ok {
			body = shaped.elizaOS()
		}
		if status >= http.StatusBadRequest {
			// Only the health route answers a failure with a body of its own:
			// the client turns it into ApiError("UNAVAILABLE", …).
			unavailable := models.ErrUnavailable()
			body = elizaOSError{Error: elizaOSErrorBody{Code: unavailable.Code, Message: unavailable.Message}}
		} else {
			body = elizaOSSuccess{Success: true, Data: body}
		}
	}
	writeJSON(w, status, body)
}

// errorEnvelope is the body of an error answer in the shim's mode.
func (h *Handler) errorEnvelope(appErr *models.Error) any {
	if h.compat == CompatElizaOS {
		return elizaOSError{Error: elizaOSErrorBody{Code: appErr.Code, Message: appErr.Message, Details: appErr.Details}}
	}
	return errorBody{Error: appErr.Message, Details: appErr.Details, Code: appErr.Code}
}

// elizaOS is the v1.7 send answer: the stored message under userMessage.
func (r sendMessageResponse) elizaOS() any {
	return elizaOSSendResponse{
		Success: true,
		UserMessage: elizaOSUserMessage{
			ID: r.ID, Content: r.Content, AuthorID: r.AuthorID, CreatedAt: r.CreatedAt,
			Metadata: r.Metadata, Attachments: r.Attachments,
		},
		SessionStatus: r.SessionStatus,
	}
}

type elizaOSSendResponse struct {
	Success       bool               `json:"success"`
	UserMessage   elizaOSUserMessage `json:"userMessage"`
	SessionStatus sessionStatus      `json:"sessionStatus"`
}

type elizaOSUserMessage struct {
	ID          string              `json:"id"`
	Content     string              `json:"content"`
	AuthorID    string              `json:"authorId"`
	CreatedAt   timestamp           `json:"createdAt"`
	Metadata    models.JSONObject   `json:"metadata"`
	Attachments []models.Attachment `json:"attachments,omitempty"`
}
