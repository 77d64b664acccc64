package graph

import (
	"encoding/json"
	"testing"

	"github.com/vektah/gqlparser/v2"
)

// TestOmitDeferredFields checks which keys of a first answer are left out:
// those only deferred fragments select, at any depth, through inline
// fragments, named fragments and lists, and none that is also selected
// outside a deferred fragment or deferred with if: false.
func TestOmitDeferredFields(t *testing.T) {
	schema := NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
	cases := []struct {
		name, query, first, want string
		vars                     map[string]any
	}{
		{
			name:  "inline fragment",
			query: `query { session(id: "x") { id ... @defer { state expiresAt } } }`,
			first: `{"session":{"id":"x","state":null,"expiresAt":null}}`,
			want:  `{"session":{"id":"x"}}`,
		},
		{
			name:  "also selected outside the deferred fragment",
			query: `query { session(id: "x") { id state ... @defer { state renewalCount } } }`,
			first: `{"session":{"id":"x","state":"ACTIVE","renewalCount":null}}`,
			want:  `{"session":{"id":"x","state":"ACTIVE"}}`,
		},
		{
			name:  "named fragment in a list",
			query: `query { sessions(first: 2) { edges { node { id ...Later @defer } } } } fragment Later on Session { userId }`,
			first: `{"sessions":{"edges":[{"node":{"id":"a","userId":null}},{"node":{"id":"b","userId":null}}]}}`,
			want:  `{"sessions":{"edges":[{"node":{"id":"a"}},{"node":{"id":"b"}}]}}`,
		},
		{
			name:  "deferred at the root",
			query: `query { agent(id: "a") { id } ... @defer { session(id: "x") { id } } }`,
			first: `{"agent":{"id":"a"},"session":null}`,
			want:  `{"agent":{"id":"a"}}`,
		},
		{
			name:  "if false",
			query: `query($d: Boolean!) { session(id: "x") { id ... @defer(if: $d) { state } } }`,
			vars:  map[string]any{"d": false},
			first: `{"session":{"id":"x","state":"ACTIVE"}}`,
			want:  `{"session":{"id":"x","state":"ACTIVE"}}`,
		},
		{
			name:  "null parent",
			query: `query { session(id: "x") { id ... @defer { state } } }`,
			first: `{"session":null}`,
			want:  `{"session":null}`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc, errs := gqlparser.LoadQuery(schema, tc.query)
			if errs != nil {
				t.Fatal(errs)
			}
			op := doc.Operations[0]
			got := json.RawMessage(tc.first)
			if tree := buildDeferTree([]occurrence{{set: op.SelectionSet}}, tc.vars); tree != nil {
				got = tree.strip(got)
			}
			if string(got) != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			if want := tc.vars == nil; defers(op.SelectionSet, tc.vars, map[string]bool{}) != want {
				t.Errorf("defers = %v, want %v", !want, want)
			}
		})
	}
}
