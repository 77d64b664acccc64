package telemetry

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// GraphQL is a gqlgen extension that counts and times queries and
// mutations by operation and outcome, and, with a tracer, wraps each in a
// span. Written here because the one gqlgen OpenTelemetry extension records
// every variable (message content) and a span per field.
type GraphQL struct {
	Metrics *Metrics
	Tracer  trace.Tracer // nil: no spans
}

var _ interface {
	graphql.HandlerExtension
	graphql.ResponseInterceptor
} = GraphQL{}

func (GraphQL) ExtensionName() string                   { return "SessionhubTelemetry" }
func (GraphQL) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptResponse runs once per query or mutation and once per
// subscription event; events are not operations and are not counted.
func (g GraphQL) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if !graphql.HasOperationContext(ctx) {
		return next(ctx)
	}
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation != nil && oc.Operation.Operation == ast.Subscription {
		return next(ctx)
	}
	name := OperationLabel(oc.Operation)
	var span trace.Span
	if g.Tracer != nil {
		ctx, span = g.Tracer.Start(ctx, "graphql "+name, trace.WithAttributes(
			attribute.String("graphql.operation.name", oc.OperationName),
			attribute.String("graphql.operation.type", operationType(oc.Operation)),
		))
		defer span.End()
	}
	began := time.Now()
	resp := next(ctx)
	outcome := Outcome(resp)
	if span != nil && outcome != "ok" {
		span.SetStatus(codes.Error, outcome)
	}
	if !oc.Stats.OperationStart.IsZero() {
		began = oc.Stats.OperationStart // include parsing and validation
	}
	g.Metrics.observeOperation(name, outcome, time.Since(began))
	return resp
}

// OperationLabel names an operation by its type and root fields ("mutation
// sendSessionMessage"), never by the client-chosen operation name, so the
// label's values are bounded by the schema.
func OperationLabel(op *ast.OperationDefinition) string {
	if op == nil {
		return "invalid"
	}
	var fields []string
	for _, sel := range op.SelectionSet {
		if f, ok := sel.(*ast.Field); ok && !slices.Contains(fields, f.Name) {
			fields = append(fields, f.Name)
		}
	}
	slices.Sort(fields)
	if len(fields) > 3 {
		fields = append(fields[:3], "…")
	}
	return operationType(op) + " " + strings.Join(fields, ",")
}

func operationType(op *ast.OperationDefinition) string {
	if op == nil {
		return ""
	}
	return string(op.Operation)
}

// Outcome is "ok", or the first error's code (a bounded set: sessionhub's
// codes and gqlgen's GRAPHQL_* ones), or "error" for an uncoded error.
func Outcome(resp *graphql.Response) string {
	if resp == nil || len(resp.Errors) == 0 {
		return "ok"
	}
	if code, ok := resp.Errors[0].Extensions["code"].(string); ok && code != "" {
		return code
	}
	return "error"
}
