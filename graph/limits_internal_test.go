package graph

import (
	"context"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
)

// TestShapeLimitCounts checks depth and alias counting with limits low
// enough to reach with this schema, fragments included.
func TestShapeLimitCounts(t *testing.T) {
	schema := NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
	limit := shapeLimit{maxDepth: 3, maxIntrospectionDepth: 5, maxAliases: 2}
	cases := []struct {
		name, query string
		ok          bool
	}{
		{"three levels", `{ sessions { nodes { id } } }`, true},
		{"four levels", `{ sessions { nodes { timeoutConfig { autoRenew } } } }`, false},
		{"four levels through a fragment", `fragment F on Session { timeoutConfig { autoRenew } } { sessions { nodes { ...F } } }`, false},
		{"four levels through an inline fragment", `{ sessions { nodes { ... on Session { timeoutConfig { autoRenew } } } } }`, false},
		{"two aliases", `{ a: sessions { nodes { id } } b: sessions { nodes { id } } }`, true},
		{"three aliases, one in a fragment", `fragment F on Session { x: id } { a: sessions { nodes { ...F } } b: sessions { nodes { id } } }`, false},
		{"a field named as itself is no alias", `{ sessions: sessions { nodes { id: id } } }`, true},
		{"introspection five levels", `{ __schema { types { fields { type { name } } } } }`, true},
		{"introspection six levels", `{ __schema { types { fields { type { ofType { name } } } } } }`, false},
		{"introspection six levels through a fragment", `fragment T on __Type { ofType { name } } { __type(name: "Session") { fields { type { ofType { ...T } } } } }`, false},
		{"introspection beside a query too deep", `{ __typename sessions { nodes { timeoutConfig { autoRenew } } } }`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc, errs := gqlparser.LoadQuery(schema, tc.query)
			if errs != nil {
				t.Fatalf("invalid test query: %v", errs)
			}
			oc := &graphql.OperationContext{Doc: doc, Operation: doc.Operations.ForName("")}
			if oc.Operation == nil {
				oc.Operation = doc.Operations[0]
			}
			err := limit.MutateOperationContext(context.Background(), oc)
			if (err == nil) != tc.ok {
				t.Errorf("error %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
