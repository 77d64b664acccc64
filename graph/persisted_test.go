package graph_test

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sessionhub/graph"
)

func TestReadTrustedDocuments(t *testing.T) {
	write := func(content string) string {
		path := filepath.Join(t.TempDir(), "manifest.json")
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	sum := sha1.Sum([]byte("{ __typename }"))
	sha1Hex := hex.EncodeToString(sum[:])
	good := write(`{"` + sha256Hex("{ __typename }") + `": "{ __typename }"}`)
	docs, err := graph.ReadTrustedDocuments(good)
	if err != nil || len(docs) != 1 {
		t.Fatalf("a good manifest: %v, %v", docs, err)
	}
	for name, tc := range map[string]struct{ content, message string }{
		"sha1 keys":  {`{"` + sha1Hex + `": "{ __typename }"}`, "is not the SHA-256 of its document"},
		"empty":      {`{}`, "no documents"},
		"not object": {`["{ __typename }"]`, "not a JSON object"},
	} {
		if _, err := graph.ReadTrustedDocuments(write(tc.content)); err == nil || !strings.Contains(err.Error(), tc.message) {
			t.Errorf("%s: %v, want an error saying %q", name, err, tc.message)
		}
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
