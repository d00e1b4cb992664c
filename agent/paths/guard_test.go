package paths

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeSecurity is a file system's security as a test sets it: owners and reparse points by
// path (a path not listed is owned by ownerOfNew, i.e. whoever created it), and what was
// protected.
type fakeSecurity struct {
	owners     map[string]string
	reparse    map[string]bool
	ownerOfNew string
	protected  []string
	ownerSet   []string
}

func (f *fakeSecurity) inspect(path string) (string, bool, error) {
	if _, err := os.Lstat(path); err != nil {
		return "", false, err
	}
	owner, ok := f.owners[path]
	if !ok {
		owner = f.ownerOfNew
	}
	return owner, f.reparse[path], nil
}

func (f *fakeSecurity) self() (string, error) { return SIDSystem, nil }

func (f *fakeSecurity) isReparse(path string) (bool, error) { return f.reparse[path], nil }

func (f *fakeSecurity) protect(path string, setOwner bool) error {
	f.protected = append(f.protected, path)
	if setOwner {
		f.owners[path] = SIDSystem
		f.ownerSet = append(f.ownerSet, path)
	}
	return nil
}

const aUser = "S-1-5-21-1111-2222-3333-1001" // an ordinary user of the PC

func newFake() *fakeSecurity {
	return &fakeSecurity{owners: map[string]string{}, reparse: map[string]bool{}, ownerOfNew: aUser}
}

// A folder the service creates is protected, whoever runs it; one that SYSTEM or
// Administrators own already is protected again.
func TestGuardProtectsNewAndAdminOwnedFolders(t *testing.T) {
	base := t.TempDir()
	sec := newFake()
	fresh := filepath.Join(base, "fresh")
	if err := guard(fresh, sec); err != nil {
		t.Fatalf("new folder: %v", err)
	}
	for _, owner := range []string{SIDSystem, SIDAdministrators} {
		dir := filepath.Join(base, owner)
		os.Mkdir(dir, 0o700)
		os.WriteFile(filepath.Join(dir, "queue.db"), nil, 0o600)
		sec.owners[dir] = owner
		if err := guard(dir, sec); err != nil {
			t.Errorf("folder owned by %s: %v", owner, err)
		}
	}
	if len(sec.protected) != 3 || sec.protected[0] != fresh {
		t.Errorf("protected %v", sec.protected)
	}
	// The owner is set where it is not SYSTEM or Administrators already (the new folder).
	if len(sec.ownerSet) != 1 || sec.ownerSet[0] != fresh {
		t.Errorf("owner set on %v, want only %s", sec.ownerSet, fresh)
	}
}

// A folder that a user made before the install (so owns, and could open up again at any
// time) is refused, with the fix; so is one that is a link, or that holds a link at any
// depth. Nothing is protected then: the service does not start on it.
func TestGuardRefusesUnsafeFolders(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(dir string, sec *fakeSecurity) string // returns the path at fault
		problem string
	}{
		{"owned by a user", func(dir string, sec *fakeSecurity) string { sec.owners[dir] = aUser; return dir }, "owned by " + aUser},
		{"a link itself", func(dir string, sec *fakeSecurity) string {
			sec.owners[dir], sec.reparse[dir] = SIDSystem, true
			return dir
		}, "is a link"},
		{"a link inside", func(dir string, sec *fakeSecurity) string {
			sec.owners[dir] = SIDSystem
			p := filepath.Join(dir, "failed")
			os.Mkdir(p, 0o700)
			sec.reparse[p] = true
			return p
		}, "link (junction or symbolic link) inside"},
		{"a link deep inside", func(dir string, sec *fakeSecurity) string {
			sec.owners[dir] = SIDAdministrators
			p := filepath.Join(dir, "wal", "segments", "000001")
			os.MkdirAll(filepath.Dir(p), 0o700)
			os.WriteFile(p, nil, 0o600)
			sec.reparse[p] = true
			return p
		}, "inside"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "WritebackAgent")
			os.Mkdir(dir, 0o700)
			sec := newFake()
			at := tc.prepare(dir, sec)
			err := guard(dir, sec)
			var ue *UnsafeError
			if !errors.As(err, &ue) || ue.Path != at || !strings.Contains(ue.Problem, tc.problem) || ue.Fix == "" ||
				!strings.Contains(err.Error(), CodeUnsafeFolder) {
				t.Fatalf("guard = %v, want an UnsafeError at %s (%s)", err, at, tc.problem)
			}
			if len(sec.protected) != 0 {
				t.Errorf("protected %v", sec.protected)
			}
		})
	}
}

func TestGuardCreatesNestedFolders(t *testing.T) {
	sec := newFake()
	dir := filepath.Join(t.TempDir(), "a", "b")
	if err := guard(dir, sec); err != nil {
		t.Fatalf("nested new folder: %v", err)
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		t.Error("not created")
	}
}
