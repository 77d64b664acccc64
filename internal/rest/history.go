package rest

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"sessionhub/internal/chat"
	"sessionhub/models"
)

type historyMessage struct {
	ID          string              `json:"id"`
	Content     string              `json:"content"`
	AuthorID    string              `json:"authorId"`
	IsAgent     bool                `json:"isAgent"`
	CreatedAt   timestamp           `json:"createdAt"`
	Metadata    models.JSONObject   `json:"metadata"`
	Attachments []models.Attachment `json:"attachments,omitempty"`
}

type historyCursors struct {
	Before int64 `json:"before"` // epoch ms of the oldest message on the page
	After  int64 `json:"after"`  // epoch ms of the newest
}

type historyTokens struct {
	Before string `json:"before"` // exact position of the oldest message on the page
	After  string `json:"after"`  // exact position of the newest
}

type historyResponse struct {
	Messages     []historyMessage `json:"messages"`
	HasMore      bool             `json:"hasMore"`
	Cursors      *historyCursors  `json:"cursors,omitempty"`
	CursorTokens *historyTokens   `json:"cursorTokens,omitempty"`
}

// getMessages is GET …/messages?limit=&before=&after=: history, newest
// first. before/after take the reference's epoch milliseconds or, for exact
// paging, a cursorTokens value.
func (h *Handler) getMessages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := chat.HistoryRequest{Limit: parseLimit(q.Get("limit"), 50)}
	for _, bound := range []struct {
		name string
		dst  **models.Key
		key  func(time.Time) models.Key
	}{{"before", &req.Before, models.Before}, {"after", &req.After, models.After}} {
		raw := q.Get(bound.name)
		if raw == "" {
			continue
		}
		key, err := parseBound(raw, bound.key)
		if err != nil {
			h.writeError(w, r, badRequest("Invalid pagination parameter '"+bound.name+"': Must be a valid timestamp"))
			return
		}
		*bound.dst = &key
	}
	page, err := h.chat.LiveHistory(r.Context(), r.PathValue("sessionId"), req)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	res := historyResponse{Messages: make([]historyMessage, len(page.Messages)), HasMore: page.HasMore}
	for i, m := range page.Messages {
		res.Messages[i] = historyMessage{
			ID: m.ID.String(), Content: m.Content, AuthorID: m.AuthorID.String(), IsAgent: m.IsAgent,
			CreatedAt: timestamp(m.CreatedAt), Metadata: m.Metadata, Attachments: m.Attachments,
		}
	}
	if n := len(page.Messages); n > 0 {
		newest, oldest := page.Messages[0], page.Messages[n-1]
		res.Cursors = &historyCursors{Before: oldest.CreatedAt.UnixMilli(), After: newest.CreatedAt.UnixMilli()}
		res.CursorTokens = &historyTokens{
			Before: models.KeyOf(oldest.CreatedAt, oldest.ID).Cursor(),
			After:  models.KeyOf(newest.CreatedAt, newest.ID).Cursor(),
		}
	}
	h.reply(w, http.StatusOK, res)
}

// maxEpochMillis is the end of year 9999, the last time every database stores.
const maxEpochMillis = 253402300799999

var epochMillis = regexp.MustCompile(`^-?\d+(\.\d*)?$`)

// parseBound reads epoch milliseconds (fraction dropped, as the reference's
// parseInt does) or an opaque cursor.
func parseBound(raw string, byTime func(time.Time) models.Key) (models.Key, error) {
	if epochMillis.MatchString(raw) {
		whole, _, _ := strings.Cut(raw, ".")
		ms, err := strconv.ParseInt(whole, 10, 64)
		if err != nil || ms < 0 || ms > maxEpochMillis {
			return models.Key{}, strconv.ErrRange
		}
		return byTime(time.UnixMilli(ms).UTC()), nil
	}
	return models.ParseCursor(raw)
}

var leadingInt = regexp.MustCompile(`^\s*[-+]?\d+`)

// parseLimit follows the reference: absent or garbage is the default, a
// leading integer is used ("10abc" is 10), and the result is clamped to 1..100.
func parseLimit(raw string, def int) int {
	m := leadingInt.FindString(raw)
	if m == "" {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(m))
	if err != nil { // more digits than an int holds
		if strings.HasPrefix(strings.TrimSpace(m), "-") {
			return 1
		}
		return models.MaxPageSize
	}
	return max(1, min(n, models.MaxPageSize))
}
