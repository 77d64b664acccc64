package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"sessionhub/internal/webhook"
	"sessionhub/models"
)

// WebhookSender POSTs one attempt of a delivery (internal/webhook.Client).
type WebhookSender interface {
	Post(ctx context.Context, url, secret, deliveryID, eventType string, body []byte, now time.Time) error
}

// WebhookOptions configures webhook deliveries.
type WebhookOptions struct {
	Sender WebhookSender
	// CheckURL validates a target when it is set (private targets refused
	// unless allowed).
	CheckURL func(string) error
	// FirstRetry is the delay before the second attempt; it doubles per
	// attempt (with ±20 % jitter) up to an hour. Default 1 s.
	FirstRetry time.Duration
	// RetryWindow is how long a delivery is retried before it fails.
	// Default 24 h.
	RetryWindow time.Duration
}

// WithWebhooks enables webhook deliveries (RunWebhooks).
func WithWebhooks(o WebhookOptions) Option {
	return func(s *Service) {
		if o.FirstRetry <= 0 {
			o.FirstRetry = time.Second
		}
		if o.RetryWindow <= 0 {
			o.RetryWindow = 24 * time.Hour
		}
		s.webhooks = &o
	}
}

// WebhookInput sets an agent's webhook; Events empty selects every type.
type WebhookInput struct {
	URL    string
	Secret string
	Events []models.WebhookEventType
}

const (
	minSecretChars = 16
	maxSecretChars = 256
)

// validate checks a webhook. Errors: VALIDATION_ERROR.
func (s *Service) validateWebhook(in *WebhookInput) error {
	check := func(u string) error { return webhook.CheckURL(u, false) }
	if s.webhooks != nil && s.webhooks.CheckURL != nil {
		check = s.webhooks.CheckURL
	}
	if err := check(in.URL); err != nil {
		return models.ErrValidation("Invalid webhook url: "+err.Error(), models.Detail{Key: "field", Value: "webhook.url"})
	}
	if n := utf8.RuneCountInString(in.Secret); n < minSecretChars || n > maxSecretChars || !models.ValidText(in.Secret) {
		return models.ErrValidation("Webhook secret must be 16 to 256 characters", models.Detail{Key: "field", Value: "webhook.secret"})
	}
	for _, e := range in.Events {
		known := false
		for _, t := range models.WebhookEventTypes {
			known = known || e == t
		}
		if !known {
			return models.ErrValidation("Unknown webhook event type", models.Detail{Key: "field", Value: "webhook.events"})
		}
	}
	return nil
}

func (s *Service) saveWebhook(ctx context.Context, agentID uuid.UUID, in *WebhookInput) error {
	now := s.Now()
	return s.store.SaveWebhook(ctx, &models.Webhook{AgentID: agentID, URL: in.URL, Secret: in.Secret, Events: in.Events, CreatedAt: now, UpdatedAt: now})
}

// UpdateAgentInput changes an agent; nil fields keep their values.
type UpdateAgentInput struct {
	Name          *string
	Webhook       *WebhookInput
	RemoveWebhook bool
}

// UpdateAgent renames an agent and sets or removes its webhook. Only
// admins may. A new webhook receives the events from now on; a changed one
// (new url, secret or types) continues where the old one stood.
// Errors: FORBIDDEN, AGENT_NOT_FOUND, VALIDATION_ERROR.
func (s *Service) UpdateAgent(ctx context.Context, id string, in UpdateAgentInput) (*models.Agent, error) {
	if models.PrincipalFrom(ctx).Role != models.RoleAdmin {
		return nil, models.ErrForbidden("Only admins can change agents")
	}
	agent, err := s.Agent(ctx, id)
	if err != nil {
		return nil, err
	}
	if in.Webhook != nil && in.RemoveWebhook {
		return nil, models.ErrValidation("Set webhook or removeWebhook, not both")
	}
	if in.Webhook != nil {
		if err := s.validateWebhook(in.Webhook); err != nil {
			return nil, err
		}
	}
	if in.Name != nil {
		name, err := agentName(*in.Name)
		if err != nil {
			return nil, err
		}
		if err := s.store.RenameAgent(ctx, agent.ID, name); err != nil {
			return nil, err
		}
		agent.Name = name
	}
	if in.Webhook != nil {
		if err := s.saveWebhook(ctx, agent.ID, in.Webhook); err != nil {
			return nil, err
		}
	}
	if in.RemoveWebhook {
		if err := s.store.DeleteWebhook(ctx, agent.ID); err != nil && !errors.Is(err, models.ErrNotFound) {
			return nil, err
		}
	}
	return agent, nil
}

// AgentWebhook is an agent's webhook (its secret blanked), nil without one.
// Admins only. Errors: FORBIDDEN.
func (s *Service) AgentWebhook(ctx context.Context, agentID uuid.UUID) (*models.Webhook, error) {
	if models.PrincipalFrom(ctx).Role != models.RoleAdmin {
		return nil, models.ErrForbidden("Only admins can read webhooks")
	}
	w, err := s.store.FindWebhook(ctx, agentID)
	if errors.Is(err, models.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	w.Secret = ""
	return w, nil
}

// WebhookDeliveries pages an agent's deliveries, newest first. The agent
// itself or an admin may read them. Errors: FORBIDDEN, VALIDATION_ERROR.
func (s *Service) WebhookDeliveries(ctx context.Context, agentID uuid.UUID, first int, after string) ([]*models.Delivery, bool, error) {
	if err := canFollowAgent(models.PrincipalFrom(ctx), agentID.String()); err != nil {
		return nil, false, err
	}
	if first < 1 || first > 100 {
		return nil, false, models.ErrValidation("first must be 1 to 100")
	}
	var before *uuid.UUID
	if after != "" {
		id, err := uuid.Parse(after)
		if err != nil {
			return nil, false, models.ErrValidation("Invalid cursor", models.Detail{Key: "cursor", Value: after})
		}
		before = &id
	}
	page, err := s.store.ListDeliveries(ctx, agentID, before, first+1)
	if err != nil {
		return nil, false, err
	}
	more := len(page) > first
	return page[:min(len(page), first)], more, nil
}

// Bounds of drawing and leasing.
const (
	drawRows      = 500
	drawPages     = 2
	deliveryLease = time.Minute // longer than an attempt can take
)

// DispatchWebhooks runs one pass: it draws new deliveries from every
// webhook agent's feed into the outbox, claims due ones for the workers of
// a fresh pool and waits for their attempts (RunWebhooks does the same
// continuously). Replicas may run it together: a webhook is drawn by one at
// a time and a delivery is leased to one at a time (SKIP LOCKED). Returns
// the attempts made.
func (s *Service) DispatchWebhooks(ctx context.Context) (int, error) {
	if s.webhooks == nil {
		return 0, nil
	}
	_, drawErr := s.drawWebhooks(ctx) // the agents drawn are attempted all the same
	pool := s.newDeliveryPool()
	claimed, _, err := pool.claim(ctx)
	pool.wait()
	return claimed, errors.Join(drawErr, err)
}

// drawWebhooks draws every webhook agent's new feed rows into the outbox
// and returns how many deliveries it drew. An agent whose draw fails is
// passed over until the next pass, so that it holds up no other agent; the
// error returned says how many failed, and the first one's cause.
func (s *Service) drawWebhooks(ctx context.Context) (int, error) {
	agents, err := s.store.WebhookAgents(ctx)
	if err != nil {
		return 0, err
	}
	total, failed := 0, 0
	var firstErr error
	for _, agentID := range agents {
		if ctx.Err() != nil {
			return total, ctx.Err()
		}
		// A busy feed is drawn in several pages per pass (bounded, so that
		// one agent cannot hold up the others' drawing).
		for range drawPages {
			var got drawResult
			if err := s.store.DrawDeliveries(ctx, agentID, s.draw(ctx, &got)); err != nil {
				if failed++; firstErr == nil {
					firstErr = fmt.Errorf("agent %s: %w", agentID, err)
				}
				break
			}
			total += got.deliveries
			if got.skipped != nil {
				s.log.WarnContext(ctx, "webhook fell behind the agent feed's retention horizon; events removed before they were drawn are not delivered",
					"agent", agentID, "position", got.skipped.from.Cursor(), "horizon", got.skipped.to.Cursor())
				if s.watchSkips != nil {
					s.watchSkips()
				}
			}
			if !got.full {
				break
			}
		}
	}
	if failed > 0 {
		return total, fmt.Errorf("drawing failed for %d of %d webhook agents, the first: %w", failed, len(agents), firstErr)
	}
	return total, nil
}

// drawResult is what one draw found: whether it read a whole page (more
// may follow), the skip to the horizon it made if any, and the deliveries
// it made (they are added unless another replica drew the same rows).
type drawResult struct {
	full       bool
	skipped    *drawSkip
	deliveries int
}

// drawSkip is a webhook's position moved from one the retention sweep had
// passed to the feed's horizon.
type drawSkip struct{ from, to models.FeedPosition }

// draw turns a webhook's next feed rows into deliveries of the types it
// wants, reporting into got. A position the retention sweep has passed
// moves to the horizon (README "Decisions"): the rows in between are gone,
// and stopping there would stop the webhook for good.
func (s *Service) draw(ctx context.Context, got *drawResult) func(*models.Webhook) ([]*models.Delivery, models.FeedPosition, error) {
	return func(hook *models.Webhook) ([]*models.Delivery, models.FeedPosition, error) {
		*got = drawResult{}
		pos := hook.Position
		page, err := s.store.ReadAgentFeed(ctx, hook.AgentID, pos, drawRows)
		if err != nil {
			return nil, pos, err
		}
		if pos.Less(page.Horizon) {
			got.skipped = &drawSkip{from: pos, to: page.Horizon}
			pos = page.Horizon // every row read is after it
		}
		rows := page.Rows
		got.full = len(rows) == drawRows
		now := s.Now()
		var out []*models.Delivery
		for _, row := range rows {
			for _, e := range row.Events() {
				if !pos.Before(row.Tx, row.Seq) && e.Position.Done <= pos.Done {
					continue
				}
				t := models.WebhookTypeOf(e.Event.Kind)
				if !hook.Wants(t) {
					continue
				}
				id := uuid.Must(uuid.NewV7())
				body, err := webhookBody(id, t, e)
				if err != nil {
					return nil, pos, err
				}
				out = append(out, &models.Delivery{ID: id, AgentID: hook.AgentID, SessionID: e.Event.SessionID,
					Position: e.Position, Type: t, Body: string(body), Status: models.DeliveryPending, CreatedAt: now, NextAttemptAt: now})
			}
			pos = models.FeedPosition{Tx: row.Tx, Seq: row.Seq, Done: 2}
		}
		got.deliveries = len(out)
		return out, pos, nil
	}
}

// attempt POSTs a leased delivery and records the outcome.
func (s *Service) attempt(ctx context.Context, d *models.Delivery) {
	hook, err := s.store.FindWebhook(ctx, d.AgentID)
	now := s.Now()
	switch {
	case errors.Is(err, models.ErrNotFound):
		err = errors.New("the agent has no webhook")
	case err == nil:
		err = s.webhooks.Sender.Post(ctx, hook.URL, hook.Secret, d.ID.String(), string(d.Type), []byte(d.Body), now)
	}
	now = s.Now()
	if err == nil {
		d.Status, d.LastError, d.DeliveredAt, d.NextAttemptAt = models.DeliveryDelivered, "", &now, now
	} else {
		d.LastError = truncateError(err.Error())
		d.NextAttemptAt = now.Add(s.retryDelay(d.Attempts))
		if d.NextAttemptAt.Sub(d.CreatedAt) > s.webhooks.RetryWindow {
			d.Status = models.DeliveryFailed
		}
	}
	if ferr := s.store.FinishAttempt(context.WithoutCancel(ctx), d); ferr != nil {
		s.log.WarnContext(ctx, "recording a webhook attempt failed; it will be retried after its lease", "delivery", d.ID, "err", ferr)
	}
	if s.watchHooks != nil {
		s.watchHooks(d)
	}
}

// retryDelay is the wait after the attempts-th failed attempt: doubling from
// FirstRetry, at most an hour, with ±20 % jitter so that receivers coming
// back are not hit by every retry at once.
func (s *Service) retryDelay(attempts int) time.Duration {
	d := s.webhooks.FirstRetry << min(max(attempts-1, 0), 20)
	d = min(d, time.Hour)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

func truncateError(msg string) string {
	if len(msg) <= 500 {
		return msg
	}
	return msg[:500]
}

// The body POSTed for each event (README "Webhooks").
type webhookEnvelope struct {
	ID        string                  `json:"id"`
	Type      models.WebhookEventType `json:"type"`
	CreatedAt string                  `json:"createdAt"`
	Data      webhookData             `json:"data"`
}

type webhookData struct {
	AgentID       string          `json:"agentId"`
	SessionID     string          `json:"sessionId"`
	Cursor        string          `json:"cursor"` // the agentEvents cursor of the event
	Session       *webhookSession `json:"session,omitempty"`
	Message       *webhookMessage `json:"message,omitempty"`
	SessionStatus *webhookStatus  `json:"sessionStatus,omitempty"`
	ExpiresAt     string          `json:"expiresAt,omitempty"`
}

type webhookSession struct {
	ID            string               `json:"id"`
	AgentID       string               `json:"agentId"`
	UserID        string               `json:"userId"`
	Metadata      json.RawMessage      `json:"metadata"`
	CreatedAt     string               `json:"createdAt"`
	LastActivity  string               `json:"lastActivity"`
	ExpiresAt     string               `json:"expiresAt"`
	RenewalCount  int                  `json:"renewalCount"`
	TimeoutConfig models.TimeoutConfig `json:"timeoutConfig"`
}

type webhookMessage struct {
	ID            string              `json:"id"`
	SessionID     string              `json:"sessionId"`
	AuthorID      string              `json:"authorId"`
	IsAgent       bool                `json:"isAgent"`
	Content       string              `json:"content"`
	Metadata      json.RawMessage     `json:"metadata"`
	Attachments   []models.Attachment `json:"attachments"`
	CreatedAt     string              `json:"createdAt"`
	SessionStatus *webhookStatus      `json:"sessionStatus,omitempty"`
}

type webhookStatus struct {
	ExpiresAt        string `json:"expiresAt"`
	RenewalCount     int    `json:"renewalCount"`
	WasRenewed       bool   `json:"wasRenewed"`
	IsNearExpiration bool   `json:"isNearExpiration"`
}

func toWebhookStatus(st *models.SessionStatus) *webhookStatus {
	if st == nil {
		return nil
	}
	return &webhookStatus{ExpiresAt: models.FormatTime(st.ExpiresAt), RenewalCount: st.RenewalCount, WasRenewed: st.WasRenewed, IsNearExpiration: st.IsNearExpiration}
}

func webhookBody(id uuid.UUID, t models.WebhookEventType, e models.FeedEvent) ([]byte, error) {
	data := webhookData{AgentID: e.Event.AgentID.String(), SessionID: e.Event.SessionID.String(), Cursor: e.Position.Cursor(),
		SessionStatus: toWebhookStatus(e.Event.Status)}
	if !e.Event.ExpiresAt.IsZero() {
		data.ExpiresAt = models.FormatTime(e.Event.ExpiresAt)
	}
	if ss := e.Session; ss != nil {
		data.Session = &webhookSession{ID: ss.ID.String(), AgentID: ss.AgentID.String(), UserID: ss.UserID.String(),
			Metadata: json.RawMessage(ss.Metadata.OrEmpty()), CreatedAt: models.FormatTime(ss.CreatedAt),
			LastActivity: models.FormatTime(ss.LastActivity), ExpiresAt: models.FormatTime(ss.ExpiresAt),
			RenewalCount: ss.RenewalCount, TimeoutConfig: ss.TimeoutConfig}
	}
	if m := e.Event.Message; m != nil {
		attachments := m.Attachments
		if attachments == nil {
			attachments = models.Attachments{}
		}
		data.Message = &webhookMessage{ID: m.ID.String(), SessionID: m.SessionID.String(), AuthorID: m.AuthorID.String(),
			IsAgent: m.IsAgent, Content: m.Content, Metadata: json.RawMessage(m.Metadata.OrEmpty()), Attachments: attachments,
			CreatedAt: models.FormatTime(m.CreatedAt), SessionStatus: toWebhookStatus(m.SessionStatus)}
	}
	return json.Marshal(webhookEnvelope{ID: id.String(), Type: t, CreatedAt: models.FormatTime(e.Event.OccurredAt), Data: data})
}
