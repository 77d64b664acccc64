package rest

import (
	"net/http"

	"sessionhub/internal/chat"
	"sessionhub/models"
)

type listStats struct {
	TotalSessions   int64 `json:"totalSessions"`
	ActiveSessions  int64 `json:"activeSessions"`
	ExpiredSessions int64 `json:"expiredSessions"`
}

type listResponse struct {
	Sessions   []sessionInfo `json:"sessions"`
	Total      int64         `json:"total"`
	Stats      listStats     `json:"stats"`
	HasMore    bool          `json:"hasMore"`
	NextCursor string        `json:"nextCursor,omitempty"`
}

// listSessions is GET /api/messaging/sessions?limit=&cursor=: live sessions
// the caller may see, oldest first as in the reference, but paged. total
// counts all live ones; stats count stored ones.
func (h *Handler) listSessions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := parseLimit(q.Get("limit"), 50)
	page, err := h.chat.Sessions(r.Context(), chat.SessionFilter{State: new(models.SessionStateActive)},
		models.PageArgs{First: &limit, After: q.Get("cursor")}, false)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	stats, err := h.chat.Stats(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	res := listResponse{
		Sessions: make([]sessionInfo, len(page.Sessions)),
		Total:    stats.Active,
		Stats:    listStats{TotalSessions: stats.Total, ActiveSessions: stats.Active, ExpiredSessions: stats.Expired},
		HasMore:  page.Info.HasNextPage,
	}
	for i, s := range page.Sessions {
		res.Sessions[i] = newSessionInfo(s, stats.Now)
	}
	if page.Info.HasNextPage && page.Info.EndCursor != nil {
		res.NextCursor = *page.Info.EndCursor
	}
	h.reply(w, http.StatusOK, res)
}
