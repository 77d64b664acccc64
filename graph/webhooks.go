package graph

import (
	"strings"

	"sessionhub/graph/model"
	"sessionhub/internal/chat"
	"sessionhub/models"
)

// Webhook event types: GraphQL's SESSION_CREATED is the body's session.created.

func fromWebhookEvent(e model.WebhookEvent) models.WebhookEventType {
	return models.WebhookEventType(strings.Replace(strings.ToLower(string(e)), "_", ".", 1))
}

func toWebhookEvent(t models.WebhookEventType) model.WebhookEvent {
	return model.WebhookEvent(strings.ToUpper(strings.Replace(string(t), ".", "_", 1)))
}

func fromWebhookInput(in *model.WebhookInput) *chat.WebhookInput {
	if in == nil {
		return nil
	}
	out := &chat.WebhookInput{URL: in.URL, Secret: in.Secret}
	for _, e := range in.Events {
		out.Events = append(out.Events, fromWebhookEvent(e))
	}
	return out
}

func toAgentWebhook(w *models.Webhook) *model.AgentWebhook {
	if w == nil {
		return nil
	}
	events := w.Events
	if len(events) == 0 {
		events = models.WebhookEventTypes
	}
	out := &model.AgentWebhook{URL: w.URL, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt, Events: []model.WebhookEvent{}}
	for _, e := range events {
		out.Events = append(out.Events, toWebhookEvent(e))
	}
	return out
}

func toWebhookDelivery(d *models.Delivery) *model.WebhookDelivery {
	out := &model.WebhookDelivery{ID: d.ID.String(), Type: toWebhookEvent(d.Type), SessionID: d.SessionID.String(),
		Status: model.WebhookDeliveryStatus(strings.ToUpper(string(d.Status))), Attempts: d.Attempts,
		CreatedAt: d.CreatedAt, DeliveredAt: d.DeliveredAt, Body: d.Body}
	if d.LastError != "" && d.Status != models.DeliveryDelivered {
		out.LastError = &d.LastError
	}
	if d.Status == models.DeliveryPending {
		next := d.NextAttemptAt
		out.NextAttemptAt = &next
	}
	return out
}

func toDeliveryConnection(page []*models.Delivery, more bool) *model.WebhookDeliveryConnection {
	conn := &model.WebhookDeliveryConnection{Edges: []*model.WebhookDeliveryEdge{}, Nodes: []*model.WebhookDelivery{},
		PageInfo: &models.PageInfo{HasNextPage: more}}
	for _, d := range page {
		node := toWebhookDelivery(d)
		conn.Edges = append(conn.Edges, &model.WebhookDeliveryEdge{Cursor: node.ID, Node: node})
		conn.Nodes = append(conn.Nodes, node)
	}
	if n := len(conn.Edges); n > 0 {
		conn.PageInfo.StartCursor, conn.PageInfo.EndCursor = &conn.Edges[0].Cursor, &conn.Edges[n-1].Cursor
	}
	return conn
}
