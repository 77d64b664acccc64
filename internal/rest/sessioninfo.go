package rest

import (
	"net/http"
	"time"

	"sessionhub/models"
)

// sessionInfo is the reference's SessionInfo, keys in its order. channelId is
// the session id: sessionhub has no separate channel.
type sessionInfo struct {
	SessionID        string               `json:"sessionId"`
	ChannelID        string               `json:"channelId"`
	AgentID          string               `json:"agentId"`
	UserID           string               `json:"userId"`
	CreatedAt        timestamp            `json:"createdAt"`
	LastActivity     timestamp            `json:"lastActivity"`
	Metadata         models.JSONObject    `json:"metadata"`
	ExpiresAt        timestamp            `json:"expiresAt"`
	TimeoutConfig    models.TimeoutConfig `json:"timeoutConfig"`
	RenewalCount     int                  `json:"renewalCount"`
	TimeRemaining    int64                `json:"timeRemaining"`
	IsNearExpiration bool                 `json:"isNearExpiration"`
}

func newSessionInfo(s *models.Session, now time.Time) sessionInfo {
	return sessionInfo{
		SessionID:        s.ID.String(),
		ChannelID:        s.ID.String(),
		AgentID:          s.AgentID.String(),
		UserID:           s.UserID.String(),
		CreatedAt:        timestamp(s.CreatedAt),
		LastActivity:     timestamp(s.LastActivity),
		Metadata:         s.Metadata,
		ExpiresAt:        timestamp(s.ExpiresAt),
		TimeoutConfig:    s.TimeoutConfig,
		RenewalCount:     s.RenewalCount,
		TimeRemaining:    s.RemainingAt(now).Milliseconds(),
		IsNearExpiration: s.NearExpirationAt(now),
	}
}

// answerSession writes a session as SessionInfo, or the error.
func (h *Handler) answerSession(w http.ResponseWriter, r *http.Request, s *models.Session, err error) {
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.reply(w, http.StatusOK, newSessionInfo(s, h.chat.Now()))
}

// getSession is GET /api/messaging/sessions/{sessionId}: a live session.
func (h *Handler) getSession(w http.ResponseWriter, r *http.Request) {
	s, err := h.chat.LiveSession(r.Context(), r.PathValue("sessionId"))
	h.answerSession(w, r, s, err)
}

// renewSession is POST …/renew: renew by hand (422 past the hard cap). Any body is ignored.
func (h *Handler) renewSession(w http.ResponseWriter, r *http.Request) {
	s, err := h.chat.RenewSession(r.Context(), r.PathValue("sessionId"))
	h.answerSession(w, r, s, err)
}

// heartbeat is POST …/heartbeat: activity without a message.
func (h *Handler) heartbeat(w http.ResponseWriter, r *http.Request) {
	s, err := h.chat.Heartbeat(r.Context(), r.PathValue("sessionId"))
	h.answerSession(w, r, s, err)
}

// updateTimeout is PATCH …/timeout with the config fields at the top level.
// As in the reference, an unknown or expired session is reported before a
// malformed body.
func (h *Handler) updateTimeout(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("sessionId")
	var o models.TimeoutOverrides
	if err := decodeJSON(w, r, &o); err != nil {
		if _, lookupErr := h.chat.LiveSession(r.Context(), id); lookupErr != nil {
			err = lookupErr
		}
		h.writeError(w, r, err)
		return
	}
	s, err := h.chat.UpdateTimeout(r.Context(), id, o)
	h.answerSession(w, r, s, err)
}

type deleteResponse struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
}

// deleteSession is DELETE …: the session and its messages, expired or not.
func (h *Handler) deleteSession(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("sessionId")
	if err := h.chat.DeleteSession(r.Context(), id); err != nil {
		h.writeError(w, r, err)
		return
	}
	h.reply(w, http.StatusOK, deleteResponse{Success: true, Message: "Session " + id + " deleted successfully"})
}
