// Package playground serves a GraphiQL IDE that works without internet: the
// page and every script and stylesheet it loads are embedded in the binary
// and served by sessionhub itself (see assets/README.md for their origin).
//
// Mount the handler for the page and for its assets:
//
//	pg := playground.New("sessionhub", "/query")
//	mux.Handle("GET /{$}", pg)
//	mux.Handle("GET "+playground.AssetPrefix, pg)
//
// Queries go over HTTP POST to the endpoint, subscriptions over a WebSocket
// to the same endpoint (graphql-transport-ws, via the graphql-ws client).
// The page takes a document from its URL, so links can open it ready to run:
// /?query=...&variables=...&operationName=...
package playground

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// AssetPrefix is the path under which the page's scripts and stylesheets are
// served. The handler must receive the requests for it.
const AssetPrefix = "/playground/"

// ContentSecurityPolicy is sent with the page and its assets. Scripts and
// stylesheets come only from this server; GraphiQL's components inject
// <style> elements (hence 'unsafe-inline' for styles only) and its fonts are
// data: URLs. connect-src lets the page reach the endpoint over HTTP and
// WebSocket.
const ContentSecurityPolicy = "default-src 'none'; " +
	"script-src 'self'; " +
	"style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; " +
	"font-src 'self' data:; " +
	"connect-src 'self' ws: wss:; " +
	"base-uri 'none'; " +
	"form-action 'none'; " +
	"frame-ancestors 'none'"

// DefaultQuery is the document a first visit shows: the operations to try
// the API from scratch, in the order to run them.
const DefaultQuery = `# Welcome to the sessionhub playground.
#
# Run the operations below in order (the run button asks which one):
#   1. CreateAgent, then copy its id into the variables as "agentId".
#   2. CreateSession (userId is any UUID), then copy its id into the
#      variables as "sessionId".
#   3. SendMessage stores a user message and renews the session.
# Run WatchSession in a second tab to see the session's events live
# (over WebSocket) while you send messages from the first.

mutation CreateAgent {
  createAgent(input: { name: "Eliza" }) {
    id
    name
  }
}

mutation CreateSession($agentId: ID!, $userId: ID!) {
  createSession(input: { agentId: $agentId, userId: $userId }) {
    id
    expiresAt
    timeoutConfig {
      timeoutMinutes
      autoRenew
    }
  }
}

mutation SendMessage($sessionId: ID!) {
  sendSessionMessage(sessionId: $sessionId, input: { content: "Hello!" }) {
    id
    content
    createdAt
    sessionStatus {
      expiresAt
      renewalCount
      wasRenewed
      isNearExpiration
    }
  }
}

subscription WatchSession($sessionId: ID!) {
  sessionEvents(sessionId: $sessionId) {
    __typename
    sessionId
    occurredAt
    ... on MessageAddedEvent {
      message {
        content
        authorId
        isAgent
      }
    }
    ... on SessionRenewedEvent {
      sessionStatus {
        expiresAt
        renewalCount
      }
    }
  }
}
`

// DefaultVariables go with DefaultQuery.
const DefaultVariables = `{
  "agentId": "",
  "userId": "123e4567-e89b-12d3-a456-426614174000",
  "sessionId": ""
}`

// The binary holds only gzip copies of assets/*.js and assets/*.css, made by
// gengz (see assets/README.md); TestGzipAssetsMatchSources catches drift.
//
//go:generate go run ./gengz
//go:embed assets/gz/*.gz
var embedded embed.FS

// Scripts and Stylesheets are the assets the page loads, in order, as file
// names under AssetPrefix.
var (
	Scripts = []string{
		"react.production.min.js",
		"react-dom.production.min.js",
		"graphql-ws.min.js",
		"graphiql.min.js",
		"playground.js",
	}
	Stylesheets = []string{
		"graphiql.min.css",
		"playground.css",
	}
)

var contentTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
}

var page = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.Title}}</title>
<link rel="icon" href="data:,">
{{range .Stylesheets}}<link rel="stylesheet" href="{{.}}">
{{end}}</head>
<body>
<div id="graphiql" data-endpoint="{{.Endpoint}}" data-default-query="{{.DefaultQuery}}" data-default-variables="{{.DefaultVariables}}">Loading the playground…</div>
<noscript>The playground needs JavaScript.</noscript>
{{range .Scripts}}<script src="{{.}}"></script>
{{end}}</body>
</html>
`))

// asset is one embedded file, kept gzipped.
type asset struct {
	name        string
	contentType string
	gzipped     []byte
	size        int64  // of the uncompressed file
	etag        string // the content's: a hash of the gzip copy
}

// newAsset reads what it needs from the gzip copy without inflating it, so
// that start-up does not decompress megabytes: the size from the gzip
// trailer (ISIZE; the assets are far below 4 GiB) and the ETag from a hash
// of the copy, which gengz makes deterministically from the source.
func newAsset(name string, gzipped []byte) (*asset, error) {
	if _, err := gzip.NewReader(bytes.NewReader(gzipped)); err != nil {
		return nil, err
	}
	if len(gzipped) < 18 { // a gzip header and trailer at least
		return nil, io.ErrUnexpectedEOF
	}
	sum := sha256.Sum256(gzipped)
	return &asset{
		name:        name,
		contentType: contentTypes[path.Ext(name)],
		gzipped:     gzipped,
		size:        int64(binary.LittleEndian.Uint32(gzipped[len(gzipped)-4:])),
		etag:        `"` + hex.EncodeToString(sum[:12]) + `"`,
	}, nil
}

// Handler serves the page at "/" and its assets under AssetPrefix.
type Handler struct {
	index  []byte
	etag   string
	assets map[string]*asset
}

// New returns the handler of a playground titled title that sends its
// operations to endpoint, a path on this server such as "/query".
func New(title, endpoint string) *Handler {
	h := &Handler{assets: map[string]*asset{}}
	err := fs.WalkDir(embedded, "assets/gz", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		gzipped, err := embedded.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimSuffix(path.Base(p), ".gz")
		a, err := newAsset(name, gzipped)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		h.assets[name] = a
		return nil
	})
	if err != nil {
		panic("playground: reading embedded assets: " + err.Error())
	}
	// Each URL carries a hash of its content, so a new build is never
	// served from a stale cache.
	versioned := func(names []string) []string {
		urls := make([]string, len(names))
		for i, name := range names {
			a, ok := h.assets[name]
			if !ok {
				panic("playground: missing embedded asset " + name)
			}
			urls[i] = AssetPrefix + name + "?v=" + strings.Trim(a.etag, `"`)
		}
		return urls
	}
	var buf bytes.Buffer
	err = page.Execute(&buf, map[string]any{
		"Title":            title,
		"Endpoint":         endpoint,
		"DefaultQuery":     DefaultQuery,
		"DefaultVariables": DefaultVariables,
		"Stylesheets":      versioned(Stylesheets),
		"Scripts":          versioned(Scripts),
	})
	if err != nil {
		panic("playground: rendering the page: " + err.Error())
	}
	h.index = buf.Bytes()
	sum := sha256.Sum256(h.index)
	h.etag = `"` + hex.EncodeToString(sum[:12]) + `"`
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	header := w.Header()
	header.Set("Content-Security-Policy", ContentSecurityPolicy)
	header.Set("X-Content-Type-Options", "nosniff")
	header.Set("Referrer-Policy", "no-referrer")
	switch {
	case r.URL.Path == "/":
		header.Set("Content-Type", "text/html; charset=utf-8")
		header.Set("Cache-Control", "no-cache")
		header.Set("ETag", h.etag)
		header.Set("X-Frame-Options", "DENY")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(h.index))
	case strings.HasPrefix(r.URL.Path, AssetPrefix):
		a, ok := h.assets[strings.TrimPrefix(r.URL.Path, AssetPrefix)]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h.serveAsset(w, r, a)
	default:
		http.NotFound(w, r)
	}
}

func (h *Handler) serveAsset(w http.ResponseWriter, r *http.Request, a *asset) {
	header := w.Header()
	header.Set("Content-Type", a.contentType)
	header.Set("Vary", "Accept-Encoding")
	if v := r.URL.Query().Get("v"); v != "" && v == strings.Trim(a.etag, `"`) {
		header.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		header.Set("Cache-Control", "no-cache")
	}
	// Gzip goes out as embedded; other clients get it decompressed as it is
	// sent. Tiny files may not shrink, and then go out plain to everyone.
	if acceptsGzip(r) && int64(len(a.gzipped)) < a.size {
		header.Set("Content-Encoding", "gzip")
		header.Set("ETag", strings.TrimSuffix(a.etag, `"`)+`-gzip"`)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.gzipped))
		return
	}
	header.Set("ETag", a.etag)
	http.ServeContent(w, r, "", time.Time{}, newGunzipSeeker(a.gzipped, a.size))
}

// acceptsGzip reports whether the request's Accept-Encoding lists gzip
// without q=0.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}
