package graph_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	gqlast "github.com/vektah/gqlparser/v2/ast"

	"sessionhub/graph"
	"sessionhub/internal/store"
)

// introspectionOp reads every described element of the schema.
const introspectionOp = `{ __schema { types {
	name kind description specifiedByURL
	fields(includeDeprecated: true) { name description args { name description } }
	inputFields { name description }
	enumValues(includeDeprecated: true) { name description }
} } }`

type introspected struct {
	Schema struct {
		Types []struct {
			Name, Kind, Description string
			SpecifiedByURL          *string
			Fields                  []struct {
				Name, Description string
				Args              []struct{ Name, Description string }
			}
			InputFields []struct{ Name, Description string }
			EnumValues  []struct{ Name, Description string }
		}
	} `json:"__schema"`
}

// TestSchemaDescribesEverything reads the live schema through introspection
// and fails on any type, field, argument, input field or enum value of ours
// without a description (built-in scalars and __ types are GraphQL's own).
func TestSchemaDescribesEverything(t *testing.T) {
	env := newHubEnv(t, store.SQLite, graph.Options{Introspection: true})
	var out introspected
	env.post(&out, introspectionOp, nil)
	builtin := []string{"String", "Int", "Float", "Boolean", "ID"}
	var missing []string
	counts := map[string]int{}
	check := func(what, path, description string) {
		counts[what]++
		if strings.TrimSpace(description) == "" {
			missing = append(missing, what+" "+path)
		}
	}
	for _, typ := range out.Schema.Types {
		if strings.HasPrefix(typ.Name, "__") || slices.Contains(builtin, typ.Name) {
			continue
		}
		check("type", typ.Name, typ.Description)
		for _, f := range typ.Fields {
			check("field", typ.Name+"."+f.Name, f.Description)
			for _, a := range f.Args {
				check("argument", typ.Name+"."+f.Name+"("+a.Name+":)", a.Description)
			}
		}
		for _, f := range typ.InputFields {
			check("input field", typ.Name+"."+f.Name, f.Description)
		}
		for _, v := range typ.EnumValues {
			check("enum value", typ.Name+"."+v.Name, v.Description)
		}
	}
	t.Logf("described: %v", counts)
	if counts["type"] < 30 || counts["field"] < 90 || counts["argument"] < 25 || counts["input field"] < 20 || counts["enum value"] < 15 {
		t.Errorf("introspection saw too little of the schema to prove anything: %v", counts)
	}
	if len(missing) > 0 {
		t.Errorf("%d schema elements have no description:\n  %s", len(missing), strings.Join(missing, "\n  "))
	}

	// The custom scalars name their specifications.
	for _, typ := range out.Schema.Types {
		if typ.Name == "Time" || typ.Name == "JSON" {
			if typ.SpecifiedByURL == nil || !strings.HasPrefix(*typ.SpecifiedByURL, "https://") {
				t.Errorf("scalar %s: specifiedByURL %v, want an https URL", typ.Name, typ.SpecifiedByURL)
			}
		}
	}
}

// TestErrorCodeEnumMatchesCodes checks that enum ErrorCode lists exactly the
// codes errors can carry: every models.Code constant (read from the models
// package's source, so a new one cannot be forgotten) and the document codes
// gqlgen answers with, each provoked here through the real handler.
func TestErrorCodeEnumMatchesCodes(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "schema.graphqls"))
	if err != nil {
		t.Fatal(err)
	}
	schema, gerr := gqlparser.LoadSchema(&gqlast.Source{Name: "schema.graphqls", Input: string(src)})
	if gerr != nil {
		t.Fatal(gerr)
	}
	enum := schema.Types["ErrorCode"]
	if enum == nil || enum.Kind != gqlast.Enum {
		t.Fatal("schema.graphqls has no enum ErrorCode")
	}
	var inSchema []string
	for _, v := range enum.EnumValues {
		inSchema = append(inSchema, v.Name)
	}

	want := modelCodes(t)
	env := newHubEnv(t, store.SQLite, graph.Options{})
	for name, provoke := range map[string]func() []byte{
		"parse":      func() []byte { _, b := env.raw(`{ session(id: "x") {`, nil); return b },
		"validation": func() []byte { _, b := env.raw(`{ noSuchField }`, nil); return b },
		"complexity": func() []byte {
			_, b := env.raw(`{ sessions(first: 100) { nodes { messages(first: 100) { nodes { id content createdAt } } } } }`, nil)
			return b
		},
		"batch": func() []byte {
			req := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(`[{"query":"{ __typename }"},{"query":"{ __typename }"}]`))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			env.handler.ServeHTTP(rec, req)
			var results []json.RawMessage // one result per operation
			if err := json.Unmarshal(rec.Body.Bytes(), &results); err != nil || len(results) == 0 {
				return rec.Body.Bytes()
			}
			return results[0]
		},
		"persisted query": func() []byte {
			body := `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + strings.Repeat("ab", 32) + `"}}}`
			req := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			env.handler.ServeHTTP(rec, req)
			return rec.Body.Bytes()
		},
	} {
		var resp struct{ Errors []hubError }
		body := provoke()
		if err := json.Unmarshal(body, &resp); err != nil || len(resp.Errors) == 0 {
			t.Fatalf("%s: no error in %s", name, body)
		}
		code := resp.Errors[0].code()
		if slices.Contains(want, code) {
			t.Errorf("%s: code %s is an application code; want gqlgen's own", name, code)
		}
		want = append(want, code)
	}
	sort.Strings(want)
	sort.Strings(inSchema)
	if !slices.Equal(want, inSchema) {
		t.Errorf("enum ErrorCode = %v\nwant (models.Code constants and the document codes) %v", inSchema, want)
	}
}

// modelCodes returns the values of every constant of type Code in package models.
func modelCodes(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join("..", "models", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.CONST {
				continue
			}
			for _, spec := range gen.Specs {
				vs := spec.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Code" {
					continue
				}
				for _, v := range vs.Values {
					if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						codes = append(codes, strings.Trim(lit.Value, `"`))
					}
				}
			}
		}
	}
	if len(codes) < 12 {
		t.Fatalf("found only %d models.Code constants: %v", len(codes), codes)
	}
	return codes
}
