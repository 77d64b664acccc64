package e2e

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestContainerImage builds the image of Containerfile with podman (Debian's
// podman package, installed when missing) from the static binary the other
// end-to-end tests run, checks its user, entrypoint, ports, volume and size,
// then takes the binary back out of the saved image and runs it to a ready
// /readyz. Containers themselves cannot be started on these machines.
func TestContainerImage(t *testing.T) {
	podman := debianTool(t, "podman", "podman")
	const certs = "/etc/ssl/certs/ca-certificates.crt"
	if _, err := os.Stat(certs); err != nil {
		debianPackageFile(t, certs, "ca-certificates")
	}

	// The binary must be static: the image has no libc.
	f, err := elf.Open(serverBinary)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the server binary is dynamically linked; the image needs CGO_ENABLED=0")
		}
	}
	f.Close()

	// The build context: binary, CA certificates, an empty data directory.
	work := t.TempDir()
	context := filepath.Join(work, "image")
	if err := os.MkdirAll(filepath.Join(context, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, serverBinary, filepath.Join(context, "sessionhub"), 0o755)
	copyFile(t, certs, filepath.Join(context, "ca-certificates.crt"), 0o644)
	containerfile, err := filepath.Abs(repoPath("Containerfile"))
	if err != nil {
		t.Fatal(err)
	}

	// Own storage, so the test neither sees nor disturbs other images.
	run := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(podman, append([]string{
			"--root", filepath.Join(work, "storage"), "--runroot", filepath.Join(work, "run"),
			"--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "none",
		}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("podman %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
		}
		return out
	}
	const tag = "localhost/sessionhub:e2e"
	run("build", "--pull=never", "-f", containerfile, "-t", tag, context)

	var inspected []struct {
		Size   int64
		Config struct {
			User         string
			Entrypoint   []string
			Cmd          []string
			WorkingDir   string
			ExposedPorts map[string]any
			Volumes      map[string]any
			Healthcheck  any
		}
	}
	if err := json.Unmarshal(run("image", "inspect", tag), &inspected); err != nil || len(inspected) != 1 {
		t.Fatalf("podman image inspect: %v", err)
	}
	img := inspected[0]
	if img.Config.User != "65532:65532" {
		t.Errorf("user %q, want 65532:65532", img.Config.User)
	}
	if !slices.Equal(img.Config.Entrypoint, []string{"/sessionhub"}) || len(img.Config.Cmd) != 0 {
		t.Errorf("entrypoint %q cmd %q, want [/sessionhub] and no cmd", img.Config.Entrypoint, img.Config.Cmd)
	}
	if _, ok := img.Config.ExposedPorts["8080/tcp"]; !ok || len(img.Config.ExposedPorts) != 1 {
		t.Errorf("exposed ports %v, want 8080/tcp", img.Config.ExposedPorts)
	}
	if _, ok := img.Config.Volumes["/data"]; !ok || len(img.Config.Volumes) != 1 {
		t.Errorf("volumes %v, want /data", img.Config.Volumes)
	}
	if img.Config.WorkingDir != "/" || img.Config.Healthcheck != nil {
		t.Errorf("working dir %q (want /), healthcheck %v (want none)", img.Config.WorkingDir, img.Config.Healthcheck)
	}
	binInfo, err := os.Stat(serverBinary)
	if err != nil {
		t.Fatal(err)
	}
	// Small: the binary and the certificates, nothing else.
	certInfo, err := os.Stat(certs)
	if err != nil {
		t.Fatal(err)
	}
	if extra := img.Size - binInfo.Size() - certInfo.Size(); extra > 64<<10 {
		t.Errorf("image is %d bytes, %d more than the binary and the CA certificates", img.Size, extra)
	}
	t.Logf("image %.1f MB (binary %.1f MB)", float64(img.Size)/1e6, float64(binInfo.Size())/1e6)

	// Take the image apart: every layer's files, the binary extracted.
	archive := filepath.Join(work, "image.tar")
	run("image", "save", "--format", "docker-archive", "-o", archive, tag)
	extracted := filepath.Join(work, "sessionhub")
	files := readImageFiles(t, archive, "sessionhub", extracted)
	for name, want := range map[string]string{
		"sessionhub":                        "file 0:0",
		"etc/ssl/certs/ca-certificates.crt": "file 0:0",
		"data":                              "dir 65532:65532",
	} {
		if got := files[name]; got != want {
			t.Errorf("image file /%s: %q, want %q", name, got, want)
		}
	}
	if len(files) > 6 { // the three above and their parent directories
		t.Errorf("image holds more than the binary, the certificates and /data: %v", files)
	}

	// The binary from the image serves, with the image's SQLite default.
	srv := startBinary(t, extracted, "")
	if res := srv.do(t, http.MethodGet, "/readyz", "", ""); res.Status != http.StatusOK {
		t.Fatalf("/readyz of the binary from the image: %d %s", res.Status, res.Body)
	}
	if _, err := os.Stat(filepath.Join(srv.cmd.Dir, "data", "sessionhub.db")); err != nil {
		t.Errorf("the SQLite default is not under ./data: %v", err)
	}
}

// TestContainerfileBuildStage keeps Containerfile.build's final stage equal
// to Containerfile (which the image test builds): only the sources of its
// files differ.
func TestContainerfileBuildStage(t *testing.T) {
	final := func(name string, rewrite func(string) string) []string {
		raw, err := os.ReadFile(repoPath(name))
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, line := range strings.Split(string(raw), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if strings.HasPrefix(line, "FROM ") {
				lines = nil // keep only the last stage
			}
			lines = append(lines, rewrite(line))
		}
		return lines
	}
	plain := final("Containerfile", func(s string) string { return s })
	staged := final("Containerfile.build", func(s string) string {
		s = strings.Replace(s, "--from=build ", "", 1)
		return strings.Replace(s, " /image/", " ", 1)
	})
	if !slices.Equal(plain, staged) {
		t.Errorf("the final stage of Containerfile.build differs from Containerfile:\n%s\nvs\n%s",
			strings.Join(staged, "\n"), strings.Join(plain, "\n"))
	}
}

// readImageFiles lists the files of a docker-archive image ("file uid:gid" or
// "dir uid:gid" by path) and writes the file named extract to dest.
func readImageFiles(t *testing.T, archive, extract, dest string) map[string]string {
	t.Helper()
	blobs := map[string][]byte{}
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		blobs[h.Name] = b
	}
	var manifest []struct{ Layers []string }
	if err := json.Unmarshal(blobs["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("manifest.json: %v", err)
	}
	files := map[string]string{}
	found := false
	for _, layer := range manifest[0].Layers {
		lr := tar.NewReader(bytes.NewReader(blobs[layer]))
		for {
			h, err := lr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("layer %s: %v", layer, err)
			}
			name := strings.TrimSuffix(path.Clean(strings.TrimPrefix(h.Name, "./")), "/")
			kind := "file"
			if h.Typeflag == tar.TypeDir {
				kind = "dir"
			}
			files[name] = fmt.Sprintf("%s %d:%d", kind, h.Uid, h.Gid)
			if name == extract {
				out, err := os.OpenFile(dest, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := io.Copy(out, lr); err != nil {
					t.Fatal(err)
				}
				if err := out.Close(); err != nil {
					t.Fatal(err)
				}
				if h.Mode&0o111 == 0 {
					t.Errorf("/%s in the image is not executable: %o", name, h.Mode)
				}
				found = true
			}
		}
	}
	if !found {
		t.Fatalf("no /%s in the image's layers: %v", extract, files)
	}
	return files
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		t.Fatal(err)
	}
}
