package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"sessionhub/models"
)

// resolverFault marks an error a resolver returned that is not an application
// error: a failing database or a bug, never something the client can fix.
type resolverFault struct{ err error }

func (f *resolverFault) Error() string { return f.err.Error() }
func (f *resolverFault) Unwrap() error { return f.err }

// markFaults wraps every resolver call so that errors which are not coded
// application errors are told apart from gqlgen's own input-coercion errors,
// which never pass through here.
func markFaults(ctx context.Context, next graphql.Resolver) (any, error) {
	res, err := next(ctx)
	if err != nil {
		if _, ok := errors.AsType[*models.Error](err); !ok {
			err = &resolverFault{err: err}
		}
	}
	return res, err
}

// errorPresenter maps every error to the client's view of it:
//   - a coded application error keeps its message and gains extensions.code
//     and extensions.details (a database outage is UNAVAILABLE);
//   - a resolver fault or a null in a non-null field is logged and answered
//     as INTERNAL, without its text;
//   - gqlgen's parse and validation errors keep their own message and code;
//   - an argument gqlgen could not coerce (e.g. an Int out of range) is a
//     VALIDATION_ERROR with gqlgen's description of the input.
func errorPresenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		presented := graphql.DefaultErrorPresenter(ctx, err)
		if appErr, ok := errors.AsType[*models.Error](err); ok && appErr.Code != models.CodeInternal {
			if appErr.Code == models.CodeUnavailable {
				log.WarnContext(ctx, "graphql field failed: database unavailable", "path", presented.Path.String(), "err", err)
			}
			return withCode(presented, appErr)
		}
		_, fault := errors.AsType[*resolverFault](err)
		_, nullBug := errors.AsType[*graphql.InvalidNullError](err)
		if _, ok := errors.AsType[*models.Error](err); ok || fault || nullBug {
			if !errors.Is(err, context.Canceled) {
				log.ErrorContext(ctx, "graphql field failed", "path", presented.Path.String(), "err", err)
			}
			return withCode(presented, models.ErrInternal())
		}
		if gqlErr, ok := errors.AsType[*gqlerror.Error](err); ok && gqlErr.Err == nil {
			return movedVariablePath(ctx, presented)
		}
		return withCode(presented, models.ErrValidation(presented.Message))
	}
}

func withCode(presented *gqlerror.Error, appErr *models.Error) *gqlerror.Error {
	presented.Message = appErr.Message
	presented.Extensions = map[string]any{"code": string(appErr.Code)}
	if details := appErr.Details.Map(); details != nil {
		presented.Extensions["details"] = details
	}
	return presented
}

// recoverFunc logs a resolver panic with its stack and hides it from the client.
func recoverFunc(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "graphql resolver panicked", "panic", p, "stack", string(debug.Stack()))
		return models.ErrInternal()
	}
}

// movedVariablePath rewrites a variable's coercion error, which gqlparser
// reports with the path ["variable", name, …]: paths name places in the
// response, so the variable goes into the message and into
// extensions.variablePath instead (["input", "content"]).
func movedVariablePath(ctx context.Context, e *gqlerror.Error) *gqlerror.Error {
	if graphql.GetFieldContext(ctx) != nil || len(e.Path) < 2 || e.Path[0] != ast.PathName("variable") {
		return e
	}
	variable := e.Path[1:]
	where := "$" + variable.String()
	e.Message = fmt.Sprintf("Variable %q is invalid: %s", where, e.Message)
	if e.Extensions == nil {
		e.Extensions = map[string]any{}
	}
	e.Extensions["variablePath"] = variable
	e.Path = nil
	return e
}
