package diag

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/config"
	"github.com/writeback-agent/wbagent/agent/link"
	"github.com/writeback-agent/wbagent/agent/status"
)

func TestBundle(t *testing.T) {
	logs := t.TempDir()
	old := filepath.Join(logs, "wbagentd-2026-01-01T00-00-00.000.log")
	if err := os.WriteFile(old, bytes.Repeat([]byte("o"), MaxLogBytes), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(old, time.Now().Add(-time.Hour), time.Now().Add(-time.Hour))
	if err := os.WriteFile(filepath.Join(logs, "wbagentd.log"), []byte("current\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Clinical.ApplicationID = "6d1f3c2a-8b4e-4f7a-9c5d-2e8b7a1f4c93"
	cfg.Clinical.Issuer = "https://login.example.com"

	var buf bytes.Buffer
	err := Write(&buf, Bundle{
		Version: "1.2.3", Config: cfg, Status: status.Report{State: "ok"},
		Accounts: []link.Account{{ClinicalUserID: "10001", RelinkNeeded: true}}, Links: 2,
		Metrics: func(w io.Writer) error { _, err := io.WriteString(w, "wbagent_filings_total 3\n"); return err },
		LogDir:  logs, Now: time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	z, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, f := range z.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		files[f.Name] = string(b)
	}
	for name, want := range map[string]string{
		FileVersions:                 `"service": "1.2.3"`,
		FileConfig:                   config.Redacted,
		FileStatus:                   `"state": "ok"`,
		FileLinks:                    `"cliniciansToRelink": 1`,
		FileMetrics:                  "wbagent_filings_total 3",
		LogsDir + "wbagentd.log":     "current",
		LogsDir + filepath.Base(old): "ooo",
	} {
		if !strings.Contains(files[name], want) {
			t.Errorf("%s does not contain %q: %.200q", name, want, files[name])
		}
	}
	if strings.Contains(files[FileConfig], cfg.Clinical.ApplicationID) {
		t.Error("the application id is in the bundle")
	}
	if n := len(files[LogsDir+filepath.Base(old)]) + len(files[LogsDir+"wbagentd.log"]); n != MaxLogBytes {
		t.Errorf("%d bytes of logs, want %d", n, MaxLogBytes)
	}
}
