package graph

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"sessionhub/models"
)

// shapeLimit refuses operations nested deeper than maxDepth fields or using
// more than maxAliases aliases (alias batching defeats per-request limits).
// gqlgen has neither limit built in. Introspection (__schema, __type) has its
// own depth limit: the query GraphiQL and graphql-js send unwraps type
// references (ofType) 9 levels deep, 14 in all, and __Type.fields makes
// deeper ones cyclic, so they are bounded too.
type shapeLimit struct {
	maxDepth, maxIntrospectionDepth, maxAliases int
}

var (
	_ graphql.HandlerExtension        = shapeLimit{}
	_ graphql.OperationContextMutator = shapeLimit{}
)

func (shapeLimit) ExtensionName() string                   { return "ShapeLimit" }
func (shapeLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (l shapeLimit) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	var m measurement
	m.measure(oc.Operation.SelectionSet, 0, false)
	switch {
	case m.depth > l.maxDepth:
		return limitError(fmt.Sprintf("Query is nested %d levels deep; the limit is %d", m.depth, l.maxDepth))
	case m.introspectionDepth > l.maxIntrospectionDepth:
		return limitError(fmt.Sprintf("Introspection is nested %d levels deep; the limit is %d", m.introspectionDepth, l.maxIntrospectionDepth))
	case m.aliases > l.maxAliases:
		return limitError(fmt.Sprintf("Query uses %d aliases; the limit is %d", m.aliases, l.maxAliases))
	}
	return nil
}

// measurement is the deepest field nesting of an operation, outside and
// inside introspection, and the aliases it uses.
type measurement struct {
	depth, introspectionDepth, aliases int
}

// measure walks set, whose fields are at depth+1. Fragments are expanded
// where they are spread (the validator has already rejected cycles).
func (m *measurement) measure(set ast.SelectionSet, depth int, introspection bool) {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Alias != "" && s.Alias != s.Name {
				m.aliases++
			}
			inside := introspection || s.Name == "__schema" || s.Name == "__type"
			if inside {
				m.introspectionDepth = max(m.introspectionDepth, depth+1)
			} else {
				m.depth = max(m.depth, depth+1)
			}
			m.measure(s.SelectionSet, depth+1, inside)
		case *ast.InlineFragment:
			m.measure(s.SelectionSet, depth, introspection)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				m.measure(s.Definition.SelectionSet, depth, introspection)
			}
		}
	}
}

func limitError(message string) *gqlerror.Error {
	return &gqlerror.Error{Message: message, Extensions: map[string]any{"code": string(models.CodeValidation)}}
}

// introspectionOff refuses an operation that selects __schema or __type
// when introspection is off, before it runs: a client error (422,
// GRAPHQL_VALIDATION_FAILED, as for any other field the client may not
// query), not the INTERNAL error, logged at ERROR, that gqlgen's field
// resolver would give. __typename stays allowed.
type introspectionOff struct{}

var (
	_ graphql.HandlerExtension        = introspectionOff{}
	_ graphql.OperationContextMutator = introspectionOff{}
)

func (introspectionOff) ExtensionName() string                   { return "IntrospectionOff" }
func (introspectionOff) Validate(graphql.ExecutableSchema) error { return nil }

func (introspectionOff) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	var m measurement
	m.measure(oc.Operation.SelectionSet, 0, false)
	if m.introspectionDepth == 0 {
		return nil
	}
	err := &gqlerror.Error{Message: "GraphQL introspection is not allowed on this server"}
	errcode.Set(err, errcode.ValidationFailed)
	return err
}
