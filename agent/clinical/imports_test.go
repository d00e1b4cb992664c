package clinical

import (
	"os/exec"
	"strings"
	"testing"
)

// TestAgentCodeDoesNotImportTheSimulator keeps the simulator out of the service: the
// clinical port, its adapters, the checks and the filing engine may use it in tests only.
func TestAgentCodeDoesNotImportTheSimulator(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list packages with")
	}
	cmd := exec.Command(goTool, "list", "-deps", "-test=false", "./...", "../checks/...", "../filer/...")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.Contains(pkg, "/cmd/practicesim") {
			t.Errorf("agent code depends on %s", pkg)
		}
	}
}
