// Package rest is the REST shim: the elizaOS Sessions API routes under
// /api/messaging/sessions, converting JSON to service calls and back.
package rest

import (
	"log/slog"
	"net/http"
	"time"

	"sessionhub/internal/chat"
)

// Handler serves the REST shim.
type Handler struct {
	chat    *chat.Service
	log     *slog.Logger
	started time.Time // for the health route's uptime
	compat  Compat    // answer envelope (REST_COMPAT)
}

// New builds the shim over the service.
func New(svc *chat.Service, log *slog.Logger, opts ...Option) *Handler {
	h := &Handler{chat: svc, log: log, started: time.Now()}
	for _, opt := range opts {
		opt(h)
	}
	return h
}

// Register adds the shim's routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/messaging/sessions", h.createSession)
	mux.HandleFunc("GET /api/messaging/sessions", h.listSessions)
	mux.HandleFunc("GET /api/messaging/sessions/health", h.health)
	mux.HandleFunc("GET /api/messaging/sessions/{sessionId}", h.getSession)
	mux.HandleFunc("DELETE /api/messaging/sessions/{sessionId}", h.deleteSession)
	mux.HandleFunc("POST /api/messaging/sessions/{sessionId}/messages", h.sendMessage)
	mux.HandleFunc("GET /api/messaging/sessions/{sessionId}/messages", h.getMessages)
	mux.HandleFunc("POST /api/messaging/sessions/{sessionId}/renew", h.renewSession)
	mux.HandleFunc("PATCH /api/messaging/sessions/{sessionId}/timeout", h.updateTimeout)
	mux.HandleFunc("POST /api/messaging/sessions/{sessionId}/heartbeat", h.heartbeat)
}
