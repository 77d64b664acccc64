package graph

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"sessionhub/models"
)

// shapeLimit refuses operations nested deeper than maxDepth fields or using
// more than maxAliases aliases (alias batching defeats per-request limits).
// gqlgen has neither limit built in.
type shapeLimit struct {
	maxDepth, maxAliases int
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
	depth, aliases := measure(oc.Operation.SelectionSet, 0)
	switch {
	case depth > l.maxDepth:
		return limitError(fmt.Sprintf("Query is nested %d levels deep; the limit is %d", depth, l.maxDepth))
	case aliases > l.maxAliases:
		return limitError(fmt.Sprintf("Query uses %d aliases; the limit is %d", aliases, l.maxAliases))
	}
	return nil
}

// measure returns the deepest field nesting below set and the aliases in it.
// Fragments are expanded where they are spread (the validator has already
// rejected cycles).
func measure(set ast.SelectionSet, depth int) (deepest, aliases int) {
	deepest = depth
	for _, sel := range set {
		var d, a int
		switch s := sel.(type) {
		case *ast.Field:
			if s.Alias != "" && s.Alias != s.Name {
				aliases++
			}
			d, a = measure(s.SelectionSet, depth+1)
		case *ast.InlineFragment:
			d, a = measure(s.SelectionSet, depth)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				d, a = measure(s.Definition.SelectionSet, depth)
			}
		}
		deepest, aliases = max(deepest, d), aliases+a
	}
	return deepest, aliases
}

func limitError(message string) *gqlerror.Error {
	return &gqlerror.Error{Message: message, Extensions: map[string]any{"code": string(models.CodeValidation)}}
}
