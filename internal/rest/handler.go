// Package rest is the REST shim: the elizaOS Sessions API routes under
// /api/messaging/sessions, converting JSON to service calls and back.
package rest

import (
	"log/slog"
	"net/http"

	"sessionhub/internal/chat"
)

// Handler serves the REST shim.
type Handler struct {
	chat *chat.Service
	log  *slog.Logger
}

// New builds the shim over the service.
func New(svc *chat.Service, log *slog.Logger) *Handler {
	return &Handler{chat: svc, log: log}
}

// Register adds the shim's routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/messaging/sessions", h.createSession)
	mux.HandleFunc("POST /api/messaging/sessions/{sessionId}/messages", h.sendMessage)
}
