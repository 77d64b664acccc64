package graph

import (
	"bytes"
	"context"
	"encoding/json"
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
	deferred := func(directives ast.DirectiveList) bool { return deferredBy(directives, vars) }
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

// omitDeferred leaves the fields that only deferred fragments select out of
// an operation's first answer. gqlgen's executor writes them as null there
// (a non-null field included), though the incremental-delivery format omits
// them until their part arrives; a client would take the null for the value.
func omitDeferred(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	rc := graphql.GetOperationContext(ctx)
	responses := next(ctx)
	if rc.Operation == nil || !defers(rc.Operation.SelectionSet, rc.Variables, map[string]bool{}) {
		return responses
	}
	tree := buildDeferTree([]occurrence{{set: rc.Operation.SelectionSet}}, rc.Variables)
	first := true
	return func(ctx context.Context) *graphql.Response {
		resp := responses(ctx)
		if first && resp != nil {
			first = false
			if tree != nil && resp.HasNext != nil && *resp.HasNext {
				resp.Data = tree.strip(resp.Data)
			}
		}
		return resp
	}
}

// deferTree marks, level by level, the response keys that only deferred
// fragments select.
type deferTree struct {
	deferred map[string]bool
	children map[string]*deferTree
}

// occurrence is a selection set and whether it sits inside a deferred fragment.
type occurrence struct {
	set        ast.SelectionSet
	underDefer bool
}

func buildDeferTree(occs []occurrence, vars map[string]any) *deferTree {
	type fieldOcc struct {
		field      *ast.Field
		underDefer bool
	}
	byKey := map[string][]fieldOcc{}
	var keys []string
	var walk func(set ast.SelectionSet, underDefer bool, seen map[string]bool)
	walk = func(set ast.SelectionSet, underDefer bool, seen map[string]bool) {
		for _, sel := range set {
			switch sel := sel.(type) {
			case *ast.Field:
				key := sel.Alias
				if key == "" {
					key = sel.Name
				}
				if _, ok := byKey[key]; !ok {
					keys = append(keys, key)
				}
				byKey[key] = append(byKey[key], fieldOcc{sel, underDefer})
			case *ast.InlineFragment:
				walk(sel.SelectionSet, underDefer || deferredBy(sel.Directives, vars), seen)
			case *ast.FragmentSpread:
				if sel.Definition != nil && !seen[sel.Name] {
					seen[sel.Name] = true
					walk(sel.Definition.SelectionSet, underDefer || deferredBy(sel.Directives, vars), seen)
					delete(seen, sel.Name)
				}
			}
		}
	}
	for _, occ := range occs {
		walk(occ.set, occ.underDefer, map[string]bool{})
	}
	t := &deferTree{deferred: map[string]bool{}, children: map[string]*deferTree{}}
	for _, key := range keys {
		all := true
		var childOccs []occurrence
		for _, fo := range byKey[key] {
			all = all && fo.underDefer
			if len(fo.field.SelectionSet) > 0 {
				childOccs = append(childOccs, occurrence{set: fo.field.SelectionSet, underDefer: fo.underDefer})
			}
		}
		switch {
		case all:
			t.deferred[key] = true
		case len(childOccs) > 0:
			if child := buildDeferTree(childOccs, vars); child != nil {
				t.children[key] = child
			}
		}
	}
	if len(t.deferred) == 0 && len(t.children) == 0 {
		return nil
	}
	return t
}

func deferredBy(directives ast.DirectiveList, vars map[string]any) bool {
	d := directives.ForName("defer")
	return d != nil && d.ArgumentMap(vars)["if"] != false
}

// strip rewrites a JSON value without the deferred keys, keeping the order
// of the others; anything it cannot read is returned as it was.
func (t *deferTree) strip(raw json.RawMessage) json.RawMessage {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 {
		return raw
	}
	var buf bytes.Buffer
	switch trimmed[0] {
	case '[':
		var items []json.RawMessage
		if json.Unmarshal(trimmed, &items) != nil {
			return raw
		}
		buf.WriteByte('[')
		for i, item := range items {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.Write(t.strip(item))
		}
		buf.WriteByte(']')
	case '{':
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		if _, err := dec.Token(); err != nil {
			return raw
		}
		buf.WriteByte('{')
		first := true
		for dec.More() {
			tok, err := dec.Token()
			key, ok := tok.(string)
			var value json.RawMessage
			if err != nil || !ok || dec.Decode(&value) != nil {
				return raw
			}
			if t.deferred[key] {
				continue
			}
			if child := t.children[key]; child != nil {
				value = child.strip(value)
			}
			if !first {
				buf.WriteByte(',')
			}
			first = false
			name, _ := json.Marshal(key)
			buf.Write(name)
			buf.WriteByte(':')
			buf.Write(value)
		}
		buf.WriteByte('}')
	default:
		return raw
	}
	return buf.Bytes()
}
