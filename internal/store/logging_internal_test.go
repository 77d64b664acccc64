package store

import "testing"

func TestRedactLiterals(t *testing.T) {
	for _, tc := range []struct {
		dialect  Dialect
		sql, out string
	}{
		{Postgres, `SELECT * FROM "sessions" WHERE id = 'a''b' AND n = 42 AND x = $1 LIMIT 10`, `SELECT * FROM "sessions" WHERE id = ? AND n = ? AND x = $1 LIMIT ?`},
		{Postgres, `UPDATE t SET at = '2026-01-01 00:00:00.000', v = -3.5e2, ok = true`, `UPDATE t SET at = ?, v = -?, ok = true`},
		{SQLite, "SELECT * FROM `sessions` WHERE name = \"say \"\"hi\"\"\" AND c = 'it''s' AND t2.x = 7", "SELECT * FROM `sessions` WHERE name = ? AND c = ? AND t2.x = ?"},
		{SQLite, `SELECT "unterminated`, `SELECT ?`},
	} {
		if got := redactLiterals(tc.sql, tc.dialect); got != tc.out {
			t.Errorf("%s %s:\n got %s\nwant %s", tc.dialect, tc.sql, got, tc.out)
		}
	}
}
