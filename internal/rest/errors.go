package rest

import (
	"encoding/json"
	"errors"
	"net/http"

	"sessionhub/models"
)

// statusByCode is the one table from application error codes to HTTP statuses.
var statusByCode = map[models.Code]int{
	models.CodeSessionNotFound:      http.StatusNotFound,
	models.CodeSessionExpired:       http.StatusGone,
	models.CodeAgentNotFound:        http.StatusNotFound,
	models.CodeValidation:           http.StatusBadRequest,
	models.CodeSessionRenewalFailed: http.StatusUnprocessableEntity,
	models.CodeUnauthenticated:      http.StatusUnauthorized,
	models.CodeForbidden:            http.StatusForbidden,
	models.CodeRateLimited:          http.StatusTooManyRequests,
	models.CodeIdempotencyConflict:  http.StatusUnprocessableEntity,
	models.CodeUnavailable:          http.StatusServiceUnavailable,
	models.CodeUntrustedDocument:    http.StatusBadRequest, // GraphQL only
	models.CodeInternal:             http.StatusInternalServerError,
}

// errorBody is the shape of every error the shim sends: the documented
// `error` sentence and `details`, plus the machine `code`.
type errorBody struct {
	Error   string         `json:"error"`
	Details models.Details `json:"details,omitempty"`
	Code    models.Code    `json:"code"`
}

// requestError is a problem with the HTTP request itself (body too large,
// wrong content type) whose status is not the code's usual one.
type requestError struct {
	status int
	err    *models.Error
}

func (e *requestError) Error() string { return e.err.Error() }

// requestErr reports a bad request with a status of its own and code VALIDATION_ERROR.
func requestErr(status int, message string) error {
	return &requestError{status: status, err: models.ErrValidation(message)}
}

func badRequest(message string) error { return requestErr(http.StatusBadRequest, message) }

// writeError answers with err's status and body. Internal errors are logged
// and replaced by a generic sentence.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var appErr *models.Error
	status := http.StatusInternalServerError
	if reqErr, ok := errors.AsType[*requestError](err); ok {
		appErr, status = reqErr.err, reqErr.status
	} else {
		appErr = models.AsError(err)
		status = statusByCode[appErr.Code]
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
	}
	if appErr.Code == models.CodeInternal && !errors.Is(err, r.Context().Err()) {
		h.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	// An error describes this moment (a session that expired, a database
	// that was down): no cache may keep it.
	w.Header().Set("Cache-Control", "no-store")
	if status == http.StatusRequestTimeout {
		w.Header().Set("Connection", "close") // the rest of the body is not waited for
	}
	writeJSON(w, status, h.errorEnvelope(appErr))
}

// Reject answers a request refused before it reached a handler
// (authentication, rate limit) with the shim's error shape.
func (h *Handler) Reject(w http.ResponseWriter, r *http.Request, status int, err error) {
	h.writeError(w, r, &requestError{status: status, err: models.AsError(err)})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(body)
}
