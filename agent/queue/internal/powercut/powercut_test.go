//go:build linux

package powercut

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

func mount(t *testing.T) (*FS, string) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("needs FUSE: /dev/fuse is missing (%v)", err)
	}
	f, err := Load(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	mnt := t.TempDir()
	srv, err := f.Mount(mnt)
	if err != nil {
		t.Fatalf("mount: %v", err)
	}
	t.Cleanup(func() { srv.Unmount() })
	return f, mnt
}

func syncDir(t *testing.T, dir string) {
	t.Helper()
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
}

// Only what was synced survives a cut that keeps nothing pending: a file's data by its
// fsync, its name by its folder's.
func TestACutKeepsOnlyWhatWasSynced(t *testing.T) {
	f, mnt := mount(t)
	write := func(name, content string, syncFile bool) {
		fh, err := os.OpenFile(filepath.Join(mnt, name), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fh.WriteString(content); err != nil {
			t.Fatal(err)
		}
		if syncFile {
			if err := fh.Sync(); err != nil {
				t.Fatal(err)
			}
		}
		fh.Close()
	}
	write("durable", "kept", true)
	write("renamed", "moved", true)
	syncDir(t, mnt)
	if err := os.Rename(filepath.Join(mnt, "renamed"), filepath.Join(mnt, "renamed-2")); err != nil {
		t.Fatal(err)
	}
	write("unsynced-data", "lost", false) // its name is not durable either
	write("durable", "lost too", false)   // overwritten, not synced
	if b, err := os.ReadFile(filepath.Join(mnt, "durable")); err != nil || string(b) != "lost too" {
		t.Fatalf("reads see pending data: %q, %v", b, err)
	}
	img := f.Cut()
	if _, err := os.Create(filepath.Join(mnt, "after")); err == nil {
		t.Fatal("a change after the cut worked")
	}
	want := map[string]string{"durable": "kept", "renamed": "moved"}
	if len(img.Files) != len(want) {
		t.Fatalf("image holds %v, want %v", keys(img.Files), want)
	}
	for name, content := range want {
		if string(img.Files[name]) != content {
			t.Errorf("%s: %q, want %q", name, img.Files[name], content)
		}
	}
	out := filepath.Join(t.TempDir(), "disk")
	if err := img.WriteTo(out); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "durable")); string(b) != "kept" {
		t.Fatalf("written image: %q", b)
	}
}

// A cut that keeps some of what is pending keeps each write whole, not at all, or torn at
// a sector boundary: never a part of a sector.
func TestKeptWritesAreWholeOrTornAtSectors(t *testing.T) {
	f, mnt := mount(t)
	f.Lock()
	f.KeepSome, f.Rand = true, rand.New(rand.NewPCG(7, 7))
	f.Unlock()
	fh, err := os.OpenFile(filepath.Join(mnt, "f"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.Write(make([]byte, 8*Sector)); err != nil {
		t.Fatal(err)
	}
	fh.Sync()
	syncDir(t, mnt)
	data := bytes.Repeat([]byte{0xAB}, 6*Sector)
	if _, err := fh.WriteAt(data, Sector); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	img := f.Cut()
	b := img.Files["f"]
	if len(b) != 8*Sector {
		t.Fatalf("size %d", len(b))
	}
	for s := 0; s < 8; s++ {
		sec := b[s*Sector : (s+1)*Sector]
		if !bytes.Equal(sec, make([]byte, Sector)) && !bytes.Equal(sec, bytes.Repeat([]byte{0xAB}, Sector)) {
			t.Fatalf("sector %d is part old, part new", s)
		}
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
