package rest

import (
	"context"
	"net/http"
	"time"
)

// slowDatabase is when health turns "degraded".
const slowDatabase = 500 * time.Millisecond

type healthResponse struct {
	Status         string    `json:"status"`
	ActiveSessions int64     `json:"activeSessions"`
	Timestamp      timestamp `json:"timestamp"`
	ExpiringSoon   int64     `json:"expiringSoon"`
	Uptime         float64   `json:"uptime"`
}

// health is GET /api/messaging/sessions/health: "healthy", "degraded" when
// the database answers slowly, "unhealthy" (503) when it does not answer.
// Durations here are operational timings, measured on the wall clock.
func (h *Handler) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	began := time.Now()
	stats, err := h.chat.Stats(ctx)
	took := time.Since(began)
	res := healthResponse{Status: "healthy", Timestamp: timestamp(h.chat.Now()), Uptime: time.Since(h.started).Seconds()}
	switch {
	case err != nil:
		h.log.Warn("health check: database unavailable", "err", err)
		res.Status = "unhealthy"
		h.reply(w, http.StatusServiceUnavailable, res)
		return
	case took > slowDatabase:
		res.Status = "degraded"
	}
	res.ActiveSessions, res.ExpiringSoon = stats.Active, stats.ExpiringSoon
	h.reply(w, http.StatusOK, res)
}
