package graph

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"sessionhub/models"
)

// errorPresenter maps every resolver error to the client's view of it: a
// coded application error keeps its message and gains extensions.code and
// extensions.details; parse and validation errors from gqlgen keep theirs;
// anything else is logged and answered as INTERNAL without its text.
func errorPresenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		presented := graphql.DefaultErrorPresenter(ctx, err)
		if appErr, ok := errors.AsType[*models.Error](err); ok {
			presented.Message = appErr.Message
			presented.Extensions = map[string]any{"code": string(appErr.Code)}
			if details := appErr.Details.Map(); details != nil {
				presented.Extensions["details"] = details
			}
			return presented
		}
		var gqlErr *gqlerror.Error
		if errors.As(err, &gqlErr) && gqlErr.Err == nil {
			return presented // produced by gqlgen itself: parse, validation, coercion
		}
		if !errors.Is(err, context.Canceled) {
			log.ErrorContext(ctx, "graphql resolver failed", "path", presented.Path.String(), "err", err)
		}
		return &gqlerror.Error{
			Message:    models.ErrInternal().Message,
			Path:       presented.Path,
			Locations:  presented.Locations,
			Extensions: map[string]any{"code": string(models.CodeInternal)},
		}
	}
}

// recoverFunc logs a resolver panic with its stack and hides it from the client.
func recoverFunc(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "graphql resolver panicked", "panic", p, "stack", string(debug.Stack()))
		return models.ErrInternal()
	}
}
