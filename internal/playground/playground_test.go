package playground

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

func get(t *testing.T, h http.Handler, target string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var external = regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+`)

func TestPlaygroundPageAndAssets(t *testing.T) {
	h := New("sessionhub <test>", "/query")
	res := get(t, h, "/")
	page := body(t, res)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %d %s", res.StatusCode, page)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("page Content-Type %q", ct)
	}
	if csp := res.Header.Get("Content-Security-Policy"); csp != ContentSecurityPolicy {
		t.Errorf("page Content-Security-Policy %q", csp)
	}
	for _, want := range []string{"<title>sessionhub &lt;test&gt;</title>", `data-endpoint="/query"`, "sendSessionMessage"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	if m := external.Find(page); m != nil {
		t.Errorf("page references %q, outside this server:\n%s", m, page)
	}
	if bytes.Contains(page, []byte("<script>")) || bytes.Contains(page, []byte(" style=")) {
		t.Errorf("page has an inline script or style, which the policy forbids:\n%s", page)
	}

	var urls []string
	for _, ref := range regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllSubmatch(page, -1) {
		if url := string(ref[1]); url != "data:," { // the empty icon, which spares a request for /favicon.ico
			urls = append(urls, url)
		}
	}
	if len(urls) != len(Scripts)+len(Stylesheets) {
		t.Fatalf("page references %d assets, want %d:\n%s", len(urls), len(Scripts)+len(Stylesheets), page)
	}
	seen := map[string]bool{}
	for _, url := range urls {
		if !strings.HasPrefix(url, AssetPrefix) {
			t.Errorf("asset %q is not under %s", url, AssetPrefix)
			continue
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(url, AssetPrefix), "?")
		seen[name] = true
		want, err := os.ReadFile("assets/" + name)
		if err != nil {
			t.Fatalf("asset %s: %v", url, err)
		}
		res := get(t, h, url)
		got := body(t, res)
		if res.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
			t.Errorf("GET %s: %d, %d bytes, want 200 and the %d bytes of assets/%s", url, res.StatusCode, len(got), len(want), name)
		}
		wantType := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}[path.Ext(name)]
		if ct := res.Header.Get("Content-Type"); ct != wantType || wantType == "" {
			t.Errorf("GET %s: Content-Type %q, want %q", url, ct, wantType)
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", url)
		}
		if cc := res.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("GET %s (versioned): Cache-Control %q", url, cc)
		}
		if name == "playground.js" || name == "playground.css" {
			if m := external.Find(got); m != nil {
				t.Errorf("%s references %q, outside this server", name, m)
			}
		}

		// Compressed, and revalidated by ETag.
		res = get(t, h, url, "Accept-Encoding", "br, gzip")
		if res.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(res.Body)
			if err != nil {
				t.Fatalf("GET %s gzip: %v", url, err)
			}
			unzipped, err := io.ReadAll(zr)
			if err != nil || !bytes.Equal(unzipped, want) {
				t.Errorf("GET %s gzip: %d bytes, %v; want the %d bytes of the asset", url, len(unzipped), err, len(want))
			}
		} else if len(want) > 4096 {
			t.Errorf("GET %s: not compressed for a client that accepts gzip", url)
		}
		etag := res.Header.Get("ETag")
		if res := get(t, h, url, "Accept-Encoding", "gzip", "If-None-Match", etag); etag == "" || res.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s If-None-Match %s: %d", url, etag, res.StatusCode)
		}
	}
	for _, name := range append(append([]string{}, Scripts...), Stylesheets...) {
		if !seen[name] {
			t.Errorf("page does not load %s", name)
		}
	}

	// GraphiQL loads after React and ReactDOM, and the start script last.
	if !(bytes.Index(page, []byte("react.production")) < bytes.Index(page, []byte("graphiql.min.js")) &&
		bytes.Index(page, []byte("graphiql.min.js")) < bytes.Index(page, []byte("playground.js"))) {
		t.Errorf("scripts out of order:\n%s", page)
	}

	for _, target := range []string{"/nope", AssetPrefix + "nope.js", AssetPrefix + "../playground.go", AssetPrefix} {
		if res := get(t, h, target); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", target, res.StatusCode)
		}
	}
	if res := get(t, h, AssetPrefix+"playground.js"); res.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("unversioned asset: Cache-Control %q", res.Header.Get("Cache-Control"))
	}
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d", rec.Code)
	}
}

// TestPlaygroundDefaultQueryMatchesSchema keeps the example document valid
// as the schema changes.
func TestPlaygroundDefaultQueryMatchesSchema(t *testing.T) {
	sdl, err := os.ReadFile("../../schema.graphqls")
	if err != nil {
		t.Fatal(err)
	}
	schema, gerr := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphqls", Input: string(sdl)})
	if gerr != nil {
		t.Fatal(gerr)
	}
	doc, errs := gqlparser.LoadQuery(schema, DefaultQuery)
	if len(errs) > 0 {
		t.Fatalf("DefaultQuery does not match schema.graphqls: %v", errs)
	}
	var names []string
	for _, op := range doc.Operations {
		names = append(names, op.Name)
	}
	if got := strings.Join(names, ","); got != "CreateAgent,CreateSession,SendMessage,WatchSession" {
		t.Errorf("operations %s", got)
	}
}
