package store

import (
	"context"
	"errors"
	"log/slog"
	"strings"
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
func newGormLogger(log *slog.Logger, dialect Dialect) logger.Interface {
	return quietLogger{Interface: logger.NewSlogLogger(log, logger.Config{
		SlowThreshold:             slowQuery,
		IgnoreRecordNotFoundError: true,
		ParameterizedQueries:      true,
		LogLevel:                  logger.Warn,
	}), dialect: dialect}
}

type quietLogger struct {
	logger.Interface
	dialect Dialect
}

func (q quietLogger) LogMode(level logger.LogLevel) logger.Interface {
	return quietLogger{Interface: q.Interface.LogMode(level), dialect: q.dialect}
}

// Trace logs a failed or slow statement with every literal in its text
// replaced by "?". ParameterizedQueries alone is not enough: GORM's Scan
// records its statement with a logger of its own that writes the bound
// values into the text (named parameters and positional ones alike).
func (q quietLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	if expected(err) {
		err = nil // still reported if it was slow
	}
	q.Interface.Trace(ctx, begin, func() (string, int64) {
		sql, rows := fc()
		return redactLiterals(sql, q.dialect), rows
	}, err)
}

// redactLiterals replaces the string and number literals of a statement's
// text with "?", keeping its keywords, identifiers and placeholders ($1):
// whatever values were written into it, none reaches the log. GORM writes
// values in single quotes on PostgreSQL, where double quotes are
// identifiers, and in double quotes on SQLite, where identifiers take
// backticks; a doubled quote inside a literal is part of it.
func redactLiterals(sql string, dialect Dialect) string {
	var b strings.Builder
	b.Grow(len(sql))
	valueQuote := func(c byte) bool { return c == '\'' || (c == '"' && dialect != Postgres) }
	identQuote := func(c byte) bool { return c == '`' || (c == '"' && dialect == Postgres) }
	word := func(c byte) bool {
		return c == '_' || c == '$' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
	}
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case valueQuote(c) || identQuote(c):
			j := i + 1
			for j < len(sql) {
				if sql[j] == c {
					if j+1 < len(sql) && sql[j+1] == c {
						j += 2 // a doubled quote
						continue
					}
					break
				}
				j++
			}
			if valueQuote(c) {
				b.WriteByte('?')
			} else {
				b.WriteString(sql[i:min(j+1, len(sql))])
			}
			i = j + 1
		case c >= '0' && c <= '9' && (i == 0 || !word(sql[i-1])):
			j := i
			for j < len(sql) && (word(sql[j]) || sql[j] == '-' || sql[j] == ':' || sql[j] == '+') {
				j++ // digits, and the rest of an unquoted number or time
			}
			b.WriteByte('?')
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
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
