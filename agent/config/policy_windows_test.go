package config

import (
	"fmt"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/windows/registry"
)

// readPolicy reads the values the ADMX template writes, by type, from a scratch key under
// HKEY_CURRENT_USER (never the machine's policy key).
func TestReadPolicyReadsTheTemplatesValues(t *testing.T) {
	path := fmt.Sprintf(`Software\WritebackAgentTest\Policy-%d-%d`, os.Getpid(), time.Now().UnixNano())
	if p, err := readPolicy(registry.CURRENT_USER, path); err != nil || p != nil {
		t.Fatalf("no key: policy %v, err %v; want none", p, err)
	}
	k, _, err := registry.CreateKey(registry.CURRENT_USER, path, registry.ALL_ACCESS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		k.Close()
		registry.DeleteKey(registry.CURRENT_USER, path)
	})
	if err := k.SetStringValue(PolicyLogLevel, "debug"); err != nil {
		t.Fatal(err)
	}
	if err := k.SetDWordValue(PolicyPollSeconds, 120); err != nil {
		t.Fatal(err)
	}
	if err := k.SetStringValue(PolicyRetentionDays, "90"); err != nil { // the wrong type: reported by Load
		t.Fatal(err)
	}
	if err := k.SetStringValue("SomethingNewer", "x"); err != nil {
		t.Fatal(err)
	}
	p, err := readPolicy(registry.CURRENT_USER, path)
	if err != nil {
		t.Fatal(err)
	}
	want := Policy{
		PolicyLogLevel:      {String: "debug"},
		PolicyPollSeconds:   {Number: 120, IsNumber: true},
		PolicyRetentionDays: {String: "90"},
	}
	if len(p) != len(want) {
		t.Errorf("policy %v, want %v", p, want)
	}
	for name, v := range want {
		if p[name] != v {
			t.Errorf("%s = %+v, want %+v", name, p[name], v)
		}
	}
}
