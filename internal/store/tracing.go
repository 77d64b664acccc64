package store

import "gorm.io/gorm"

// spanEndKey holds the end of a GORM statement's span between its callbacks.
const spanEndKey = "sessionhub:span_end"

// traceStatements gives every statement GORM runs a client span named after
// its operation and table ("SELECT sessions"), with no SQL text or bind
// values (they hold message content). These are GORM callbacks rather than
// the OpenTelemetry GORM plugin, which links other databases' drivers into
// the binary.
func (s *Store) traceStatements(db *gorm.DB) error {
	start := func(operation string) func(*gorm.DB) {
		return func(tx *gorm.DB) {
			name := operation
			if tx.Statement.Table != "" {
				name += " " + tx.Statement.Table
			}
			ctx, end := s.span(tx.Statement.Context, name)
			tx.Statement.Context = ctx
			tx.InstanceSet(spanEndKey, end)
		}
	}
	finish := func(tx *gorm.DB) {
		if end, ok := tx.InstanceGet(spanEndKey); ok {
			end.(func(error))(tx.Error)
		}
	}
	cb := db.Callback()
	type register = func(name string, fn func(*gorm.DB)) error
	for _, p := range []struct {
		operation     string
		before, after register
	}{
		{"INSERT", cb.Create().Before("gorm:create").Register, cb.Create().After("gorm:create").Register},
		{"SELECT", cb.Query().Before("gorm:query").Register, cb.Query().After("gorm:query").Register},
		{"UPDATE", cb.Update().Before("gorm:update").Register, cb.Update().After("gorm:update").Register},
		{"DELETE", cb.Delete().Before("gorm:delete").Register, cb.Delete().After("gorm:delete").Register},
		{"QUERY", cb.Row().Before("gorm:row").Register, cb.Row().After("gorm:row").Register},
		{"EXEC", cb.Raw().Before("gorm:raw").Register, cb.Raw().After("gorm:raw").Register},
	} {
		if err := p.before("sessionhub:span_start", start(p.operation)); err != nil {
			return err
		}
		if err := p.after("sessionhub:span_end", finish); err != nil {
			return err
		}
	}
	return nil
}
