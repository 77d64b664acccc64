package store

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// slowQuery is when a statement is worth a warning: a send takes about a
// millisecond, and statements are cut off at five seconds.
const slowQuery = 200 * time.Millisecond

// newGormLogger sends GORM's errors and slow statements to slog, with bind
// parameters left out (they hold message content). Outcomes the service
// turns into answers are not errors here: a missing row (404), a duplicate
// key (a validation error, or an idempotency race that is retried), and a
// caller that went away.
func newGormLogger(log *slog.Logger) logger.Interface {
	return quietLogger{logger.NewSlogLogger(log, logger.Config{
		SlowThreshold:             slowQuery,
		IgnoreRecordNotFoundError: true,
		ParameterizedQueries:      true,
		LogLevel:                  logger.Warn,
	})}
}

type quietLogger struct{ logger.Interface }

func (q quietLogger) LogMode(level logger.LogLevel) logger.Interface {
	return quietLogger{q.Interface.LogMode(level)}
}

func (q quietLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	if expected(err) {
		err = nil // still reported if it was slow
	}
	q.Interface.Trace(ctx, begin, fc, err)
}

func expected(err error) bool {
	return errors.Is(err, gorm.ErrRecordNotFound) || errors.Is(err, gorm.ErrDuplicatedKey) ||
		errors.Is(err, context.Canceled)
}

// span traces a statement GORM does not run (the hot path's hand-written
// SQL) like the GORM plugin traces the others; without tracing it is free.
func (s *Store) span(ctx context.Context, name string) (context.Context, func(error)) {
	if s.tracer == nil {
		return ctx, func(error) {}
	}
	ctx, span := s.tracer.Tracer("sessionhub/store").Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system", string(s.dialect))))
	return ctx, func(err error) {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "statement failed")
		}
		span.End()
	}
}

// ParamsFilter passes GORM's question on to the slog logger, which drops
// bind values; without it the wrapper would hide that ability.
func (q quietLogger) ParamsFilter(ctx context.Context, sql string, params ...any) (string, []any) {
	if f, ok := q.Interface.(gorm.ParamsFilter); ok {
		return f.ParamsFilter(ctx, sql, params...)
	}
	return sql, nil
}
