// Package diag writes the diagnostics bundle IT sends to the supplier: a zip of versions,
// the configuration with secrets redacted, the status (conditions and queue counts), the
// links in numbers, the metrics and the most recent log files. It holds no patient data:
// the logs, conditions and metrics never contain any, and nothing is read from the queue
// but counts.
package diag

import (
	"archive/zip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/writeback-agent/wbagent/agent/config"
	"github.com/writeback-agent/wbagent/agent/link"
	"github.com/writeback-agent/wbagent/agent/status"
)

// Names of the files in the bundle. Serialised (support scripts read them): never change.
const (
	FileVersions = "versions.json"
	FileConfig   = "config.toml"
	FileStatus   = "status.json"
	FileLinks    = "links.json"
	FileMetrics  = "metrics.txt"
	LogsDir      = "logs/"
)

// MaxLogBytes bounds how much log the bundle carries: the newest files, and of the oldest
// one included, its end.
const MaxLogBytes = 20 << 20

// Bundle is what goes into a diagnostics bundle.
type Bundle struct {
	Version  string
	Started  time.Time
	Config   config.Config // redacted by Write
	Status   status.Report
	Accounts []link.Account
	Links    int
	Metrics  func(io.Writer) error
	LogDir   string
	Now      time.Time
}

// Versions is the content of FileVersions.
type Versions struct {
	Service   string    `json:"service"`
	Go        string    `json:"go"`
	OS        string    `json:"os"`
	Arch      string    `json:"arch"`
	Started   time.Time `json:"started"`
	Generated time.Time `json:"generated"`
}

// LinkSummary is the content of FileLinks: numbers only.
type LinkSummary struct {
	LinkedOSUsers      int `json:"linkedOsUsers"`
	LinkedClinicians   int `json:"linkedClinicians"`
	CliniciansToRelink int `json:"cliniciansToRelink"`
}

// Write writes b as a zip to w.
func Write(w io.Writer, b Bundle) error {
	z := zip.NewWriter(w)
	if err := writeAll(z, b); err != nil {
		z.Close()
		return fmt.Errorf("diag: %w", err)
	}
	if err := z.Close(); err != nil {
		return fmt.Errorf("diag: %w", err)
	}
	return nil
}

func writeAll(z *zip.Writer, b Bundle) error {
	if err := writeJSON(z, FileVersions, b.Now, Versions{Service: b.Version, Go: runtime.Version(), OS: runtime.GOOS,
		Arch: runtime.GOARCH, Started: b.Started, Generated: b.Now}); err != nil {
		return err
	}
	cfg, err := b.Config.Redacted().TOML()
	if err != nil {
		return err
	}
	if err := writeFile(z, FileConfig, b.Now, func(w io.Writer) error { _, err := w.Write(cfg); return err }); err != nil {
		return err
	}
	if err := writeJSON(z, FileStatus, b.Now, b.Status); err != nil {
		return err
	}
	ls := LinkSummary{LinkedOSUsers: b.Links, LinkedClinicians: len(b.Accounts)}
	for _, a := range b.Accounts {
		if a.RelinkNeeded {
			ls.CliniciansToRelink++
		}
	}
	if err := writeJSON(z, FileLinks, b.Now, ls); err != nil {
		return err
	}
	if err := writeFile(z, FileMetrics, b.Now, b.Metrics); err != nil {
		return err
	}
	return writeLogs(z, b.LogDir)
}

func writeJSON(z *zip.Writer, name string, mod time.Time, v any) error {
	return writeFile(z, name, mod, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	})
}

func writeFile(z *zip.Writer, name string, mod time.Time, fill func(io.Writer) error) error {
	w, err := z.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: mod})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := fill(w); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// writeLogs adds the newest log files, up to MaxLogBytes in all.
func writeLogs(z *zip.Writer, dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // no log file (logging to the console only)
	}
	if err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	type logFile struct {
		name string
		info os.FileInfo
	}
	var files []logFile
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			files = append(files, logFile{e.Name(), fi})
		}
	}
	slices.SortFunc(files, func(a, b logFile) int { return b.info.ModTime().Compare(a.info.ModTime()) })
	budget := int64(MaxLogBytes)
	for _, f := range files {
		if budget <= 0 {
			break
		}
		n := min(f.info.Size(), budget)
		budget -= n
		if err := writeFile(z, LogsDir+f.name, f.info.ModTime(), func(w io.Writer) error {
			return copyTail(w, filepath.Join(dir, f.name), n)
		}); err != nil {
			return err
		}
	}
	return nil
}

// copyTail copies the last n bytes of a file.
func copyTail(w io.Writer, path string, n int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if _, err := f.Seek(max(0, fi.Size()-n), io.SeekStart); err != nil {
		return err
	}
	_, err = io.CopyN(w, f, n)
	if err == io.EOF {
		return nil
	}
	return err
}
