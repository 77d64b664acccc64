package graph

import (
	"context"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// deferNeedsMultipart refuses an operation that defers a fragment unless the
// request accepts a multipart/mixed answer (transport.MultipartMixed, which
// Apollo Client and urql ask for). Over a plain JSON answer gqlgen could only
// send the first part — deferred fields null, hasNext true, and nothing
// after it — which leaves a client waiting forever.
type deferNeedsMultipart struct{}

var _ interface {
	graphql.OperationContextMutator
	graphql.HandlerExtension
} = deferNeedsMultipart{}

func (deferNeedsMultipart) ExtensionName() string                   { return "DeferNeedsMultipart" }
func (deferNeedsMultipart) Validate(graphql.ExecutableSchema) error { return nil }

func (deferNeedsMultipart) MutateOperationContext(_ context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation == nil || !defers(rc.Operation.SelectionSet, rc.Variables, map[string]bool{}) {
		return nil
	}
	if strings.Contains(rc.Headers.Get("Accept"), "multipart/mixed") {
		return nil
	}
	err := gqlerror.Errorf("@defer needs an incremental answer: send the request as an HTTP POST with Accept: multipart/mixed (Apollo Client and urql do)")
	errcode.Set(err, errcode.ValidationFailed)
	return err
}

// defers reports whether a selection set defers any fragment (an @defer
// whose if is not false), following fragment spreads once each.
func defers(set ast.SelectionSet, vars map[string]any, seen map[string]bool) bool {
	deferred := func(directives ast.DirectiveList) bool {
		d := directives.ForName("defer")
		return d != nil && d.ArgumentMap(vars)["if"] != false
	}
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			if defers(sel.SelectionSet, vars, seen) {
				return true
			}
		case *ast.InlineFragment:
			if deferred(sel.Directives) || defers(sel.SelectionSet, vars, seen) {
				return true
			}
		case *ast.FragmentSpread:
			if deferred(sel.Directives) {
				return true
			}
			if sel.Definition != nil && !seen[sel.Name] {
				seen[sel.Name] = true
				if defers(sel.Definition.SelectionSet, vars, seen) {
					return true
				}
			}
		}
	}
	return false
}
