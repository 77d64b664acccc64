package graph_test

import (
	"testing"

	"sessionhub/graph"
	"sessionhub/internal/store"
)

// An admin sets, reads back (without the secret) and removes an agent's
// webhook; a bad url or secret is VALIDATION_ERROR; the deliveries page.
func TestAgentWebhookSettings(t *testing.T) {
	env := newHubEnv(t, store.SQLite, graph.Options{})
	agent := env.createAgent(map[string]any{"name": "Hooked"})
	const update = `mutation($id: ID!, $in: UpdateAgentInput!) {
		updateAgent(id: $id, input: $in) { name webhook { url events } webhookDeliveries(first: 5) { nodes { id } } }
	}`
	var out struct {
		UpdateAgent struct {
			Name    string
			Webhook *struct {
				URL    string
				Events []string
			}
			WebhookDeliveries struct{ Nodes []struct{ ID string } }
		}
	}
	env.post(&out, update, map[string]any{"id": agent.ID, "in": map[string]any{"name": "Renamed",
		"webhook": map[string]any{"url": "https://hooks.example.com/a", "secret": "0123456789abcdef", "events": []string{"MESSAGE_ADDED"}}}})
	if out.UpdateAgent.Name != "Renamed" || out.UpdateAgent.Webhook == nil || out.UpdateAgent.Webhook.URL != "https://hooks.example.com/a" ||
		len(out.UpdateAgent.Webhook.Events) != 1 || out.UpdateAgent.Webhook.Events[0] != "MESSAGE_ADDED" || len(out.UpdateAgent.WebhookDeliveries.Nodes) != 0 {
		t.Fatalf("updated agent %+v", out.UpdateAgent)
	}
	env.fail("VALIDATION_ERROR", update, map[string]any{"id": agent.ID, "in": map[string]any{
		"webhook": map[string]any{"url": "not a url", "secret": "0123456789abcdef"}}})
	env.fail("VALIDATION_ERROR", update, map[string]any{"id": agent.ID, "in": map[string]any{
		"webhook": map[string]any{"url": "https://hooks.example.com/a", "secret": "short"}}})
	env.fail("AGENT_NOT_FOUND", update, map[string]any{"id": "7f1c2a4e-0000-4000-8000-000000000000", "in": map[string]any{"name": "x"}})
	var removed struct {
		UpdateAgent struct {
			Name              string
			Webhook           *struct{ URL string }
			WebhookDeliveries any
		}
	}
	env.post(&removed, update, map[string]any{"id": agent.ID, "in": map[string]any{"removeWebhook": true}})
	if removed.UpdateAgent.Webhook != nil {
		t.Fatalf("webhook still set: %+v", removed.UpdateAgent.Webhook)
	}
}
