package graph_test

import (
	"fmt"
	"strings"
	"testing"

	"sessionhub/internal/store"
	"sessionhub/models"
)

func TestOperationLimits(t *testing.T) {
	env := newLifecycleEnv(t, store.SQLite)
	aliases := func(n int) string {
		var b strings.Builder
		b.WriteString("{ ")
		for i := range n {
			fmt.Fprintf(&b, "a%d: __typename ", i)
		}
		b.WriteString("}")
		return b.String()
	}
	deep := `{ sessions { edges { node { messages { edges { node { id } } } } } } }` // 7 levels
	cases := []struct {
		name, query string
		ok          bool
	}{
		{"15 aliases", aliases(15), true},
		{"16 aliases", aliases(16), false},
		{"seven levels", deep, true},
		{"eleven levels through a fragment", `fragment F on Session { messages { edges { node { id } } } }
			{ sessions { edges { node { ...F } } } a: sessions { edges { node { messages { nodes { id } } } } } }`, true},
		{"too complex", `{ sessions(first: 100) { nodes { messages(first: 100) { nodes { id content } } } } }`, false},
		{"too many tokens", "{ " + strings.Repeat("__typename ", 2100) + "}", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := env.client.RawPost(tc.query) // request errors come back as HTTP 200 (application/json)
			refused := err != nil || len(raw.Errors) > 0
			if refused == tc.ok {
				t.Errorf("refused=%v, want %v: %v %s", refused, !tc.ok, err, mustJSON(t, raw))
			}
		})
	}
	// The schema's deepest valid selection is 8 levels, under the limit of 10.
	deepest := `{ sessions { edges { node { messages { edges { node { sessionStatus { expiresAt } } } } } } } }`
	if res := env.do(deepest, nil); len(res.Errors) > 0 {
		t.Errorf("8 levels refused: %+v", res.Errors)
	}
}

func TestIdempotencyKeyOverGraphQL(t *testing.T) {
	env := newLifecycleEnv(t, store.SQLite)
	id := env.session(models.TimeoutOverrides{})
	send := `mutation($id: ID!, $content: String!, $key: String) {
		sendSessionMessage(sessionId: $id, input: {content: $content, idempotencyKey: $key}) { id sessionStatus { renewalCount } }
	}`
	type out struct {
		SendSessionMessage struct {
			ID            string
			SessionStatus struct{ RenewalCount int }
		}
	}
	var first, again out
	env.data(send, map[string]any{"id": id, "content": "once", "key": "k-1"}, &first)
	env.data(send, map[string]any{"id": id, "content": "once", "key": "k-1"}, &again)
	if again != first || first.SendSessionMessage.SessionStatus.RenewalCount != 1 {
		t.Errorf("replay %+v, first %+v", again, first)
	}
	if got := env.code(send, map[string]any{"id": id, "content": "different", "key": "k-1"}); got != "IDEMPOTENCY_CONFLICT" {
		t.Errorf("reused key: %s", got)
	}
}
