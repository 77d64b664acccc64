package playground

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// TestGzipAssetsMatchSources fails when an asset changed without
// `go generate ./internal/playground` (the binary embeds only the .gz).
func TestGzipAssetsMatchSources(t *testing.T) {
	sources, _ := filepath.Glob("assets/*.js")
	css, _ := filepath.Glob("assets/*.css")
	sources = append(sources, css...)
	if len(sources) == 0 {
		t.Fatal("no assets")
	}
	want := map[string]bool{}
	for _, src := range sources {
		gz := filepath.Join("assets", "gz", filepath.Base(src)+".gz")
		want[gz] = true
		raw, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		compressed, err := os.ReadFile(gz)
		if err != nil {
			t.Errorf("%s has no %s: run go generate ./internal/playground", src, gz)
			continue
		}
		zr, err := gzip.NewReader(bytes.NewReader(compressed))
		if err != nil {
			t.Errorf("%s: %v", gz, err)
			continue
		}
		got, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(got, raw) {
			t.Errorf("%s is out of date with %s (%v): run go generate ./internal/playground", gz, src, err)
		}
		if zr.Name != "" || !zr.ModTime.IsZero() {
			t.Errorf("%s: header has name %q, time %v; want neither, for reproducible output", gz, zr.Name, zr.ModTime)
		}
	}
	all, _ := filepath.Glob("assets/gz/*")
	for _, gz := range all {
		if !want[gz] {
			t.Errorf("%s has no source: run go generate ./internal/playground", gz)
		}
	}
}

// TestPlaygroundAssetRanges: a client without gzip gets the file
// decompressed as it is sent, ranges and revalidation included.
func TestPlaygroundAssetRanges(t *testing.T) {
	h := New("sessionhub", "/query")
	want, err := os.ReadFile("assets/graphiql.min.js")
	if err != nil {
		t.Fatal(err)
	}
	url := AssetPrefix + "graphiql.min.js"

	res := get(t, h, url, "Accept-Encoding", "identity")
	if got := body(t, res); res.Header.Get("Content-Encoding") != "" || !bytes.Equal(got, want) ||
		res.ContentLength != int64(len(want)) || res.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("GET identity: encoding %q, %d bytes (Content-Length %d), Vary %q; want the %d bytes of the file",
			res.Header.Get("Content-Encoding"), len(got), res.ContentLength, res.Header.Get("Vary"), len(want))
	}
	etag := res.Header.Get("ETag")
	if res := get(t, h, url, "If-None-Match", etag); res.StatusCode != http.StatusNotModified {
		t.Errorf("GET If-None-Match %s: %d", etag, res.StatusCode)
	}

	for _, r := range []struct {
		header   string
		from, to int // inclusive
	}{
		{"bytes=0-99", 0, 99},
		{"bytes=1000000-1000999", 1000000, 1000999},
		{"bytes=-50", len(want) - 50, len(want) - 1},
	} {
		res := get(t, h, url, "Range", r.header)
		got := body(t, res)
		if res.StatusCode != http.StatusPartialContent || !bytes.Equal(got, want[r.from:r.to+1]) {
			t.Errorf("GET Range %s: %d, %d bytes; want 206 and bytes %d-%d", r.header, res.StatusCode, len(got), r.from, r.to)
		}
	}

	// Ranges out of order make the reader start over.
	res = get(t, h, url, "Range", "bytes=2000-2009,10-19")
	if got := body(t, res); res.StatusCode != http.StatusPartialContent ||
		!bytes.Contains(got, want[2000:2010]) || !bytes.Contains(got, want[10:20]) {
		t.Errorf("GET two ranges: %d\n%s", res.StatusCode, got)
	}

	// The gzip copy is sent as embedded.
	gz, err := os.ReadFile("assets/gz/graphiql.min.js.gz")
	if err != nil {
		t.Fatal(err)
	}
	res = get(t, h, url, "Accept-Encoding", "gzip")
	if got := body(t, res); res.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal(got, gz) {
		t.Errorf("GET gzip: encoding %q, %d bytes; want the %d bytes of the .gz", res.Header.Get("Content-Encoding"), len(got), len(gz))
	}
	if res.Header.Get("ETag") == etag {
		t.Errorf("gzip and identity share the ETag %s", etag)
	}
}
