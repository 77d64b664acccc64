// Command gengz writes assets/gz/<name>.gz for every assets/*.js and
// assets/*.css, run by go generate in internal/playground: the binary embeds
// only these compressed copies. The output depends on nothing but the
// sources (best compression, no name or time in the header), so CI can
// regenerate and check for drift; stale .gz files are removed.
package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
)

const (
	sourceDir = "assets"
	gzDir     = "assets/gz"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gengz:", err)
		os.Exit(1)
	}
}

func run() error {
	var sources []string
	for _, pattern := range []string{"*.js", "*.css"} {
		matches, err := filepath.Glob(filepath.Join(sourceDir, pattern))
		if err != nil {
			return err
		}
		sources = append(sources, matches...)
	}
	if len(sources) == 0 {
		return fmt.Errorf("no assets in %s (run in internal/playground)", sourceDir)
	}
	if err := os.MkdirAll(gzDir, 0o755); err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, src := range sources {
		dst := filepath.Join(gzDir, filepath.Base(src)+".gz")
		keep[dst] = true
		if err := compress(src, dst); err != nil {
			return err
		}
	}
	stale, err := filepath.Glob(filepath.Join(gzDir, "*.gz"))
	if err != nil {
		return err
	}
	for _, f := range stale {
		if !keep[f] {
			if err := os.Remove(f); err != nil {
				return err
			}
		}
	}
	return nil
}

func compress(src, dst string) error {
	raw, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	// A zero Header: no file name, modification time 0.
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(raw); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	// Leave an up-to-date file untouched, so its mtime does not change.
	if old, err := os.ReadFile(dst); err == nil && bytes.Equal(old, buf.Bytes()) {
		return nil
	}
	return os.WriteFile(dst, buf.Bytes(), 0o644)
}
