package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sessionhub/internal/store"
	"sessionhub/internal/testutil"
)

// TestTSClientTypecheck generates examples/ts-client/src/gql/ from
// schema.graphqls and examples/operations/*.graphql with graphql-codegen, which
// validates every operation against the schema, and type-checks the typed
// client in examples/ts-client/src against the generated types, so CI fails
// when the schema, the example operations and the TypeScript client drift
// apart. The subtests prove that both steps can fail, then run the compiled
// client against a real server.
func TestTSClientTypecheck(t *testing.T) {
	dir := npmProject(t, repoPath("examples", "ts-client"), "the TypeScript client check",
		filepath.Join("node_modules", ".bin", "graphql-codegen"), filepath.Join("node_modules", ".bin", "tsc"),
		filepath.Join("node_modules", "@graphql-codegen", "fragment-matcher", "package.json"),
		filepath.Join("node_modules", "@apollo", "client", "package.json"),
		filepath.Join("node_modules", "@urql", "exchange-graphcache", "package.json"),
		filepath.Join("node_modules", "@urql", "introspection", "package.json"))

	start := time.Now()
	runTSClient(t, dir, "npm", "run", "--silent", "codegen")
	t.Logf("codegen: %v", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	runTSClient(t, dir, "npm", "run", "--silent", "typecheck")
	t.Logf("typecheck: %v", time.Since(start).Round(time.Millisecond))

	codegen := filepath.Join(dir, "node_modules", ".bin", "graphql-codegen")
	tsc := filepath.Join(dir, "node_modules", ".bin", "tsc")

	t.Run("PossibleTypesUpToDate", func(t *testing.T) {
		// src/possible-types.ts (Apollo Client) and src/graphcache-schema.ts
		// (urql's Graphcache) are committed; regenerated from schema.graphqls
		// they must be unchanged.
		files := []string{"possible-types.ts", "graphcache-schema.ts"}
		generate := func(t *testing.T, schema string) map[string][]byte {
			out := t.TempDir()
			cmd := tsClientCommand(t, dir, codegen, "--config", "possible-types.codegen.ts")
			cmd.Env = append(cmd.Env, "POSSIBLE_TYPES_DIR="+out)
			if schema != "" {
				cmd.Env = append(cmd.Env, "POSSIBLE_TYPES_SCHEMA="+schema)
			}
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("possible-types codegen: %v\n%s", err, b)
			}
			generated := map[string][]byte{}
			for _, name := range files {
				b, err := os.ReadFile(filepath.Join(out, name))
				if err != nil {
					t.Fatal(err)
				}
				generated[name] = b
			}
			return generated
		}
		committed := map[string][]byte{}
		for _, name := range files {
			b, err := os.ReadFile(filepath.Join(dir, "src", name))
			if err != nil {
				t.Fatal(err)
			}
			committed[name] = b
		}
		for name, fresh := range generate(t, "") {
			if !bytes.Equal(fresh, committed[name]) {
				t.Errorf("examples/ts-client/src/%s is out of date with schema.graphqls; run `npm run possible-types` in examples/ts-client", name)
			}
		}
		// The check can fail: a schema with one more Node differs.
		schema, err := os.ReadFile(repoPath("schema.graphqls"))
		if err != nil {
			t.Fatal(err)
		}
		changed := filepath.Join(t.TempDir(), "schema.graphqls")
		extra := "\n\"A probe.\"\ntype TsClientProbe implements Node {\n  \"Its id.\"\n  id: ID!\n}\n"
		if err := os.WriteFile(changed, append(schema, extra...), 0o644); err != nil {
			t.Fatal(err)
		}
		for name, fresh := range generate(t, changed) {
			if bytes.Equal(fresh, committed[name]) || !bytes.Contains(fresh, []byte(`"TsClientProbe"`)) {
				t.Errorf("a new Node implementation did not change the generated %s", name)
			}
		}
	})
	// The trusted-documents manifest the server is given is the one codegen
	// writes from examples/operations; CI fails when they drift apart.
	manifest := filepath.Join(dir, "persisted-documents.json")
	generated, err := os.ReadFile(filepath.Join(dir, "src", "gql", "persisted-documents.json"))
	if err != nil {
		t.Fatal(err)
	}
	if committed, err := os.ReadFile(manifest); err != nil || !bytes.Equal(committed, generated) {
		t.Errorf("examples/ts-client/persisted-documents.json differs from what codegen generates from examples/operations (%v); "+
			"run: cd examples/ts-client && npm run codegen && cp src/gql/persisted-documents.json persisted-documents.json", err)
	}

	t.Run("UnknownFieldFailsCodegen", func(t *testing.T) {
		tmp := t.TempDir()
		writeTSClientFile(t, tmp, "bad.graphql", `query TsClientProbe { agent(id: "x") { noSuchField } }`)
		writeTSClientConfig(t, dir, tmp, "documents: [...(base.documents as string[]), "+jsString(filepath.Join(tmp, "bad.graphql"))+"]")
		out, err := tsClientCommand(t, dir, codegen, "--config", filepath.Join(tmp, "codegen.ts")).CombinedOutput()
		if err == nil {
			t.Fatalf("codegen accepted an operation selecting a field the schema lacks:\n%s", out)
		}
		if !strings.Contains(string(out), `Cannot query field "noSuchField" on type "Agent"`) {
			t.Fatalf("codegen failed for another reason than the unknown field: %v\n%s", err, out)
		}
	})

	t.Run("UnmappedScalarFailsCodegen", func(t *testing.T) {
		// strictScalars: a custom scalar without a TypeScript mapping in
		// codegen.ts is an error, not a silent `any`.
		tmp := t.TempDir()
		writeTSClientConfig(t, dir, tmp, "generates: { [out]: { ...output, config: { ...output.config, scalars: withoutTime } } }")
		out, err := tsClientCommand(t, dir, codegen, "--config", filepath.Join(tmp, "codegen.ts")).CombinedOutput()
		if err == nil {
			t.Fatalf("codegen accepted the Time scalar without a mapping:\n%s", out)
		}
		if !strings.Contains(string(out), "Unknown scalar type Time") {
			t.Fatalf("codegen failed for another reason than the unmapped scalar: %v\n%s", err, out)
		}
	})

	t.Run("UnselectedFieldFailsTypecheck", func(t *testing.T) {
		// An operation that selects only the agent's id: reading its name
		// must not compile, while reading its id must.
		tmp := t.TempDir()
		linkTSClientModules(t, dir, tmp)
		writeTSClientFile(t, tmp, "package.json", `{"type": "module"}`)
		writeTSClientFile(t, tmp, "probe.graphql", `query TsClientProbe($id: ID!) { agent(id: $id) { id } }`)
		writeTSClientConfig(t, dir, tmp, "documents: [...(base.documents as string[]), "+jsString(filepath.Join(tmp, "probe.graphql"))+"]")
		runTSClient(t, dir, codegen, "--config", filepath.Join(tmp, "codegen.ts"))
		writeTSClientFile(t, tmp, "probe.ts", `import type { TsClientProbeQuery } from './gql/graphql.js';

export const id = (result: TsClientProbeQuery): string | undefined => result.agent?.id;
export const name = (result: TsClientProbeQuery): string | undefined => result.agent?.name;
`)
		writeTSClientFile(t, tmp, "tsconfig.json", `{"extends": `+jsString(filepath.Join(dir, "tsconfig.json"))+`, "include": ["probe.ts"]}`)
		out, err := tsClientCommand(t, tmp, tsc, "--noEmit", "-p", "tsconfig.json").CombinedOutput()
		if err == nil {
			t.Fatalf("tsc accepted reading a field the operation does not select:\n%s", out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], "probe.ts(4,") || !strings.Contains(lines[0], "Property 'name' does not exist") {
			t.Fatalf("tsc should report exactly the unselected field on line 4: %v\n%s", err, out)
		}
	})

	build := t.TempDir()
	linkTSClientModules(t, dir, build)
	writeTSClientFile(t, build, "package.json", `{"type": "module"}`)
	runTSClient(t, dir, tsc, "-p", "tsconfig.json", "--noEmit", "false", "--outDir", build, "--rootDir", ".")
	runJS := filepath.Join(build, "src", "run.js")
	checkRun := func(t *testing.T, out []byte) {
		t.Helper()
		var summary struct {
			RenewalCounts []int
			WasRenewed    bool
			Messages      []string
			Listed        int
			AfterDelete   string
		}
		if err := json.Unmarshal(out, &summary); err != nil {
			t.Fatalf("run.js printed %q: %v", out, err)
		}
		if want := []string{"hi there", "again", "hello"}; !slices.Equal(summary.Messages, want) {
			t.Errorf("messages, newest first: got %q, want %q", summary.Messages, want)
		}
		if !summary.WasRenewed || summary.Listed != 1 || summary.AfterDelete != "SESSION_NOT_FOUND" {
			t.Errorf("unexpected summary %s", out)
		}
	}

	t.Run("AgainstServer", func(t *testing.T) {
		srv := startServer(t, testutil.DatabaseURL(t, store.SQLite))
		checkRun(t, runTSClient(t, dir, "node", runJS, srv.URL+"/query"))
	})

	// GRAPHQL_TRUSTED_DOCUMENTS serves the manifest by hash; other
	// documents still run (and may still be registered with APQ).
	t.Run("TrustedDocuments", func(t *testing.T) {
		srv := startServer(t, testutil.DatabaseURL(t, store.SQLite), "GRAPHQL_TRUSTED_DOCUMENTS="+manifest)
		checkRun(t, runTSClient(t, dir, "node", runJS, srv.URL+"/query", "--persisted"))
		if res := srv.postJSON(t, "/query", map[string]any{"query": "{ __typename }"}); res.Status != http.StatusOK {
			t.Errorf("a document outside the manifest: %d %s", res.Status, res.Body)
		}
	})

	// With GRAPHQL_TRUSTED_DOCUMENTS_ONLY=true only the manifest's
	// documents run: by hash, or as their exact text.
	t.Run("TrustedDocumentsOnly", func(t *testing.T) {
		srv := startServer(t, testutil.DatabaseURL(t, store.SQLite),
			"GRAPHQL_TRUSTED_DOCUMENTS="+manifest, "GRAPHQL_TRUSTED_DOCUMENTS_ONLY=true")
		checkRun(t, runTSClient(t, dir, "node", runJS, srv.URL+"/query", "--persisted"))

		// The same client sending document texts (printed its own way) is refused.
		cmd := tsClientCommand(t, dir, "node", runJS, srv.URL+"/query")
		if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "UNTRUSTED_DOCUMENT") {
			t.Errorf("the client sending texts: %v, want a failure with UNTRUSTED_DOCUMENT\n%s", err, out)
		}
		var docs map[string]string
		raw, err := os.ReadFile(manifest)
		if err != nil || json.Unmarshal(raw, &docs) != nil {
			t.Fatalf("manifest: %v", err)
		}
		untrusted := "{ __typename }"
		for name, req := range map[string]map[string]any{
			"text":              {"query": untrusted},
			"APQ registration":  {"query": untrusted, "extensions": apqExtension(sha256Hex(untrusted))},
			"unknown hash":      {"extensions": apqExtension(sha256Hex(untrusted))},
			"introspection":     {"query": "{ __schema { queryType { name } } }"},
			"subscription text": {"query": "subscription { sessionEvents(sessionId: \"x\") { __typename } }"},
		} {
			// A document error: 400 when the client asks for
			// application/graphql-response+json (GraphQL over HTTP).
			b, _ := json.Marshal(req)
			httpReq, _ := http.NewRequest(http.MethodPost, srv.URL+"/query", bytes.NewReader(b))
			httpReq.Header.Set("Content-Type", "application/json")
			httpReq.Header.Set("Accept", "application/graphql-response+json")
			httpRes, err := http.DefaultClient.Do(httpReq)
			if err != nil {
				t.Fatal(err)
			}
			answer, _ := io.ReadAll(httpRes.Body)
			httpRes.Body.Close()
			var body apqAnswer
			if err := json.Unmarshal(answer, &body); err != nil || len(body.Errors) != 1 ||
				body.Errors[0].Extensions.Code != "UNTRUSTED_DOCUMENT" || httpRes.StatusCode != http.StatusBadRequest {
				t.Errorf("%s: %d %s, want 400 with code UNTRUSTED_DOCUMENT", name, httpRes.StatusCode, answer)
			}
		}
		// A manifest document sent as its exact text runs.
		for hash, doc := range docs {
			if !strings.HasPrefix(doc, "query GetAgent(") {
				continue
			}
			res := srv.postJSON(t, "/query", map[string]any{"query": doc, "variables": map[string]any{"id": testutil.MustUUID()}})
			if res.Status != http.StatusOK || !strings.Contains(string(res.Body), `"agent":null`) {
				t.Errorf("GetAgent (%s) as text: %d %s", hash, res.Status, res.Body)
			}
		}
	})
}

func apqExtension(hash string) map[string]any {
	return map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
}

// tsClientCommand prepares a command in dir that is killed when the test ends.
func tsClientCommand(t *testing.T, dir, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(t.Context(), name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	return cmd
}

// runTSClient runs a command in dir and returns its stdout, failing the test
// with all of its output if it fails.
func runTSClient(t *testing.T, dir, name string, args ...string) []byte {
	t.Helper()
	cmd := tsClientCommand(t, dir, name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(name), strings.Join(args, " "), err, out, stderr.String())
	}
	return out
}

// writeTSClientConfig writes tmp/codegen.ts: the project's codegen.ts with
// its output moved to tmp/gql/ and the given properties overridden. Relative
// paths in the project config resolve against the project directory, which
// is where codegen runs.
func writeTSClientConfig(t *testing.T, dir, tmp, override string) {
	t.Helper()
	writeTSClientFile(t, tmp, "codegen.ts", `import base from `+jsString(filepath.Join(dir, "codegen.ts"))+`;

const out = `+jsString(filepath.Join(tmp, "gql")+"/")+`;
const output: any = Object.values(base.generates)[0];
const { Time: _, ...withoutTime } = output.config.scalars;
export default { ...base, generates: { [out]: output }, `+override+` };
`)
}

// linkTSClientModules makes the project's node_modules resolvable from tmp.
func linkTSClientModules(t *testing.T, dir, tmp string) {
	t.Helper()
	if err := os.Symlink(filepath.Join(dir, "node_modules"), filepath.Join(tmp, "node_modules")); err != nil {
		t.Fatal(err)
	}
}

func writeTSClientFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// jsString quotes s as a JavaScript (and JSON) string literal.
func jsString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}
