package paths

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/windows"

	"github.com/writeback-agent/wbagent/agent/internal/wine"
)

// With the real security calls: a new folder gets SYSTEM (or Administrators) as owner and
// the protected DACL; a folder holding a symbolic link, or that is one, is refused.
func TestWindowsSecureSetsOwnerAndProtectedDACL(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "WritebackAgent")
	if err := Secure(dir); err != nil {
		t.Fatal(err)
	}
	sd, err := windows.GetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatal(err)
	}
	if err := Secure(dir); err != nil {
		t.Errorf("securing again: %v", err)
	}
	if wine.Detected() {
		t.Skip("Wine 8 does not keep a file's security descriptor (SetSecurityInfo succeeds, GetSecurityInfo returns its default): the owner and DACL rules are covered by TestGuard*")
	}
	owner, _, _ := sd.Owner()
	if s := owner.String(); s != SIDSystem && s != SIDAdministrators {
		t.Errorf("owner %s, want SYSTEM or Administrators", s)
	}
	control, _, err := sd.Control()
	if err != nil || control&windows.SE_DACL_PROTECTED == 0 {
		t.Errorf("DACL not protected (control %#x, %v)", control, err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		t.Fatal(err)
	}
	var trustees []string
	for i := range uint32(dacl.AceCount) {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			t.Fatal(err)
		}
		trustees = append(trustees, (*windows.SID)(unsafePointer(&ace.SidStart)).String())
	}
	if len(trustees) != 2 || trustees[0] != SIDSystem || trustees[1] != SIDAdministrators {
		t.Errorf("DACL trustees %v, want SYSTEM and Administrators only", trustees)
	}

}

// A folder holding a symbolic link, or that is one, is refused with the real calls.
func TestWindowsSecureRefusesLinks(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "WritebackAgent")
	if err := Secure(dir); err != nil {
		t.Fatal(err)
	}
	target := t.TempDir()
	if err := os.Symlink(target, filepath.Join(dir, "failed")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "failed")); err != nil && wine.Detected() {
		t.Skip("Wine 8's CreateSymbolicLinkW reports success and creates nothing: links are covered by TestGuardRefusesUnsafeFolders")
	}
	var ue *UnsafeError
	if err := Secure(dir); !errors.As(err, &ue) {
		t.Errorf("a folder holding a link: Secure = %v", err)
	}
	link := filepath.Join(t.TempDir(), "WritebackAgent")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := Secure(link); !errors.As(err, &ue) {
		t.Errorf("a folder that is a link: Secure = %v", err)
	}
}
