package rest

import (
	"encoding/json"
	"net/http"
	"time"

	"sessionhub/internal/chat"
	"sessionhub/models"
)

// timestamp renders as the reference does: ISO 8601 UTC with milliseconds.
type timestamp time.Time

func (t timestamp) MarshalJSON() ([]byte, error) {
	return []byte(`"` + models.FormatTime(time.Time(t)) + `"`), nil
}

type createSessionRequest struct {
	AgentID       *string                  `json:"agentId"`
	UserID        *string                  `json:"userId"`
	Metadata      json.RawMessage          `json:"metadata"`
	TimeoutConfig *models.TimeoutOverrides `json:"timeoutConfig"`
}

// createSessionResponse is the reference's create body (v1.6.3+ shape).
// channelId is the session id: sessionhub has no separate channel.
type createSessionResponse struct {
	SessionID     string               `json:"sessionId"`
	ChannelID     string               `json:"channelId"`
	AgentID       string               `json:"agentId"`
	UserID        string               `json:"userId"`
	CreatedAt     timestamp            `json:"createdAt"`
	Metadata      models.JSONObject    `json:"metadata"`
	ExpiresAt     timestamp            `json:"expiresAt"`
	TimeoutConfig models.TimeoutConfig `json:"timeoutConfig"`
}

// createSession is POST /api/messaging/sessions.
func (h *Handler) createSession(w http.ResponseWriter, r *http.Request) {
	var req createSessionRequest
	if err := decodeJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	metadata, err := parseMetadata(req.Metadata)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	in := chat.CreateSessionInput{AgentID: deref(req.AgentID), UserID: deref(req.UserID), Metadata: metadata}
	if req.TimeoutConfig != nil {
		in.Timeout = *req.TimeoutConfig
	}
	s, err := h.chat.CreateSession(r.Context(), in)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.reply(w, http.StatusCreated, createSessionResponse{
		SessionID:     s.ID.String(),
		ChannelID:     s.ID.String(),
		AgentID:       s.AgentID.String(),
		UserID:        s.UserID.String(),
		CreatedAt:     timestamp(s.CreatedAt),
		Metadata:      s.Metadata,
		ExpiresAt:     timestamp(s.ExpiresAt),
		TimeoutConfig: s.TimeoutConfig,
	})
}

type sendMessageRequest struct {
	Content     *string             `json:"content"`
	Metadata    json.RawMessage     `json:"metadata"`
	Attachments []models.Attachment `json:"attachments"`
}

// sendMessageResponse is the documented send body; attachments appear only when sent.
type sendMessageResponse struct {
	ID            string              `json:"id"`
	Content       string              `json:"content"`
	AuthorID      string              `json:"authorId"`
	CreatedAt     timestamp           `json:"createdAt"`
	Metadata      models.JSONObject   `json:"metadata"`
	Attachments   []models.Attachment `json:"attachments,omitempty"`
	SessionStatus sessionStatus       `json:"sessionStatus"`
}

type sessionStatus struct {
	ExpiresAt        timestamp `json:"expiresAt"`
	RenewalCount     int       `json:"renewalCount"`
	WasRenewed       bool      `json:"wasRenewed"`
	IsNearExpiration bool      `json:"isNearExpiration"`
}

// sendMessage is POST /api/messaging/sessions/{sessionId}/messages.
// As in the reference, a malformed body is rejected before the session is
// looked up; content rules are checked after (404/410 win over them).
func (h *Handler) sendMessage(w http.ResponseWriter, r *http.Request) {
	var req sendMessageRequest
	if err := decodeJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	if req.Content == nil {
		h.writeError(w, r, badRequest("Content must be a string"))
		return
	}
	metadata, err := parseMetadata(req.Metadata)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	msg, err := h.chat.SendMessage(r.Context(), r.PathValue("sessionId"), models.MessageInput{
		Content:        *req.Content,
		Metadata:       metadata,
		Attachments:    req.Attachments,
		IdempotencyKey: r.Header.Get("Idempotency-Key"),
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.reply(w, http.StatusCreated, newSendMessageResponse(msg))
}

// newSendMessageResponse is the documented send body.
func newSendMessageResponse(msg *models.Message) sendMessageResponse {
	st := msg.SessionStatus
	return sendMessageResponse{
		ID:          msg.ID.String(),
		Content:     msg.Content,
		AuthorID:    msg.AuthorID.String(),
		CreatedAt:   timestamp(msg.CreatedAt),
		Metadata:    msg.Metadata,
		Attachments: msg.Attachments,
		SessionStatus: sessionStatus{
			ExpiresAt:        timestamp(st.ExpiresAt),
			RenewalCount:     st.RenewalCount,
			WasRenewed:       st.WasRenewed,
			IsNearExpiration: st.IsNearExpiration,
		},
	}
}

func parseMetadata(raw json.RawMessage) (models.JSONObject, error) {
	m, err := models.ParseJSONObject(raw)
	if err != nil {
		return nil, badRequest("Metadata must be a JSON object")
	}
	return m, nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
