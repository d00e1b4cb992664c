package queue

import (
	"os"
	"runtime/debug"
	"testing"
)

// The service runs the collector at GCPercent, unless an operator set GOGC.
func TestTuneGCSetsThePercentUnlessGOGCIsSet(t *testing.T) {
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })

	t.Setenv("GOGC", "50") // restored after the test
	if TuneGC() {
		t.Fatal("TuneGC overrode GOGC set in the environment")
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GC percent %d after TuneGC with GOGC set, want it left at 100", got)
	}

	os.Unsetenv("GOGC")
	if !TuneGC() {
		t.Fatal("TuneGC did not set the GC percent with GOGC unset")
	}
	if got := debug.SetGCPercent(100); got != GCPercent {
		t.Fatalf("GC percent %d after TuneGC, want %d", got, GCPercent)
	}
}
