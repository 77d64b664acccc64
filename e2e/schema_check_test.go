package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestSchemaCheck runs tools/schemacheck (GraphQL Inspector's diff) the way CI
// does: schema.graphqls against the committed baseline with the committed
// acknowledgments must pass, and temp schemas derived from schema.graphqls
// show that the check fails on breaking changes, passes on additive ones, and
// honours acknowledgments.
func TestSchemaCheck(t *testing.T) {
	dir := npmProject(t, repoPath("tools", "schemacheck"), "the schema compatibility check",
		filepath.Join("node_modules", "@graphql-inspector", "core", "package.json"))
	script := filepath.Join(dir, "check.mjs")
	run := func(t *testing.T, baseline, current, acknowledged string) (int, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "node", script, baseline, current, acknowledged)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		var exit *exec.ExitError
		switch {
		case err == nil:
			return 0, out.String()
		case errors.As(err, &exit):
			return exit.ExitCode(), out.String()
		default:
			t.Fatalf("node check.mjs: %v\n%s", err, out.String())
			return -1, ""
		}
	}

	t.Run("CurrentSchemaAgainstBaseline", func(t *testing.T) {
		code, out := run(t, repoPath("graph", "testdata", "schema-baseline.graphqls"), repoPath("schema.graphqls"), repoPath("graph", "testdata", "schema-acknowledged.json"))
		if code != 0 {
			t.Fatalf("schema.graphqls has unacknowledged breaking changes against the baseline (exit %d):\n%s", code, out)
		}
		t.Logf("\n%s", out)
	})

	current, err := os.ReadFile(repoPath("schema.graphqls"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	write := func(t *testing.T, name, content string) string {
		t.Helper()
		path := filepath.Join(tmp, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// The derived schemas are diffed against schema.graphqls itself, with no
	// acknowledgments, so each case sees exactly the change it makes.
	noAcks := write(t, "none.json", "[]\n")

	// edit applies re to the current schema text; it must match exactly once,
	// so a schema that moved on fails here instead of making a case vacuous.
	edit := func(t *testing.T, schema, re, repl string) string {
		t.Helper()
		rx := regexp.MustCompile(re)
		if n := len(rx.FindAllStringIndex(schema, -1)); n != 1 {
			t.Fatalf("schema.graphqls: %q matches %d times, want 1; update this test to the schema", re, n)
		}
		return rx.ReplaceAllString(schema, repl)
	}
	removeField := func(t *testing.T) string {
		// The field and its one-line description.
		return edit(t, string(current), `(?m)^[ \t]*(?:"[^"\n]*"\n[ \t]*)?wasRenewed: Boolean!\n`, "")
	}

	for _, tc := range []struct {
		name string
		make func(t *testing.T) string
		want []string // type and path of each breaking change, as printed
	}{
		{
			name: "RemovedField",
			make: removeField,
			want: []string{"FIELD_REMOVED SessionStatus.wasRenewed"},
		},
		{
			name: "NullableArgumentMadeRequired",
			make: func(t *testing.T) string {
				return edit(t, string(current), `(sessions\(\n(?:[ \t]*"[^"\n]*"\n)?[ \t]*first: )Int\n`, "${1}Int!\n")
			},
			want: []string{"FIELD_ARGUMENT_TYPE_CHANGED Query.sessions.first"},
		},
		{
			name: "RemovedEnumValue",
			make: func(t *testing.T) string {
				// The value and its one-line description, if any.
				return edit(t, string(current), `(?m)^[ \t]*(?:"[^"\n]*"\n[ \t]*)?EXPIRED\n`, "")
			},
			want: []string{"ENUM_VALUE_REMOVED SessionState.EXPIRED"},
		},
		{
			name: "NullableInputFieldMadeRequired",
			make: func(t *testing.T) string {
				return edit(t, string(current), `(input SessionFilter \{\n(?:[ \t]*"[^"\n]*"\n)?[ \t]*agentId: )ID\n`, "${1}ID!\n")
			},
			want: []string{"INPUT_FIELD_TYPE_CHANGED SessionFilter.agentId"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			changed := write(t, tc.name+".graphqls", tc.make(t))
			code, out := run(t, repoPath("schema.graphqls"), changed, noAcks)
			if code != 1 {
				t.Fatalf("exit %d, want 1 (unacknowledged breaking change):\n%s", code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, "BREAKING     "+w+":") {
					t.Errorf("output does not list %q as BREAKING:\n%s", w, out)
				}
			}
			if !strings.Contains(out, "not acknowledged") || !strings.Contains(out, "refresh the baseline") {
				t.Errorf("output does not say how to acknowledge the change:\n%s", out)
			}
		})
	}

	t.Run("AdditiveChangePasses", func(t *testing.T) {
		s := edit(t, string(current), `(?m)^type Session implements Node \{\n`, "type Session implements Node {\n  \"Labels.\"\n  tags: [SessionTag!]\n")
		s += "\n\"A label on a session.\"\ntype SessionTag {\n  name: String!\n}\n"
		code, out := run(t, repoPath("schema.graphqls"), write(t, "additive.graphqls", s), noAcks)
		if code != 0 {
			t.Fatalf("exit %d, want 0 for an additive change:\n%s", code, out)
		}
		for _, w := range []string{"NON_BREAKING FIELD_ADDED Session.tags:", "NON_BREAKING TYPE_ADDED SessionTag:"} {
			if !strings.Contains(out, w) {
				t.Errorf("output lacks %q:\n%s", w, out)
			}
		}
	})

	t.Run("AcknowledgedBreakingChangePasses", func(t *testing.T) {
		changed := write(t, "acknowledged.graphqls", removeField(t))
		ack := write(t, "ack.json", `[{"type": "FIELD_REMOVED", "path": "SessionStatus.wasRenewed", "reason": "test: no client reads it"}]`)
		code, out := run(t, repoPath("schema.graphqls"), changed, ack)
		if code != 0 {
			t.Fatalf("exit %d, want 0 for an acknowledged breaking change:\n%s", code, out)
		}
		if !strings.Contains(out, "FIELD_REMOVED SessionStatus.wasRenewed: ") || !strings.Contains(out, "(acknowledged: test: no client reads it)") {
			t.Errorf("output does not show the change as acknowledged:\n%s", out)
		}

		byMessage := write(t, "ack-message.json", `[{"message": "Field 'wasRenewed' was removed from object type 'SessionStatus'", "reason": "test"}]`)
		if code, out := run(t, repoPath("schema.graphqls"), changed, byMessage); code != 0 {
			t.Errorf("exit %d, want 0 when acknowledged by message:\n%s", code, out)
		}

		// An acknowledgment covers one kind of change at one path only.
		other := write(t, "ack-other.json", `[{"type": "FIELD_TYPE_CHANGED", "path": "SessionStatus.wasRenewed", "reason": "test"}]`)
		if code, out := run(t, repoPath("schema.graphqls"), changed, other); code != 1 {
			t.Errorf("exit %d, want 1 when the acknowledgment is for another change:\n%s", code, out)
		}
	})

	t.Run("MalformedAcknowledgmentsRejected", func(t *testing.T) {
		changed := write(t, "malformed.graphqls", removeField(t))
		for name, content := range map[string]string{
			"no-reason":   `[{"type": "FIELD_REMOVED", "path": "SessionStatus.wasRenewed"}]`,
			"todo-reason": `[{"type": "FIELD_REMOVED", "path": "SessionStatus.wasRenewed", "reason": "TODO: why clients can take this break"}]`,
			"path-only":   `[{"path": "SessionStatus.wasRenewed", "reason": "too broad"}]`,
			"not-array":   `{}`,
		} {
			if code, out := run(t, repoPath("schema.graphqls"), changed, write(t, name+".json", content)); code != 2 {
				t.Errorf("%s: exit %d, want 2:\n%s", name, code, out)
			}
		}
	})
}
