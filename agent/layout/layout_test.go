package layout

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const module = "github.com/writeback-agent/wbagent"

// forbidden are the import path prefixes of the UI toolkits.
var forbidden = []string{"fyne.io/", "github.com/go-gl/", "github.com/getlantern/systray", module + "/ui"}

// serviceSide are the packages that run inside the service.
var serviceSide = []string{"./agent/...", "./cmd/wbagentd"}

func goTool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err != nil {
		t.Skip("no go command to list packages with")
	}
	return p
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestServiceSideLinksNoUI checks every dependency of the service-side packages, on each
// operating system the service ships for.
func TestServiceSideLinksNoUI(t *testing.T) {
	for _, goos := range []string{"linux", "windows", "darwin"} {
		cmd := exec.Command(goTool(t), append([]string{"list", "-deps", "-test=false"}, serviceSide...)...)
		cmd.Dir = repoRoot(t)
		cmd.Env = append(os.Environ(), "GOOS="+goos, "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("GOOS=%s go list: %v\n%s", goos, err, out)
		}
		for _, pkg := range strings.Fields(string(out)) {
			for _, f := range forbidden {
				if strings.HasPrefix(pkg, f) {
					t.Errorf("GOOS=%s: the service side depends on %s", goos, pkg)
				}
			}
		}
	}
}

// TestServiceSideCrossCompilesWithoutCgo builds the service side for Windows and macOS with
// CGO_ENABLED=0, as releases do.
func TestServiceSideCrossCompilesWithoutCgo(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles")
	}
	for _, target := range []string{"windows/amd64", "darwin/arm64", "linux/amd64"} {
		goos, goarch, _ := strings.Cut(target, "/")
		cmd := exec.Command(goTool(t), append([]string{"build"}, serviceSide...)...)
		cmd.Dir = repoRoot(t)
		cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", target, err, out)
		}
	}
}
